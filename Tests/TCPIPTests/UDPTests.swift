import Testing
import TCPIP

@Suite struct UDPTests {
    let src = IPv4Address(192, 0, 2, 1)
    let dst = IPv4Address(198, 51, 100, 2)
    // 1234 -> 53, length 12, checksum over the pseudo-header, payload "abcd".
    let datagram = "04d2 0035 000c 49d1 61626364"

    @Test func knownDatagramParsesAndVerifies() throws {
        let r = parse(hex(datagram)) { p throws(WireError) in
            let v = try UDPHeaderView(p)
            return (v.value(), v.length, v.checksum, v.hasChecksum, Array(v.payload),
                    v.checksumIsValid(source: src, destination: dst), v.checksumIsValid(source: dst, destination: src))
        }
        let f = try #require(r.success)
        #expect(f.0 == UDPHeader(sourcePort: 1234, destinationPort: 53, payloadLength: 4))
        #expect(f.1 == 12)
        #expect(f.2 == 0x49d1)
        #expect(f.3)
        #expect(f.4 == Array("abcd".utf8))
        #expect(f.5)
        #expect(f.6)  // the pseudo-header sum does not depend on the order of the addresses
        #expect(parse(hex(datagram)) { p throws(WireError) in try UDPHeaderView(p).checksumIsValid(source: src, destination: IPv4Address(198, 51, 100, 3)) }.success == false)
    }

    @Test func valueEmitsExactBytes() throws {
        let h = UDPHeader(sourcePort: 1234, destinationPort: 53, payloadLength: 0)
        #expect(try h.bytes(payload: Array("abcd".utf8), source: src, destination: dst) == hex(datagram))
        #expect(try h.bytes(payload: Array("abcd".utf8), source: src, destination: dst, checksum: false) == hex("04d2 0035 000c 0000 61626364"))
    }

    @Test func zeroChecksumMeansNone() throws {
        let b = hex("04d2 0035 000c 0000 61626364")
        let r = parse(b) { p throws(WireError) in
            let v = try UDPHeaderView(p)
            return (v.hasChecksum, v.checksumIsValid(source: src, destination: dst))
        }
        #expect(r.success?.0 == false)
        #expect(r.success?.1 == true)
    }

    @Test func computedZeroChecksumIsSentAsAllOnes() throws {
        // Choose the two payload bytes so the data sums to 0xFFFF: the checksum computes to 0.
        let head: [UInt8] = hex("04d2 0035 000a 0000")
        let partial = referenceSum(pseudoHeader(source: src, destination: dst, protocol: IPProtocol.udp, length: 10) + head)
        let x = ~partial  // partial + x = 0xFFFF
        let payload = [UInt8(x >> 8), UInt8(x & 0xFF)]
        let b = try UDPHeader(sourcePort: 1234, destinationPort: 53, payloadLength: 0).bytes(payload: payload, source: src, destination: dst)
        #expect(b[6] == 0xFF)
        #expect(b[7] == 0xFF)
        #expect(parse(b) { p throws(WireError) in try UDPHeaderView(p).checksumIsValid(source: src, destination: dst) }.success == true)
    }

    @Test func lengthFieldIsCheckedAgainstTheBuffer() throws {
        func err(_ b: [UInt8]) -> WireError? { parse(b) { p throws(WireError) in try UDPHeaderView(p) }.failure }
        #expect(err(hex("04d2 0035 0007 0000 61626364")) == .badTotalLength)
        #expect(err(hex("04d2 0035 0000 0000 61626364")) == .badTotalLength)
        #expect(err(hex("04d2 0035 000d 0000 61626364")) == .badTotalLength)
        #expect(err(hex("04d2 0035 0008 0000 61626364")) == nil)
        // Bytes past the length field are not payload.
        let r = parse(hex("04d2 0035 000a 0000 61626364")) { p throws(WireError) in
            let v = try UDPHeaderView(p)
            return (v.bytes.count, Array(v.payload))
        }
        #expect(r.success?.0 == 10)
        #expect(r.success?.1 == [0x61, 0x62])
    }

    @Test func everyTruncationGivesTheExactError() {
        let b = hex(datagram)
        for n in 0..<b.count {
            let expected: WireError = n < 8 ? .truncated : .badTotalLength
            #expect(parse(Array(b[0..<n])) { p throws(WireError) in try UDPHeaderView(p).length }.failure == expected, "length \(n)")
        }
    }

    @Test func emitRejectsOversizeAndShortBuffers() {
        #expect(throws: WireError.badTotalLength) {
            try UDPHeader(sourcePort: 1, destinationPort: 2, payloadLength: 0).bytes(payload: [UInt8](repeating: 0, count: 65528), source: src, destination: dst)
        }
        var small = [UInt8](repeating: 0, count: 7)
        let r: Result<Int, WireError> = small.withUnsafeMutableBytes { b in
            do throws(WireError) { return .success(try UDPHeader(sourcePort: 1, destinationPort: 2, payloadLength: 0).emit(into: b)) }
            catch { return .failure(error) }
        }
        #expect(r.failure == .truncated)
    }

    @Test func randomDatagramsRoundTripAndVerify() throws {
        var rng = SeededRandom(seed: 0x11D)
        for _ in 0..<3000 {
            let s = rng.ipv4(), d = rng.ipv4()
            let payload = rng.bytes(rng.int(0...80))
            let h = UDPHeader(sourcePort: rng.u16(), destinationPort: rng.u16(), payloadLength: payload.count)
            let b = try h.bytes(payload: payload, source: s, destination: d)
            let cs = UInt16(b[6]) << 8 | UInt16(b[7])
            #expect(cs != 0)
            #expect(referenceSum(pseudoHeader(source: s, destination: d, protocol: 17, length: b.count) + b) == 0xFFFF)
            let r = parse(b + rng.bytes(rng.int(0...3))) { p throws(WireError) in
                let v = try UDPHeaderView(p)
                return (v.value(), Array(v.payload), v.checksumIsValid(source: s, destination: d))
            }
            let (back, body, valid) = try #require(r.success)
            #expect(back == h)
            #expect(body == payload)
            #expect(valid)
        }
    }
}
