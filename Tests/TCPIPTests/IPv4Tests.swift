import Testing
import TCPIP

@Suite struct IPv4Tests {
    // A UDP datagram header with its well-known checksum b861 (total length 115).
    let plainHeader = "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7"
    // DSCP 46 (EF) + ECN 1, id abcd, MF with offset 185 (1480 bytes), TTL 1, UDP,
    // router alert option (94 04 0000): IHL 6, total 32.
    let optionHeader = "46b9 0020 abcd 20b9 0111 d385 c0000201 c0000202 94040000"
    // Reserved flag set, TCP, record route (07 07 04 + one empty slot) then EOL: IHL 7, total 36.
    let recordRouteHeader = "4700 0024 0001 8000 4006 69c8 c0000201 c0000202 07070400000000 00"

    @Test func knownHeaderParsesToItsFields() throws {
        let b = hex(plainHeader) + [UInt8](repeating: 0x11, count: 95)
        let r = parse(b) { p throws(WireError) in
            let v = try IPv4HeaderView(validating: p)
            return (v.version, v.headerLength, v.totalLength, v.identification, v.dontFragment, v.moreFragments,
                    v.fragmentOffset, v.timeToLive, v.protocol, v.headerChecksum, v.source, v.destination,
                    v.payload.count, v.optionBytes.count, v.isFragment, v.dscp, v.ecn)
        }
        let f = try #require(r.success)
        #expect(f.0 == 4)
        #expect(f.1 == 20)
        #expect(f.2 == 115)
        #expect(f.3 == 0)
        #expect(f.4 == true)
        #expect(f.5 == false)
        #expect(f.6 == 0)
        #expect(f.7 == 64)
        #expect(f.8 == IPProtocol.udp)
        #expect(f.9 == 0xb861)
        #expect(f.10 == IPv4Address(192, 168, 0, 1))
        #expect(f.11 == IPv4Address(192, 168, 0, 199))
        #expect(f.12 == 95)
        #expect(f.13 == 0)
        #expect(f.14 == false)
        #expect(f.15 == 0)
        #expect(f.16 == 0)
    }

    @Test func knownHeaderEmitsExactBytesWithItsChecksum() throws {
        let h = IPv4Header(identification: 0, dontFragment: true, timeToLive: 64, protocol: IPProtocol.udp,
                           source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 199),
                           payloadLength: 95)
        let payload = [UInt8](repeating: 0x11, count: 95)
        #expect(try h.bytes(payload: payload) == hex(plainHeader) + payload)
        var buf = [UInt8](repeating: 0xEE, count: 24)
        let n = buf.withUnsafeMutableBytes { b in try? h.emit(into: b) }
        #expect(n == 20)
        #expect(Array(buf[0..<20]) == hex(plainHeader))
        #expect(Array(buf[20...]) == [0xEE, 0xEE, 0xEE, 0xEE])
    }

    @Test func dscpEcnFragmentFieldsAndOptionsParse() throws {
        let b = hex(optionHeader) + [1, 2, 3, 4, 5, 6, 7, 8]
        let r = parse(b) { p throws(WireError) in
            let v = try IPv4HeaderView(validating: p)
            return (try v.value(), Array(v.optionBytes), Array(v.payload), v.isFragment)
        }
        let (h, ob, payload, frag) = try #require(r.success)
        #expect(h == IPv4Header(dscp: 46, ecn: 1, identification: 0xabcd, dontFragment: false, moreFragments: true,
                                fragmentOffset: 1480, timeToLive: 1, protocol: IPProtocol.udp,
                                source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(192, 0, 2, 2),
                                options: [.option(type: IPv4OptionType.routerAlert, data: [0, 0])], payloadLength: 8))
        #expect(ob == [0x94, 0x04, 0x00, 0x00])
        #expect(payload == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(frag)
        #expect(try h.bytes(payload: payload) == b)
    }

    @Test func recordRouteThenEndOfListAndReservedFlag() throws {
        let b = hex(recordRouteHeader) + [UInt8](repeating: 0, count: 8)
        let h = try #require(parse(b) { p throws(WireError) in try IPv4HeaderView(validating: p).value() }.success)
        #expect(h.options == [.option(type: IPv4OptionType.recordRoute, data: [4, 0, 0, 0, 0]), .endOfList])
        #expect(h.reservedFlag)
        #expect(h.protocol == IPProtocol.tcp)
        #expect(h.headerLength == 28)
        #expect(try h.bytes(payload: [UInt8](repeating: 0, count: 8)) == b)
    }

    @Test func bytesAfterEndOfListAreNotOptions() throws {
        // EOL followed by garbage that would be a bad option: parsing stops at EOL.
        let h = IPv4Header(protocol: 6, source: .any, destination: .any, options: [.endOfList], payloadLength: 0)
        var b = try h.bytes()
        b[21] = 0x94; b[22] = 0xFF
        IPv4Tests.refreshChecksum(&b)
        #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(validating: p).options() }.success == [.endOfList])
    }

    @Test func nopAndUnknownOptionsAreSkippedByLength() throws {
        let opts: [IPv4Option] = [.noOperation, .option(type: 0x44, data: [5, 1, 0, 0, 0, 0]), .noOperation, .noOperation,
                                  .option(type: 0xEE, data: []), .noOperation, .noOperation, .noOperation]
        let h = IPv4Header(protocol: 6, source: .any, destination: .any, options: opts, payloadLength: 0)
        #expect(h.headerLength == 36)
        let b = try h.bytes()
        #expect(Array(b[20...]) == hex("01 4408 050100000000 01 01 ee02 010101"))
        #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(p).options() }.success == opts)
        #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(p).validateOptions() }.failure == nil)
    }

    @Test func badOptionLengthsAreBadOptionLength() throws {
        // Each is the option area of an IHL-6 header (4 bytes).
        for area in ["94000000", "94010000", "94050000", "01010194", "07ff0000", "00000094"] {
            var b = hex("4600 0018 0000 0000 4006 0000 c0000201 c0000202") + hex(area)
            IPv4Tests.refreshChecksum(&b)
            let r = parse(b) { p throws(WireError) in try IPv4HeaderView(validating: p).options() }
            if area == "00000094" {
                #expect(r.success == [.endOfList], "EOL first: \(area)")
            } else {
                #expect(r.failure == .badOptionLength, "area \(area)")
                #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(p).validateOptions() }.failure == .badOptionLength)
                #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(p).value() }.failure == .badOptionLength)
            }
        }
    }

    @Test func badChecksumIsReportedOnlyWhenValidating() throws {
        var b = hex(plainHeader) + [UInt8](repeating: 0, count: 95)
        b[11] ^= 0x01
        let r = parse(b) { p throws(WireError) in try IPv4HeaderView(p).checksumIsValid }
        #expect(r.success == false)
        #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(validating: p) }.failure == .badChecksum)
        b[11] ^= 0x01
        #expect(parse(b) { p throws(WireError) in try IPv4HeaderView(p).checksumIsValid }.success == true)
    }

    @Test func malformedHeadersGiveTheirTypedError() throws {
        let good = hex("4500 001c 0001 0000 4001 f6dc c0000201 c0000202") + [8, 0, 0, 0, 0, 0, 0, 0]
        func with(_ i: Int, _ v: UInt8) -> [UInt8] { var b = good; b[i] = v; return b }
        func err(_ b: [UInt8]) -> WireError? { parse(b) { p throws(WireError) in try IPv4HeaderView(p) }.failure }
        #expect(err(good) == nil)
        #expect(err(with(0, 0x65)) == .badVersion)
        #expect(err(with(0, 0x05)) == .badVersion)
        #expect(err(with(0, 0x44)) == .badHeaderLength)  // IHL 4
        #expect(err(with(0, 0x40)) == .badHeaderLength)  // IHL 0
        #expect(err(with(0, 0x48)) == .badHeaderLength)  // 32 bytes of header, 28 in the buffer
        #expect(err(with(3, 0x13)) == .badTotalLength)   // 19 < 20
        #expect(err(with(3, 0x1d)) == .badTotalLength)   // 29 > 28
        #expect(err(with(2, 0x01)) == .badTotalLength)   // 284
        #expect(err(with(3, 0x14)) == nil)               // header only
    }

    @Test func payloadIsBoundedByTotalLengthSoEthernetPaddingIsExcluded() throws {
        // A 28-byte datagram in a minimum (46-byte) Ethernet payload.
        let b = hex("4500 001c 0001 0000 4001 f6dc c0000201 c0000202 0800f7ff00000000") + [UInt8](repeating: 0, count: 18)
        let r = parse(b) { p throws(WireError) in
            let v = try IPv4HeaderView(validating: p)
            return (v.bytes.count, Array(v.payload))
        }
        let (count, payload) = try #require(r.success)
        #expect(count == 28)
        #expect(payload == hex("0800f7ff00000000"))
    }

    @Test func everyTruncationGivesTheExactError() {
        let b = hex(optionHeader) + [1, 2, 3, 4, 5, 6, 7, 8]
        for n in 0..<b.count {
            let expected: WireError = n < 20 ? .truncated : n < 24 ? .badHeaderLength : .badTotalLength
            #expect(parse(Array(b[0..<n])) { p throws(WireError) in try IPv4HeaderView(p).totalLength }.failure == expected, "length \(n)")
        }
    }

    @Test func quotedHeaderMayBeCutAfterEightPayloadBytes() throws {
        // A 1500-byte TCP datagram quoted with 8 bytes of its payload (ports and sequence number).
        var q = hex("4500 05dc 1234 4000 4006 0000 c0000201 c0000202")
        q += hex("c000 0050 01020304")
        let r = parse(q) { p throws(WireError) in
            let v = try IPv4HeaderView(quoted: p)
            return (v.totalLength, v.payload.count, v.quotedPorts?.source, v.quotedPorts?.destination, v.quotedTCPSequenceNumber)
        }
        let f = try #require(r.success)
        #expect(f.0 == 1500)
        #expect(f.1 == 8)
        #expect(f.2 == 0xc000)
        #expect(f.3 == 80)
        #expect(f.4 == SequenceNumber(0x01020304))
        // The strict view refuses the same bytes.
        #expect(parse(q) { p throws(WireError) in try IPv4HeaderView(p) }.failure == .badTotalLength)
        // Fewer than 8 payload bytes of a longer datagram: truncated; a cut header: truncated.
        for n in 0..<28 {
            #expect(parse(Array(q[0..<n])) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .truncated, "length \(n)")
        }
    }

    @Test func quotedShortDatagramNeedsOnlyWhatItHad() throws {
        // Total length 24: only 4 payload bytes ever existed.
        let q = hex("4500 0018 0001 0000 4011 0000 c0000201 c0000202 1234 0035")
        let r = parse(q) { p throws(WireError) in try IPv4HeaderView(quoted: p).quotedPorts }
        #expect(r.success??.source == 0x1234)
        #expect(r.success??.destination == 53)
        #expect(parse(Array(q[0..<23])) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .truncated)
        var bad = q
        bad[3] = 0x10
        #expect(parse(bad) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .badTotalLength)
        bad = q
        bad[0] = 0x46  // IHL 6, total 24: the whole (empty-payload) datagram is there
        #expect(parse(bad) { p throws(WireError) in try IPv4HeaderView(quoted: p).payload.count }.success == 0)
        bad[0] = 0x47  // IHL 7 with 24 bytes: header cut
        #expect(parse(bad) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .truncated)
        bad[0] = 0x43
        #expect(parse(bad) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .badHeaderLength)
        bad[0] = 0x55
        #expect(parse(bad) { p throws(WireError) in try IPv4HeaderView(quoted: p) }.failure == .badVersion)
    }

    @Test func emitRejectsWhatCannotBeEncoded() {
        let base = IPv4Header(protocol: 6, source: .any, destination: .any, payloadLength: 0)
        var h = base
        h.options = [.option(type: 0x44, data: [UInt8](repeating: 0, count: 39))]
        #expect(throws: WireError.badOptionLength) { try h.bytes() }
        h = base; h.fragmentOffset = 12
        #expect(throws: WireError.unsupported("fragment offset 12")) { try h.bytes() }
        h = base; h.fragmentOffset = 65536
        #expect(throws: WireError.unsupported("fragment offset 65536")) { try h.bytes() }
        h = base; h.fragmentOffset = 65528
        #expect((try? h.bytes())?.count == 20)
        h = base; h.payloadLength = 65515
        var big = [UInt8](repeating: 0, count: 20)
        #expect(big.withUnsafeMutableBytes { b in (try? h.emit(into: b)) } == 20)
        h.payloadLength = 65515 + 1
        let over: Result<Int, WireError> = big.withUnsafeMutableBytes { b in
            do throws(WireError) { return .success(try h.emit(into: b)) } catch { return .failure(error) }
        }
        #expect(over.failure == .badTotalLength)
        h.payloadLength = -1
        #expect(throws: WireError.badTotalLength) { try big.withUnsafeMutableBytes { b in try h.emit(into: b) } }
        var small = [UInt8](repeating: 0, count: 19)
        let r: Result<Int, WireError> = small.withUnsafeMutableBytes { b in
            do throws(WireError) { return .success(try base.emit(into: b)) } catch { return .failure(error) }
        }
        #expect(r.failure == .truncated)
    }

    @Test func randomHeadersRoundTrip() throws {
        var rng = SeededRandom(seed: 0x1F4)
        for _ in 0..<3000 {
            let h = IPv4Header(dscp: rng.u8(), ecn: rng.u8(), identification: rng.u16(),
                               dontFragment: rng.bool(), moreFragments: rng.bool(),
                               fragmentOffset: rng.int(0...0x1FFF) * 8, timeToLive: rng.u8(), protocol: rng.u8(),
                               source: rng.ipv4(), destination: rng.ipv4(), options: IPv4Tests.randomOptions(&rng),
                               payloadLength: 0, reservedFlag: rng.bool())
            let payload = rng.bytes(rng.int(0...40))
            let b = try h.bytes(payload: payload)
            let r = parse(b + rng.bytes(rng.int(0...4))) { p throws(WireError) in
                let v = try IPv4HeaderView(validating: p)
                return (try v.value(), Array(v.payload))
            }
            let (back, body) = try #require(r.success)
            var expected = h
            expected.payloadLength = payload.count
            #expect(back == expected)
            #expect(body == payload)
        }
    }

    /// Random options within 40 bytes; EOL only last, and added when padding would follow.
    static func randomOptions(_ rng: inout SeededRandom) -> [IPv4Option] {
        var out: [IPv4Option] = []
        var len = 0
        let target = rng.int(0...40)
        while true {
            let o: IPv4Option = rng.int(0...3) == 0 ? .noOperation
                : .option(type: UInt8(rng.int(2...255)), data: rng.bytes(rng.int(0...10)))
            if len + o.length > target - 1 { break }
            out.append(o)
            len += o.length
        }
        if len % 4 != 0 || (len < 40 && rng.int(0...5) == 0) { out.append(.endOfList) }
        return out
    }

    static func refreshChecksum(_ b: inout [UInt8]) {
        let hl = Int(b[0] & 0xF) * 4
        b[10] = 0; b[11] = 0
        let c = referenceChecksum(b[0..<hl])
        b[10] = UInt8(c >> 8); b[11] = UInt8(c & 0xFF)
    }
}
