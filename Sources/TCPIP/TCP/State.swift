/// The eleven states of a TCP connection (RFC 9293 §3.3.2, Figure 5).
public enum TCPState: Sendable, Hashable, CustomStringConvertible {
    case closed, listen, synSent, synReceived, established, finWait1, finWait2,
         closing, timeWait, closeWait, lastAck

    /// The RFC's spelling: "SYN-SENT", "FIN-WAIT-1", "TIME-WAIT", ...
    public var description: String {
        switch self {
        case .closed: "CLOSED"
        case .listen: "LISTEN"
        case .synSent: "SYN-SENT"
        case .synReceived: "SYN-RECEIVED"
        case .established: "ESTABLISHED"
        case .finWait1: "FIN-WAIT-1"
        case .finWait2: "FIN-WAIT-2"
        case .closing: "CLOSING"
        case .timeWait: "TIME-WAIT"
        case .closeWait: "CLOSE-WAIT"
        case .lastAck: "LAST-ACK"
        }
    }

    /// States after the handshake (RFC 9293 §3.10.7.4 "synchronized"), including SYN-RECEIVED.
    public var isSynchronized: Bool {
        switch self {
        case .closed, .listen, .synSent: false
        default: true
        }
    }

    /// States in which data from the peer is still accepted (no FIN received yet).
    var receivesData: Bool { self == .established || self == .finWait1 || self == .finWait2 }

    /// States in which the application may still queue data.
    var acceptsWrites: Bool { self == .synSent || self == .synReceived || self == .established || self == .closeWait }
}
