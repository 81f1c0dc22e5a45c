/// One end of a two-ended link.
public enum LinkEnd: Int, Sendable, Hashable, CustomStringConvertible {
    case a = 0
    case b = 1

    @inlinable public var other: LinkEnd { self == .a ? .b : .a }
    public var description: String { self == .a ? "A" : "B" }
}

/// A packet the link hands over: which end receives it, when, and its bytes.
/// `packet` points into the link's own storage and stays valid until the next call
/// on the link.
public struct LinkDelivery {
    public var to: LinkEnd
    public var at: Instant
    public var packet: UnsafeRawBufferPointer
}

/// A packet as it was handed to the link (kept when `isCapturing`).
public struct LinkCapturedPacket: Hashable, Sendable {
    public var time: Instant
    public var from: LinkEnd
    public var bytes: [UInt8]
}

/// An in-memory point-to-point IP link between ends A and B, with a `FaultInjector`
/// per direction (A→B and B→A).
///
/// Packets are copied once into the link's own storage: a pool of `mtu`-sized
/// slots allocated in slabs and reused, so in steady state sending and delivering
/// allocate nothing. Deliveries come out in arrival-time order (ties in the order
/// they were scheduled), over both directions, one at a time from `deliver(now:)`.
///
/// Capture (`isCapturing`) keeps a copy of every packet as it was sent, before any
/// fault, with its send time and end (it allocates; tests and the demo only).
public final class MemoryLink {
    /// Largest packet the link carries; bigger ones are dropped and counted.
    public let mtu: Int

    struct Entry {
        var at: Instant
        var order: UInt64
        var slot: Int32
        var length: Int32
        @inline(__always) func precedes(_ o: Entry) -> Bool { at < o.at || (at == o.at && order < o.order) }
    }

    struct Direction {
        var injector: FaultInjector
        /// Entries arriving in order (the common case: no jitter, no reordering) queue
        /// here in O(1); only one that would overtake the last goes to the heap.
        var fifo: [Entry] = []
        var fifoHead = 0
        var heap: [Entry] = []
        /// A copy held back behind the next packet, and when it gives up waiting.
        var held: Entry? = nil
        var heldDeadline: Instant = .zero
        var delivered = 0
        var oversize = 0
        var count: Int { heap.count + (fifo.count - fifoHead) + (held == nil ? 0 : 1) }

        var first: Entry? {
            let f: Entry? = fifoHead < fifo.count ? fifo[fifoHead] : nil
            guard let h = heap.first else { return f }
            guard let f else { return h }
            return f.precedes(h) ? f : h
        }

        mutating func insert(_ e: Entry) {
            if fifoHead == fifo.count || !e.precedes(fifo[fifo.count - 1]) {
                fifo.append(e)
            } else {
                MemoryLink.push(e, into: &heap)
            }
        }

        mutating func removeFirst() -> Entry {
            if fifoHead < fifo.count, heap.isEmpty || fifo[fifoHead].precedes(heap[0]) {
                let e = fifo[fifoHead]
                fifoHead += 1
                if fifoHead == fifo.count { fifo.removeAll(keepingCapacity: true); fifoHead = 0 }
                else if fifoHead >= 4096 && fifoHead * 2 >= fifo.count { fifo.removeFirst(fifoHead); fifoHead = 0 }
                return e
            }
            return MemoryLink.pop(&heap)
        }
    }

    // A link is used from one thread and never re-entered; the dynamic exclusivity
    // checks on these class properties cost ~20 % of a bulk transfer, so they are off.
    @exclusivity(unchecked) var directions: [Direction]
    @exclusivity(unchecked) var order: UInt64 = 0
    // Pool.
    @exclusivity(unchecked) var slabs: [UnsafeMutableRawPointer] = []
    @exclusivity(unchecked) var freeSlots: [Int32] = []
    let slotsPerSlab = 64
    /// Slot of the packet last handed out by `deliver`, freed on the next call.
    @exclusivity(unchecked) var lent: Int32 = -1

    @exclusivity(unchecked) public var isCapturing: Bool
    @exclusivity(unchecked) public private(set) var captured: [LinkCapturedPacket] = []

    /// - Parameters:
    ///   - aToB, bToA: faults per direction; `seed` seeds both (B→A from a derived seed).
    public init(mtu: Int = 1500, aToB: FaultConfiguration = .none, bToA: FaultConfiguration = .none,
                seed: UInt64 = 0, capture: Bool = false) {
        precondition(mtu >= 20 && mtu <= 65535, "MemoryLink MTU must be 20...65535")
        self.mtu = mtu
        var mix = SeededRandom(seed: seed)
        let s1 = mix.next(), s2 = mix.next()
        directions = [Direction(injector: FaultInjector(configuration: aToB, seed: s1)),
                      Direction(injector: FaultInjector(configuration: bToA, seed: s2))]
        for d in 0..<2 { directions[d].heap.reserveCapacity(256); directions[d].fifo.reserveCapacity(256) }
        isCapturing = capture
    }

    /// The same faults both ways.
    public convenience init(mtu: Int = 1500, faults: FaultConfiguration, seed: UInt64 = 0, capture: Bool = false) {
        self.init(mtu: mtu, aToB: faults, bToA: faults, seed: seed, capture: capture)
    }

    deinit {
        for s in slabs { s.deallocate() }
    }

    // MARK: pool

    func takeSlot() -> Int32 {
        if let s = freeSlots.popLast() { return s }
        let slab = UnsafeMutableRawPointer.allocate(byteCount: slotsPerSlab * mtu, alignment: 16)
        let first = Int32(slabs.count * slotsPerSlab)
        slabs.append(slab)
        freeSlots.reserveCapacity(slabs.count * slotsPerSlab)
        for i in stride(from: Int32(slotsPerSlab - 1), to: 0, by: -1) { freeSlots.append(first + i) }
        return first
    }

    @inline(__always)
    func slotPointer(_ slot: Int32) -> UnsafeMutableRawPointer {
        let s = Int(slot)
        return slabs[s / slotsPerSlab] + (s % slotsPerSlab) * mtu
    }

    func releaseLent() {
        if lent >= 0 { freeSlots.append(lent); lent = -1 }
    }

    /// Slots holding packets (in flight, held back, or lent out by the last `deliver`).
    public var slotsInUse: Int { slabs.count * slotsPerSlab - freeSlots.count }
    /// Bytes of packet storage the pool has allocated.
    public var poolBytes: Int { slabs.count * slotsPerSlab * mtu }

    // MARK: heap

    static func push(_ e: Entry, into heap: inout [Entry]) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i].precedes(heap[p]) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    static func pop(_ heap: inout [Entry]) -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && heap[l].precedes(heap[m]) { m = l }
                if r < n && heap[r].precedes(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    func nextOrder() -> UInt64 { order &+= 1; return order }

    // MARK: sending and delivering

    /// Hands a packet sent by `from` to the link at `now`. Returns false when the
    /// link refused it outright (too big, queue full or lost); a true return does not
    /// promise delivery (a copy may still be corrupted).
    @discardableResult
    public func send(from: LinkEnd, packet: UnsafeRawBufferPointer, now: Instant) -> Bool {
        releaseLent()
        if isCapturing { captured.append(LinkCapturedPacket(time: now, from: from, bytes: Array(packet))) }
        let d = from.rawValue
        guard packet.count <= mtu, packet.count > 0 else { directions[d].oversize += 1; return false }
        if directions[d].injector.isPerfect {
            directions[d].injector.countOffered()
            let slot = takeSlot()
            slotPointer(slot).copyMemory(from: packet.baseAddress!, byteCount: packet.count)
            var e = Entry(at: now, order: nextOrder(), slot: slot, length: Int32(packet.count))
            if let h = directions[d].held {   // faults were just switched off: release a held packet behind this one
                directions[d].insert(e)
                e = h; e.at = max(h.at, now); e.order = nextOrder()
                directions[d].held = nil
            }
            directions[d].insert(e)
            return true
        }
        guard directions[d].injector.admits(held: directions[d].count) else { return false }
        if directions[d].injector.dropsPacket() { return false }
        let departure = directions[d].injector.departure(length: packet.count, now: now)
        let copies = directions[d].injector.duplicatesPacket() ? 2 : 1
        for _ in 0..<copies {
            let slot = takeSlot()
            let p = slotPointer(slot)
            p.copyMemory(from: packet.baseAddress!, byteCount: packet.count)
            _ = directions[d].injector.corrupt(UnsafeMutableRawBufferPointer(start: p, count: packet.count))
            let at = directions[d].injector.arrival(departure: departure)
            let entry = Entry(at: at, order: 0, slot: slot, length: Int32(packet.count))
            schedule(entry, direction: d)
        }
        return true
    }

    /// True when `send(from:now:writingWith:)` can take a packet from `from` in place:
    /// that direction has no faults, holds nothing back and nothing is captured.
    public func sendsInPlace(from: LinkEnd) -> Bool {
        let d = from.rawValue
        return !isCapturing && directions[d].injector.isPerfect && directions[d].held == nil
    }

    /// Zero-copy `send` for a direction where `sendsInPlace(from:)` holds: `write` fills a
    /// slot of `mtu` bytes and returns the packet's length (0: nothing to send, the slot
    /// goes back). The packet then travels exactly as one given to `send` would.
    /// Returns the length written.
    public func send(from: LinkEnd, now: Instant, writingWith write: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        precondition(sendsInPlace(from: from), "send(from:now:writingWith:) on a faulty or capturing direction")
        releaseLent()
        let slot = takeSlot()
        let n = write(UnsafeMutableRawBufferPointer(start: slotPointer(slot), count: mtu))
        guard n > 0 else { freeSlots.append(slot); return 0 }
        precondition(n <= mtu, "packet longer than the slot")
        let d = from.rawValue
        directions[d].injector.countOffered()
        directions[d].insert(Entry(at: now, order: nextOrder(), slot: slot, length: Int32(n)))
        return n
    }

    func schedule(_ entry: Entry, direction d: Int) {
        var e = entry
        if let h = directions[d].held {
            // The packet the held one waits for: it goes first, the held one right behind.
            e.order = nextOrder()
            directions[d].insert(e)
            var h2 = h
            h2.at = max(h.at, e.at)
            h2.order = nextOrder()
            directions[d].held = nil
            directions[d].insert(h2)
            return
        }
        if directions[d].injector.holdsBack() {
            directions[d].held = e
            directions[d].heldDeadline = e.at + directions[d].injector.configuration.reorderHold
            return
        }
        e.order = nextOrder()
        directions[d].insert(e)
    }

    /// Held packets whose wait is over go out at their deadline.
    func releaseExpiredHolds(now: Instant) {
        for d in 0..<2 {
            if var h = directions[d].held, directions[d].heldDeadline <= now {
                h.at = directions[d].heldDeadline
                h.order = nextOrder()
                directions[d].held = nil
                directions[d].insert(h)
            }
        }
    }

    /// When the next packet arrives (or a held-back packet gives up waiting); nil when
    /// the link is empty.
    public var nextDelivery: Instant? {
        var t: Instant? = nil
        for d in directions {
            if let e = d.first { t = min(t ?? e.at, e.at) }
            if d.held != nil { t = min(t ?? d.heldDeadline, d.heldDeadline) }
        }
        return t
    }

    /// The next packet due at or before `now`, earliest first; nil when none is due.
    /// Call until nil. The bytes stay valid until the next call on the link.
    public func deliver(now: Instant) -> LinkDelivery? {
        releaseLent()
        releaseExpiredHolds(now: now)
        var best = -1
        var bestEntry: Entry? = nil
        for d in 0..<2 {
            guard let e = directions[d].first, e.at <= now else { continue }
            if let b = bestEntry, !e.precedes(b) { continue }
            best = d
            bestEntry = e
        }
        guard best >= 0 else { return nil }
        let e = directions[best].removeFirst()
        directions[best].delivered += 1
        lent = e.slot
        return LinkDelivery(to: LinkEnd(rawValue: best)!.other, at: e.at,
                            packet: UnsafeRawBufferPointer(start: slotPointer(e.slot), count: Int(e.length)))
    }

    /// Every packet due at or before `now`, copied out (tests).
    public func deliverAll(now: Instant) -> [(to: LinkEnd, at: Instant, bytes: [UInt8])] {
        var out: [(to: LinkEnd, at: Instant, bytes: [UInt8])] = []
        while let d = deliver(now: now) { out.append((d.to, d.at, Array(d.packet))) }
        releaseLent()
        return out
    }

    /// Packets the link holds in the direction away from `from`.
    public func packetsInFlight(from: LinkEnd) -> Int { directions[from.rawValue].count }

    /// What the injector of the direction away from `from` did.
    public func faultCounters(from: LinkEnd) -> FaultCounters { directions[from.rawValue].injector.counters }

    /// Packets delivered in the direction away from `from`.
    public func delivered(from: LinkEnd) -> Int { directions[from.rawValue].delivered }

    /// Packets refused for being larger than the MTU (or empty), away from `from`.
    public func oversize(from: LinkEnd) -> Int { directions[from.rawValue].oversize }

    /// The faults of the direction away from `from` (changeable mid-run).
    public func faults(from: LinkEnd) -> FaultConfiguration { directions[from.rawValue].injector.configuration }

    public func setFaults(_ f: FaultConfiguration, from: LinkEnd) { directions[from.rawValue].injector.configuration = f }

    /// Forgets the captured packets.
    public func clearCapture() { captured.removeAll() }
}

extension MemoryLink {
    /// The captured packets as a pcap file (raw IPv4 link type, nanosecond timestamps,
    /// virtual time since the Unix epoch's origin).
    public func capturePcap() -> PcapWriter {
        var w = PcapWriter(linkType: .raw, reservingCapacity: captured.reduce(24) { $0 + 16 + $1.bytes.count })
        for p in captured { w.append(timestamp: p.time, packet: p.bytes) }
        return w
    }
}
