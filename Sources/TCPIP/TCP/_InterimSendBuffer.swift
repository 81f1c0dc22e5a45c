// Temporary stand-in for the "blocks" helper's SendBuffer (same API); deleted when it lands.

/// Bytes written by the application and not yet acknowledged. Offset 0 is the byte at SND.UNA.
struct SendBuffer {
    private var storage: [UInt8]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { storage = [UInt8](repeating: 0, count: max(1, capacity)) }

    var capacity: Int { storage.count }
    var freeSpace: Int { capacity - count }

    /// Appends as much of `bytes` as fits; returns how many were taken.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, freeSpace)
        for i in 0..<n { storage[(head + count + i) % capacity] = bytes[i] }
        count += n
        return n
    }

    mutating func removeFirst(_ n: Int) {
        let k = max(0, min(n, count))
        head = (head + k) % capacity
        count -= k
    }

    /// Copies `count` bytes starting at `offset` into `into`; returns the number copied.
    func copy(from offset: Int, count n: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        guard offset >= 0, offset <= count else { return 0 }
        let k = min(n, count - offset, out.count)
        for i in 0..<k { out[i] = storage[(head + offset + i) % capacity] }
        return k
    }
}
