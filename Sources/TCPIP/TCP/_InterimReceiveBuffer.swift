// Temporary stand-in for the "blocks" helper's ReceiveBuffer (same API); deleted when it lands.

struct ReceiveInsertResult: Equatable {
    /// Bytes by which RCV.NXT moves forward (the new in-order data, including any ranges it joined).
    var advanced = 0
    /// Bytes stored out of order.
    var stored = 0
    /// Bytes already held.
    var duplicate = 0
    /// Bytes dropped (beyond the buffer, or too many ranges).
    var dropped = 0
    /// Whether this insert closed a gap before previously stored out-of-order data.
    var filledGap = false
}

/// Received bytes: an in-order part the application reads, then up to `maxRanges`
/// out-of-order ranges, offsets counted from RCV.NXT.
struct ReceiveBuffer {
    private var storage: [UInt8]
    private var head = 0
    /// In-order bytes ready to read.
    private(set) var count = 0
    /// Out-of-order ranges (start, end) relative to RCV.NXT, sorted, disjoint; most recent first in `recent`.
    private var ranges: [(start: Int, end: Int)] = []
    private var recent: [Int] = []  // starts, most recent first
    let maxRanges: Int

    init(capacity: Int, maxRanges: Int = 32) {
        storage = [UInt8](repeating: 0, count: max(1, capacity))
        self.maxRanges = maxRanges
    }

    var capacity: Int { storage.count }
    var freeSpace: Int { capacity - count }
    var hasOutOfOrderData: Bool { !ranges.isEmpty }
    var outOfOrderBytes: Int { ranges.reduce(0) { $0 + $1.end - $1.start } }

    mutating func insert(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> ReceiveInsertResult {
        var r = ReceiveInsertResult()
        var start = offset, data = 0, n = bytes.count
        if start < 0 { r.duplicate += min(n, -start); data = -start; n -= data; start = 0 }
        guard n > 0 else { return r }
        let room = freeSpace
        if start + n > room { let cut = min(n, start + n - room); r.dropped += cut; n -= cut }
        guard n > 0 else { return r }
        var end = start + n
        let hadRanges = !ranges.isEmpty
        // Bytes already present.
        for g in ranges { r.duplicate += max(0, min(end, g.end) - max(start, g.start)) }
        if start > 0 {
            let overlapping = ranges.contains { $0.start <= end && $0.end >= start }
            if !overlapping && ranges.count >= maxRanges { r.dropped += n; return r }
        }
        for i in 0..<n { storage[(head + count + start + i) % capacity] = bytes[data + i] }
        // Merge.
        var merged: [(start: Int, end: Int)] = []
        var s = start
        for g in ranges {
            if g.end < s || g.start > end { merged.append(g) } else { s = min(s, g.start); end = max(end, g.end) }
        }
        merged.append((s, end)); merged.sort { $0.start < $1.start }
        recent.removeAll { rs in !merged.contains { $0.start == rs } || rs == s }
        recent.insert(s, at: 0)
        ranges = merged
        if let first = ranges.first, first.start == 0 {
            r.filledGap = hadRanges
            let adv = first.end
            r.advanced = adv
            r.stored = 0
            count += adv
            ranges.removeFirst()
            ranges = ranges.map { ($0.start - adv, $0.end - adv) }
            recent = recent.compactMap { $0 == 0 ? nil : $0 - adv }
        } else {
            r.stored = n - r.duplicate
        }
        return r
    }

    mutating func read(into out: UnsafeMutableRawBufferPointer) -> Int {
        let k = min(out.count, count)
        for i in 0..<k { out[i] = storage[(head + i) % capacity] }
        head = (head + k) % capacity
        count -= k
        return k
    }

    /// SACK blocks for the stored out-of-order ranges, the most recently changed first.
    func sackBlocks(rcvNxt: SequenceNumber, limit: Int) -> SACKBlocks {
        var b = SACKBlocks()
        for s in recent.prefix(limit) {
            if let g = ranges.first(where: { $0.start == s }) {
                b.append(SACKBlock(start: rcvNxt + g.start, end: rcvNxt + g.end))
            }
        }
        return b
    }
}
