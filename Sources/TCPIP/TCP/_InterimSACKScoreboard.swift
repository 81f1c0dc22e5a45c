// Temporary stand-in for the "blocks" helper's SACKScoreboard; deleted when it lands.

/// What the peer has selectively acknowledged above SND.UNA (RFC 6675 §3).
struct SACKScoreboard {
    /// Sorted, disjoint SACKed ranges, all above SND.UNA.
    private(set) var ranges: [(start: SequenceNumber, end: SequenceNumber)] = []
    static let maxRanges = 64

    mutating func reset() { ranges.removeAll(keepingCapacity: true) }

    mutating func update(with blocks: SACKBlocks, sndUna: SequenceNumber, sndNxt: SequenceNumber) {
        ranges.removeAll { $0.end <= sndUna }
        for i in ranges.indices where ranges[i].start < sndUna { ranges[i].start = sndUna }
        for b in blocks {
            guard b.start < b.end, sndUna < b.end, b.end <= sndNxt else { continue }  // D-SACK or bogus
            var s = SequenceNumber.max(b.start, sndUna), e = b.end
            var out: [(start: SequenceNumber, end: SequenceNumber)] = []
            for r in ranges {
                if r.end < s || e < r.start { out.append(r) } else { s = .min(s, r.start); e = .max(e, r.end) }
            }
            out.append((s, e))
            out.sort { $0.start < $1.start }
            if out.count > SACKScoreboard.maxRanges { out.removeLast(out.count - SACKScoreboard.maxRanges) }
            ranges = out
        }
    }

    func isSacked(_ seq: SequenceNumber) -> Bool { ranges.contains { seq.isIn($0.start, $0.end) } }

    /// RFC 6675 IsLost: three discontiguous SACKed ranges, or 3 × SMSS SACKed bytes, above `seq`.
    func isLost(_ seq: SequenceNumber, mss: Int) -> Bool {
        var n = 0, bytes = 0
        for r in ranges where r.end > seq {
            n += 1
            bytes += r.end - SequenceNumber.max(r.start, seq + 1)
        }
        return n >= 3 || bytes >= 3 * mss
    }

    var highestSacked: SequenceNumber? { ranges.last?.end }

    /// RFC 6675 SetPipe, by ranges: unSACKed bytes counted unless lost and not yet retransmitted.
    func pipe(sndUna: SequenceNumber, sndNxt: SequenceNumber, highRxt: SequenceNumber, mss: Int) -> Int {
        var total = 0
        var cursor = sndUna
        for r in ranges + [(sndNxt, sndNxt)] {
            var s = cursor
            while s < r.start {
                let e = SequenceNumber.min(r.start, s + mss)
                let len = e - s
                if !isLost(s, mss: mss) { total += len }
                if s < highRxt { total += min(len, highRxt - s) }
                s = e
            }
            cursor = SequenceNumber.max(cursor, r.end)
        }
        return total
    }

    /// RFC 6675 NextSeg rule 1: the first unSACKed, lost byte at or above `highRxt`; the hole's length up to `mss`.
    func nextLostSegment(sndUna: SequenceNumber, highRxt: SequenceNumber, mss: Int) -> (seq: SequenceNumber, length: Int)? {
        var cursor = sndUna
        for r in ranges {
            var s = SequenceNumber.max(cursor, highRxt)
            while s < r.start {
                if isLost(s, mss: mss) { return (s, min(mss, r.start - s)) }
                s = SequenceNumber.min(r.start, s + mss)
            }
            cursor = SequenceNumber.max(cursor, r.end)
        }
        return nil
    }
}
