/// Names one connection in a host's table. A handle outlives its connection safely:
/// once the slot is reused (the generation differs) it names nothing.
public struct ConnectionHandle: Hashable, Sendable, CustomStringConvertible {
    public let slot: Int32
    public let generation: UInt32

    public var description: String { "#\(slot).\(generation)" }
}

/// The host's connections: slots (reused) for the connection objects, a dictionary
/// from four-tuple to slot for demultiplexing, a FIFO of slots that may have
/// something to send, and a min-heap of timer deadlines.
///
/// Deadlines: each slot records the connection's `nextDeadline` as last seen, with a
/// stamp that changes whenever it does; the heap holds (deadline, slot, stamp)
/// entries and stale ones are skipped when they surface. So `nextDeadline` is
/// O(1) amortised and polling touches only connections with work, however many
/// idle connections the table holds. The host refreshes a slot's deadline after
/// every interaction with its connection.
struct ConnectionTable {
    struct Slot {
        var connection: TCPConnection?
        var generation: UInt32 = 0
        var inReadyQueue = false
        var deadline: Instant? = nil
        var stamp: UInt32 = 0
        /// The listener port that spawned it, while not yet accepted.
        var listenerPort: UInt16? = nil
    }

    struct DeadlineEntry {
        var at: Instant
        var slot: Int32
        var stamp: UInt32
    }

    var slots: [Slot] = []
    var freeSlots: [Int32] = []
    var byTuple: [FourTuple: Int32] = [:]
    var ready: [Int32] = []
    var readyHead = 0
    var deadlines: [DeadlineEntry] = []

    var count: Int { byTuple.count }

    /// The last `lookup` hit (tuple and slot), so a burst of segments for one
    /// connection skips the dictionary's hashing; cleared by every insert and remove.
    var lastTuple: FourTuple? = nil
    var lastSlot: Int32 = -1

    /// The slot of the connection with this four-tuple.
    mutating func lookup(_ tuple: FourTuple) -> Int32? {
        if let t = lastTuple, t == tuple { return lastSlot }
        guard let s = byTuple[tuple] else { return nil }
        lastTuple = tuple
        lastSlot = s
        return s
    }

    func handle(of slot: Int32) -> ConnectionHandle { ConnectionHandle(slot: slot, generation: slots[Int(slot)].generation) }

    func slot(of handle: ConnectionHandle) -> Int32? {
        let i = Int(handle.slot)
        guard i >= 0, i < slots.count, slots[i].generation == handle.generation, slots[i].connection != nil else { return nil }
        return handle.slot
    }

    func connection(_ handle: ConnectionHandle) -> TCPConnection? {
        guard let s = slot(of: handle) else { return nil }
        return slots[Int(s)].connection
    }

    mutating func insert(_ c: TCPConnection) -> Int32 {
        let s: Int32
        if let f = freeSlots.popLast() { s = f } else { s = Int32(slots.count); slots.append(Slot()) }
        slots[Int(s)].connection = c
        slots[Int(s)].deadline = nil
        slots[Int(s)].listenerPort = nil
        byTuple[c.tuple] = s
        lastTuple = nil
        return s
    }

    mutating func remove(_ s: Int32) {
        let i = Int(s)
        guard let c = slots[i].connection else { return }
        if byTuple[c.tuple] == s { byTuple[c.tuple] = nil }
        lastTuple = nil
        slots[i].connection = nil
        slots[i].generation &+= 1
        slots[i].deadline = nil
        slots[i].stamp &+= 1
        slots[i].listenerPort = nil
        // Still in the ready FIFO: skipped there (no connection) and freed when it surfaces.
        if !slots[i].inReadyQueue { freeSlots.append(s) }
    }

    // MARK: ready FIFO

    mutating func markReady(_ s: Int32) {
        let i = Int(s)
        guard !slots[i].inReadyQueue, slots[i].connection != nil else { return }
        slots[i].inReadyQueue = true
        ready.append(s)
    }

    var hasReady: Bool { readyHead < ready.count }

    var firstReady: Int32? { readyHead < ready.count ? ready[readyHead] : nil }

    /// Takes the first slot off the FIFO.
    mutating func popReady() -> Int32 {
        let s = ready[readyHead]
        readyHead += 1
        if readyHead == ready.count { ready.removeAll(keepingCapacity: true); readyHead = 0 }
        else if readyHead >= 1024 && readyHead * 2 >= ready.count {
            ready.removeFirst(readyHead); readyHead = 0
        }
        slots[Int(s)].inReadyQueue = false
        if slots[Int(s)].connection == nil { freeSlots.append(s) }
        return s
    }

    // MARK: deadlines

    mutating func refreshDeadline(_ s: Int32) {
        let i = Int(s)
        guard let c = slots[i].connection else { return }
        let d = c.nextDeadline
        guard d != slots[i].deadline else { return }
        slots[i].deadline = d
        slots[i].stamp &+= 1
        if let d { pushDeadline(DeadlineEntry(at: d, slot: s, stamp: slots[i].stamp)) }
    }

    func isCurrent(_ e: DeadlineEntry) -> Bool {
        let sl = slots[Int(e.slot)]
        return sl.connection != nil && sl.stamp == e.stamp
    }

    mutating func pushDeadline(_ e: DeadlineEntry) {
        deadlines.append(e)
        var i = deadlines.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard deadlines[i].at < deadlines[p].at else { break }
            deadlines.swapAt(i, p)
            i = p
        }
    }

    mutating func popDeadline() -> DeadlineEntry {
        let top = deadlines[0]
        let last = deadlines.removeLast()
        if !deadlines.isEmpty {
            deadlines[0] = last
            var i = 0
            let n = deadlines.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && deadlines[l].at < deadlines[m].at { m = l }
                if r < n && deadlines[r].at < deadlines[m].at { m = r }
                if m == i { break }
                deadlines.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    /// The earliest current deadline (stale heap entries are discarded on the way).
    mutating func earliestDeadline() -> Instant? {
        while let top = deadlines.first {
            if isCurrent(top) { return top.at }
            _ = popDeadline()
        }
        return nil
    }

    /// Moves every connection whose deadline is at or before `now` to the ready FIFO.
    mutating func expireDeadlines(now: Instant) {
        while let top = deadlines.first, top.at <= now {
            let e = popDeadline()
            if isCurrent(e) {
                slots[Int(e.slot)].deadline = nil   // consumed; refreshed after the poll
                slots[Int(e.slot)].stamp &+= 1
                markReady(e.slot)
            }
        }
    }
}
