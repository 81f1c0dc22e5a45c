import Testing
@testable import TCPIP

/// ICMP errors reaching what they are about, through the `Interface`: a connect that has
/// no route or gets an unreachable, a UDP socket whose datagram bounced, a connection whose
/// path MTU shrank (RFC 1191) — each checked against what we sent before it acts (RFC 5927).
@Suite struct InterfaceICMPErrorDeliveryTests {
    typealias F = IFX

    /// An ICMP destination unreachable from `from` to A quoting the first 28 bytes of
    /// `packet` (an IPv4 packet A sent), as a bare IP packet (TUN link).
    func unreachable(_ code: ICMPv4UnreachableCode, mtu: UInt16 = 0, quoting packet: [UInt8],
                     from: IPv4Address = F.ipK, to: IPv4Address = F.ipA) throws -> [UInt8] {
        let quote = Array(packet.prefix(28))
        let m = ICMPv4Message.destinationUnreachable(code: code, nextHopMTU: mtu, quoted: quote).bytes()
        return try F.ip(IPProtocol.icmp, m, from: from, to: to)
    }

    /// Our SYN to K:80 on a TUN-style interface; returns the interface, the handle and the SYN packet.
    func connecting() throws -> (Interface, ConnectionHandle, [UInt8]) {
        let i = try F.interface(mac: nil)
        let h = try i.connect(to: F.ipK, port: 80, now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        return (i, h, out[0])
    }

    @Test func connectWithoutARouteFailsAtOnceAndSendsNothing() throws {
        let i = try F.interface(mac: nil)  // 192.0.2.2/24, no gateway
        #expect(throws: InterfaceError.noRoute) { try i.connect(to: IPv4Address(198, 51, 100, 9), port: 80, now: .zero) }
        #expect(i.host.connectionCount == 0)
        #expect(i.host.counters.connectionsOpened == 0)
        #expect(F.drain(i).isEmpty)
        // With a gateway the same destination goes out (to the gateway's link address, here none).
        let g = try F.interface(mac: nil) { $0.route.gateway = F.ipK }
        _ = try g.connect(to: IPv4Address(198, 51, 100, 9), port: 80, now: .zero)
        #expect(F.drain(g).count == 1)
    }

    @Test func portUnreachableDuringConnectRefusesIt() throws {
        let (i, h, syn) = try connecting()
        let conn = try #require(i.host.connection(h))
        i.receive(try unreachable(.port, quoting: syn), now: .zero)
        #expect(conn.state == .closed)
        var last: TCPEvent?
        while let e = conn.nextEvent() { last = e }
        #expect(last == .closed(.refused))
        #expect(i.counters.icmpErrorsApplied == 1)
        #expect(F.drain(i).isEmpty)  // no RST for a connection the peer never knew
        #expect(i.host.connectionCount == 0)
    }

    @Test func networkUnreachableDuringConnectFailsItAsUnreachable() throws {
        let (i, h, syn) = try connecting()
        let conn = try #require(i.host.connection(h))
        i.receive(try unreachable(.network, quoting: syn), now: .zero)
        var last: TCPEvent?
        while let e = conn.nextEvent() { last = e }
        #expect(last == .closed(.unreachable))
    }

    @Test func portUnreachableQuotingAnotherSequenceNumberIsIgnored() throws {
        let (i, h, syn) = try connecting()
        var forged = syn
        forged[24] ^= 0x55  // the quoted sequence number (IP 20 + TCP 4)
        i.receive(try unreachable(.port, quoting: forged), now: .zero)
        #expect(i.host.connection(h)?.state == .synSent)
        #expect(i.counters.drops.icmpErrorIgnored == 1)
        #expect(i.counters.icmpErrorsApplied == 0)
    }

    // MARK: UDP

    @Test func portUnreachableForASentDatagramIsKeptForTheSocketOnce() throws {
        let i = try F.interface(mac: nil)
        let port = try i.bindUDP(port: 5000)
        try i.sendUDP(from: port, to: F.ipK, port: 9, payload: [1, 2, 3], now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        i.receive(try unreachable(.port, quoting: out[0]), now: .zero)
        #expect(i.counters.icmpErrorsApplied == 1)
        #expect(i.takeUDPError(port: 5000) == UDPUnreachable(destination: F.ipK, destinationPort: 9, code: .port, reporter: F.ipK))
        #expect(i.takeUDPError(port: 5000) == nil)
        #expect(i.pendingUDP(port: 5000) == 0)
    }

    @Test func udpErrorAboutADestinationNeverSentToOrAnUnboundPortIsIgnored() throws {
        let i = try F.interface(mac: nil)
        try i.bindUDP(port: 5000)
        try i.sendUDP(from: 5000, to: F.ipK, port: 9, payload: [1], now: .zero)
        let sent = try #require(F.drain(i).first)
        // Same datagram but quoting destination port 10: never sent there.
        var otherPort = sent
        otherPort[23] = 10
        i.receive(try unreachable(.port, quoting: otherPort), now: .zero)
        // Quoting source port 5001: nobody bound it.
        var otherSource = sent
        otherSource[21] = 0x89  // 5001 = 0x1389
        i.receive(try unreachable(.port, quoting: otherSource), now: .zero)
        #expect(i.takeUDPError(port: 5000) == nil)
        #expect(i.counters.drops.icmpErrorIgnored == 2)
        #expect(i.counters.icmpErrorsApplied == 0)
    }

    @Test func aFullSocketQueueDropsAndCountsPerPort() throws {
        let i = try F.interface(mac: nil)
        try i.bindUDP(port: 6000, queueLimit: 2)
        for k in 0..<3 { i.receive(try F.ip(IPProtocol.udp, try F.udp(to: 6000, [UInt8(k)])), now: .zero) }
        #expect(i.pendingUDP(port: 6000) == 2)
        #expect(i.droppedUDP(port: 6000) == 1)
        #expect(i.counters.drops.udpQueueFull == 1)
        #expect(i.receiveUDP(port: 6000)?.payload == [0])
        #expect(i.receiveUDP(port: 6000)?.payload == [1])
        #expect(i.receiveUDP(port: 6000) == nil)
    }

    // MARK: path MTU (RFC 1191)

    @Test func fragmentationNeededShrinksTheConnectionsSegmentsAndItResendsTheLostOne() throws {
        let a = try F.interface(ip: F.ipA, mac: nil, seed: 3)
        let b = try F.interface(ip: F.ipB, mac: nil, seed: 4)
        let pair = InterfacePair(a: a, b: b)
        try a.host.listen(port: 7)
        let c = try b.connect(to: F.ipA, port: 7, now: .zero)
        #expect(pair.run(until: { b.host.connection(c)?.state == .established && a.host.accept(port: 7) != nil }))
        let sconn = try #require(a.host.connections.first)
        let sh = a.host.table.handle(of: a.host.table.byTuple[sconn.tuple]!)
        let conn = try #require(b.host.connection(c))
        let una = conn.sendUnacknowledged.rawValue

        let data = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(b.host.write(c, data) == 3000)
        // Default options (timestamps): 1448-byte payloads in 1500-byte packets, DF set;
        // the 104-byte tail leaves with them (Minshall's Nagle: no short segment outstanding;
        // classic Nagle held it). None arrives: a router answers for the first, the others
        // are lost too.
        let lost = F.drain(b, now: pair.now)
        #expect(lost.map(\.count) == [1500, 1500, 20 + 32 + 104])
        #expect(lost.allSatisfy { $0[6] & 0x40 != 0 })

        // A forged error (sequence number not in flight) changes nothing.
        var forged = lost[0]
        forged[24] ^= 0x80
        b.receive(try unreachable(.fragmentationNeeded, mtu: 1000, quoting: forged, from: F.ipK, to: F.ipB), now: pair.now)
        #expect(b.counters.drops.icmpErrorIgnored == 1)
        #expect(conn.maximumSegmentSizeToPeer == 1460)
        #expect(F.drain(b, now: pair.now).isEmpty)

        b.receive(try unreachable(.fragmentationNeeded, mtu: 1000, quoting: lost[0], from: F.ipK, to: F.ipB), now: pair.now)
        #expect(b.pathMTU(to: F.ipA) == 1000)
        #expect(b.nextEvent() == .pathMTULowered(F.ipA, mtu: 1000))
        #expect(conn.maximumSegmentSizeToPeer == 960)
        // At once, from SND.UNA: 948-byte payloads (960 less 12 of timestamps) in 1000-byte
        // packets; the fourth carries the last 52 bytes of the second segment and the 104 of the tail.
        let resent = F.drain(b, now: pair.now)
        try #require(resent.map(\.count) == [1000, 1000, 1000, 20 + 32 + 156])
        #expect(resent.allSatisfy { $0[6] & 0x40 != 0 })
        try F.ipv4(of: resent[0], link: 0) { ip in
            let t = try TCPHeaderView(ip.payload)
            #expect(t.sequenceNumber.rawValue == una)
            #expect(t.payload.count == 948)
        }
        for f in resent { a.receive(f, now: pair.now) }
        // Everything arrives, byte for byte, and no packet to A exceeds the new path MTU.
        var largest = 0
        pair.observe = { fromA, f in if !fromA { largest = max(largest, f.count) } }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        #expect(pair.run(until: {
            let n = buf.withUnsafeMutableBytes { a.host.read(sh, into: $0) }
            received.append(contentsOf: buf[0..<n])
            return received.count >= data.count
        }, timeLimit: .seconds(30)))
        #expect(received == data)
        #expect(largest <= 1000)
        #expect(conn.counters.timeouts == 0)

        // A later connect to the same destination offers MSS 960 in its SYN.
        let c2 = try b.connect(to: F.ipA, port: 7, now: pair.now)
        let syn = try #require(F.drain(b, now: pair.now).first)
        try F.ipv4(of: syn, link: 0) { ip in
            let t = try TCPHeaderView(ip.payload)
            #expect(t.flags == .syn)
            #expect(try t.optionSet().maximumSegmentSize == 960)
        }
        _ = c2
    }
}
