import Testing
import TCPIP

@Suite struct ICMPTests {
    let echoRequest = "0800 5435 1234 0001 6162636465666768"
    // The quoted datagrams: a 1500-byte TCP datagram cut after 8 payload bytes, and a whole small UDP one.
    let quotedTCP = "4500 05dc 1234 4000 4006 9ee4 c0000201 c0000202 c000 0050 01020304"
    let quotedUDP = "4500 0020 0001 0000 4011 f6c8 c0000201 c0000202 04d2 0035 000c 0000 61626364"
    var fragmentationNeeded: String { "0304 332d 0000 0578" + quotedTCP }
    var portUnreachable: String { "0303 3323 0000 0000" + quotedUDP }
    var timeExceeded: String { "0b00 2b26 0000 0000" + quotedUDP }

    @Test func echoRequestParsesAndEmits() throws {
        let r = parse(hex(echoRequest)) { p throws(WireError) in
            let v = try ICMPv4MessageView(p)
            return (v.value(), v.type, v.code, v.identifier, v.sequenceNumber, v.checksum, v.checksumIsValid, v.isError)
        }
        let f = try #require(r.success)
        #expect(f.0 == .echoRequest(identifier: 0x1234, sequenceNumber: 1, data: Array("abcdefgh".utf8)))
        #expect(f.1 == ICMPv4Type.echoRequest)
        #expect(f.2 == 0)
        #expect(f.3 == 0x1234)
        #expect(f.4 == 1)
        #expect(f.5 == 0x5435)
        #expect(f.6)
        #expect(!f.7)
        #expect(f.0.bytes() == hex(echoRequest))
    }

    @Test func echoReplyDiffersOnlyInTypeAndChecksum() {
        let reply = ICMPv4Message.echoReply(identifier: 0x1234, sequenceNumber: 1, data: Array("abcdefgh".utf8))
        // Type 8 -> 0 raises the checksum by 0x0800.
        #expect(reply.bytes() == hex("0000 5c35 1234 0001 6162636465666768"))
        #expect(parse(reply.bytes()) { p throws(WireError) in try ICMPv4MessageView(p).value() }.success == reply)
    }

    @Test func fragmentationNeededCarriesNextHopMTUAndTheQuotedDatagram() throws {
        let r = parse(hex(fragmentationNeeded)) { p throws(WireError) in
            let v = try ICMPv4MessageView(p)
            let q = try v.quotedDatagram()
            return (v.value(), v.nextHopMTU, v.checksumIsValid, q.protocol, q.source, q.destination, q.totalLength,
                    Array(q.payload), q.quotedPorts?.source, q.quotedPorts?.destination, q.quotedTCPSequenceNumber, q.dontFragment)
        }
        let f = try #require(r.success)
        #expect(f.0 == .destinationUnreachable(code: .fragmentationNeeded, nextHopMTU: 1400, quoted: hex(quotedTCP)))
        #expect(f.1 == 1400)
        #expect(f.2)
        #expect(f.3 == IPProtocol.tcp)
        #expect(f.4 == IPv4Address(192, 0, 2, 1))
        #expect(f.5 == IPv4Address(192, 0, 2, 2))
        #expect(f.6 == 1500)
        #expect(f.7 == hex("c000 0050 01020304"))
        #expect(f.8 == 0xc000)
        #expect(f.9 == 80)
        #expect(f.10 == SequenceNumber(0x01020304))
        #expect(f.11)
        #expect(f.0.bytes() == hex(fragmentationNeeded))
    }

    @Test func portUnreachableAndTimeExceededQuoteWholeSmallDatagrams() throws {
        for (text, expected) in [(portUnreachable, ICMPv4Message.destinationUnreachable(code: .port, nextHopMTU: 0, quoted: hex(quotedUDP))),
                                 (timeExceeded, ICMPv4Message.timeExceeded(code: .timeToLiveExceeded, quoted: hex(quotedUDP)))] {
            let r = parse(hex(text)) { p throws(WireError) in
                let v = try ICMPv4MessageView(p)
                let q = try v.quotedDatagram()
                return (v.value(), v.checksumIsValid, v.isError, q.checksumIsValid, q.payload.count, q.quotedPorts?.destination)
            }
            let f = try #require(r.success)
            #expect(f.0 == expected)
            #expect(f.1)
            #expect(f.2)
            #expect(f.3)
            #expect(f.4 == 12)
            #expect(f.5 == 53)
            #expect(expected.bytes() == hex(text))
        }
    }

    @Test func everyUnreachableCodeRoundTripsWithItsName() {
        let names = ["net", "host", "protocol", "port", "frag-needed", "source-route-failed", "net-unknown",
                     "host-unknown", "source-isolated", "net-prohibited", "host-prohibited", "net-tos",
                     "host-tos", "admin-prohibited", "precedence-violation", "precedence-cutoff"]
        let named: [ICMPv4UnreachableCode] = [.network, .host, .protocol, .port, .fragmentationNeeded, .sourceRouteFailed,
                                              .networkUnknown, .hostUnknown, .sourceHostIsolated, .networkProhibited,
                                              .hostProhibited, .networkUnreachableForTOS, .hostUnreachableForTOS,
                                              .communicationProhibited, .hostPrecedenceViolation, .precedenceCutoff]
        for code in 0...16 {
            let c = ICMPv4UnreachableCode(rawValue: UInt8(code))
            if code < 16 {
                #expect(named[code] == c)
                #expect(c.description == names[code])
            } else {
                #expect(c.description == "code-16")
            }
            let m = ICMPv4Message.destinationUnreachable(code: c, nextHopMTU: code == 4 ? 576 : 0, quoted: hex(quotedUDP))
            let b = m.bytes()
            #expect(b[0] == 3)
            #expect(b[1] == UInt8(code))
            #expect(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).value() }.success == m)
        }
        #expect(ICMPv4TimeExceededCode.reassemblyTimeExceeded.rawValue == 1)
    }

    @Test func otherTypesKeepTypeCodeRestOfHeaderAndBody() throws {
        // Redirect (type 5, code 1) to gateway 192.0.2.254; parameter problem pointer 9.
        let redirect = ICMPv4Message.other(type: ICMPv4Type.redirect, code: 1, restOfHeader: 0xc00002fe, body: hex(quotedUDP))
        let r = parse(redirect.bytes()) { p throws(WireError) in
            let v = try ICMPv4MessageView(p)
            return (v.value(), v.gateway, v.isError, v.checksumIsValid, try v.quotedDatagram().quotedPorts?.source)
        }
        let f = try #require(r.success)
        #expect(f.0 == redirect)
        #expect(f.1 == IPv4Address(192, 0, 2, 254))
        #expect(f.2)
        #expect(f.3)
        #expect(f.4 == 0x04d2)
        let problem = hex("0c00 0000 0900 0000") + hex(quotedUDP)
        #expect(parse(problem) { p throws(WireError) in try ICMPv4MessageView(p).pointer }.success == 9)
        // Timestamp request: not an error, so it quotes nothing.
        let ts = ICMPv4Message.other(type: ICMPv4Type.timestampRequest, code: 0, restOfHeader: 0x00010002, body: [UInt8](repeating: 0, count: 12))
        #expect(ts.bytes().count == 20)
        #expect(parse(ts.bytes()) { p throws(WireError) in try ICMPv4MessageView(p).quotedDatagram() }.failure == .unsupported("ICMP type 13 quotes no datagram"))
        #expect(parse(ts.bytes()) { p throws(WireError) in try ICMPv4MessageView(p).value() }.success == ts)
    }

    @Test func nonstandardHeaderBytesFallBackToOtherSoBytesRoundTrip() throws {
        // Echo with code 1, unreachable with RFC 4884 length byte, time exceeded with a nonzero unused field.
        for text in ["0801 0000 1234 0001", "0303 0000 0011 0000" + quotedUDP, "0b00 0000 0000 0001" + quotedUDP] {
            var b = hex(text)
            let c = referenceChecksum(b)
            b[2] = UInt8(c >> 8); b[3] = UInt8(c & 0xFF)
            let v = try #require(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).value() }.success)
            guard case .other = v else { Issue.record("expected .other for \(text), got \(v)"); continue }
            #expect(v.bytes() == b)
        }
    }

    @Test func badChecksumIsDetected() {
        var b = hex(fragmentationNeeded)
        b[b.count - 1] ^= 0x40
        #expect(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).checksumIsValid }.success == false)
    }

    @Test func everyTruncationGivesTheExactError() {
        let b = hex(fragmentationNeeded)
        for n in 0..<b.count {
            let r = parse(Array(b[0..<n])) { p throws(WireError) in try ICMPv4MessageView(p).quotedDatagram().source }
            // Under 8: no ICMP header. Then the quoted header is cut (< 20), then fewer than 8 quoted payload bytes.
            #expect(r.failure == .truncated, "length \(n)")
        }
        #expect(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).quotedDatagram().source }.success == IPv4Address(192, 0, 2, 1))
    }

    @Test func quotedDatagramWithBadVersionOrHeaderLength() {
        var b = hex(portUnreachable)
        b[8] = 0x65
        #expect(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).quotedDatagram() }.failure == .badVersion)
        b[8] = 0x42
        #expect(parse(b) { p throws(WireError) in try ICMPv4MessageView(p).quotedDatagram() }.failure == .badHeaderLength)
    }

    @Test func randomMessagesRoundTrip() throws {
        var rng = SeededRandom(seed: 0x1C)
        for i in 0..<4000 {
            let body = rng.bytes(rng.int(0...64))
            let m: ICMPv4Message
            switch i % 5 {
            case 0: m = .echoRequest(identifier: rng.u16(), sequenceNumber: rng.u16(), data: body)
            case 1: m = .echoReply(identifier: rng.u16(), sequenceNumber: rng.u16(), data: body)
            case 2: m = .destinationUnreachable(code: ICMPv4UnreachableCode(rawValue: rng.u8()), nextHopMTU: rng.u16(), quoted: body)
            case 3: m = .timeExceeded(code: ICMPv4TimeExceededCode(rawValue: rng.u8()), quoted: body)
            default:
                var t = rng.u8()
                while [0, 3, 8, 11].contains(t) { t = rng.u8() }
                m = .other(type: t, code: rng.u8(), restOfHeader: rng.u32(), body: body)
            }
            let b = m.bytes()
            #expect(b.count == 8 + body.count)
            #expect(referenceSum(b) == 0xFFFF)
            let r = parse(b) { p throws(WireError) in
                let v = try ICMPv4MessageView(p)
                return (v.value(), v.checksumIsValid)
            }
            let (back, valid) = try #require(r.success)
            #expect(back == m)
            #expect(valid)
        }
    }
}

extension ICMPTests {
    @Test func echoReplyWrittenInPlaceFromARequestMatchesTheValue() throws {
        let request = hex(echoRequest)
        var out = [UInt8](repeating: 0, count: request.count)
        let r: Result<Int, WireError> = request.withUnsafeBytes { rq in
            out.withUnsafeMutableBytes { o in
                do throws(WireError) {
                    let v = try ICMPv4MessageView(rq)
                    let n = try ICMPv4Message.writeHeader(type: ICMPv4Type.echoReply, code: 0, restOfHeader: v.restOfHeader, into: o)
                    UnsafeMutableRawBufferPointer(rebasing: o[n...]).copyMemory(from: v.body)
                    ICMPv4Message.fillChecksum(message: o)
                    return .success(n)
                } catch { return .failure(error) }
            }
        }
        #expect(r.success == 8)
        #expect(out == ICMPv4Message.echoReply(identifier: 0x1234, sequenceNumber: 1, data: Array("abcdefgh".utf8)).bytes())
        var short = [UInt8](repeating: 0, count: 7)
        let e: Result<Int, WireError> = short.withUnsafeMutableBytes { o in
            do throws(WireError) { return .success(try ICMPv4Message.writeHeader(type: 0, code: 0, restOfHeader: 0, into: o)) }
            catch { return .failure(error) }
        }
        #expect(e.failure == .truncated)
    }
}
