import Testing
@testable import TCPIP

@Suite struct InterfaceRobustnessTests {
    typealias F = IFX

    /// Valid frames of every kind the interface reads, as seeds for mutation.
    func seeds() throws -> [[UInt8]] {
        let icmp = F.echoRequest(data: Array(0..<64))
        let big = F.echoRequest(seq: 2, data: (0..<2000).map { UInt8(truncatingIfNeeded: $0) })
        let frag1 = try IPv4Header(identification: 9, moreFragments: true, protocol: IPProtocol.icmp, source: F.ipK,
                                   destination: F.ipA, payloadLength: 0).bytes(payload: Array(big[0..<1480]))
        let frag2 = try IPv4Header(identification: 9, fragmentOffset: 1480, protocol: IPProtocol.icmp, source: F.ipK,
                                   destination: F.ipA, payloadLength: 0).bytes(payload: Array(big[1480...]))
        let syn = try TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn,
                                window: 1000, options: [.maximumSegmentSize(1460)]).segmentBytes(source: F.ipK, destination: F.ipA)
        let unreachable = ICMPv4Message.destinationUnreachable(code: .port, nextHopMTU: 0,
                                                               quoted: Array(try F.ip(IPProtocol.tcp, syn, from: F.ipA, to: F.ipK)[0..<28])).bytes()
        return [
            F.ethernet(to: .broadcast, type: EtherType.arp, ARPPacket.request(from: F.macK, ip: F.ipK, asking: F.ipA).bytes()),
            F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, icmp)),
            F.ethernet(to: F.macA, type: EtherType.ipv4, frag1),
            F.ethernet(to: F.macA, type: EtherType.ipv4, frag2),
            F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.udp, try F.udp(to: 53, [1, 2, 3]))),
            F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.udp, try F.udp(to: 9, [1, 2, 3]))),
            F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.tcp, syn)),
            F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, unreachable)),
        ]
    }

    @Test func mutatedFramesNeverCrashAndEveryQueueStaysBounded() throws {
        let i = try F.interface { $0.errorRate = .unlimited; $0.echoReplyRate = .unlimited }
        try i.bindUDP(port: 53, queueLimit: 16)
        try i.host.listen(port: 80)
        let base = try seeds()
        var rng = SeededRandom(seed: 0x1F00D)
        var buf = [UInt8](repeating: 0, count: 1514)
        var now = Instant.zero
        var sent = 0
        for round in 0..<20_000 {
            var f = base[Int(rng.next() % UInt64(base.count))]
            switch rng.next() % 4 {
            case 0: for _ in 0..<(1 + rng.next() % 4) { let k = Int(rng.next() % UInt64(f.count)); f[k] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1: f.removeLast(Int(rng.next() % UInt64(f.count)))
            case 2: f.append(contentsOf: (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            default: break
            }
            // Keep most frames addressed to us so they get past the link layer.
            if rng.next() % 8 != 0, f.count >= 6 { f.replaceSubrange(0..<6, with: F.macA.bytes) }
            i.receive(f, now: now)
            for _ in 0..<64 {
                let n = buf.withUnsafeMutableBytes { i.poll(now: now, into: $0) }
                if n == 0 { break }
                #expect(n <= 1514)
                sent += 1
            }
            #expect(i.queuedDatagrams <= i.configuration.transmitQueueLimit)
            #expect(i.reassembly.bytesHeld <= i.configuration.reassembly.maximumBytes)
            #expect(i.pendingUDP(port: 53) <= 16)
            if round % 1000 == 0 { now = now + .seconds(7) }
        }
        #expect(i.counters.framesIn == 20_000)
        #expect(sent > 0)
        #expect(i.counters.drops.total > 0)
    }

    @Test func pendingQueueOverflowWhileResolvingIsCounted() throws {
        let i = try F.interface { $0.arp.maximumPendingPerAddress = 2 }
        for s in 0..<5 { try i.sendPing(to: F.ipK, sequence: UInt16(s), size: 8, now: .zero) }
        let out = F.drain(i)
        #expect(out.count == 1)               // one ARP request
        #expect(i.counters.drops.arpUnresolved == 3)
        let reply = ARPPacket.request(from: F.macA, ip: F.ipA, asking: F.ipK).reply(with: F.macK).bytes()
        i.receive(F.ethernet(to: F.macA, type: EtherType.arp, reply), now: .zero)
        #expect(F.drain(i).count == 2)        // the two that waited
    }

    @Test func fragmentationNeededForAConnectionLowersPathMTUForOurDatagrams() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let h = try i.host.connect(to: F.ipK, port: 80, now: .zero)
        #expect(F.drain(i).count == 1)
        let c = try #require(i.host.connection(h))
        var seg = try TCPHeader(sourcePort: c.tuple.localPort, destinationPort: 80, sequenceNumber: c.initialSendSequence,
                                flags: .syn, window: 1000).segmentBytes(source: F.ipA, destination: F.ipK)
        seg = Array(seg[0..<8])
        var quoted = try IPv4Header(dontFragment: true, protocol: IPProtocol.tcp, source: F.ipA, destination: F.ipK,
                                    payloadLength: 8).bytes(payload: seg)
        quoted[2] = 0x05; quoted[3] = 0xDC     // it was 1500 bytes long
        let icmp = ICMPv4Message.destinationUnreachable(code: .fragmentationNeeded, nextHopMTU: 1000, quoted: quoted).bytes()
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, icmp)), now: .zero)
        #expect(i.pathMTU(to: F.ipK) == 1000)
        #expect(i.nextEvent() == .pathMTULowered(F.ipK, mtu: 1000))
        #expect(c.state == .synSent)
        try i.sendPing(to: F.ipK, sequence: 1, size: 1400, now: .zero)
        let out = F.drain(i)
        #expect(out.map(\.count) == [14 + 20 + 976, 14 + 20 + 432])
    }
}
