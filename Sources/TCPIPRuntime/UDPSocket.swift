import TCPIP

/// Why a UDP socket operation failed. A stopped stack is `TCPStreamError.stackStopped`
/// (as for every operation of the stack), task cancellation Swift's `CancellationError`.
public enum UDPSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The port is already bound.
    case portInUse
    /// No ephemeral port (49152...65535) is free.
    case noEphemeralPort
    /// No route to the destination (off-link and no gateway, multicast), or port 0.
    case noRoute
    /// More than fits in one IPv4 datagram (65,507 bytes of payload).
    case datagramTooLarge
    /// The socket was closed (pending operations fail with it too).
    case closed
    /// UDP needs the stack's `Interface`; this stack runs a bare `IPv4Host`.
    case needsInterface
    /// An ICMP port unreachable came back for a datagram this socket sent there: nothing
    /// listens on that port.
    case portUnreachable(IPv4Address, port: UInt16)
    /// Another ICMP destination unreachable (network, host, protocol, prohibited...; `code`
    /// as in RFC 792 / RFC 1122) came back for a datagram sent to that address and port.
    case destinationUnreachable(IPv4Address, port: UInt16, code: UInt8)

    init(_ e: UDPUnreachable) {
        if e.code == .port {
            self = .portUnreachable(e.destination, port: e.destinationPort)
        } else {
            self = .destinationUnreachable(e.destination, port: e.destinationPort, code: e.code.rawValue)
        }
    }

    init(_ e: InterfaceError) {
        switch e {
        case .portInUse: self = .portInUse
        case .noEphemeralPort: self = .noEphemeralPort
        case .noRoute: self = .noRoute
        case .datagramTooLarge: self = .datagramTooLarge
        case .notBound, .queueFull, .unsupported, .host: self = .closed
        }
    }

    public var description: String {
        switch self {
        case .portInUse: "UDP port in use"
        case .noEphemeralPort: "no ephemeral UDP port free"
        case .noRoute: "no route to host"
        case .datagramTooLarge: "datagram too large"
        case .closed: "socket closed"
        case .needsInterface: "UDP needs an Interface, not a bare IPv4Host"
        case .portUnreachable(let a, let p): "\(a):\(p): port unreachable"
        case .destinationUnreachable(let a, let p, let code):
            "\(a):\(p): \(ICMPv4UnreachableCode(rawValue: code)) unreachable"
        }
    }
}

/// A bound UDP port, as an async datagram socket. Sendable: use it from any task; the
/// event loop alone touches the interface.
///
/// Received datagrams wait in the interface's bounded queue for the port
/// (`InterfaceConfiguration.udpQueueLimit`, or the `queueLimit` given to `bindUDP`);
/// arrivals beyond it are dropped and counted (`droppedDatagrams()`).
///
/// Dropping the last reference closes the socket like `close()`.
public final class UDPSocket: Sendable {
    let loop: EventLoop
    /// Our address and the bound port.
    public let address: IPv4Address
    public let port: UInt16
    /// Tells this binding from a later one of the same port (after `close`, the port may be
    /// bound again: this object must not act on the new binding).
    let token: UInt64

    init(loop: EventLoop, address: IPv4Address, port: UInt16, token: UInt64) {
        self.loop = loop
        self.address = address
        self.port = port
        self.token = token
    }

    deinit {
        let p = port, t = token
        loop.post { core in core?.closeUDP(port: p, token: t, with: UDPSocketError.closed) }
    }

    /// Sends one datagram of `bytes` (fragmented past the MTU) to `destination`:`port`.
    /// Returns once it is queued for the device; suspends while the interface's transmit
    /// queue is full.
    ///
    /// Throws `UDPSocketError` (`.noRoute`, `.datagramTooLarge`, `.closed`),
    /// `TCPStreamError.stackStopped`, or `CancellationError` (nothing was queued).
    public func send(_ bytes: [UInt8], to destination: IPv4Address, port destinationPort: UInt16) async throws {
        let p = port, t = token
        try await loop.perform { (core, waiter, continuation: CheckedContinuation<Void, any Error>) in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            guard let iface = core.pingInterface, let u = core.udpSockets[p], u.token == t else {
                continuation.resume(throwing: UDPSocketError.closed)
                return
            }
            let send = UDPWaiters.Send(waiter: waiter, bytes: bytes, destination: destination,
                                       port: destinationPort, continuation: continuation)
            if !u.senders.isEmpty || !core.trySend(send, from: p, on: iface) {
                u.senders.append(send)  // after those already waiting: datagrams keep their order
            }
        }
    }

    /// The next datagram: its bytes, its source address and port; waits for one if none is
    /// queued. An ICMP destination unreachable that came back for a datagram this socket
    /// sent is reported here first, once, as `.portUnreachable` / `.destinationUnreachable`
    /// (the queued datagrams stay for the next call).
    ///
    /// Throws `UDPSocketError.closed` after `close()`, `TCPStreamError.stackStopped`, or
    /// `CancellationError` (no datagram is taken: the next receive gets it).
    public func receive() async throws -> (bytes: [UInt8], from: IPv4Address, port: UInt16) {
        let p = port, t = token
        let d: UDPDatagram = try await loop.perform { core, waiter, continuation in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            guard let iface = core.pingInterface, let u = core.udpSockets[p], u.token == t else {
                continuation.resume(throwing: UDPSocketError.closed)
                return
            }
            u.receivers.append((waiter, continuation))
            core.serviceReceivers(u, on: iface)
        }
        return (d.payload, d.source, d.sourcePort)
    }

    /// Unbinds the port: queued datagrams are discarded, pending operations fail with `.closed`.
    public func close() {
        let p = port, t = token
        loop.post { core in core?.closeUDP(port: p, token: t, with: UDPSocketError.closed) }
    }

    /// Datagrams dropped on arrival because the receive queue was full (0 once closed).
    public func droppedDatagrams() async -> Int {
        let p = port, t = token
        return await loop.query { core in
            core.udpSockets[p]?.token == t ? core.pingInterface?.droppedUDP(port: p) ?? 0 : 0
        } ?? 0
    }

    /// Datagrams waiting to be received (0 once closed).
    public func pendingDatagrams() async -> Int {
        let p = port, t = token
        return await loop.query { core in
            core.udpSockets[p]?.token == t ? core.pingInterface?.pendingUDP(port: p) ?? 0 : 0
        } ?? 0
    }
}

extension TCPStack {
    /// Binds a UDP port on the stack's address (0: an ephemeral port, 49152...65535).
    /// `queueLimit` bounds the datagrams held for `receive` (default: the interface's
    /// `udpQueueLimit`, 64).
    ///
    /// Throws `UDPSocketError.portInUse`, `.noEphemeralPort`, `.needsInterface` (a stack
    /// running a bare `IPv4Host`), or `TCPStreamError.stackStopped`.
    public func bindUDP(port: UInt16 = 0, queueLimit: Int? = nil) async throws -> UDPSocket {
        let token = UInt64.random(in: 1...UInt64.max)
        let bound: UInt16 = try await loop.perform { core, _, continuation in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            guard let iface = core.pingInterface else {
                continuation.resume(throwing: UDPSocketError.needsInterface); return
            }
            do throws(InterfaceError) {
                let p = try iface.bindUDP(port: port, queueLimit: queueLimit)
                core.udpSockets[p] = UDPWaiters(port: p, token: token)
                continuation.resume(returning: p)
            } catch {
                continuation.resume(throwing: UDPSocketError(error))
            }
        }
        return UDPSocket(loop: loop, address: address, port: bound, token: token)
    }
}

/// A bound UDP port's waiting `receive` and `send` calls (loop thread only).
final class UDPWaiters {
    struct Send {
        let waiter: Waiter
        let bytes: [UInt8]
        let destination: IPv4Address
        let port: UInt16
        let continuation: CheckedContinuation<Void, any Error>
    }

    let port: UInt16
    let token: UInt64
    var receivers: [(waiter: Waiter, continuation: CheckedContinuation<UDPDatagram, any Error>)] = []
    var senders: [Send] = []
    init(port: UInt16, token: UInt64) { self.port = port; self.token = token }
}

extension LoopCore {
    /// Queues `send`'s datagram and resumes it; false (nothing resumed) when the transmit
    /// queue is full and it must wait.
    func trySend(_ send: UDPWaiters.Send, from port: UInt16, on iface: Interface) -> Bool {
        do throws(InterfaceError) {
            try iface.sendUDP(from: port, to: send.destination, port: send.port, payload: send.bytes,
                              now: MonotonicClock.now())
        } catch .queueFull {
            return false
        } catch {
            send.continuation.resume(throwing: UDPSocketError(error))
            return true
        }
        touched = true
        send.continuation.resume()
        return true
    }

    /// Hands a pending ICMP error, then queued datagrams, to the waiting receivers.
    func serviceReceivers(_ u: UDPWaiters, on iface: Interface) {
        while !u.receivers.isEmpty {
            if let e = iface.takeUDPError(port: u.port) {
                u.receivers.removeFirst().continuation.resume(throwing: UDPSocketError(e))
            } else if let d = iface.receiveUDP(port: u.port) {
                u.receivers.removeFirst().continuation.resume(returning: d)
            } else {
                return
            }
        }
    }

    /// Every round: datagrams and errors to receivers, waiting sends into the freed queue.
    ///
    /// Sets `udpSendsWaitForAnotherRound` when it queued some waiting sends and others
    /// still wait: the flush that follows frees the queue, and nothing else would wake
    /// the loop for them (a lost wake-up that left sends waiting until the next packet).
    func dispatchUDP(_ iface: Interface, now: Instant) {
        udpSendsWaitForAnotherRound = false
        for u in udpSockets.values {
            if !u.receivers.isEmpty { serviceReceivers(u, on: iface) }
            var moved = false
            while let first = u.senders.first {
                guard trySend(first, from: u.port, on: iface) else { break }
                u.senders.removeFirst()
                moved = true
            }
            if moved && !u.senders.isEmpty { udpSendsWaitForAnotherRound = true }
        }
    }

    /// Unbinds `port` if `token` names its current binding (nil: whatever binding it has).
    func closeUDP(port: UInt16, token: UInt64? = nil, with error: any Error) {
        guard let u = udpSockets[port], token == nil || u.token == token else { return }
        udpSockets[port] = nil
        pingInterface?.closeUDP(port: port)
        for r in u.receivers { r.continuation.resume(throwing: error) }
        for s in u.senders { s.continuation.resume(throwing: error) }
    }

    func closeAllUDP(with error: any Error) {
        for port in Array(udpSockets.keys) { closeUDP(port: port, with: error) }
    }

    /// Resumes a cancelled `receive` or `send` with `CancellationError`; false when
    /// `waiter` is not one of theirs.
    func cancelUDP(_ waiter: Waiter) -> Bool {
        for u in udpSockets.values {
            if let i = u.receivers.firstIndex(where: { $0.waiter === waiter }) {
                u.receivers.remove(at: i).continuation.resume(throwing: CancellationError())
                return true
            }
            if let i = u.senders.firstIndex(where: { $0.waiter === waiter }) {
                u.senders.remove(at: i).continuation.resume(throwing: CancellationError())
                return true
            }
        }
        return false
    }
}
