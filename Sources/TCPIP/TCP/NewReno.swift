/// Reno congestion control with the NewReno recovery rules (RFC 5681, RFC 6582),
/// slow start with Appropriate Byte Counting (RFC 3465, L = 2) and the RFC 6928
/// initial window.
///
/// - Slow start (cwnd < ssthresh): cwnd += min(ackedBytes, 2·SMSS) per ACK.
/// - Congestion avoidance: byte counting; once a full cwnd of bytes has been
///   acknowledged, cwnd += SMSS (one SMSS per RTT, RFC 5681 §3.1 / RFC 3465 §2.1).
/// - Loss: ssthresh = max(FlightSize/2, 2·SMSS); recovery starts at cwnd = ssthresh,
///   a timeout drops cwnd to one SMSS (the loss window).
/// - `deflate` never takes cwnd below one SMSS.
public struct NewReno: CongestionControl, Hashable, Sendable {
    public private(set) var congestionWindow: Int
    public private(set) var slowStartThreshold: Int
    /// Bytes acknowledged in congestion avoidance not yet turned into window growth.
    public private(set) var bytesAckedInAvoidance: Int = 0
    @usableFromInline var configuredInitialWindow: Int?
    /// True until the first event changes cwnd: a new MSS then recomputes the IW.
    @usableFromInline var atInitialWindow = true
    @usableFromInline var mss: Int

    public init(maximumSegmentSize: Int, initialWindow: Int? = nil) {
        mss = Swift.max(1, maximumSegmentSize)
        configuredInitialWindow = initialWindow
        congestionWindow = initialWindow ?? CongestionWindow.initialWindow(maximumSegmentSize: mss)
        slowStartThreshold = CongestionWindow.initialSlowStartThreshold
    }

    /// SMSS. Changing it before any congestion event (e.g. once the handshake has
    /// settled the MSS) recomputes the initial window.
    public var maximumSegmentSize: Int {
        get { mss }
        set {
            mss = Swift.max(1, newValue)
            if atInitialWindow {
                congestionWindow = configuredInitialWindow ?? CongestionWindow.initialWindow(maximumSegmentSize: mss)
            }
        }
    }

    /// The RFC 6928 initial window for the current MSS (or the configured one).
    public var initialWindow: Int { configuredInitialWindow ?? CongestionWindow.initialWindow(maximumSegmentSize: mss) }

    public mutating func onAck(ackedBytes: Int, flightSize: Int, now: Instant, smoothedRTT: Duration?) {
        guard ackedBytes > 0 else { return }
        atInitialWindow = false
        if congestionWindow < slowStartThreshold {
            congestionWindow += Swift.min(ackedBytes, 2 * mss)
        } else {
            bytesAckedInAvoidance += ackedBytes
            if bytesAckedInAvoidance >= congestionWindow {
                bytesAckedInAvoidance -= congestionWindow
                congestionWindow += mss
            }
        }
    }

    public mutating func onEnterRecovery(flightSize: Int, now: Instant) {
        atInitialWindow = false
        slowStartThreshold = CongestionWindow.renoThreshold(flightSize: flightSize, mss: mss)
        congestionWindow = slowStartThreshold
        bytesAckedInAvoidance = 0
    }

    public mutating func onExitRecovery(flightSize: Int, now: Instant) {
        atInitialWindow = false
        congestionWindow = CongestionWindow.exitRecoveryWindow(ssthresh: slowStartThreshold, flightSize: flightSize, mss: mss)
        bytesAckedInAvoidance = 0
    }

    public mutating func onRetransmissionTimeout(flightSize: Int, now: Instant) {
        atInitialWindow = false
        slowStartThreshold = CongestionWindow.renoThreshold(flightSize: flightSize, mss: mss)
        congestionWindow = mss
        bytesAckedInAvoidance = 0
    }

    public mutating func onIdleRestart(now: Instant) {
        // RFC 5681 §4.1: RW = min(IW, cwnd); cwnd = min(RW, cwnd).
        congestionWindow = Swift.min(initialWindow, congestionWindow)
        bytesAckedInAvoidance = 0
    }

    public mutating func inflate(by bytes: Int) {
        guard bytes > 0 else { return }
        atInitialWindow = false
        congestionWindow += bytes
    }

    public mutating func deflate(by bytes: Int) {
        guard bytes > 0 else { return }
        atInitialWindow = false
        congestionWindow = Swift.max(mss, congestionWindow - bytes)
    }
}
