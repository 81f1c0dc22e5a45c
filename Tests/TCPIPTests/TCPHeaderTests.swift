import Testing
import TCPIP

@Suite struct TCPHeaderTests {
    static let src = IPv4Address(192, 0, 2, 1)
    static let dst = IPv4Address(192, 0, 2, 2)
    // Linux's SYN: 41970 -> 80, seq 0x8a1b2c3d, data offset 10, SYN, window 64240, checksum over the
    // pseudo-header 192.0.2.1 -> 192.0.2.2; options MSS 1460, SACK-permitted, TS 1234567/0, NOP, WS 7.
    static let linuxSYN = "a3f2 0050 8a1b2c3d 00000000 a002 faf0 97d6 0000 020405b4 0402080a 0012d687 00000000 01030307"
    static let linuxSYNValue = TCPHeader(
        sourcePort: 41970, destinationPort: 80, sequenceNumber: SequenceNumber(0x8a1b2c3d),
        flags: .syn, window: 64240,
        options: [.maximumSegmentSize(1460), .sackPermitted, .timestamps(TCPTimestamps(value: 1234567, echoReply: 0)),
                  .noOperation, .windowScale(7)])

    @Test func linuxSYNParsesToItsFields() throws {
        let r = parse(hex(Self.linuxSYN)) { p throws(WireError) in
            let v = try TCPHeaderView(p)
            return (try v.value(), v.dataOffset, v.headerLength, v.checksum, v.payload.count, v.sequenceLength,
                    v.checksumIsValid(source: Self.src, destination: Self.dst), try v.optionSet())
        }
        let f = try #require(r.success)
        #expect(f.0 == Self.linuxSYNValue)
        #expect(f.1 == 10)
        #expect(f.2 == 40)
        #expect(f.3 == 0x97d6)
        #expect(f.4 == 0)
        #expect(f.5 == 1)
        #expect(f.6)
        #expect(f.7 == TCPOptionSet(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true,
                                    timestamps: TCPTimestamps(value: 1234567, echoReply: 0)))
    }

    @Test func linuxSYNEmitsExactBytesWithChecksum() throws {
        #expect(try Self.linuxSYNValue.segmentBytes(source: Self.src, destination: Self.dst) == hex(Self.linuxSYN))
        var buf = [UInt8](repeating: 0xEE, count: 44)
        let n = buf.withUnsafeMutableBytes { b in try? Self.linuxSYNValue.emit(into: b) }
        #expect(n == 40)
        var unchecked = hex(Self.linuxSYN)
        unchecked[16] = 0; unchecked[17] = 0
        #expect(Array(buf[0..<40]) == unchecked)
        #expect(Array(buf[40...]) == [0xEE, 0xEE, 0xEE, 0xEE])
    }

    @Test func dataSegmentCarriesPayloadAndVerifies() throws {
        let h = TCPHeader(sourcePort: 80, destinationPort: 41970, sequenceNumber: SequenceNumber(0xFFFF_FFF0),
                          acknowledgmentNumber: SequenceNumber(0x8a1b2c3e), flags: [.ack, .psh, .fin], window: 509)
        let payload = Array("hello, world".utf8)
        let b = try h.segmentBytes(payload: payload, source: Self.dst, destination: Self.src)
        #expect(Array(b[0..<20]) == hex("0050 a3f2 fffffff0 8a1b2c3e 5019 01fd") + Array(b[16..<18]) + [0, 0])
        #expect(referenceSum(pseudoHeader(source: Self.dst, destination: Self.src, protocol: 6, length: b.count) + b) == 0xFFFF)
        let r = parse(b) { p throws(WireError) in
            let v = try TCPHeaderView(p)
            return (try v.value(), Array(v.payload), v.sequenceLength, v.checksumIsValid(source: Self.dst, destination: Self.src),
                    v.checksumIsValid(source: Self.dst, destination: Self.dst))
        }
        let f = try #require(r.success)
        #expect(f.0 == h)
        #expect(f.1 == payload)
        #expect(f.2 == 13)
        #expect(f.3)
        #expect(!f.4)
    }

    @Test func allNineFlagsAndReservedBitsAreVisible() throws {
        // Data offset 5, reserved 101, AE CWR ECE URG ACK PSH RST SYN FIN all set: 5b ff.
        let b = hex("0001 0002 00000001 00000002 5bff 0000 0000 0000")
        let v = try #require(parse(b) { p throws(WireError) in try TCPHeaderView(p).value() }.success)
        #expect(v.flags == [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr, .ae])
        #expect(v.flags.rawValue == 0x1FF)
        #expect(v.reserved == 5)
        #expect(v.flags.description == "SFPRUEWe.")
        #expect(v.flags.names == "AE+CWR+ECE+URG+ACK+PSH+RST+SYN+FIN")
        var out = b
        out.withUnsafeMutableBytes { o in _ = try? v.emit(into: o) }
        #expect(out == b)
        #expect(TCPFlags().description == "none")
        #expect(TCPFlags([.syn, .ack]).names == "ACK+SYN")
        #expect(TCPFlags(rawValue: 0xFFFF).rawValue == 0x1FF)
    }

    @Test func dataOffsetBelowFiveIsBadHeaderLength() {
        for doff: UInt8 in 0...4 {
            var b = hex("0001 0002 00000001 00000002 5010 0000 0000 0000")
            b[12] = doff << 4
            #expect(parse(b) { p throws(WireError) in try TCPHeaderView(p) }.failure == .badHeaderLength, "offset \(doff)")
        }
        // Offset 15 in a 40-byte buffer: the header does not fit.
        var b = hex(Self.linuxSYN)
        b[12] = 0xF0
        #expect(parse(b) { p throws(WireError) in try TCPHeaderView(p) }.failure == .truncated)
    }

    @Test func everyTruncationIsTruncated() {
        let b = hex(Self.linuxSYN)
        for n in 0..<b.count {
            #expect(parse(Array(b[0..<n])) { p throws(WireError) in try TCPHeaderView(p).headerLength }.failure == .truncated, "length \(n)")
        }
    }

    @Test func emitRejectsOptionsOverFortyBytes() {
        let h = TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(0), flags: .syn, window: 0,
                          options: [.timestamps(TCPTimestamps(value: 1, echoReply: 2))] + Array(repeating: .noOperation, count: 31))
        #expect(h.headerLength == 64)
        #expect(throws: WireError.badOptionLength) { try h.segmentBytes(source: Self.src, destination: Self.dst) }
        var ok = h
        ok.options.removeLast()
        #expect((try? ok.segmentBytes(source: Self.src, destination: Self.dst))?.count == 60)
        var small = [UInt8](repeating: 0, count: 59)
        let r: Result<Int, WireError> = small.withUnsafeMutableBytes { b in
            do throws(WireError) { return .success(try ok.emit(into: b)) } catch { return .failure(error) }
        }
        #expect(r.failure == .truncated)
    }

    @Test func randomHeadersRoundTrip() throws {
        var rng = SeededRandom(seed: 0x7C9)
        for _ in 0..<4000 {
            let h = TCPHeader(sourcePort: rng.u16(), destinationPort: rng.u16(), sequenceNumber: SequenceNumber(rng.u32()),
                              acknowledgmentNumber: SequenceNumber(rng.u32()), flags: TCPFlags(rawValue: rng.u16()),
                              window: rng.u16(), urgentPointer: rng.u16(), options: TCPHeaderTests.randomOptions(&rng),
                              reserved: rng.u8())
            let payload = rng.bytes(rng.int(0...30))
            let s = rng.ipv4(), d = rng.ipv4()
            let b = try h.segmentBytes(payload: payload, source: s, destination: d)
            #expect(b.count == h.headerLength + payload.count)
            let r = parse(b) { p throws(WireError) in
                let v = try TCPHeaderView(p)
                return (try v.value(), Array(v.payload), v.checksumIsValid(source: s, destination: d), try v.optionSet())
            }
            let (back, body, valid, set) = try #require(r.success)
            #expect(back == h)
            #expect(body == payload)
            #expect(valid)
            // The option set agrees with the list (the last of each kind wins).
            var expected = TCPOptionSet()
            for o in h.options {
                switch o {
                case .maximumSegmentSize(let m): expected.maximumSegmentSize = m
                case .windowScale(let w): expected.windowScale = w
                case .sackPermitted: expected.sackPermitted = true
                case .timestamps(let t): expected.timestamps = t
                case .sack(let blocks): expected.sackBlocks = blocks
                default: break
                }
            }
            #expect(set == expected)
        }
    }

    /// Random option lists of at most 40 bytes: NOP, MSS, WS, SACK-permitted, SACK with 1–4
    /// blocks, TS and unknown kinds; EOL only at the end (and always when padding follows,
    /// since padding bytes parse as EOL).
    static func randomOptions(_ rng: inout SeededRandom) -> [TCPOption] {
        var out: [TCPOption] = []
        var len = 0
        let target = rng.int(0...40)
        while true {
            let o: TCPOption
            switch rng.int(0...7) {
            case 0: o = .noOperation
            case 1: o = .maximumSegmentSize(rng.u16())
            case 2: o = .windowScale(rng.u8())
            case 3: o = .sackPermitted
            case 4:
                var blocks = SACKBlocks()
                for _ in 0..<rng.int(1...4) { blocks.append(SACKBlock(start: SequenceNumber(rng.u32()), end: SequenceNumber(rng.u32()))) }
                o = .sack(blocks)
            case 5: o = .timestamps(TCPTimestamps(value: rng.u32(), echoReply: rng.u32()))
            default:
                var kind = rng.u8()
                while kind <= 5 || kind == 8 { kind = rng.u8() }
                o = .unknown(kind: kind, data: rng.bytes(rng.int(0...8)))
            }
            if len + o.length > target - 1 && !(len + o.length == 40 && target == 40) { break }
            out.append(o)
            len += o.length
        }
        if len % 4 != 0 || (len < 40 && rng.int(0...5) == 0) { out.append(.endOfList) }
        return out
    }
}
