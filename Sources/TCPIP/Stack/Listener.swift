/// A passive open on one local port: SYNs to it spawn connections (one per SYN, with
/// the full four-tuple), which wait here until the application accepts them.
///
/// The backlog bounds the connections spawned and not yet accepted, half-open
/// (SYN-RECEIVED) ones included; a SYN beyond it is dropped and counted (the peer
/// retransmits), as Linux does when its queues are full.
public struct Listener: Sendable {
    public let port: UInt16
    public let backlog: Int
    /// Spawned connections not yet accepted, oldest first.
    var queue: [ConnectionHandle] = []

    init(port: UInt16, backlog: Int) {
        self.port = port
        self.backlog = max(1, backlog)
    }

    /// Connections spawned and not yet accepted.
    public var pending: Int { queue.count }
    public var isFull: Bool { queue.count >= backlog }
}
