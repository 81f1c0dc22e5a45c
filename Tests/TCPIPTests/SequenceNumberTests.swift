import Testing
import TCPIP

@Suite struct SequenceNumberTests {
    func s(_ v: UInt32) -> SequenceNumber { SequenceNumber(v) }

    @Test func additionWrapsAtTwoToThe32() {
        #expect(s(0xFFFF_FFFF) + 1 == s(0))
        #expect(s(0xFFFF_FFF0) + 0x20 == s(0x10))
        #expect(s(0x10) - 0x20 == s(0xFFFF_FFF0))
        #expect(s(5) + (-10) == s(0xFFFF_FFFB))
        var x = s(0xFFFF_FFFE)
        x += 3
        #expect(x == s(1))
        x -= 2
        #expect(x == s(0xFFFF_FFFF))
    }

    @Test func comparisonIsModular() {
        #expect(s(0xFFFF_FF00) < s(0x10))
        #expect(s(0x10) > s(0xFFFF_FF00))
        #expect(!(s(0x10) < s(0xFFFF_FF00)))
        #expect(s(7) <= s(7))
        #expect(s(7) >= s(7))
        #expect(!(s(7) < s(7)))
        #expect(s(0) < s(0x7FFF_FFFF))
        #expect(s(0x8000_0001) < s(0))  // more than 2^31 ahead counts as behind
        #expect(SequenceNumber.max(s(0xFFFF_FFF0), s(5)) == s(5))
        #expect(SequenceNumber.min(s(0xFFFF_FFF0), s(5)) == s(0xFFFF_FFF0))
    }

    @Test func distancesAcrossTheWrap() {
        #expect(s(0x10) - s(0xFFFF_FFF0) == 0x20)
        #expect(s(0xFFFF_FFF0) - s(0x10) == -0x20)
        #expect(s(100) - s(100) == 0)
        #expect(s(0xFFFF_FFF0).distance(forwardTo: s(0x10)) == 0x20)
        #expect(s(0x10).distance(forwardTo: s(0xFFFF_FFF0)) == 0xFFFF_FFE0)
    }

    @Test func halfOpenWindowAcrossTheWrap() {
        let lo = s(0xFFFF_FFF0), hi = s(0x10)
        #expect(s(0xFFFF_FFF0).isIn(lo, hi))
        #expect(s(0xFFFF_FFFF).isIn(lo, hi))
        #expect(s(0).isIn(lo, hi))
        #expect(s(0xF).isIn(lo, hi))
        #expect(!s(0x10).isIn(lo, hi))
        #expect(!s(0xFFFF_FFEF).isIn(lo, hi))
        #expect(!s(0x8000_0000).isIn(lo, hi))
    }

    @Test func closedWindowIncludesBothEnds() {
        let lo = s(0xFFFF_FFF0), hi = s(0x10)
        #expect(s(0x10).isInClosed(lo, hi))
        #expect(s(0xFFFF_FFF0).isInClosed(lo, hi))
        #expect(!s(0x11).isInClosed(lo, hi))
        #expect(!s(0xFFFF_FFEF).isInClosed(lo, hi))
    }

    @Test func emptyWindowContainsNothing() {
        for v: UInt32 in [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            #expect(!s(v).isIn(s(v), s(v)))
            #expect(!s(v &+ 1).isIn(s(v), s(v)))
            #expect(s(v).isInClosed(s(v), s(v)))
            #expect(!s(v &+ 1).isInClosed(s(v), s(v)))
        }
    }

    @Test func randomWindowsAgreeWithOffsetArithmetic() {
        var rng = SeededRandom(seed: 0x5E0)
        for _ in 0..<5000 {
            let lo = rng.u32()
            let size = UInt32(rng.int(0...100_000))
            let off = UInt32(rng.int(0...200_000))
            let x = s(lo &+ off)
            #expect(x.isIn(s(lo), s(lo &+ size)) == (off < size))
            #expect(x.isInClosed(s(lo), s(lo &+ size)) == (off <= size))
            #expect(x - s(lo) == Int(off))
            #expect((s(lo) < x) == (off > 0))
        }
    }
}
