import Testing
@testable import TCPIP

@Suite struct SACKScoreboardTests {
    // Ten 1000-byte segments S0…S9 starting just below the 2^32 wrap, so every
    // computation crosses it: S_i = [B + 1000·i, B + 1000·(i+1)).
    static let B = SequenceNumber(UInt32.max - 2500)
    static func s(_ i: Int) -> SequenceNumber { B + 1000 * i }
    static func block(_ a: Int, _ b: Int) -> SACKBlock { SACKBlock(start: s(a), end: s(b)) }
    static let una = s(0), nxt = s(10)

    @Test func threeDuplicateAcksWithSACKMarkTheFirstSegmentLost() {
        var sb = SACKScoreboard()
        // Dup ACK 1: S1 SACKed. 1000 bytes above S0, not > 2·SMSS, 1 range < 3: not lost.
        #expect(sb.update(with: SACKBlocks([Self.block(1, 2)]), sndUna: Self.una, sndNxt: Self.nxt) == 1000)
        #expect(!sb.isLost(Self.s(0), mss: 1000))
        // Dup ACK 2: S1–S2. 2000 bytes above, still not more than 2000.
        #expect(sb.update(with: SACKBlocks([Self.block(1, 3)]), sndUna: Self.una, sndNxt: Self.nxt) == 1000)
        #expect(!sb.isLost(Self.s(0), mss: 1000))
        // Dup ACK 3: S1–S3. 3000 > 2000: S0 is lost.
        #expect(sb.update(with: SACKBlocks([Self.block(1, 4)]), sndUna: Self.una, sndNxt: Self.nxt) == 1000)
        #expect(sb.isLost(Self.s(0), mss: 1000))
        #expect(sb.isLost(Self.s(0) + 999, mss: 1000))
        #expect(!sb.isLost(Self.s(2), mss: 1000))         // SACKed: never lost
        #expect(!sb.isLost(Self.s(4), mss: 1000))         // nothing SACKed above S4
        #expect(sb.sackedBytes == 3000)
        #expect(sb.highestSacked == Self.s(4))
        #expect(sb.isSacked(Self.s(1)) && sb.isSacked(Self.s(4) - 1))
        #expect(!sb.isSacked(Self.s(0)) && !sb.isSacked(Self.s(4)))

        // SetPipe with HighRxt = SND.UNA (nothing retransmitted): S0 lost → 0,
        // S1–S3 SACKed → 0, S4–S9 neither → 6000.
        #expect(sb.pipe(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.una, mss: 1000) == 6000)
        // NextSeg rule 1: S0.
        let first = sb.nextSegment(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.una, mss: 1000)
        #expect(first?.start == Self.s(0) && first?.length == 1000 && first?.isRetransmission == true)
        // After retransmitting S0 (HighRxt = end of S0): S0 counts again as retransmitted: 7000.
        #expect(sb.pipe(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.s(1), mss: 1000) == 7000)
        // No more lost data: rule 1 finds nothing; new data is the engine's (nil)…
        #expect(sb.nextSegment(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.s(1), mss: 1000) == nil)
        // …and without new data rule 3 finds nothing either: it takes an unSACKed byte past HighRxt
        // only below the highest SACKed byte (RFC 6675 rule 1's 1.a and 1.b), and S4–S9 lie above
        // every SACK block (still in flight). Rule 4 (rescue) would resend the last segment, S9.
        let r3 = sb.nextSegment(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.s(1), mss: 1000, newDataAvailable: false)
        #expect(r3 == nil)
        let rescue = sb.rescueSegment(sndUna: Self.una, sndNxt: Self.nxt, mss: 1000)
        #expect(rescue?.start == Self.s(9) && rescue?.length == 1000)
    }

    @Test func threeDiscontiguousSmallRangesAlsoMeanLoss() {
        var sb = SACKScoreboard()
        // Three 100-byte SACKed pieces at S1, S2, S3 (300 bytes: far below 2·SMSS).
        let blocks = SACKBlocks([SACKBlock(start: Self.s(3), end: Self.s(3) + 100),
                                 SACKBlock(start: Self.s(2), end: Self.s(2) + 100),
                                 SACKBlock(start: Self.s(1), end: Self.s(1) + 100)])
        #expect(sb.update(with: blocks, sndUna: Self.una, sndNxt: Self.nxt) == 300)
        #expect(sb.ranges.count == 3)
        #expect(sb.isLost(Self.s(0), mss: 1000))           // 3 ranges above
        #expect(!sb.isLost(Self.s(1) + 100, mss: 1000))    // 2 ranges above
        // Holes: [S0, S1) lost → 0; [S1+100, S2) 900; [S2+100, S3) 900; [S3+100, S10) 6900.
        #expect(sb.pipe(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.una, mss: 1000) == 8700)
        // With DupThresh 2, the second hole is lost too (2 ranges above): 8700 − 900.
        #expect(sb.pipe(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.una, mss: 1000, dupThreshold: 2) == 7800)
        // Rule 1 with HighRxt past S0 skips to nothing lost (DupThresh 3)…
        #expect(sb.nextSegment(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.s(1), mss: 1000) == nil)
        // …but with DupThresh 2 picks the 900-byte hole after S1's piece: length is capped by the SACKed data.
        let seg = sb.nextSegment(sndUna: Self.una, sndNxt: Self.nxt, highRxt: Self.s(1), mss: 1000, dupThreshold: 2)
        #expect(seg?.start == Self.s(1) + 100 && seg?.length == 900)
    }

    @Test func rangesMergeAndCountOnlyNewBytes() {
        var sb = SACKScoreboard()
        sb.update(with: SACKBlocks([Self.block(2, 3), Self.block(5, 6)]), sndUna: Self.una, sndNxt: Self.nxt)
        #expect(sb.sackedBytes == 2000)
        // Bridges both ranges: S2–S6 = 4000, 2000 new.
        #expect(sb.update(with: SACKBlocks([Self.block(2, 6)]), sndUna: Self.una, sndNxt: Self.nxt) == 2000)
        #expect(sb.ranges == [Self.block(2, 6)])
        // Adjacent block joins the range.
        #expect(sb.update(with: SACKBlocks([Self.block(6, 7)]), sndUna: Self.una, sndNxt: Self.nxt) == 1000)
        #expect(sb.ranges == [Self.block(2, 7)])
        // Repeats of known blocks (not first-block D-SACKs: equal, not inside) add nothing.
        #expect(sb.update(with: SACKBlocks([Self.block(2, 7)]), sndUna: Self.una, sndNxt: Self.nxt) == 0)
        #expect(sb.dsackCount == 0)
    }

    @Test func invalidBlocksAreIgnored() {
        var sb = SACKScoreboard()
        let beyond = SACKBlock(start: Self.s(9), end: Self.s(11))        // past SND.NXT
        let reversed = SACKBlock(start: Self.s(4), end: Self.s(3))        // end before start
        let empty = SACKBlock(start: Self.s(4), end: Self.s(4))
        let stale = Self.block(-2, -1)                                    // below SND.UNA, not first: not a D-SACK
        #expect(sb.update(with: SACKBlocks([beyond, reversed, empty, stale]), sndUna: Self.una, sndNxt: Self.nxt) == 0)
        #expect(sb.isEmpty)
        #expect(sb.dsackCount == 0)
    }

    @Test func acknowledgedRangesAreDroppedAndDSACKsCounted() {
        var sb = SACKScoreboard()
        sb.update(with: SACKBlocks([Self.block(1, 3), Self.block(5, 6)]), sndUna: Self.una, sndNxt: Self.nxt)
        // Cumulative ACK to S2: the S1 part goes, S2 stays. A first block below SND.UNA is a D-SACK (RFC 2883 §4.1.1).
        #expect(sb.update(with: SACKBlocks([Self.block(0, 1)]), sndUna: Self.s(2), sndNxt: Self.nxt) == 0)
        #expect(sb.dsackCount == 1)
        #expect(sb.lastDSACK == Self.block(0, 1))
        #expect(sb.ranges == [Self.block(2, 3), Self.block(5, 6)])
        #expect(sb.sackedBytes == 2000)
        // First block inside the second: D-SACK of a duplicate above SND.UNA (RFC 2883 §4.2.1); the second is used.
        let dup = SACKBlock(start: Self.s(7), end: Self.s(7) + 500)
        #expect(sb.update(with: SACKBlocks([dup, Self.block(7, 8)]), sndUna: Self.s(2), sndNxt: Self.nxt) == 1000)
        #expect(sb.dsackCount == 2)
        // First block strictly inside an already-SACKed range: D-SACK.
        let inside = SACKBlock(start: Self.s(5) + 100, end: Self.s(5) + 200)
        #expect(sb.update(with: SACKBlocks([inside]), sndUna: Self.s(2), sndNxt: Self.nxt) == 0)
        #expect(sb.dsackCount == 3)
        #expect(sb.ranges == [Self.block(2, 3), Self.block(5, 6), Self.block(7, 8)])
        // ACK past everything empties the board.
        sb.update(with: SACKBlocks(), sndUna: Self.s(9), sndNxt: Self.nxt)
        #expect(sb.isEmpty && sb.sackedBytes == 0 && sb.highestSacked == nil)
    }

    @Test func theRangeTableIsBounded() {
        var sb = SACKScoreboard(maximumRanges: 3)
        let nxt = Self.s(100)
        for i in [2, 4, 6] { sb.update(with: SACKBlocks([Self.block(i, i + 1)]), sndUna: Self.una, sndNxt: nxt) }
        // A fourth range above all the others is forgotten…
        #expect(sb.update(with: SACKBlocks([Self.block(8, 9)]), sndUna: Self.una, sndNxt: nxt) == 0)
        #expect(sb.ranges == [Self.block(2, 3), Self.block(4, 5), Self.block(6, 7)])
        // …one below them replaces the highest.
        #expect(sb.update(with: SACKBlocks([Self.block(0, 1)]), sndUna: Self.una, sndNxt: nxt) == 1000)
        #expect(sb.ranges == [Self.block(0, 1), Self.block(2, 3), Self.block(4, 5)])
        #expect(sb.sackedBytes == 3000)
        #expect(sb.overflowCount == 2)
        #expect(sb.ranges.capacity >= 3)
        sb.removeAll()
        #expect(sb.isEmpty && sb.sackedBytes == 0)
    }

    @Test func randomBlocksMatchAByteModel() {
        var rng = SeededRandom(seed: 7)
        var sb = SACKScoreboard(maximumRanges: 1000)
        var una = 0
        let total = 20_000
        var model = [Bool](repeating: false, count: total)
        var modelDSACKs = 0
        for _ in 0..<2000 {
            if rng.next() % 5 == 0 { una = min(total, una + Int(rng.next() % 800)) }
            var blocks = SACKBlocks()
            for _ in 0..<Int(rng.next() % 5) {
                let a = max(0, una + Int(rng.next() % 3000) - 500), n = 1 + Int(rng.next() % 500)
                guard a + n <= total else { continue }
                blocks.append(SACKBlock(start: Self.B + a, end: Self.B + a + n))
            }
            let got = sb.update(with: blocks, sndUna: Self.B + una, sndNxt: Self.B + total)
            // Model, independently: which first blocks are D-SACKs, then mark the valid others byte by byte.
            var marked = 0
            for (i, b) in blocks.enumerated() {
                let a = b.start - Self.B, z = b.end - Self.B
                if i == 0 {
                    var dsack = a < una
                    if blocks.count >= 2 {
                        let a1 = blocks[1].start - Self.B, z1 = blocks[1].end - Self.B
                        dsack = dsack || (a1 <= a && z <= z1)
                    }
                    if !dsack && (a..<z).allSatisfy({ model[$0] }) {
                        // Inside a known range, and strictly smaller than it?
                        dsack = (a > una && model[a - 1]) || (z < total && model[z])
                    }
                    if dsack { modelDSACKs += 1; continue }
                }
                guard a >= una else { continue }
                for p in a..<z where !model[p] { model[p] = true; marked += 1 }
            }
            #expect(got == marked)
            #expect(sb.dsackCount == modelDSACKs)
            #expect(sb.sackedBytes == (una..<total).filter { model[$0] }.count)
            for _ in 0..<5 {
                let p = una + Int(rng.next() % UInt64(total - una + 1))
                if p < total { #expect(sb.isSacked(Self.B + p) == model[p]) }
            }
        }
        #expect(modelDSACKs > 0)
    }
}
