import Testing
import TCPIP

@Suite struct TCPOptionsTests {
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }

    let linuxSYNOptions = "020405b4 0402080a 0012d687 00000000 01030307"

    /// A header (data offset from `area`, which must be a multiple of 4 bytes) around option bytes.
    func segment(options area: [UInt8]) -> [UInt8] {
        var b = hex("0001 0002 00000001 00000000 0002 ffff 0000 0000") + area
        b[12] = UInt8((20 + area.count) / 4) << 4
        return b
    }

    func optionSet(_ area: String) -> Result<TCPOptionSet, WireError> {
        parse(segment(options: hex(area))) { p throws(WireError) in try TCPHeaderView(p).optionSet() }
    }

    func optionList(_ area: String) -> Result<[TCPOption], WireError> {
        parse(segment(options: hex(area))) { p throws(WireError) in try TCPHeaderView(p).options() }
    }

    @Test func linuxSYNLayoutParsesAndRoundTrips() throws {
        let set = TCPOptionSet(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true,
                               timestamps: TCPTimestamps(value: 1234567, echoReply: 0))
        #expect(optionSet(linuxSYNOptions).success == set)
        #expect(optionList(linuxSYNOptions).success == [.maximumSegmentSize(1460), .sackPermitted,
                                                        .timestamps(TCPTimestamps(value: 1234567, echoReply: 0)),
                                                        .noOperation, .windowScale(7)])
        #expect(set.encodedLength == 20)
        var out = [UInt8](repeating: 0xEE, count: 24)
        let end = out.withUnsafeMutableBytes { set.write(into: $0, at: 2) }
        #expect(end == 22)
        #expect(Array(out[2..<22]) == hex(linuxSYNOptions))
        #expect(out[0] == 0xEE && out[1] == 0xEE && out[22] == 0xEE)
        #expect(set.options == optionList(linuxSYNOptions).success)
    }

    @Test func optionSetLayoutsWithoutTimestampsOrWithSACKBlocks() {
        func written(_ s: TCPOptionSet) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 40)
            let n = out.withUnsafeMutableBytes { s.write(into: $0, at: 0) }
            #expect(n == s.encodedLength)
            #expect(n % 4 == 0)
            return Array(out[0..<n])
        }
        #expect(written(TCPOptionSet(maximumSegmentSize: 536, windowScale: 0, sackPermitted: true)) == hex("02040218 01010402 01030300"))
        #expect(written(TCPOptionSet()) == [])
        #expect(written(TCPOptionSet(timestamps: TCPTimestamps(value: 1, echoReply: 2))) == hex("0101080a 00000001 00000002"))
        // With timestamps, three of four SACK blocks fit: 12 + 4 + 24 = 40.
        var blocks = SACKBlocks()
        for i: UInt32 in 0..<4 { blocks.append(SACKBlock(start: SequenceNumber(i * 100), end: SequenceNumber(i * 100 + 50))) }
        let s = TCPOptionSet(timestamps: TCPTimestamps(value: 7, echoReply: 8), sackBlocks: blocks)
        #expect(written(s) == hex("0101080a 00000007 00000008 0101051a 00000000 00000032 00000064 00000096 000000c8 000000fa"))
        let back = optionSet("0101080a 00000007 00000008 0101051a 00000000 00000032 00000064 00000096 000000c8 000000fa").success
        #expect(back?.sackBlocks == SACKBlocks(blocks.prefix(3)))
        // Without timestamps all four fit.
        let s4 = TCPOptionSet(sackBlocks: blocks)
        #expect(written(s4).count == 36)
        #expect(optionSet(hexString(written(s4))).success?.sackBlocks == blocks)
    }

    @Test func sackWithOneToFourBlocksParses() {
        for n in 1...4 {
            var area = "0101 05" + hexString([UInt8(2 + 8 * n)])
            var expected = SACKBlocks()
            for i in 0..<n {
                area += hexString(TCPOptionsTests.be32(UInt32(1000 * i)) + TCPOptionsTests.be32(UInt32(1000 * i + 500)))
                expected.append(SACKBlock(start: SequenceNumber(UInt32(1000 * i)), end: SequenceNumber(UInt32(1000 * i + 500))))
            }
            #expect(optionSet(area).success?.sackBlocks == expected, "\(n) blocks")
            #expect(optionList(area).success == [.noOperation, .noOperation, .sack(expected)])
        }
    }

    @Test func malformedLengthsAreBadOptionLength() {
        let bad = [
            "0200 0000",                 // length 0
            "0201 0000",                 // length 1
            "fe08 0000",                 // unknown kind running past the end
            "0205 05b4",                 // MSS length 5, past the end
            "0203 0500",                 // MSS length 3
            "0205 05b4 0000 0000",       // MSS length 5
            "0302 0000",                 // WS length 2
            "0304 0700",                 // WS length 4
            "0403 0000",                 // SACK-permitted length 3
            "0401 0000",                 // SACK-permitted length 1
            "0809 0000 0000 0000 0000 0000", // TS length 9
            "080b 0000 0000 0000 0000 0000", // TS length 11
            "0502 0000",                 // SACK with no block
            "0509 0000 0000 0000 0000 0000", // SACK length 9
            "050b 0000 0000 0000 0000 0000", // SACK length 11
            "0512 0000 0000 0000 0000 0000 0000 0000", // SACK 18 (two blocks) in 16 bytes
            "0101 0102",                 // kind in the last byte, no length byte
        ]
        for area in bad {
            #expect(optionSet(area).failure == .badOptionLength, "\(area)")
            #expect(optionList(area).failure == .badOptionLength, "\(area)")
            #expect(parse(segment(options: hex(area))) { p throws(WireError) in try TCPHeaderView(p).value() }.failure == .badOptionLength)
        }
    }

    @Test func unknownKindsAreSkippedByTheirLength() {
        #expect(optionSet("fe04 abcd 020405b4").success == TCPOptionSet(maximumSegmentSize: 1460))
        #expect(optionList("fe04 abcd 020405b4").success == [.unknown(kind: 0xfe, data: [0xab, 0xcd]), .maximumSegmentSize(1460)])
        // A zero-data unknown (length 2) and an experimental kind 253 with data.
        #expect(optionList("1e02 fd06 0102 0304 0303 0700").success == [.unknown(kind: 0x1e, data: []), .unknown(kind: 253, data: [1, 2, 3, 4]),
                                                                   .windowScale(7), .endOfList])
    }

    @Test func endOfListEndsTheOptionsWhateverFollows() {
        #expect(optionList("020405b4 00 02 ff ff").success == [.maximumSegmentSize(1460), .endOfList])
        #expect(optionSet("020405b4 00 02 ff ff").success == TCPOptionSet(maximumSegmentSize: 1460))
        #expect(optionList("00000000").success == [.endOfList])
        #expect(optionList("01010101").success == [.noOperation, .noOperation, .noOperation, .noOperation])
    }

    @Test func sackBlocksHoldAtMostFour() {
        var b = SACKBlocks()
        for i: UInt32 in 0..<4 {
            let added = b.append(SACKBlock(start: SequenceNumber(i), end: SequenceNumber(i + 1)))
            #expect(added)
        }
        let fifth = b.append(SACKBlock(start: SequenceNumber(9), end: SequenceNumber(10)))
        #expect(!fifth)
        #expect(b.count == 4)
        #expect(b.last == SACKBlock(start: SequenceNumber(3), end: SequenceNumber(4)))
        b.removeAll()
        #expect(b.isEmpty)
        #expect(b == SACKBlocks())
    }

    @Test func randomOptionSetsRoundTripThroughWrite() throws {
        var rng = SeededRandom(seed: 0x5AC)
        for _ in 0..<3000 {
            var blocks = SACKBlocks()
            for _ in 0..<rng.int(0...4) { blocks.append(SACKBlock(start: SequenceNumber(rng.u32()), end: SequenceNumber(rng.u32()))) }
            let s = TCPOptionSet(maximumSegmentSize: rng.bool() ? rng.u16() : nil, windowScale: rng.bool() ? rng.u8() : nil,
                                 sackPermitted: rng.bool(), timestamps: rng.bool() ? TCPTimestamps(value: rng.u32(), echoReply: rng.u32()) : nil,
                                 sackBlocks: blocks)
            var area = [UInt8](repeating: 0, count: 40)
            let n = area.withUnsafeMutableBytes { s.write(into: $0, at: 0) }
            #expect(n == s.encodedLength)
            #expect(n <= 40 && n % 4 == 0)
            let r = parse(segment(options: Array(area[0..<n]))) { p throws(WireError) in
                let v = try TCPHeaderView(p)
                return (try v.optionSet(), try v.options())
            }
            let (back, list) = try #require(r.success)
            var expected = s
            expected.sackBlocks = SACKBlocks(blocks.prefix(back.sackBlocks.count))
            #expect(back == expected)
            #expect(list == s.options)
            // Only as many blocks are dropped as the other options force out.
            let room = (40 - (s.maximumSegmentSize != nil ? 4 : 0) - (s.timestamps != nil ? 12 : s.sackPermitted ? 4 : 0)
                        - (s.windowScale != nil ? 4 : 0) - 4) / 8
            #expect(back.sackBlocks.count == min(room, blocks.count))
        }
    }
}
