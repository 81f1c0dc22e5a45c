/// A packet crossing the simulated network, as the observer sees it.
public struct NetworkTrace {
    public enum Kind: Sendable, Hashable {
        /// A host sent it; `accepted` is false when the link refused it outright (lost,
        /// queue full, too big).
        case sent(accepted: Bool)
        /// The link delivered it (possibly corrupted, duplicated or late); the receiving
        /// host has not seen it yet.
        case delivered
        /// The receiving host has processed it (state changes it caused are visible).
        case received
    }
    public var kind: Kind
    public var time: Instant
    /// The end that sent it.
    public var from: LinkEnd
    /// The IPv4 packet; valid only during the callback.
    public var packet: UnsafeRawBufferPointer
}

/// Two `IPv4Host`s joined by a `MemoryLink`, driven by a `VirtualClock`.
///
/// `step()` delivers every packet due now, polls both hosts until neither has
/// anything to send (sending what they produce, which may itself be due at once on a
/// zero-delay link), and then moves the clock to the next event: the link's next
/// delivery or a host's next deadline. Nothing else reads time or randomness, so a
/// run is a pure function of its seeds and inputs.
public final class SimulatedNetwork {
    public let a: IPv4Host
    public let b: IPv4Host
    public let link: MemoryLink
    @exclusivity(unchecked) public var clock: VirtualClock
    /// Called for every packet sent and delivered (ladders, traces); nil costs nothing.
    @exclusivity(unchecked) public var observer: ((NetworkTrace) -> Void)?
    /// Steps taken so far.
    @exclusivity(unchecked) public private(set) var steps = 0

    @exclusivity(unchecked) var buffer: UnsafeMutableRawBufferPointer

    public init(a: IPv4Host, b: IPv4Host, link: MemoryLink, start: Instant = .zero) {
        self.a = a
        self.b = b
        self.link = link
        clock = VirtualClock(now: start)
        buffer = .allocate(byteCount: max(a.mtu, b.mtu, link.mtu), alignment: 16)
    }

    deinit { buffer.deallocate() }

    public var now: Instant { clock.now }

    public func host(_ end: LinkEnd) -> IPv4Host { end == .a ? a : b }

    /// Delivers what is due and polls both hosts until the network is quiet at the
    /// current instant. Returns the number of packets moved.
    @discardableResult
    public func settle() -> Int {
        var moved = 0
        let now = clock.now
        while true {
            var progress = false
            while let d = link.deliver(now: now) {
                if let o = observer { o(NetworkTrace(kind: .delivered, time: now, from: d.to.other, packet: d.packet)) }
                host(d.to).receive(packet: d.packet, now: now)
                if let o = observer { o(NetworkTrace(kind: .received, time: now, from: d.to.other, packet: d.packet)) }
                progress = true
                moved += 1
            }
            // Poll the two hosts alternately, one packet each, until both are empty.
            var aDone = false, bDone = false
            while !(aDone && bDone) {
                if !aDone { aDone = !pollOne(.a, now: now) }
                if !bDone { bDone = !pollOne(.b, now: now) }
                if !(aDone && bDone) { progress = true; moved += 1 }
            }
            if !progress { break }
        }
        return moved
    }

    func pollOne(_ end: LinkEnd, now: Instant) -> Bool {
        let h = host(end)
        if observer == nil && h.mtu <= link.mtu && link.sendsInPlace(from: end) {
            // The host writes straight into the link's slot: one copy less per packet.
            return link.send(from: end, now: now) { h.poll(now: now, into: $0) } > 0
        }
        let n = h.poll(now: now, into: buffer)
        guard n > 0 else { return false }
        let p = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        let accepted = link.send(from: end, packet: p, now: now)
        if let o = observer { o(NetworkTrace(kind: .sent(accepted: accepted), time: now, from: end, packet: p)) }
        return true
    }

    /// The next instant anything happens: a delivery or a host deadline.
    public var nextEvent: Instant? {
        var t = link.nextDelivery
        if let d = a.nextDeadline { t = min(t ?? d, d) }
        if let d = b.nextDeadline { t = min(t ?? d, d) }
        return t
    }

    /// One step: settle now, then advance the clock to the next event. Returns false
    /// when nothing is left to happen (no packet in flight, no timer armed).
    @discardableResult
    public func step() -> Bool {
        steps += 1
        settle()
        guard let next = nextEvent else { return false }
        // A deadline not after now that produced nothing must not stall the clock.
        clock.advance(to: next > clock.now ? next : clock.now + .nanoseconds(1))
        return true
    }

    /// Steps until `condition` holds (checked before every step), the network goes
    /// idle, or `timeLimit` of virtual time has passed since the call. Returns whether
    /// the condition held.
    @discardableResult
    public func run(until condition: () -> Bool, timeLimit: Duration) -> Bool {
        let end = clock.now + timeLimit
        while true {
            settle()
            if condition() { return true }
            guard let next = nextEvent else { return condition() }
            if next > end { clock.advance(to: end); settle(); return condition() }
            clock.advance(to: next > clock.now ? next : clock.now + .nanoseconds(1))
            steps += 1
        }
    }

    /// Runs for `duration` of virtual time (or until idle).
    public func run(for duration: Duration) {
        run(until: { false }, timeLimit: duration)
    }
}
