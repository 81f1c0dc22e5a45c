// Temporary stand-in for the "blocks" helper's RTTEstimator (same API); deleted when it lands.

/// RFC 6298 retransmission timeout estimator.
struct RTTEstimator {
    let minimum: Duration, maximum: Duration
    private(set) var smoothedRTT: Duration?
    private(set) var rttVariance: Duration = .zero
    private var base: Duration
    private(set) var backoffCount = 0

    init(initial: Duration, minimum: Duration, maximum: Duration) {
        self.base = initial; self.minimum = minimum; self.maximum = maximum
    }

    mutating func addSample(_ r: Duration) {
        if let s = smoothedRTT {
            let diff = s > r ? s - r : r - s
            rttVariance = rttVariance * 3 / 4 + diff / 4
            smoothedRTT = s * 7 / 8 + r / 8
        } else {
            smoothedRTT = r
            rttVariance = r / 2
        }
        base = smoothedRTT! + max(.milliseconds(1), rttVariance * 4)
        backoffCount = 0
    }

    mutating func backOff() { backoffCount += 1 }
    mutating func resetBackoff() { backoffCount = 0 }

    var rto: Duration {
        var r = min(max(base, minimum), maximum)
        for _ in 0..<min(backoffCount, 30) { r = min(r * 2, maximum) }
        return r
    }
}
