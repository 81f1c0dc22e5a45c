import Testing
@testable import TCPIP

@Suite struct InterfaceTCPTests {
    typealias F = IFX

    @Test func handshakeAndHundredKilobytesOverTwoEthernetInterfaces() throws {
        let server = try F.interface(ip: F.ipA, mac: F.macA, gratuitous: true, seed: 11)
        let client = try F.interface(ip: F.ipB, mac: F.macB, gratuitous: true, seed: 12)
        let pair = InterfacePair(a: server, b: client)
        var tcpFrames = 0, arpFrames = 0, maxFrame = 0
        pair.observe = { _, f in
            maxFrame = max(maxFrame, f.count)
            if f[12] == 0x08 && f[13] == 0x06 { arpFrames += 1 }
            if f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == IPProtocol.tcp {
                tcpFrames += 1
                #expect(f[14 + 6] & 0x40 != 0)   // DF on every TCP segment
            }
        }
        try server.host.listen(port: 80)
        let c = try client.host.connect(to: F.ipA, port: 80, now: pair.now)
        #expect(pair.run(until: { server.host.accept(port: 80) != nil || server.host.connections.contains { $0.state == .established } }))
        let cc = try #require(client.host.connection(c))
        #expect(cc.state == .established)
        let sconn = try #require(server.host.connections.first)
        #expect(sconn.state == .established)
        #expect(arpFrames >= 2)   // two announcements plus the client's resolution of the server
        #expect(client.counters.arpRequestsSent >= 2)

        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        var written = 0
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let sh = server.host.table.handle(of: server.host.table.byTuple[sconn.tuple]!)
        let done = pair.run(until: {
            if written < payload.count {
                written += payload[written...].withUnsafeBytes { client.host.write(c, $0) }
            }
            let n = buf.withUnsafeMutableBytes { server.host.read(sh, into: $0) }
            received.append(contentsOf: buf[0..<n])
            return received.count >= payload.count
        }, timeLimit: .seconds(60))
        #expect(done)
        #expect(received == payload)
        #expect(maxFrame <= 1514)
        #expect(tcpFrames > 70)     // at least 100 000 / 1448 data segments
        #expect(server.counters.drops.total == 0 && client.counters.drops.total == 0)
        #expect(server.host.counters.drops.total == 0 && client.host.counters.drops.total == 0)
    }

    @Test func tcpOverTunModeNeedsNoARP() throws {
        let a = try F.interface(ip: F.ipA, mac: nil, seed: 3)
        let b = try F.interface(ip: F.ipB, mac: nil, seed: 4)
        let pair = InterfacePair(a: a, b: b)
        var firstBytes: [UInt8] = []
        pair.observe = { _, f in firstBytes.append(f[0]) }
        try a.host.listen(port: 7)
        let c = try b.host.connect(to: F.ipA, port: 7, now: .zero)
        #expect(pair.run(until: { b.host.connection(c)?.state == .established }))
        #expect(firstBytes.count >= 2 && firstBytes.allSatisfy { $0 == 0x45 })
        #expect(a.counters.arpRequestsSent == 0)
    }

    @Test func synToClosedPortOverEthernetGetsRST() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let syn = try TCPHeader(sourcePort: 40000, destinationPort: 81, sequenceNumber: SequenceNumber(1000), flags: .syn,
                                window: 65535).segmentBytes(source: F.ipK, destination: F.ipA)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.tcp, syn)), now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        #expect(Array(out[0][0..<14]) == bytes(fromHex: "020000000001 02000000000a 0800")!)
        try F.ipv4(of: out[0]) { ip in
            let t = try TCPHeaderView(ip.payload)
            #expect(t.flags == [.rst, .ack])
            #expect(t.acknowledgmentNumber == SequenceNumber(1001))
        }
    }
}

@Suite struct InterfaceConnectTests {
    @Test func connectWithoutRouteIsRefusedAtOnceAndARPFailureFailsTheConnect() throws {
        let i = try IFX.interface()
        #expect(throws: InterfaceError.noRoute) { try i.connect(to: IPv4Address(198, 51, 100, 1), port: 80, now: .zero) }
        #expect(throws: InterfaceError.host(.invalidDestination)) { try i.connect(to: IFX.ipK, port: 0, now: .zero) }
        // On-link but nobody answers ARP: after three requests the connect fails with .unreachable.
        let h = try i.connect(to: IFX.ipK, port: 80, now: .zero)
        let c = try #require(i.host.connection(h))
        var now = Instant.zero
        var frames = 0
        for _ in 0..<10 {
            frames += IFX.drain(i, now: now).count
            guard let d = i.nextDeadline, c.state == .synSent else { break }
            now = d
        }
        #expect(c.state == .closed)
        var last: TCPEvent?
        while let e = c.nextEvent() { last = e }
        #expect(last == .closed(.unreachable))
        #expect(i.counters.arpRequestsSent == 3)
        // The SYN and its retransmission (RTO 1 s) waited for ARP and were dropped.
        #expect(i.nextEvent() == .resolutionFailed(IFX.ipK, droppedPackets: 2))
        #expect(frames == 3)
    }
}
