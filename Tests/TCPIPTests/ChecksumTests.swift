import Testing
import TCPIP

@Suite struct ChecksumTests {
    @Test func rfc1071NumericExample() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums (with end-around carry) to dd f2.
        let b = hex("0001 f203 f4f5 f6f7")
        var c = InternetChecksum()
        c.add(b)
        #expect(c.folded == 0xddf2)
        #expect(c.value == 0x220d)
        #expect(referenceSum(b) == 0xddf2)
        // The same in pieces, one of them odd.
        var p = InternetChecksum()
        p.add(Array(b[0..<3]))
        p.add(Array(b[3..<8]))
        #expect(p.folded == 0xddf2)
        // And the data followed by its checksum verifies.
        var v = InternetChecksum()
        v.add(b + [0x22, 0x0d])
        #expect(v.verifies)
    }

    @Test func emptyAndAllZeroDataSumToZero() {
        #expect(InternetChecksum().folded == 0)
        #expect(InternetChecksum.checksum([]) == 0xFFFF)
        #expect(InternetChecksum.checksum([0, 0, 0]) == 0xFFFF)
        #expect(InternetChecksum.checksum([0xFF, 0xFF]) == 0x0000)
        #expect(InternetChecksum.checksum([0xAB]) == ~UInt16(0xAB00))
    }

    @Test func equalsNaiveReferenceAtEveryLengthAndAlignment() {
        var rng = SeededRandom(seed: 0xC5)
        let big = rng.bytes(2048 + 8)
        var mismatches = 0
        big.withUnsafeBytes { all in
            for align in 0...7 {
                for len in 0...2048 {
                    let piece = UnsafeRawBufferPointer(rebasing: all[align..<(align + len)])
                    let got = InternetChecksum.checksum(piece)
                    let want = referenceChecksum(big[align..<(align + len)])
                    if got != want {
                        mismatches += 1
                        if mismatches < 5 { Issue.record("align \(align) length \(len): \(got) != \(want)") }
                    }
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func allOnesDataAtEveryLengthEqualsReference() {
        // Sums that carry the most: every byte 0xFF.
        let ones = [UInt8](repeating: 0xFF, count: 1030)
        for len in 0...1030 {
            #expect(InternetChecksum.checksum(Array(ones[0..<len])) == referenceChecksum(ones[0..<len]), "length \(len)")
        }
    }

    @Test func piecesAtOddAndEvenBoundariesEqualOneSum() {
        var rng = SeededRandom(seed: 0x91)
        for _ in 0..<2000 {
            let data = rng.bytes(rng.int(0...600))
            var c = InternetChecksum()
            var i = 0
            while i < data.count {
                let n = min(rng.int(0...17), data.count - i)
                c.add(Array(data[i..<(i + n)]))
                i += n
            }
            #expect(c.value == InternetChecksum.checksum(data))
            #expect(c.value == referenceChecksum(data))
        }
    }

    @Test func sixteenAndThirtyTwoBitValuesAfterOddPiecesEqualTheirBytes() {
        var rng = SeededRandom(seed: 0x92)
        for _ in 0..<2000 {
            var c = InternetChecksum()
            var bytes: [UInt8] = []
            for _ in 0..<rng.int(1...8) {
                switch rng.int(0...2) {
                case 0:
                    let d = rng.bytes(rng.int(0...7))
                    c.add(d); bytes += d
                case 1:
                    let v = rng.u16()
                    c.add(v); bytes += [UInt8(v >> 8), UInt8(v & 0xFF)]
                default:
                    let v = rng.u32()
                    c.add(v); bytes += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
                }
            }
            #expect(c.folded == referenceSum(bytes))
        }
    }

    @Test func pseudoHeaderIsSourceDestinationZeroProtocolLength() {
        var rng = SeededRandom(seed: 0x93)
        for _ in 0..<2000 {
            let s = rng.ipv4(), d = rng.ipv4(), proto = rng.u8()
            let data = rng.bytes(rng.int(0...100))
            var c = InternetChecksum()
            c.addPseudoHeader(source: s, destination: d, protocol: proto, length: data.count)
            c.add(data)
            #expect(c.value == referenceChecksum(pseudoHeader(source: s, destination: d, protocol: proto, length: data.count) + data))
        }
        // A fixed one: 192.0.2.1 -> 198.51.100.2, TCP, length 20.
        var c = InternetChecksum()
        c.addPseudoHeader(source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(198, 51, 100, 2), protocol: 6, length: 20)
        #expect(c.folded == referenceSum(hex("c0000201 c6336402 0006 0014")))
        #expect(c.folded == 0xec51)  // c000+0201+c633+6402+0006+0014 with end-around carry
    }

    @Test func incrementalUpdateEqualsFullRecompute() {
        var rng = SeededRandom(seed: 0x94)
        for i in 0..<4000 {
            var data = rng.bytes(rng.int(2...60) * 2)
            let before = InternetChecksum.checksum(data)
            if i % 2 == 0 {
                let at = rng.int(0...(data.count / 2 - 1)) * 2
                let old = UInt16(data[at]) << 8 | UInt16(data[at + 1])
                let new = i % 10 == 0 ? ~old : rng.u16()
                data[at] = UInt8(new >> 8); data[at + 1] = UInt8(new & 0xFF)
                #expect(InternetChecksum.updated(before, old: old, new: new) == InternetChecksum.checksum(data))
            } else {
                guard data.count >= 4 else { continue }
                let at = rng.int(0...(data.count / 2 - 2)) * 2
                let old = UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3])
                let new = rng.u32()
                data[at] = UInt8(new >> 24); data[at + 1] = UInt8(truncatingIfNeeded: new >> 16)
                data[at + 2] = UInt8(truncatingIfNeeded: new >> 8); data[at + 3] = UInt8(truncatingIfNeeded: new)
                #expect(InternetChecksum.updated(before, old: old, new: new) == InternetChecksum.checksum(data))
            }
        }
    }

    @Test func incrementalUpdateOfAnIPv4TTLMatchesTheEmittedHeader() throws {
        // Decrementing TTL 64 -> 63 (the TTL/protocol word 4011 -> 3f11) in the b861 header.
        let h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")
        let updated = InternetChecksum.updated(0xb861, old: UInt16(0x4011), new: UInt16(0x3f11))
        var h2 = h
        h2[8] = 0x3f; h2[10] = 0; h2[11] = 0
        #expect(updated == referenceChecksum(h2))
        #expect(updated == 0xb961)
    }
}
