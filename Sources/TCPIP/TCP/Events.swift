/// Why a connection ended abnormally.
public enum TCPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer answered our SYN with a RST (RFC 9293 §3.10.7.3).
    case refused
    /// The peer reset an established connection.
    case reset
    /// Retransmissions, SYN retries, keepalive probes or FIN-WAIT-2 ran out.
    case timedOut
    /// The application called `abort()` (or `close(fully:)` with unread data).
    case aborted
    /// The operation is not valid in the connection's state (e.g. write after close).
    case connectionClosing
    /// ICMP said the peer cannot be reached while connecting.
    case unreachable

    public var description: String {
        switch self {
        case .refused: "connection refused"
        case .reset: "connection reset by peer"
        case .timedOut: "connection timed out"
        case .aborted: "connection aborted"
        case .connectionClosing: "connection closing"
        case .unreachable: "destination unreachable"
        }
    }
}

/// What a connection tells its owner, in order (`TCPConnection.nextEvent()`).
public enum TCPEvent: Equatable, Sendable {
    case stateChanged(from: TCPState, to: TCPState)
    /// New in-order bytes (or the urgent mark) can be read.
    case readable
    /// Send-buffer space became free.
    case writable
    /// The peer's FIN arrived: no more bytes will come after those already readable.
    case peerClosed
    /// The connection reached CLOSED; nil when it closed normally.
    case closed(TCPError?)
}

/// Why an arriving segment was dropped.
public struct TCPDropCounts: Sendable, Hashable {
    /// Malformed options.
    public var badOptions = 0
    /// Failed the acceptability test of RFC 9293 §3.10.7.4.
    public var outOfWindow = 0
    /// PAWS (RFC 7323 §5).
    public var paws = 0
    /// No ACK bit in a synchronized state.
    public var noACK = 0
    /// An unacceptable ACK (SYN-SENT, SYN-RECEIVED, or RFC 5961 §5).
    public var badACK = 0
    /// RST that did not pass RFC 5961 §3 (out of window, or in window but not at RCV.NXT).
    public var badRST = 0
    /// SYN in a synchronized state (RFC 5961 §4).
    public var unexpectedSYN = 0
    /// Segments that make no sense in the state (CLOSED, LISTEN without SYN, ...).
    public var wrongState = 0
    /// Data beyond the receive buffer or the out-of-order bound.
    public var noBufferSpace = 0
    public init() {}
    public var total: Int { badOptions + outOfWindow + paws + noACK + badACK + badRST + unexpectedSYN + wrongState + noBufferSpace }
}

/// Statistics of one connection.
public struct TCPCounters: Sendable, Hashable {
    public var segmentsIn = 0
    public var segmentsOut = 0
    public var retransmittedSegments = 0
    public var fastRetransmits = 0
    public var timeouts = 0
    /// Tail loss probes sent (RFC 8985 §7).
    public var lossProbes = 0
    /// Retransmitted loss probes that repaired a loss (no D-SACK came back): each reduced the window once.
    public var lossProbeRepairs = 0
    /// Rescue retransmissions (RFC 6675 NextSeg rule 4).
    public var rescueRetransmissions = 0
    /// Retransmissions found lost in SACK recovery and sent again before the RTO.
    public var lostRetransmissions = 0
    public var duplicateAcksReceived = 0
    public var outOfOrderBytes = 0
    public var duplicateBytes = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    public var challengeAcksSent = 0
    public var zeroWindowProbes = 0
    public var keepaliveProbes = 0
    public var resetsSent = 0
    public var droppedSegments = TCPDropCounts()
    public var smoothedRTT: Duration? = nil
    public var retransmissionTimeout: Duration = .zero
    public var congestionWindow = 0
    public var slowStartThreshold = 0
    public init() {}
}
