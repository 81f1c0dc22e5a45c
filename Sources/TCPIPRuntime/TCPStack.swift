import TCPIP
import TCPIPDevices

/// A TCP/IP stack on a real link: an `IPv4Host` driven by its own event-loop thread.
///
/// Safe from any task: every call is posted to the loop, which alone touches the host.
/// Keep the stack alive while its streams are in use: `shutdown()` closes everything
/// gracefully; dropping the last reference resets whatever is still open.
///
/// ```swift
/// let tun = try TunTapDevice(name: "tun0", kind: .tun)       // kernel side: 192.0.2.1/24
/// let stack = try TCPStack(interface: tun, address: IPv4Address(192, 0, 2, 2))
/// let listener = try await stack.listen(port: 7)
/// for try await stream in listener {
///     Task {
///         while let bytes = try? await stream.read(), !bytes.isEmpty { try? await stream.write(bytes) }
///         stream.close()
///     }
/// }
/// let s = try await stack.connect(to: IPv4Address(192, 0, 2, 1), port: 80, timeout: .seconds(5))
/// ```
///
/// Socket options are `TCPConfiguration` fields: `noDelay`, `keepalive` (with
/// `keepaliveIdle`/`keepaliveInterval`/`keepaliveProbes`), `sendBufferSize`,
/// `receiveBufferSize`, `linger` (SO_LINGER: see `TCPStream.closeAndWait`), ... The
/// stack's `configuration` applies to accepted connections; `connect` may take its own.
/// UDP: `bindUDP(port:)` (UDPSocket.swift).
public final class TCPStack: Sendable {
    let loop: EventLoop
    public let address: IPv4Address
    public let configuration: TCPConfiguration
    public let mtu: Int

    /// Starts a stack with address `address` on `interface`: a TUN device (IPv4 packets),
    /// a TAP device (Ethernet frames: ARP, our own MAC), or any `PacketInterface`
    /// carrying IPv4 packets. The stack answers ARP (TAP), ping and UDP to closed ports
    /// (ICMP port unreachable) besides TCP.
    ///
    /// - Parameters:
    ///   - prefixLength, gateway: the on-link prefix and the default route.
    ///   - mtu: the largest IPv4 packet sent; the MSS offered follows from it unless the
    ///     configuration's is smaller.
    ///   - seed: keys the ephemeral-port and ISN hashes and, on a TAP, our MAC address
    ///     (locally administered, 02:xx:xx:xx:xx:xx); random by default.
    ///   - wrap: puts something between the device and the interface built here (e.g. an
    ///     `ImpairedProcessor`, a `DeviceTap`); it returns the processor the loop runs.
    public convenience init(interface: some PacketInterface, address: IPv4Address, prefixLength: Int = 24,
                            gateway: IPv4Address? = nil, configuration: TCPConfiguration = .default,
                            mtu: Int = 1500, seed: UInt64 = UInt64.random(in: 0...UInt64.max),
                            wrap: ((Interface) -> any PacketProcessor)? = nil) throws {
        var config = configuration
        config.maximumSegmentSize = min(config.maximumSegmentSize, max(64, mtu - 40))
        let host = IPv4Host(address: address, configuration: config, mtu: mtu, seed: seed)
        let link: InterfaceLink
        if let device = interface as? TunTapDevice, device.kind == .tap {
            link = .ethernet(MACAddress(rawValue: 0x0200_0000_0000 | (seed & 0xFF_FFFF_FFFF)))
        } else {
            link = .ip
        }
        var ifConfig = InterfaceConfiguration(link: link, address: address, prefixLength: prefixLength,
                                              gateway: gateway, mtu: mtu)
        ifConfig.segmentationOffload = interface.virtioNetHeader
        let iface = try Interface(configuration: ifConfig, host: host, seed: seed)
        try self.init(interface: interface, processor: wrap?(iface) ?? iface)
    }

    /// Starts a stack whose sans-IO side the caller built: `processor` (an `IPv4Host`, or
    /// a fuller interface around one) is fed by `interface`. From now on only the loop
    /// thread may touch `processor`.
    public init(interface: some PacketInterface, processor: any PacketProcessor) throws {
        if let device = interface as? TunTapDevice, device.kind == .tap, processor is IPv4Host {
            throw TCPStackError.tapNeedsEthernetInterface
        }
        // The virtio-net header of each super-segment comes from `lastPacketOffload`, which
        // only the Interface and the host themselves report; a wrapper would let 64 KiB
        // segments reach the device without it.
        if interface.virtioNetHeader && !(processor is Interface || processor is IPv4Host) {
            throw TCPStackError.offloadNeedsUnwrappedInterface
        }
        let host = processor.tcpHost
        self.address = host.address
        self.configuration = host.configuration
        self.mtu = host.mtu
        loop = try EventLoop(core: LoopCore(processor: processor, interface: interface))
        try loop.start()
    }

    deinit {
        loop.post { core in
            guard let core else { return }
            core.beginShutdown(grace: .zero, now: MonotonicClock.now())
        }
    }

    /// Starts listening on `port`; connections are taken with the listener's `accept()`.
    public func listen(port: UInt16, backlog: Int = 128) async throws -> TCPListener {
        let (port, token): (UInt16, UInt64) = try await loop.perform { core, _, continuation in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            do throws(HostError) {
                try core.host.listen(port: port, backlog: backlog)
                core.lastListenerToken += 1
                core.listeners[port] = ListenerState(port: port, token: core.lastListenerToken)
                continuation.resume(returning: (port, core.lastListenerToken))
            } catch {
                continuation.resume(throwing: TCPStreamError(error))
            }
        }
        return TCPListener(loop: loop, port: port, token: token, address: address)
    }

    /// Opens a connection (see `TCPStream.connect`).
    public func connect(to address: IPv4Address, port: UInt16, timeout: Duration = .seconds(75),
                        configuration: TCPConfiguration? = nil) async throws -> TCPStream {
        try await TCPStream.connect(to: address, port: port, on: self, timeout: timeout, configuration: configuration)
    }

    /// Sends one ICMP echo request with `size` data bytes (past the MTU it is fragmented)
    /// and waits for its answer: the reply, an ICMP error about it (host unreachable,
    /// TTL exceeded...), or nil when nothing came within `timeout`.
    ///
    /// Throws `InterfaceError` when the request cannot be sent (`.noRoute`,
    /// `.datagramTooLarge`, `.queueFull`), `TCPStackError.pingNeedsInterface` when the stack
    /// runs a bare `IPv4Host`, `TCPStackError.pingSequenceInUse` when a ping with the same
    /// sequence number is still waiting, `TCPStreamError.stackStopped` once stopped, and
    /// `CancellationError` when the task is cancelled.
    public func ping(_ address: IPv4Address, sequence: UInt16, size: Int = 56,
                     timeout: Duration = .seconds(1)) async throws -> PingEvent? {
        try await loop.perform { core, waiter, continuation in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            guard let iface = core.pingInterface else {
                continuation.resume(throwing: TCPStackError.pingNeedsInterface); return
            }
            guard core.pingWaiters[sequence] == nil else {
                continuation.resume(throwing: TCPStackError.pingSequenceInUse); return
            }
            let now = MonotonicClock.now()
            do throws(InterfaceError) {
                try iface.sendPing(to: address, sequence: sequence, size: size, now: now)
            } catch {
                continuation.resume(throwing: error); return
            }
            let bounded = min(max(timeout, .zero), .seconds(3600))
            core.pingWaiters[sequence] = (waiter, continuation, now + bounded)
        }
    }

    /// The stack's counters now (their last values once it has stopped).
    public func statistics() async -> TCPStackStatistics {
        if let s = await loop.query({ $0.statistics }) { return s }
        return loop.finalStatistics.withLock { $0 } ?? TCPStackStatistics()
    }

    /// Connections in the host's table (TIME-WAIT included).
    public func connectionCount() async -> Int {
        await loop.query { $0.host.connectionCount } ?? 0
    }

    /// Stops listening, closes every stream (pending operations fail with
    /// `.stackStopped`), waits until the peers have acknowledged the FINs or
    /// `gracePeriod` has passed, resets what is left and stops the loop thread.
    public func shutdown(gracePeriod: Duration = .seconds(2)) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.post { core in
                guard let core else { continuation.resume(); return }
                core.stopWaiters.append(continuation)
                core.beginShutdown(grace: gracePeriod, now: MonotonicClock.now())
            }
        }
    }
}

/// Why a stack could not start.
public enum TCPStackError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A TAP device carries Ethernet frames; an `IPv4Host` alone reads raw IPv4 (TUN):
    /// run a TAP with an `Interface` whose link is `.ethernet`.
    case tapNeedsEthernetInterface
    /// `ping` needs the full `Interface` (ICMP); the stack runs a bare `IPv4Host`.
    case pingNeedsInterface
    /// A `ping` with this sequence number is still waiting for its answer.
    case pingSequenceInUse
    /// A device opened with the virtio-net header (offload) runs only with an `Interface`
    /// or `IPv4Host` directly: wrappers (impairment, taps) do not carry the header along.
    case offloadNeedsUnwrappedInterface

    public var description: String {
        switch self {
        case .tapNeedsEthernetInterface: "a TAP device carries Ethernet frames: run it with an Interface (.ethernet link), not a bare IPv4Host"
        case .pingNeedsInterface: "ping needs an Interface (ICMP), not a bare IPv4Host"
        case .pingSequenceInUse: "a ping with this sequence number is still waiting"
        case .offloadNeedsUnwrappedInterface: "a device with offloads (virtio-net header) runs only with an Interface or IPv4Host directly, not wrapped (--impair/--pcap/--trace)"
        }
    }
}
