import Testing
import TCPIP

@Suite struct ARPTests {
    // RFC 826 layout: ar$hrd ar$pro ar$hln ar$pln ar$op ar$sha ar$spa ar$tha ar$tpa
    let request = "0001 0800 06 04 0001 020000000001 c0000201 000000000000 c0000202"
    let reply   = "0001 0800 06 04 0002 020000000002 c0000202 020000000001 c0000201"

    let macA = MACAddress(2, 0, 0, 0, 0, 1)
    let macB = MACAddress(2, 0, 0, 0, 0, 2)
    let ipA = IPv4Address(192, 0, 2, 1)
    let ipB = IPv4Address(192, 0, 2, 2)

    @Test func requestParsesToItsFields() throws {
        let v = try #require(parse(hex(request)) { p throws(WireError) in try ARPPacketView(p).value() }.success)
        #expect(v == ARPPacket(operation: .request, senderHardwareAddress: macA, senderProtocolAddress: ipA,
                               targetHardwareAddress: .zero, targetProtocolAddress: ipB))
    }

    @Test func requestAndReplyEmitExactBytes() {
        let q = ARPPacket.request(from: macA, ip: ipA, asking: ipB)
        #expect(q.bytes() == hex(request))
        #expect(q.reply(with: macB).bytes() == hex(reply))
        #expect(q.reply(with: macB).operation == .reply)
    }

    @Test func ethernetPaddingAfterThePacketIsIgnored() throws {
        let padded = hex(request) + [UInt8](repeating: 0xAA, count: 18)
        let r = parse(padded) { p throws(WireError) in
            let v = try ARPPacketView(p)
            return (v.bytes.count, v.targetProtocolAddress)
        }
        let (count, tpa) = try #require(r.success)
        #expect(count == 28)
        #expect(tpa == ipB)
    }

    @Test func everyTruncationIsTruncated() {
        let b = hex(request)
        for n in 0..<28 {
            #expect(parse(Array(b[0..<n])) { p throws(WireError) in try ARPPacketView(p).operation }.failure == .truncated, "length \(n)")
        }
    }

    @Test func otherHardwareProtocolLengthsOrOperationsAreUnsupported() {
        let cases: [(String, WireError)] = [
            ("0006 0800 06 04 0001", .unsupported("ARP hardware type 6")),
            ("0001 86dd 06 04 0001", .unsupported("ARP protocol type 34525")),
            ("0001 0800 08 04 0001", .unsupported("ARP address lengths 8/4")),
            ("0001 0800 06 10 0001", .unsupported("ARP address lengths 6/16")),
            ("0001 0800 06 04 0003", .unsupported("ARP operation 3")),
            ("0001 0800 06 04 0000", .unsupported("ARP operation 0")),
        ]
        for (head, err) in cases {
            let b = hex(head) + [UInt8](repeating: 0, count: 20)
            #expect(parse(b) { p throws(WireError) in try ARPPacketView(p).operation }.failure == err)
        }
    }

    @Test func randomPacketsRoundTrip() throws {
        var rng = SeededRandom(seed: 0xA4)
        for _ in 0..<2500 {
            let v = ARPPacket(operation: rng.bool() ? .request : .reply,
                              senderHardwareAddress: rng.mac(), senderProtocolAddress: rng.ipv4(),
                              targetHardwareAddress: rng.mac(), targetProtocolAddress: rng.ipv4())
            let b = v.bytes()
            #expect(b.count == 28)
            #expect(parse(b) { p throws(WireError) in try ARPPacketView(p).value() }.success == v)
        }
    }
}
