/// A congestion controller: the sender's congestion window (cwnd) and slow-start
/// threshold (ssthresh), in bytes, driven by the engine's events (RFC 5681, 6582,
/// 3465, 6928, 9438).
///
/// The engine owns loss detection and recovery; the controller only answers "how
/// big may the window be". Conventions the engine follows:
/// - `onAck`: new data was cumulatively acknowledged outside recovery; `ackedBytes`
///   is how much, `flightSize` the bytes outstanding before this ACK.
/// - `onEnterRecovery`: loss detected (3 duplicate ACKs or SACK), `flightSize` the
///   bytes outstanding when it was detected. Sets ssthresh and cwnd = ssthresh; the
///   engine adds the 3·SMSS inflation itself when not using SACK (`inflate`).
/// - `onExitRecovery`: a full ACK ended recovery; `flightSize` outstanding after it.
/// - `inflate`/`deflate`: NewReno window inflation for each duplicate ACK and
///   deflation by the new data a partial ACK acknowledges (RFC 6582 §3.2).
/// - `onRetransmissionTimeout`: the retransmission timer expired.
/// - `onIdleRestart`: sending resumes after an idle period longer than an RTO.
public protocol CongestionControl: Sendable {
    var congestionWindow: Int { get }
    var slowStartThreshold: Int { get }
    var maximumSegmentSize: Int { get set }
    mutating func onAck(ackedBytes: Int, flightSize: Int, now: Instant, smoothedRTT: Duration?)
    mutating func onEnterRecovery(flightSize: Int, now: Instant)
    mutating func onExitRecovery(flightSize: Int, now: Instant)
    mutating func onRetransmissionTimeout(flightSize: Int, now: Instant)
    mutating func onIdleRestart(now: Instant)
    mutating func inflate(by bytes: Int)
    mutating func deflate(by bytes: Int)
}

extension CongestionControl {
    /// cwnd < ssthresh.
    @inlinable public var isInSlowStart: Bool { congestionWindow < slowStartThreshold }
}

/// Shared congestion-control arithmetic.
public enum CongestionWindow {
    /// RFC 6928 initial window: min(10·SMSS, max(2·SMSS, 14600)).
    @inlinable
    public static func initialWindow(maximumSegmentSize mss: Int) -> Int {
        Swift.min(10 * mss, Swift.max(2 * mss, 14_600))
    }

    /// The initial ssthresh: "arbitrarily high" (RFC 5681 §3.1), here the largest
    /// window a peer can advertise (65535 << 14).
    public static let initialSlowStartThreshold = 65_535 << 14

    /// ssthresh after a loss for Reno (RFC 5681 eq. 4): max(FlightSize / 2, 2·SMSS).
    @inlinable
    public static func renoThreshold(flightSize: Int, mss: Int) -> Int {
        Swift.max(flightSize / 2, 2 * mss)
    }

    /// cwnd on leaving fast recovery (RFC 6582 §3.2 step 3, option 1):
    /// min(ssthresh, max(FlightSize, SMSS) + SMSS).
    @inlinable
    public static func exitRecoveryWindow(ssthresh: Int, flightSize: Int, mss: Int) -> Int {
        Swift.min(ssthresh, Swift.max(flightSize, mss) + mss)
    }
}

/// The congestion algorithms a connection can use.
public enum CongestionAlgorithm: Hashable, Sendable, CustomStringConvertible {
    case newReno
    case cubic

    public var description: String {
        switch self {
        case .newReno: return "newreno"
        case .cubic: return "cubic"
        }
    }
}

/// The controller a connection stores: one of the algorithms, held inline (an enum,
/// no existential and no allocation), forwarding every event.
public struct CongestionController: CongestionControl, Sendable {
    public enum Storage: Sendable {
        case newReno(NewReno)
        case cubic(Cubic)
    }

    public var storage: Storage

    public init(_ algorithm: CongestionAlgorithm, maximumSegmentSize: Int, initialWindow: Int? = nil) {
        switch algorithm {
        case .newReno: storage = .newReno(NewReno(maximumSegmentSize: maximumSegmentSize, initialWindow: initialWindow))
        case .cubic: storage = .cubic(Cubic(maximumSegmentSize: maximumSegmentSize, initialWindow: initialWindow))
        }
    }

    public var algorithm: CongestionAlgorithm {
        switch storage {
        case .newReno: return .newReno
        case .cubic: return .cubic
        }
    }

    @inline(__always)
    mutating func apply(_ reno: (inout NewReno) -> Void, _ cubic: (inout Cubic) -> Void) {
        switch storage {
        case .newReno(var r):
            reno(&r)
            storage = .newReno(r)
        case .cubic(var c):
            cubic(&c)
            storage = .cubic(c)
        }
    }

    public var congestionWindow: Int {
        switch storage {
        case .newReno(let r): return r.congestionWindow
        case .cubic(let c): return c.congestionWindow
        }
    }

    public var slowStartThreshold: Int {
        switch storage {
        case .newReno(let r): return r.slowStartThreshold
        case .cubic(let c): return c.slowStartThreshold
        }
    }

    public var maximumSegmentSize: Int {
        get {
            switch storage {
            case .newReno(let r): return r.maximumSegmentSize
            case .cubic(let c): return c.maximumSegmentSize
            }
        }
        set { apply({ $0.maximumSegmentSize = newValue }, { $0.maximumSegmentSize = newValue }) }
    }

    public mutating func onAck(ackedBytes: Int, flightSize: Int, now: Instant, smoothedRTT: Duration?) {
        apply({ $0.onAck(ackedBytes: ackedBytes, flightSize: flightSize, now: now, smoothedRTT: smoothedRTT) },
              { $0.onAck(ackedBytes: ackedBytes, flightSize: flightSize, now: now, smoothedRTT: smoothedRTT) })
    }

    public mutating func onEnterRecovery(flightSize: Int, now: Instant) {
        apply({ $0.onEnterRecovery(flightSize: flightSize, now: now) }, { $0.onEnterRecovery(flightSize: flightSize, now: now) })
    }

    public mutating func onExitRecovery(flightSize: Int, now: Instant) {
        apply({ $0.onExitRecovery(flightSize: flightSize, now: now) }, { $0.onExitRecovery(flightSize: flightSize, now: now) })
    }

    public mutating func onRetransmissionTimeout(flightSize: Int, now: Instant) {
        apply({ $0.onRetransmissionTimeout(flightSize: flightSize, now: now) },
              { $0.onRetransmissionTimeout(flightSize: flightSize, now: now) })
    }

    public mutating func onIdleRestart(now: Instant) {
        apply({ $0.onIdleRestart(now: now) }, { $0.onIdleRestart(now: now) })
    }

    public mutating func inflate(by bytes: Int) {
        apply({ $0.inflate(by: bytes) }, { $0.inflate(by: bytes) })
    }

    public mutating func deflate(by bytes: Int) {
        apply({ $0.deflate(by: bytes) }, { $0.deflate(by: bytes) })
    }
}
