import TCPIP

/// Why a stream or listener operation failed. Task cancellation is reported as Swift's
/// `CancellationError`, not as one of these.
public enum TCPStreamError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer answered our SYN with a RST (nothing listens on that port).
    case connectionRefused
    /// The peer reset the connection.
    case connectionReset
    /// Retransmissions, SYN retries or keepalive probes ran out, or `connect`'s timeout passed.
    case timedOut
    /// ICMP destination unreachable (host, network, prohibited...) while connecting (the
    /// engine's `.unreachable`). An ICMP port or protocol unreachable is `.connectionRefused`.
    case hostUnreachable
    /// No route to the destination: off-link and no gateway (or multicast). `connect`
    /// fails at once, nothing is sent (Linux: ENETUNREACH).
    case noRoute
    /// The stream was closed or aborted by this side, or its write side was shut down.
    case closed
    /// This side aborted the connection (RST sent).
    case aborted
    /// Someone already listens on that port.
    case portInUse
    /// No ephemeral port is free for that destination.
    case noEphemeralPort
    /// The address or port cannot be connected to (our own address, broadcast, port 0, ...).
    case invalidAddress
    /// The stack was shut down (or its device failed) while the operation was pending.
    case stackStopped

    /// The engine's reason for a connection's end, as the API's error.
    public init(_ error: TCPError) {
        switch error {
        case .refused: self = .connectionRefused
        case .reset: self = .connectionReset
        case .timedOut: self = .timedOut
        case .aborted: self = .aborted
        case .connectionClosing: self = .closed
        case .unreachable: self = .hostUnreachable
        }
    }

    public init(_ error: HostError) {
        switch error {
        case .portInUse: self = .portInUse
        case .noEphemeralPort: self = .noEphemeralPort
        case .invalidDestination: self = .invalidAddress
        }
    }

    /// The interface's refusal of a `connect`, as the API's error.
    public init(_ error: InterfaceError) {
        switch error {
        case .noRoute: self = .noRoute
        case .host(let e): self.init(e)
        case .portInUse: self = .portInUse
        case .noEphemeralPort: self = .noEphemeralPort
        case .notBound, .datagramTooLarge, .queueFull, .unsupported: self = .invalidAddress
        }
    }

    public var description: String {
        switch self {
        case .connectionRefused: "connection refused"
        case .noRoute: "no route to host"
        case .connectionReset: "connection reset by peer"
        case .timedOut: "connection timed out"
        case .hostUnreachable: "host unreachable"
        case .closed: "stream closed"
        case .aborted: "connection aborted"
        case .portInUse: "port in use"
        case .noEphemeralPort: "no ephemeral port free"
        case .invalidAddress: "invalid address or port"
        case .stackStopped: "stack stopped"
        }
    }
}
