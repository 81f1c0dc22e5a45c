import Testing
@testable import TCPIP

@Suite struct ReceiveBufferTests {
    static func stream(_ n: Int, seed: UInt64) -> [UInt8] {
        var r = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: r.next()) }
    }

    /// An independent model: one Bool per stream byte, ranges recomputed by scanning.
    struct Model {
        var held: [Bool]
        var rcvNxt = 0, readPos = 0
        let capacity: Int, maxRanges: Int
        var readable: Int { rcvNxt - readPos }
        var window: Int { capacity - readable }
        /// Out-of-order runs as absolute [start, end).
        var runs: [(Int, Int)] {
            var out: [(Int, Int)] = []
            var i = rcvNxt
            let limit = min(held.count, rcvNxt + window + 1)
            while i < limit {
                if held[i] {
                    let s = i
                    while i < limit && held[i] { i += 1 }
                    out.append((s, i))
                } else { i += 1 }
            }
            return out
        }
        mutating func insert(at a: Int, count n: Int) -> ReceiveInsertResult {
            var r = ReceiveInsertResult()
            var s = a, e = a + n
            let dupBelow = max(0, min(e, rcvNxt) - s)
            r.duplicate = dupBelow
            s = max(s, rcvNxt)
            if s >= e { return r }
            let edge = rcvNxt + window
            if e > edge { r.dropped = e - max(s, edge); e = max(s, edge) }
            if s >= e { return r }
            let before = runs
            let touches = before.contains { $0.1 >= s && $0.0 <= e }
            if s > rcvNxt && !touches && before.count >= maxRanges { r.dropped += e - s; return r }
            for p in s..<e { if held[p] { r.duplicate += 1 } else { held[p] = true; r.stored += 1 } }
            r.filledGap = r.stored > 0 && s < (before.last?.1 ?? 0)
            let old = rcvNxt
            while rcvNxt < held.count && held[rcvNxt] { rcvNxt += 1 }
            r.advanced = rcvNxt - old
            return r
        }
    }

    @Test(arguments: [(UInt64(1), 4000, 16), (2, 3000, 3), (3, 6000, 1), (4, 2500, 0), (5, 9000, 16)])
    func randomOrderOverlapAndDuplicationDeliverExactBytes(seed: UInt64, capacity: Int, maxRanges: Int) {
        var rng = SeededRandom(seed: seed)
        let total = 60_000
        let data = Self.stream(total, seed: seed &+ 100)
        var buffer = ReceiveBuffer(capacity: capacity, maxOutOfOrderRanges: maxRanges)
        var model = Model(held: [Bool](repeating: false, count: total), capacity: capacity, maxRanges: maxRanges)
        var delivered: [UInt8] = []
        var steps = 0, maxSeenRanges = 0, duplicates = 0, drops = 0
        while model.readPos < total && steps < 20_000 {
            steps += 1
            if rng.next() % 4 == 0 {
                // The application reads a random amount.
                var out = [UInt8](repeating: 0, count: Int(rng.next() % 3000))
                let got = out.withUnsafeMutableBytes { buffer.read(into: $0) }
                #expect(got == min(out.count, model.readable))
                delivered += out[0..<got]
                model.readPos += got
            } else {
                // A segment near RCV.NXT: behind it (duplicate), at it, or ahead of it, up to past the window.
                let len = 1 + Int(rng.next() % 1500)
                let back = Int(rng.next() % 1500)
                let ahead = Int(rng.next() % UInt64(capacity + 2000))
                let start = max(0, min(total - len, model.rcvNxt - back + ahead))
                let expected = model.insert(at: start, count: len)
                let got = data.withUnsafeBytes {
                    buffer.insert(UnsafeRawBufferPointer(rebasing: $0[start ..< start + len]), at: start - (model.rcvNxt - expected.advanced))
                }
                #expect(got == expected, "seed \(seed) step \(steps) segment \(start)+\(len)")
                duplicates += got.duplicate
                drops += got.dropped
            }
            let runs = model.runs
            maxSeenRanges = max(maxSeenRanges, runs.count)
            #expect(buffer.readable == model.readable)
            #expect(buffer.freeSpace == capacity - model.readable)
            #expect(buffer.outOfOrderRangeCount == runs.count)
            #expect(buffer.outOfOrderRangeCount <= maxRanges)
            #expect(buffer.outOfOrderBytes == runs.reduce(0) { $0 + $1.1 - $1.0 })
            #expect(buffer.allocatedBytes <= capacity)
            if buffer.readable == 0 && runs.isEmpty { #expect(buffer.allocatedBytes == 0) }
            // SACK blocks name exactly the model's runs (as a set).
            let blocks = buffer.sackBlocks(rcvNxt: SequenceNumber(UInt32(model.rcvNxt)), limit: 4)
            #expect(blocks.count == min(4, runs.count))
            for b in blocks {
                #expect(runs.contains { $0.0 == Int(b.start.rawValue) && $0.1 == Int(b.end.rawValue) })
            }
        }
        // The run exercised reordering up to the range limit, duplicates and window cuts.
        #expect(maxSeenRanges == min(maxRanges, 4) || maxSeenRanges > 4)
        #expect(duplicates > 0 && drops > 0)
        #expect(model.readPos == total, "seed \(seed) did not finish in \(steps) steps")
        #expect(delivered == data)
    }

    @Test func sackBlocksPutTheMostRecentSegmentsRangeFirst() {
        var b = ReceiveBuffer(capacity: 10_000)
        let nxt = SequenceNumber(5000)
        let hundred = [UInt8](repeating: 1, count: 100)
        _ = b.insert(hundred, at: 1000)          // A: 6000-6100
        _ = b.insert(hundred, at: 3000)          // B: 8000-8100
        _ = b.insert(hundred, at: 2000)          // C: 7000-7100
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 4).map(\.description) == ["7000-7100", "8000-8100", "6000-6100"])
        _ = b.insert([UInt8](repeating: 1, count: 50), at: 1100)   // extends A: 6000-6150, now most recent
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 4).map(\.description) == ["6000-6150", "7000-7100", "8000-8100"])
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 2).map(\.description) == ["6000-6150", "7000-7100"])
        _ = b.insert([UInt8](repeating: 1, count: 10), at: 3010)   // duplicate inside B: B is the latest segment's block
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 4).map(\.description) == ["8000-8100", "6000-6150", "7000-7100"])
        // Filling the hole before A: RCV.NXT moves to 6150, the blocks keep their order without A.
        let r = b.insert([UInt8](repeating: 1, count: 1000), at: 0)
        #expect(r == ReceiveInsertResult(advanced: 1150, stored: 1000, duplicate: 0, dropped: 0, filledGap: true))
        #expect(b.sackBlocks(rcvNxt: nxt + 1150, limit: 4).map(\.description) == ["8000-8100", "7000-7100"])
        // Five ranges: only four blocks fit.
        for off in [3000, 3200, 3400] { _ = b.insert(hundred, at: off) }
        #expect(b.outOfOrderRangeCount == 5)
        #expect(b.sackBlocks(rcvNxt: nxt + 1150, limit: 9).count == 4)
    }

    @Test func dsackBlockComesFirstThenItsContainingRange() {
        var b = ReceiveBuffer(capacity: 10_000)
        let nxt = SequenceNumber(1000)
        let hundred = [UInt8](repeating: 1, count: 100)
        _ = b.insert(hundred, at: 500)                  // 1500-1600
        _ = b.insert(hundred, at: 900)                  // 1900-2000 (most recent)
        // A duplicate of 1520-1560 (inside the older range): D-SACK, then its range, then the rest (RFC 2883 §4.2.1).
        let dup = SACKBlock(start: nxt + 520, end: nxt + 560)
        #expect(b.insert([UInt8](repeating: 1, count: 40), at: 520) == ReceiveInsertResult(duplicate: 40))
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 4, dsack: dup).map(\.description) == ["1520-1560", "1500-1600", "1900-2000"])
        // A duplicate below RCV.NXT (§4.1.1): D-SACK first, then the ranges by recency.
        let old = SACKBlock(start: nxt - 100, end: nxt)
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 4, dsack: old).map(\.description) == ["900-1000", "1500-1600", "1900-2000"])
        #expect(b.sackBlocks(rcvNxt: nxt, limit: 1, dsack: old).map(\.description) == ["900-1000"])
    }

    @Test func rangeLimitDropsOnlyNewRanges() {
        var b = ReceiveBuffer(capacity: 10_000, maxOutOfOrderRanges: 2)
        let ten = [UInt8](repeating: 7, count: 10)
        #expect(b.insert(ten, at: 100) == ReceiveInsertResult(stored: 10))
        #expect(b.insert(ten, at: 200) == ReceiveInsertResult(stored: 10))
        // A third disjoint range is dropped whole...
        #expect(b.insert(ten, at: 300) == ReceiveInsertResult(dropped: 10))
        // ...but data adjacent to a held range extends it, and in-order data always fits.
        #expect(b.insert(ten, at: 110) == ReceiveInsertResult(stored: 10, filledGap: true))  // inside the gap 110..<200
        #expect(b.insert(ten, at: 195) == ReceiveInsertResult(stored: 5, duplicate: 5, filledGap: true))
        #expect(b.insert(ten, at: 0) == ReceiveInsertResult(advanced: 10, stored: 10, filledGap: true))
        #expect(b.outOfOrderRangeCount == 2)
        #expect(b.outOfOrderBytes == 20 + 15)
    }

    @Test func windowCutsDataAtFreeSpaceAndIgnoresTheReceivedPrefix() {
        var b = ReceiveBuffer(capacity: 100)
        let data = (0..<80).map { UInt8($0) }
        #expect(b.insert(data, at: 0) == ReceiveInsertResult(advanced: 80, stored: 80))
        #expect(b.freeSpace == 20)
        // 30 bytes starting 10 before RCV.NXT: 10 duplicate, 20 stored (window is 20).
        let next = (70..<100).map { UInt8($0) }
        #expect(b.insert(next, at: -10) == ReceiveInsertResult(advanced: 20, stored: 20, duplicate: 10))
        #expect(b.freeSpace == 0)
        #expect(b.insert([1], at: 0) == ReceiveInsertResult(dropped: 1))
        #expect(b.insert([1, 2], at: -5) == ReceiveInsertResult(duplicate: 2))
        var out = [UInt8](repeating: 0, count: 200)
        #expect(out.withUnsafeMutableBytes { b.read(into: $0) } == 100)
        #expect(Array(out[0..<100]) == (0..<100).map { UInt8($0) })
        #expect(b.allocatedBytes == 0)
    }

    @Test func keptStorageIsReleasedOnlyAfterAPeriodWithoutData() {
        var b = ReceiveBuffer(capacity: 100)
        b.releasesStorageWhenEmpty = false
        var out = [UInt8](repeating: 0, count: 10)
        #expect(b.insert([1, 2], at: 0).advanced == 2)
        #expect(out.withUnsafeMutableBytes { b.read(into: $0) } == 2)
        #expect(b.allocatedBytes == 100)                   // drained, storage kept
        #expect(b.releaseStorageIfIdle() == true)          // used in this period
        #expect(b.insert([3], at: 0).advanced == 1)
        #expect(out.withUnsafeMutableBytes { b.read(into: $0) } == 1)
        #expect(out[0] == 3)
        #expect(b.releaseStorageIfIdle() == true)
        #expect(b.releaseStorageIfIdle() == false)         // a whole period empty and unused
        #expect(b.allocatedBytes == 0)
    }

    @Test func keptStorageHoldingOutOfOrderDataIsNeverReleased() {
        var b = ReceiveBuffer(capacity: 100)
        b.releasesStorageWhenEmpty = false
        #expect(b.insert([7, 8], at: 5).stored == 2)
        #expect(b.outOfOrderBytes == 2)
        for _ in 0..<3 { #expect(b.releaseStorageIfIdle() == true) }
        #expect(b.allocatedBytes == 100)
        #expect(b.insert([1, 2, 3, 4, 5], at: 0).advanced == 7)
        var out = [UInt8](repeating: 0, count: 10)
        #expect(out.withUnsafeMutableBytes { b.read(into: $0) } == 7)
        #expect(Array(out[0..<7]) == [1, 2, 3, 4, 5, 7, 8])
    }

    @Test func outOfOrderDataAlsoCountsAgainstCapacity() {
        var b = ReceiveBuffer(capacity: 100)
        #expect(b.insert([UInt8](repeating: 1, count: 50), at: 60) == ReceiveInsertResult(stored: 40, dropped: 10))
        #expect(b.outOfOrderBytes == 40)
        #expect(b.readable == 0)
        #expect(b.allocatedBytes == 100)
        // Reading nothing keeps the out-of-order data (and its storage).
        var out = [UInt8](repeating: 0, count: 10)
        #expect(out.withUnsafeMutableBytes { b.read(into: $0) } == 0)
        #expect(b.allocatedBytes == 100)
    }

    @Test func steadyStateReassemblyNeverReallocates() {
        var b = ReceiveBuffer(capacity: 65_536)
        let seg = [UInt8](repeating: 3, count: 1460)
        var out = [UInt8](repeating: 0, count: 4 * 1460)
        // Warm up: fill to capacity once so the ring has its final size.
        while b.freeSpace > 0 { _ = b.insert(seg, at: 0) }
        _ = out.withUnsafeMutableBytes { b.read(into: $0) }
        _ = b.insert(seg, at: 1460)                      // first out-of-order range: the range table is allocated
        _ = b.insert(seg, at: 0)
        while b.readable > 4 * 1460 { _ = out.withUnsafeMutableBytes { b.read(into: $0) } }
        let ring = b.ring.storage.map(ObjectIdentifier.init)
        let table = b.ranges.withUnsafeBufferPointer { $0.baseAddress }
        for i in 0..<2000 {
            // A loss every few segments: the next two arrive first, then the retransmission fills the hole.
            if i % 3 == 0 {
                #expect(b.insert(seg, at: 1460).stored == 1460)
                #expect(b.insert(seg, at: 2920).stored == 1460)
                #expect(b.insert(seg, at: 0).advanced == 3 * 1460)
            } else {
                #expect(b.insert(seg, at: 0).advanced == 1460)
            }
            // The application keeps up but never drains the buffer completely.
            while b.readable > 4 * 1460 { _ = out.withUnsafeMutableBytes { b.read(into: $0) } }
            #expect(b.ring.storage.map(ObjectIdentifier.init) == ring, "ring reallocated at \(i)")
            #expect(b.ranges.withUnsafeBufferPointer { $0.baseAddress } == table, "range table reallocated at \(i)")
        }
    }
}
