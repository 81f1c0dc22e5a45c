/// What an RST does to a connection in TIME-WAIT.
public enum TCPTimeWaitResetPolicy: Sendable, Hashable {
    /// RFC 1337: ignore it ("TIME-WAIT assassination" protection). The default.
    case ignore
    /// RFC 9293 §3.10.7.4: close the connection at once.
    case close
}

/// Every setting of a TCP connection, with its default in one place.
///
/// | setting | default | why |
/// |---|---|---|
/// | `initialRTO` | 1 s | RFC 6298 §2.1 |
/// | `minimumRTO` | 200 ms | Linux's TCP_RTO_MIN (RFC 6298 says 1 s; 200 ms is common practice) |
/// | `maximumRTO` | 120 s | Linux's TCP_RTO_MAX; RFC 6298 §2.5 allows an upper bound ≥ 60 s |
/// | `maximumSegmentLifetime` | 30 s | TIME-WAIT lasts 2 × MSL = 60 s, as Linux |
/// | `sendBufferSize`, `receiveBufferSize` | 256 KiB | |
/// | `windowScaling` | on | RFC 7323 §2; our shift is computed from `receiveBufferSize` |
/// | `timestamps` | on | RFC 7323 §3 (RTTM and PAWS) |
/// | `selectiveAcknowledgments` | on | RFC 2018, RFC 2883 (D-SACK), RFC 6675 recovery |
/// | `maximumSegmentSize` | 1460 | ours, from a 1500-byte MTU; advertised in the SYN and caps what we send |
/// | `noDelay` | false | Nagle's algorithm on (RFC 9293 §3.7.4) |
/// | `delayedAcknowledgments` | on | ACK within `delayedACKTimeout` (200 ms) or on every 2nd full segment (RFC 9293 §3.8.6.3). 200 ms equals `minimumRTO`: at a small RTT the peer's retransmission timer can fire just before our delayed ACK (a spurious retransmission of a burst's odd last segment); Linux delays 40 ms. Lower it for LAN-like links |
/// | `linger` | nil | SO_LINGER: nil, a full `close` returns at once and the FIN handshake finishes in the background; `.zero`, `close` resets (RST) and the connection is gone at once, no TIME-WAIT; N > 0, a RST follows if our data and FIN are not all acknowledged N after `close` |
/// | `keepalive` | off | when on: first probe after 2 h idle, then every 75 s, give up after 9 (RFC 1122 §4.2.3.6) |
/// | `synRetries` | 5 | SYNs at 0, 1, 3, 7, 15, 31 s; give up at 63 s (≈ 60 s, counted not timed) |
/// | `maximumRetransmissions` | 15 | as Linux's tcp_retries2 (≈ 924 s with a 200 ms RTO) then `timedOut` |
/// | `finWait2Timeout` | 60 s | FIN-WAIT-2 after `close(fully: true)` gives up after this |
/// | `tailLossProbes` | on | RFC 8985 §7 (SACK connections only): when the ACKs stop while data is outstanding, one probe segment after PTO = 2·SRTT (+ `tailLossProbeACKDelay` when one segment is in flight, at least `tailLossProbeMinimumTimeout`, at most the RTO) instead of waiting for the RTO |
/// | `tailLossProbeACKDelay` | 200 ms | RFC 8985's WCDelAckT: the peer's worst-case delayed ACK, added to the PTO when one segment is in flight |
/// | `tailLossProbeMinimumTimeout` | 10 ms | floor of the PTO (ours, as Linux's first TLP; RFC 8985 has none): timestamps measure RTT in whole milliseconds, so on a sub-millisecond link SRTT can be 0 |
/// | `congestionAlgorithm` | `.newReno` | standard, deterministic, well understood; `.cubic` available |
/// | `invalidSegmentACKInterval` | 500 ms | at most one ACK per interval answers data-less invalid segments: out-of-window segments and RFC 5961 challenge ACKs (Linux's tcp_invalid_ratelimit) |
/// | `timeWaitResetPolicy` | `.ignore` | RFC 1337 |
/// | `maximumOutOfOrderRanges` | 32 | bound on the reassembly queue's ranges |
/// | `eventQueueLimit` | 64 | events beyond are dropped (readable/writable are coalesced anyway) |
public struct TCPConfiguration: Sendable, Hashable {
    public var initialRTO: Duration = .seconds(1)
    public var minimumRTO: Duration = .milliseconds(200)
    public var maximumRTO: Duration = .seconds(120)
    public var maximumSegmentLifetime: Duration = .seconds(30)
    public var sendBufferSize: Int = 256 * 1024
    public var receiveBufferSize: Int = 256 * 1024
    public var windowScaling: Bool = true
    public var timestamps: Bool = true
    public var selectiveAcknowledgments: Bool = true
    public var maximumSegmentSize: Int = 1460
    public var noDelay: Bool = false
    /// SO_LINGER for a full close (`close(fully: true)`, the runtime's `TCPStream.close`):
    /// nil (the default) closes gracefully in the background; `.zero` aborts (RST, no
    /// TIME-WAIT); a positive duration closes gracefully but resets the connection if the
    /// peer has not acknowledged every byte and our FIN within it.
    public var linger: Duration? = nil
    public var delayedAcknowledgments: Bool = true
    public var delayedACKTimeout: Duration = .milliseconds(200)
    public var keepalive: Bool = false
    public var keepaliveIdle: Duration = .seconds(7200)
    public var keepaliveInterval: Duration = .seconds(75)
    public var keepaliveProbes: Int = 9
    public var synRetries: Int = 5
    public var maximumRetransmissions: Int = 15
    public var finWait2Timeout: Duration = .seconds(60)
    public var tailLossProbes: Bool = true
    public var tailLossProbeACKDelay: Duration = .milliseconds(200)
    public var tailLossProbeMinimumTimeout: Duration = .milliseconds(10)
    public var congestionAlgorithm: CongestionAlgorithm = .newReno
    public var invalidSegmentACKInterval: Duration = .milliseconds(500)
    public var timeWaitResetPolicy: TCPTimeWaitResetPolicy = .ignore
    public var maximumOutOfOrderRanges: Int = 32
    public var eventQueueLimit: Int = 64

    public init() {}

    public static let `default` = TCPConfiguration()

    /// The window scale shift we offer: the smallest that lets the receive buffer be
    /// advertised in 16 bits (RFC 7323 §2.3), at most 14.
    public var receiveWindowShift: UInt8 {
        guard windowScaling else { return 0 }
        var s: UInt8 = 0
        while s < 14 && (receiveBufferSize >> Int(s)) > 65535 { s += 1 }
        return s
    }

    /// Settings brought into their valid ranges (so bad configuration cannot trap the engine).
    var sanitized: TCPConfiguration {
        var c = self
        // Durations between 1 ms and a day: no arithmetic on them can overflow.
        func clamp(_ d: Duration) -> Duration { min(max(d, .milliseconds(1)), .seconds(86_400)) }
        c.initialRTO = clamp(c.initialRTO); c.minimumRTO = clamp(c.minimumRTO); c.maximumRTO = clamp(c.maximumRTO)
        c.maximumSegmentLifetime = clamp(c.maximumSegmentLifetime); c.delayedACKTimeout = clamp(c.delayedACKTimeout)
        c.keepaliveIdle = clamp(c.keepaliveIdle); c.keepaliveInterval = clamp(c.keepaliveInterval)
        c.finWait2Timeout = clamp(c.finWait2Timeout)
        c.tailLossProbeMinimumTimeout = clamp(c.tailLossProbeMinimumTimeout)
        c.tailLossProbeACKDelay = min(max(c.tailLossProbeACKDelay, .zero), .seconds(86_400))
        if let l = c.linger { c.linger = min(max(l, .zero), .seconds(86_400)) }
        c.invalidSegmentACKInterval = min(max(c.invalidSegmentACKInterval, .zero), .seconds(86_400))
        c.synRetries = min(c.synRetries, 64); c.maximumRetransmissions = min(c.maximumRetransmissions, 1000)
        c.sendBufferSize = max(1, min(c.sendBufferSize, 1 << 30))
        c.receiveBufferSize = max(1, min(c.receiveBufferSize, 1 << 30))
        c.maximumSegmentSize = max(64, min(c.maximumSegmentSize, 65495))
        c.minimumRTO = max(.milliseconds(1), c.minimumRTO)
        c.maximumRTO = max(c.minimumRTO, c.maximumRTO)
        c.initialRTO = min(max(c.initialRTO, c.minimumRTO), c.maximumRTO)
        c.synRetries = max(0, c.synRetries)
        c.maximumRetransmissions = max(0, c.maximumRetransmissions)
        c.keepaliveProbes = max(1, c.keepaliveProbes)
        c.maximumOutOfOrderRanges = max(1, c.maximumOutOfOrderRanges)
        c.eventQueueLimit = max(4, c.eventQueueLimit)
        return c
    }
}
