import Testing
@testable import TCPIP

@Suite struct InterfaceUDPTests {
    typealias F = IFX

    @Test func datagramsFlowBetweenTwoInterfacesWithChecksums() throws {
        let a = try F.interface(ip: F.ipA, mac: F.macA)
        let b = try F.interface(ip: F.ipB, mac: F.macB, seed: 2)
        let pair = InterfacePair(a: a, b: b)
        try b.bindUDP(port: 53)
        let src = try a.bindUDP()
        #expect(src == 49152)
        var checked = 0
        pair.observe = { fromA, f in
            guard fromA, f.count > 14, f[12] == 0x08, f[13] == 0x00 else { return }
            f.withUnsafeBytes { raw in
                let ip = try! IPv4HeaderView(validating: UnsafeRawBufferPointer(rebasing: raw[14...]))
                let u = try! UDPHeaderView(ip.payload)
                #expect(u.hasChecksum && u.checksumIsValid(source: ip.source, destination: ip.destination))
                checked += 1
            }
        }
        try a.sendUDP(from: src, to: F.ipB, port: 53, payload: Array("query".utf8), now: .zero)
        try a.sendUDP(from: src, to: F.ipB, port: 53, payload: [], now: .zero)
        pair.exchange()
        #expect(checked == 2)
        let d1 = try #require(b.receiveUDP(port: 53))
        #expect(d1 == UDPDatagram(source: F.ipA, sourcePort: src, destination: F.ipB, destinationPort: 53, payload: Array("query".utf8)))
        #expect(b.receiveUDP(port: 53)?.payload == [])
        #expect(b.receiveUDP(port: 53) == nil)
    }

    @Test func receiveQueueIsBoundedAndBadChecksumDropped() throws {
        let i = try F.interface()
        try i.bindUDP(port: 7, queueLimit: 2)
        for n in 0..<3 {
            i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.udp, try F.udp(to: 7, [UInt8(n)]))), now: .zero)
        }
        var bad = try F.udp(to: 7, [1, 2, 3])
        bad[8] ^= 0xFF
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.udp, bad)), now: .zero)
        #expect(i.pendingUDP(port: 7) == 2)
        #expect(i.counters.drops.udpQueueFull == 1)
        #expect(i.counters.drops.badUDPChecksum == 1)
        #expect(i.receiveUDP(port: 7)?.payload == [0])
        #expect(i.receiveUDP(port: 7)?.payload == [1])
    }

    @Test func bindingRules() throws {
        let i = try F.interface()
        try i.bindUDP(port: 7)
        #expect(throws: InterfaceError.portInUse) { try i.bindUDP(port: 7) }
        #expect(throws: InterfaceError.notBound) { try i.sendUDP(from: 8, to: F.ipK, port: 9, payload: [1], now: .zero) }
        #expect(throws: InterfaceError.noRoute) { try i.sendUDP(from: 7, to: IPv4Address(198, 51, 100, 1), port: 9, payload: [1], now: .zero) }
        #expect(throws: InterfaceError.datagramTooLarge) {
            try i.sendUDP(from: 7, to: F.ipK, port: 9, payload: [UInt8](repeating: 0, count: 65508), now: .zero)
        }
        i.closeUDP(port: 7)
        #expect(!i.isUDPBound(port: 7))
    }
}
