// Temporary stand-in for the "blocks" helper's CongestionController (same API); deleted when it lands.

/// NewReno (RFC 5681 / 6582) window arithmetic in bytes.
struct CongestionController {
    let mss: Int
    private(set) var congestionWindow: Int
    private(set) var slowStartThreshold: Int = Int(Int32.max)
    private var bytesAckedInAvoidance = 0

    init(algorithm: TCPCongestionAlgorithm, maximumSegmentSize mss: Int) {
        self.mss = mss
        congestionWindow = min(10 * mss, max(2 * mss, 14600))  // RFC 6928 initial window
    }

    mutating func onAck(ackedBytes: Int, flightSize: Int, now: Instant, smoothedRTT: Duration?) {
        if congestionWindow < slowStartThreshold {
            congestionWindow += min(ackedBytes, mss)  // RFC 3465 L = 1
        } else {
            bytesAckedInAvoidance += ackedBytes
            if bytesAckedInAvoidance >= congestionWindow {
                bytesAckedInAvoidance -= congestionWindow
                congestionWindow += mss
            }
        }
    }

    mutating func onEnterRecovery(flightSize: Int, now: Instant) {
        slowStartThreshold = max(flightSize / 2, 2 * mss)
        congestionWindow = slowStartThreshold + 3 * mss
    }

    mutating func onExitRecovery(flightSize: Int) {
        congestionWindow = min(slowStartThreshold, max(flightSize, mss) + mss)
        bytesAckedInAvoidance = 0
    }

    mutating func onRetransmissionTimeout(flightSize: Int) {
        slowStartThreshold = max(flightSize / 2, 2 * mss)
        congestionWindow = mss
        bytesAckedInAvoidance = 0
    }

    mutating func onIdleRestart() {
        congestionWindow = min(congestionWindow, min(10 * mss, max(2 * mss, 14600)))
    }

    mutating func inflate(by n: Int) { congestionWindow += n }
    mutating func deflate(by n: Int) { congestionWindow = max(mss, congestionWindow - n) }
}
