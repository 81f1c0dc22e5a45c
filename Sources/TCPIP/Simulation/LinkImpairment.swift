/// Userspace netem for a real link: the simulation's fault injector applied to the
/// packets between a device and a stack, in both directions.
///
/// Sans-IO: packets and the time come in as arguments. Each direction is a one-way
/// `MemoryLink` (its A→B side) with its own `FaultInjector`, so every fault of
/// `FaultConfiguration` applies with the same semantics and text syntax as
/// `tcpip demo --impair`: loss, delay, jitter, reorder (a packet held back behind the
/// next one, or until `reorder-hold` passes), duplicate, corrupt, rate, queue.
///
/// - inbound (device → stack): `receive(fromDevice:now:)`, then `nextInbound(now:)`
///   hands out what is due, in arrival order;
/// - outbound (stack → device): `send(toDevice:now:)` (or the in-place form), then
///   `nextOutbound(now:)`;
/// - `nextDeadline`: when either direction has something due next.
///
/// Memory is bounded: each direction holds at most `queueLimit` packets (the
/// configuration's `queue`, or `defaultQueueLimit` when it sets none); more are
/// tail-dropped and counted in `queueDropped`, like netem's `limit`. Packets larger
/// than `maximumPacketSize` are dropped and counted (`oversize`).
public final class LinkImpairment {
    /// Packets a direction holds at most when the configuration gives no `queue`
    /// (netem's default limit is 1000 too).
    public static let defaultQueueLimit = 1000

    public let inboundFaults: FaultConfiguration
    public let outboundFaults: FaultConfiguration
    public let maximumPacketSize: Int
    let inbound: MemoryLink
    let outbound: MemoryLink

    /// - Parameters:
    ///   - inbound, outbound: the faults of each direction; a zero `queueLimit` becomes
    ///     `defaultQueueLimit` (a perfect direction stays perfect: no decision is made).
    ///   - seed: seeds both directions: the same seed and the same packets at the same
    ///     times give the same faults. Exactly: with `m = SeededRandom(seed: seed)`, the
    ///     inbound line is a `MemoryLink(seed: m.next())` and the outbound one a
    ///     `MemoryLink(seed: m.next())` (whose A→B injector takes its link seed's first draw).
    ///   - maximumPacketSize: the largest packet or frame carried (20...65535).
    public init(inbound: FaultConfiguration, outbound: FaultConfiguration, seed: UInt64, maximumPacketSize: Int) {
        func bounded(_ f: FaultConfiguration) -> FaultConfiguration {
            var f = f
            if !f.isNone && f.queueLimit == 0 { f.queueLimit = LinkImpairment.defaultQueueLimit }
            return f
        }
        let size = min(max(maximumPacketSize, 20), 65535)
        self.maximumPacketSize = size
        inboundFaults = bounded(inbound)
        outboundFaults = bounded(outbound)
        var mix = SeededRandom(seed: seed)
        let s1 = mix.next(), s2 = mix.next()
        self.inbound = MemoryLink(mtu: size, aToB: inboundFaults, bToA: .none, seed: s1)
        self.outbound = MemoryLink(mtu: size, aToB: outboundFaults, bToA: .none, seed: s2)
    }

    /// The same faults both ways.
    public convenience init(faults: FaultConfiguration, seed: UInt64, maximumPacketSize: Int) {
        self.init(inbound: faults, outbound: faults, seed: seed, maximumPacketSize: maximumPacketSize)
    }

    // MARK: inbound

    /// A packet (or frame) the device delivered at `now` enters the inbound line. False when
    /// the line dropped it at once (lost, queue full or oversize).
    @discardableResult
    public func receive(fromDevice packet: UnsafeRawBufferPointer, now: Instant) -> Bool {
        inbound.send(from: .a, packet: packet, now: now)
    }

    /// The next inbound packet due at or before `now`, for the stack; nil when none is due.
    /// The bytes stay valid until the next call on the inbound line.
    public func nextInbound(now: Instant) -> UnsafeRawBufferPointer? {
        inbound.deliver(now: now)?.packet
    }

    // MARK: outbound

    /// A packet the stack sent at `now` enters the outbound line. False when the line
    /// dropped it at once (lost, queue full or oversize).
    @discardableResult
    public func send(toDevice packet: UnsafeRawBufferPointer, now: Instant) -> Bool {
        outbound.send(from: .a, packet: packet, now: now)
    }

    /// True when the outbound line takes packets in place (`send(now:writingWith:)`):
    /// it has no faults and holds nothing back.
    public var sendsInPlace: Bool { outbound.sendsInPlace(from: .a) }

    /// Zero-copy `send(toDevice:now:)` when `sendsInPlace`: `write` fills a buffer of
    /// `maximumPacketSize` bytes and returns the length (0: nothing to send).
    public func send(now: Instant, writingWith write: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        outbound.send(from: .a, now: now, writingWith: write)
    }

    /// The next outbound packet due at or before `now`, for the device; nil when none is
    /// due. The bytes stay valid until the next call on the outbound line.
    public func nextOutbound(now: Instant) -> UnsafeRawBufferPointer? {
        outbound.deliver(now: now)?.packet
    }

    // MARK: time and counters

    /// When the next packet of either direction is due (or a held-back one gives up
    /// waiting); nil when both lines are empty.
    public var nextDeadline: Instant? {
        switch (inbound.nextDelivery, outbound.nextDelivery) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }

    /// Packets each line holds now (queued, delayed or held back).
    public var packetsHeld: (inbound: Int, outbound: Int) {
        (inbound.packetsInFlight(from: .a), outbound.packetsInFlight(from: .a))
    }

    public var counters: ImpairmentCounters {
        ImpairmentCounters(inbound: inbound.faultCounters(from: .a), outbound: outbound.faultCounters(from: .a),
                           inboundOversize: inbound.oversize(from: .a), outboundOversize: outbound.oversize(from: .a))
    }
}

/// What a `LinkImpairment` did in each direction.
public struct ImpairmentCounters: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Device → stack.
    public var inbound: FaultCounters
    /// Stack → device.
    public var outbound: FaultCounters
    /// Packets dropped for being larger than the line's `maximumPacketSize`.
    public var inboundOversize: Int
    public var outboundOversize: Int

    public init(inbound: FaultCounters = FaultCounters(), outbound: FaultCounters = FaultCounters(),
                inboundOversize: Int = 0, outboundOversize: Int = 0) {
        self.inbound = inbound
        self.outbound = outbound
        self.inboundOversize = inboundOversize
        self.outboundOversize = outboundOversize
    }

    /// Two lines: `impairment in: offered=... lost=...` and `impairment out: ...`.
    public var description: String {
        "impairment in: \(inbound)\(inboundOversize > 0 ? " oversize=\(inboundOversize)" : "")\n"
            + "impairment out: \(outbound)\(outboundOversize > 0 ? " oversize=\(outboundOversize)" : "")"
    }
}
