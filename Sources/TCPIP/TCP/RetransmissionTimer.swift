/// The retransmission timeout of RFC 6298, from round-trip time samples.
///
/// Before the first sample RTO is `initialRTO`. The first sample R sets
/// SRTT = R, RTTVAR = R/2; later ones RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R|, then
/// SRTT = 7/8·SRTT + 1/8·R (§2.3). RTO = SRTT + max(G, 4·RTTVAR), clamped to
/// [minimumRTO, maximumRTO]. Each expiry doubles it (`backOff`, §5.5), up to the
/// maximum; a new sample clears the backoff (Karn: samples come only from segments
/// that were not retransmitted, or from timestamps, §5.7). Arithmetic is in whole
/// nanoseconds.
public struct RTTEstimator: Hashable, Sendable {
    public let initialRTO: Duration
    public let minimumRTO: Duration
    public let maximumRTO: Duration
    public let clockGranularity: Duration

    @usableFromInline var srttNs: Int64?
    @usableFromInline var rttvarNs: Int64 = 0
    /// RTO from the samples, clamped, before backoff.
    @usableFromInline var baseRTONs: Int64
    /// The bounds in nanoseconds, converted once (a `Duration` conversion costs two
    /// 128-bit multiplications, and `rto` is read for every segment sent).
    @usableFromInline let minimumNs: Int64
    @usableFromInline let maximumNs: Int64
    @usableFromInline let granularityNs: Int64
    /// Times the timer has backed off since the last sample (or reset).
    public private(set) var backoffCount: Int = 0

    public init(initialRTO: Duration = .seconds(1), minimumRTO: Duration = .milliseconds(200),
                maximumRTO: Duration = .seconds(120), clockGranularity: Duration = .milliseconds(1)) {
        self.initialRTO = initialRTO
        self.minimumRTO = minimumRTO
        self.maximumRTO = maximumRTO
        self.clockGranularity = clockGranularity
        minimumNs = minimumRTO.nanosecondsClamped
        maximumNs = maximumRTO.nanosecondsClamped
        granularityNs = clockGranularity.nanosecondsClamped
        baseRTONs = Swift.min(Swift.max(initialRTO.nanosecondsClamped, minimumNs), maximumNs)
    }

    /// SRTT, nil until the first sample.
    public var smoothedRTT: Duration? { srttNs.map { .nanoseconds($0) } }
    /// RTTVAR (zero until the first sample).
    public var rttVariance: Duration { .nanoseconds(rttvarNs) }
    /// True once a sample has been taken.
    public var hasSample: Bool { srttNs != nil }

    /// The current timeout: the sample-based RTO doubled `backoffCount` times, within [minimum, maximum].
    public var rto: Duration {
        let maxNs = maximumNs
        var r = baseRTONs
        var i = 0
        while i < backoffCount && r > 0 && r < maxNs {
            r = r > maxNs / 2 ? maxNs : r * 2
            i += 1
        }
        return .nanoseconds(Swift.min(r, maxNs))
    }

    /// Takes one RTT measurement R (RFC 6298 §2.2–2.3) and clears the backoff.
    public mutating func addSample(_ rtt: Duration) {
        let r = Swift.max(0, rtt.nanosecondsClamped)
        if let srtt = srttNs {
            let delta = srtt > r ? srtt - r : r - srtt
            rttvarNs = rttvarNs - rttvarNs / 4 + delta / 4      // (1 - 1/4)·RTTVAR + 1/4·|SRTT - R'|
            srttNs = srtt - srtt / 8 + r / 8                     // (1 - 1/8)·SRTT + 1/8·R'
        } else {
            srttNs = r
            rttvarNs = r / 2
        }
        let k = rttvarNs > Int64.max / 8 ? Int64.max / 2 : 4 * rttvarNs
        let (sum, o) = srttNs!.addingReportingOverflow(Swift.max(granularityNs, k))
        let computed = o ? Int64.max : sum
        baseRTONs = Swift.min(Swift.max(computed, minimumNs), maximumNs)
        backoffCount = 0
    }

    /// The timer expired: RTO = RTO · 2, up to the maximum (RFC 6298 §5.5).
    public mutating func backOff() {
        if backoffCount < Int.max { backoffCount += 1 }
    }

    /// Forgets the backoff (the RTO returns to the sample-based value).
    public mutating func resetBackoff() {
        backoffCount = 0
    }

    /// RFC 6298 §5.7: the SYN (or SYN+ACK) timed out and no RTT sample has been
    /// taken, so data transmission starts with RTO = 3 s (when the RTO in use is
    /// lower) and no backoff. Does nothing once a sample exists.
    public mutating func handshakeTimedOut() {
        guard srttNs == nil else { return }
        let three = Duration.seconds(3).nanosecondsClamped
        baseRTONs = Swift.min(Swift.max(baseRTONs, three), maximumNs)
        backoffCount = 0
    }
}
