import Testing
@testable import TCPIP

@Suite struct SendBufferTests {
    /// Fills a byte array with a counter pattern starting at `start`.
    static func pattern(_ start: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: (start + $0) &* 31 &+ 7) } }

    @Test func randomWritesAcksAndCopiesMatchArrayModel() {
        for seed: UInt64 in [1, 2, 3, 42] {
            var rng = SeededRandom(seed: seed)
            let capacity = 500 + Int(rng.next() % 8000)
            var buffer = SendBuffer(capacity: capacity)
            var model: [UInt8] = []
            var written = 0
            var maxAllocated = 0
            for step in 0..<4000 {
                switch rng.next() % 3 {
                case 0, 1:
                    let n = Int(rng.next() % UInt64(capacity / 3 + 2))
                    let data = Self.pattern(written, n)
                    let taken = buffer.append(data)
                    #expect(taken == min(n, capacity - model.count), "seed \(seed) step \(step)")
                    model += data[0..<taken]
                    written += taken
                default:
                    let n = Int(rng.next() % UInt64(model.count + 1))
                    buffer.removeFirst(n)
                    model.removeFirst(n)
                }
                #expect(buffer.count == model.count)
                #expect(buffer.freeSpace == capacity - model.count)
                maxAllocated = max(maxAllocated, buffer.allocatedBytes)
                #expect(buffer.allocatedBytes <= capacity)
                if model.isEmpty { #expect(buffer.allocatedBytes == 0) }
                if !model.isEmpty {
                    let off = Int(rng.next() % UInt64(model.count))
                    let len = Int(rng.next() % UInt64(model.count - off + 1))
                    var out = [UInt8](repeating: 0, count: len)
                    out.withUnsafeMutableBytes { buffer.copy(from: off, count: len, into: $0) }
                    #expect(out == Array(model[off ..< off + len]), "seed \(seed) step \(step)")
                    let viaRegions = buffer.withRegions(from: off, count: len) { Array($0) + Array($1) }
                    #expect(viaRegions == out)
                }
            }
            #expect(maxAllocated > 0)
        }
    }

    @Test func idleBufferHoldsNoStorageAndGrowsGeometricallyToCapacity() {
        var buffer = SendBuffer(capacity: 10_000)
        #expect(buffer.allocatedBytes == 0)
        buffer.append([1, 2, 3])
        #expect(buffer.allocatedBytes == 2048)         // first allocation: 2 KiB
        buffer.append([UInt8](repeating: 9, count: 2046))
        #expect(buffer.allocatedBytes == 4096)         // 2049 bytes need the next doubling
        buffer.append([UInt8](repeating: 9, count: 5000))
        #expect(buffer.allocatedBytes == 8192)
        #expect(buffer.append([UInt8](repeating: 9, count: 5000)) == 10_000 - 7049)
        #expect(buffer.allocatedBytes == 10_000)       // capped at capacity, never beyond
        buffer.removeFirst(10_000)
        #expect(buffer.allocatedBytes == 0)
        #expect(buffer.count == 0)
        // Refilling starts at the last size: one allocation, not one per doubling.
        buffer.append([1])
        #expect(buffer.allocatedBytes == 10_000)
    }

    @Test func steadyStateWrapsWithoutReallocating() {
        var buffer = SendBuffer(capacity: 4096)
        buffer.append([UInt8](repeating: 0, count: 4096))
        let storage = buffer.ring.storage.map(ObjectIdentifier.init)
        var next = 0
        for i in 0..<1000 {
            buffer.removeFirst(1460)
            let data = Self.pattern(4096 + next, 1460)
            #expect(buffer.append(data) == 1460)
            next += 1460
            #expect(buffer.ring.storage.map(ObjectIdentifier.init) == storage, "reallocated at step \(i)")
        }
        // The last 1460 bytes written are the last 1460 in the buffer, across the wrap.
        var out = [UInt8](repeating: 0, count: 1460)
        out.withUnsafeMutableBytes { buffer.copy(from: 4096 - 1460, count: 1460, into: $0) }
        #expect(out == Self.pattern(4096 + next - 1460, 1460))
    }

    @Test func copiesAreIndependentValues() {
        var a = SendBuffer(capacity: 100)
        a.append([1, 2, 3, 4])
        var b = a
        b.removeFirst(2)
        b.append([5, 6])
        a.append([7])
        var outA = [UInt8](repeating: 0, count: 5), outB = [UInt8](repeating: 0, count: 4)
        outA.withUnsafeMutableBytes { a.copy(from: 0, count: 5, into: $0) }
        outB.withUnsafeMutableBytes { b.copy(from: 0, count: 4, into: $0) }
        #expect(outA == [1, 2, 3, 4, 7])
        #expect(outB == [3, 4, 5, 6])
    }

    @Test func keepingStorageWhenEmptyIsOptIn() {
        var buffer = SendBuffer(capacity: 100)
        buffer.releasesStorageWhenEmpty = false
        buffer.append([1, 2, 3])
        buffer.removeFirst(3)
        #expect(buffer.allocatedBytes == 100)
        buffer.releaseStorage()
        #expect(buffer.allocatedBytes == 0)
    }

    @Test func keptStorageIsReleasedOnlyAfterAPeriodWithoutAppends() {
        var buffer = SendBuffer(capacity: 100)
        buffer.releasesStorageWhenEmpty = false
        #expect(buffer.releaseStorageIfIdle() == false)    // nothing allocated
        buffer.append([1, 2, 3])
        buffer.removeFirst(3)
        #expect(buffer.releaseStorageIfIdle() == true)     // drained, but used in this period
        #expect(buffer.allocatedBytes == 100)
        buffer.append([4])                                 // reuses the kept storage
        buffer.removeFirst(1)
        #expect(buffer.releaseStorageIfIdle() == true)
        #expect(buffer.allocatedBytes == 100)
        #expect(buffer.releaseStorageIfIdle() == false)    // a whole period empty and unused
        #expect(buffer.allocatedBytes == 0)
    }

    @Test func keptStorageHoldingBytesIsNeverReleased() {
        var buffer = SendBuffer(capacity: 100)
        buffer.releasesStorageWhenEmpty = false
        buffer.append([1, 2, 3])
        buffer.removeFirst(1)
        for _ in 0..<3 { #expect(buffer.releaseStorageIfIdle() == true) }
        #expect(buffer.allocatedBytes == 100)
        var out = [UInt8](repeating: 0, count: 2)
        out.withUnsafeMutableBytes { buffer.copy(from: 0, count: 2, into: $0) }
        #expect(out == [2, 3])
    }

    @Test func shrinkingCapacityKeepsTheBytes() {
        var buffer = SendBuffer(capacity: 10_000)
        buffer.append([UInt8](repeating: 1, count: 3000))
        buffer.removeFirst(2000)
        buffer.append([2, 3])
        buffer.capacity = 500                          // below count: raised to count
        #expect(buffer.capacity == 1002)
        #expect(buffer.allocatedBytes == 1002)
        var out = [UInt8](repeating: 0, count: 3)
        out.withUnsafeMutableBytes { buffer.copy(from: 999, count: 3, into: $0) }
        #expect(out == [1, 2, 3])
        #expect(buffer.append([4]) == 0)
    }
}
