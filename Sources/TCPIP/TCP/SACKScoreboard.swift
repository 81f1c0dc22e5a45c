/// The data sender's SACK scoreboard (RFC 6675 §3–4): which bytes between SND.UNA
/// and SND.NXT the receiver has reported holding, with the routines loss recovery
/// needs (IsLost, SetPipe, NextSeg) and D-SACK detection (RFC 2883).
///
/// Bounded: at most `maximumRanges` disjoint ranges (sorted, never adjacent); the
/// table is allocated once, on first use, and kept. When a new range would exceed
/// the bound, the highest range is forgotten (the one furthest from SND.UNA matters
/// least for retransmission; forgetting SACK information is always safe, it only
/// makes the sender more conservative).
///
/// Conventions:
/// - `update` takes SND.UNA *after* this ACK's cumulative acknowledgment.
/// - `highRxt` is exclusive: bytes before it have been retransmitted in this
///   recovery. The engine sets it to SND.UNA on entering recovery and to the end
///   of each retransmitted segment after sending it.
/// - `highestSacked` is the right edge (one past the last byte) of the highest range.
public struct SACKScoreboard: Sendable {
    public static let defaultMaximumRanges = 32

    public let maximumRanges: Int
    /// SACKed ranges in sequence order, disjoint and non-adjacent.
    public private(set) var ranges: [SACKBlock] = []
    /// Bytes currently marked SACKed.
    public private(set) var sackedBytes: Int = 0
    /// D-SACK blocks seen so far (RFC 2883), over the connection's life.
    public private(set) var dsackCount: Int = 0
    /// The most recent D-SACK block.
    public private(set) var lastDSACK: SACKBlock?
    /// Ranges forgotten because the table was full.
    public private(set) var overflowCount: Int = 0

    public init(maximumRanges: Int = SACKScoreboard.defaultMaximumRanges) {
        self.maximumRanges = Swift.max(1, maximumRanges)
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// One past the highest SACKed byte, nil when nothing is SACKed.
    public var highestSacked: SequenceNumber? { ranges.last?.end }

    /// Forgets all SACK information (e.g. after a retransmission timeout). Keeps the table's memory and the D-SACK count.
    public mutating func removeAll() {
        ranges.removeAll(keepingCapacity: true)
        sackedBytes = 0
    }

    /// Processes the SACK blocks of one ACK; returns the bytes newly marked SACKed.
    ///
    /// Drops ranges below `sndUna`. A block is used only if it lies within
    /// [SND.UNA, SND.NXT] with start < end; others are ignored. The first block is a
    /// D-SACK (counted in `dsackCount`, not marked) when it starts below SND.UNA, lies
    /// within the second block, or lies strictly inside an already-SACKed range.
    @discardableResult
    public mutating func update(with blocks: SACKBlocks, sndUna: SequenceNumber, sndNxt: SequenceNumber) -> Int {
        trim(below: sndUna)
        var newly = 0
        for i in 0 ..< blocks.count {
            let b = blocks[i]
            let length = b.end - b.start
            guard length > 0 else { continue }
            if i == 0 && isDSACK(b, blocks: blocks, sndUna: sndUna) {
                dsackCount += 1
                lastDSACK = b
                continue
            }
            guard sndUna <= b.start, b.end <= sndNxt else { continue }
            newly += insert(b)
        }
        return newly
    }

    /// RFC 2883 §4 tests on the first block.
    func isDSACK(_ b: SACKBlock, blocks: SACKBlocks, sndUna: SequenceNumber) -> Bool {
        if b.start < sndUna { return true }
        if blocks.count >= 2, blocks[1].start <= b.start, b.end <= blocks[1].end, blocks[1].end - blocks[1].start > 0 {
            return true
        }
        for r in ranges where r.start <= b.start && b.end <= r.end && (r.start != b.start || r.end != b.end) {
            return true
        }
        return false
    }

    /// Marks `b` SACKed; returns the bytes that were not marked before.
    mutating func insert(_ b: SACKBlock) -> Int {
        if ranges.capacity < maximumRanges { ranges.reserveCapacity(maximumRanges) }
        // Ranges overlapping or touching b: lo ..< hi.
        var lo = 0
        while lo < ranges.count && ranges[lo].end < b.start { lo += 1 }
        var hi = lo
        var held = 0
        while hi < ranges.count && ranges[hi].start <= b.end {
            let a = SequenceNumber.max(ranges[hi].start, b.start), z = SequenceNumber.min(ranges[hi].end, b.end)
            held += Swift.max(0, z - a)
            hi += 1
        }
        let added = (b.end - b.start) - held
        if lo == hi {
            if ranges.count >= maximumRanges {
                overflowCount += 1
                if lo == ranges.count { return 0 }        // the new range is the highest: forget it
                let last = ranges.removeLast()           // else forget the highest one
                sackedBytes -= last.end - last.start
            }
            ranges.insert(b, at: lo)
        } else {
            let merged = SACKBlock(start: SequenceNumber.min(ranges[lo].start, b.start),
                                   end: SequenceNumber.max(ranges[hi - 1].end, b.end))
            ranges[lo] = merged
            ranges.removeSubrange(lo + 1 ..< hi)
        }
        sackedBytes += added
        return added
    }

    /// Drops SACK information below `sndUna` (it is cumulatively acknowledged).
    mutating func trim(below sndUna: SequenceNumber) {
        var drop = 0
        while drop < ranges.count && ranges[drop].end <= sndUna {
            sackedBytes -= ranges[drop].end - ranges[drop].start
            drop += 1
        }
        if drop > 0 { ranges.removeSubrange(0 ..< drop) }
        if let first = ranges.first, first.start < sndUna {
            sackedBytes -= sndUna - first.start
            ranges[0].start = sndUna
        }
    }

    /// Whether `seq` lies in a SACKed range.
    public func isSacked(_ seq: SequenceNumber) -> Bool {
        for r in ranges {
            if seq.isIn(r.start, r.end) { return true }
            if seq < r.start { return false }
        }
        return false
    }

    /// RFC 6675 IsLost(SeqNum): not SACKed, and either `dupThreshold` discontiguous
    /// SACKed ranges lie above it or more than (dupThreshold − 1)·SMSS SACKed bytes do.
    public func isLost(_ seq: SequenceNumber, mss: Int, dupThreshold: Int = 3) -> Bool {
        var rangesAbove = 0, bytesAbove = 0
        for r in ranges.reversed() {
            if seq.isIn(r.start, r.end) { return false }
            if r.end <= seq { break }
            rangesAbove += 1
            bytesAbove += r.end - r.start
        }
        return Self.lost(rangesAbove: rangesAbove, bytesAbove: bytesAbove, mss: mss, dupThreshold: dupThreshold)
    }

    @inline(__always)
    static func lost(rangesAbove: Int, bytesAbove: Int, mss: Int, dupThreshold: Int) -> Bool {
        rangesAbove >= dupThreshold || bytesAbove > (dupThreshold - 1) * mss
    }

    /// Calls `body(start, end, rangesAbove, bytesAbove)` for each unSACKed hole in
    /// [sndUna, sndNxt), in order. Every byte of a hole has the same SACKed data above it,
    /// so IsLost is uniform over a hole.
    @inline(__always)
    func forEachHole(sndUna: SequenceNumber, sndNxt: SequenceNumber,
                     _ body: (SequenceNumber, SequenceNumber, Int, Int) -> Bool) {
        var cursor = sndUna
        var rangesAbove = 0, bytesAbove = 0
        for r in ranges where r.end > sndUna {
            rangesAbove += 1
            bytesAbove += r.end - SequenceNumber.max(r.start, sndUna)
        }
        for r in ranges where r.end > sndUna {
            if !(cursor < sndNxt) { return }
            let holeEnd = SequenceNumber.min(r.start, sndNxt)
            if cursor < holeEnd {
                if !body(cursor, holeEnd, rangesAbove, bytesAbove) { return }
            }
            rangesAbove -= 1
            bytesAbove -= r.end - SequenceNumber.max(r.start, sndUna)
            cursor = SequenceNumber.max(cursor, r.end)
        }
        if cursor < sndNxt { _ = body(cursor, sndNxt, 0, 0) }
    }

    /// RFC 6675 SetPipe: the bytes estimated in flight. Each unSACKed byte in
    /// [sndUna, sndNxt) counts once unless it is lost, and once more if it was
    /// retransmitted (before `highRxt`).
    public func pipe(sndUna: SequenceNumber, sndNxt: SequenceNumber, highRxt: SequenceNumber, mss: Int, dupThreshold: Int = 3) -> Int {
        var pipe = 0
        forEachHole(sndUna: sndUna, sndNxt: sndNxt) { start, end, rangesAbove, bytesAbove in
            if !Self.lost(rangesAbove: rangesAbove, bytesAbove: bytesAbove, mss: mss, dupThreshold: dupThreshold) {
                pipe += end - start
            }
            if start < highRxt { pipe += SequenceNumber.min(end, highRxt) - start }
            return true
        }
        return pipe
    }

    /// RFC 6675 NextSeg, rules 1 and 3 (retransmissions). Rule 2 (send new data) is
    /// the engine's: when new data can be sent (`newDataAvailable`, the default), only
    /// rule 1 applies and nil means "send new data (or nothing)"; pass false when
    /// there is no new data or the peer's window forbids it, to also get rule 3.
    /// Rule 1: the first unSACKed byte at or after `highRxt` that IsLost.
    /// Rule 3: the first unSACKed byte at or after `highRxt` and below the highest SACKed
    /// byte (rule 1's conditions 1.a and 1.b without IsLost); data above every SACK block is
    /// simply still in flight.
    /// The segment is at most `mss` bytes and never crosses into SACKed data or
    /// past `sndNxt`. `isRetransmission` is always true (both rules resend data).
    /// Rule 4 (the rescue retransmission) is `rescueSegment`.
    public func nextSegment(sndUna: SequenceNumber, sndNxt: SequenceNumber, highRxt: SequenceNumber, mss: Int,
                            dupThreshold: Int = 3, newDataAvailable: Bool = true)
        -> (start: SequenceNumber, length: Int, isRetransmission: Bool)? {
        let floor = SequenceNumber.max(highRxt, sndUna)
        var rule3: (start: SequenceNumber, length: Int, isRetransmission: Bool)?
        var rule1: (start: SequenceNumber, length: Int, isRetransmission: Bool)?
        forEachHole(sndUna: sndUna, sndNxt: sndNxt) { start, end, rangesAbove, bytesAbove in
            let s = SequenceNumber.max(start, floor)
            guard s < end else { return true }
            let segment = (start: s, length: Swift.min(mss, end - s), isRetransmission: true)
            if rule3 == nil && rangesAbove > 0 { rule3 = segment }
            if Self.lost(rangesAbove: rangesAbove, bytesAbove: bytesAbove, mss: mss, dupThreshold: dupThreshold) {
                rule1 = segment
            }
            // Higher holes have less SACKed data above them: if this one is not lost, none is.
            return false
        }
        if let r = rule1 { return r }
        return newDataAvailable ? nil : rule3
    }

    /// RFC 6675 NextSeg rule 4, the rescue retransmission: the segment of at most `mss`
    /// bytes ending at the end of the highest unSACKed hole in [sndUna, sndNxt), so that it
    /// holds the highest outstanding unSACKed byte (nil when nothing is outstanding
    /// unSACKed). The engine offers it once per recovery, when rules 1 to 3 give nothing.
    public func rescueSegment(sndUna: SequenceNumber, sndNxt: SequenceNumber, mss: Int)
        -> (start: SequenceNumber, length: Int)? {
        guard let h = highestHole(sndUna: sndUna, sndNxt: sndNxt) else { return nil }
        let start = SequenceNumber.max(h.start, h.end - Swift.max(1, mss))
        return (start, h.end - start)
    }

    /// The lowest unSACKed range in [sndUna, sndNxt) with SACKed data above it, nil when none.
    public func firstHoleBelowHighestSacked(sndUna: SequenceNumber, sndNxt: SequenceNumber)
        -> (start: SequenceNumber, end: SequenceNumber)? {
        var hole: (start: SequenceNumber, end: SequenceNumber)?
        forEachHole(sndUna: sndUna, sndNxt: sndNxt) { start, end, rangesAbove, _ in
            if rangesAbove > 0 { hole = (start, end) }
            return false
        }
        return hole
    }

    /// The highest unSACKed range in [sndUna, sndNxt), nil when there is none.
    public func highestHole(sndUna: SequenceNumber, sndNxt: SequenceNumber) -> (start: SequenceNumber, end: SequenceNumber)? {
        var hole: (start: SequenceNumber, end: SequenceNumber)?
        forEachHole(sndUna: sndUna, sndNxt: sndNxt) { start, end, _, _ in
            hole = (start, end)
            return true
        }
        return hole
    }

    /// IsLost's test applied to the SACKed data above `seq` (the part of a range that
    /// straddles it counts): `dupThreshold` SACKed ranges, or more than
    /// (dupThreshold − 1)·SMSS SACKed bytes, lie above `seq`. Unlike `isLost`, `seq` may
    /// itself be SACKed.
    public func isLost(sackedAbove seq: SequenceNumber, mss: Int, dupThreshold: Int = 3) -> Bool {
        var rangesAbove = 0, bytesAbove = 0
        for r in ranges.reversed() {
            if r.end <= seq { break }
            rangesAbove += 1
            bytesAbove += r.end - SequenceNumber.max(r.start, seq)
        }
        return Self.lost(rangesAbove: rangesAbove, bytesAbove: bytesAbove, mss: mss, dupThreshold: dupThreshold)
    }
}
