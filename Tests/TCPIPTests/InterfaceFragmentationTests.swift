import Testing
@testable import TCPIP

@Suite struct InterfaceFragmentationTests {
    typealias F = IFX

    /// (offset, MF, payload length) of every IPv4 fragment in `frames` sent by `from`.
    func fragments(_ frames: [(Bool, [UInt8])], fromA: Bool) -> [(offset: Int, more: Bool, length: Int, id: UInt16)] {
        frames.compactMap { (a, f) in
            guard a == fromA, f.count > 14, f[12] == 0x08, f[13] == 0x00 else { return nil }
            return f.withUnsafeBytes { raw in
                guard let ip = try? IPv4HeaderView(validating: UnsafeRawBufferPointer(rebasing: raw[14...])) else { return nil }
                return (ip.fragmentOffset, ip.moreFragments, ip.payload.count, ip.identification)
            }
        }
    }

    @Test func largePingIsFragmentedOnSendAndReassembledOnReceive() throws {
        let a = try F.interface(ip: F.ipA, mac: F.macA)
        let b = try F.interface(ip: F.ipB, mac: F.macB, seed: 2)
        let pair = InterfacePair(a: a, b: b)
        var seen: [(Bool, [UInt8])] = []
        pair.observe = { seen.append(($0, $1)) }
        try a.sendPing(to: F.ipB, sequence: 1, size: 3000, now: .zero)
        pair.exchange()
        // 3008 ICMP bytes over a 1500 MTU: 1480 + 1480 + 48, offsets in 8-byte units.
        let out = fragments(seen, fromA: true)
        #expect(out.map(\.offset) == [0, 1480, 2960])
        #expect(out.map(\.more) == [true, true, false])
        #expect(out.map(\.length) == [1480, 1480, 48])
        #expect(Set(out.map(\.id)).count == 1)
        #expect(seen.filter { $0.0 }.allSatisfy { $0.1.count <= 1514 })
        // The reply is as large and comes back fragmented the same way.
        let back = fragments(seen, fromA: false)
        #expect(back.map(\.offset) == [0, 1480, 2960])
        #expect(b.counters.datagramsReassembled == 1)
        #expect(a.counters.datagramsReassembled == 1)
        let e = try #require(a.nextPingEvent())
        guard case .reply(let r) = e else { Issue.record("no reply: \(e)"); return }
        #expect(r.size == 3000 && r.dataMatches && r.sequence == 1)
        #expect(a.counters.fragmentsSent == 3 && b.counters.fragmentsSent == 3)
    }

    @Test func fragmentsFitASmallMTUAndDFDatagramsAreNotFragmented() throws {
        let i = try F.interface(mtu: 576)
        F.introduceK(to: i)
        try i.sendPing(to: F.ipK, sequence: 1, size: 1000, now: .zero)
        let out = F.drain(i)
        // 1008 ICMP bytes, 552 per fragment (576 - 20 rounded down to 8): 552 + 456.
        #expect(out.count == 2)
        #expect(out.map { $0.count } == [14 + 572, 14 + 20 + 456])
        // Reassembling our own fragments gives back the echo request whole.
        var r = IPv4Reassembly()
        var whole: [UInt8]? = nil
        for f in out {
            F.ipv4(of: f) { ip in
                let key = IPv4FragmentKey(source: ip.source, destination: ip.destination, protocolNumber: ip.protocol, identification: ip.identification)
                if case .complete(let p) = r.insert(key: key, offset: ip.fragmentOffset, moreFragments: ip.moreFragments, payload: ip.payload, now: .zero) { whole = p }
            }
        }
        let p = try #require(whole)
        #expect(p.count == 1008)
        #expect(Array(p[8...]) == (0..<1000).map { UInt8(truncatingIfNeeded: $0) })
        #expect(p.withUnsafeBytes { InternetChecksum.checksum($0) } == 0)
    }

    @Test func fragmentedEchoRequestFromPeerIsReassembledAndAnswered() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let icmp = F.echoRequest(seq: 3, data: (0..<2000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        // Two fragments, the second first.
        let first = Array(icmp[0..<1480]), second = Array(icmp[1480...])
        var h2 = IPv4Header(identification: 77, fragmentOffset: 1480, protocol: IPProtocol.icmp, source: F.ipK, destination: F.ipA, payloadLength: 0)
        var h1 = IPv4Header(identification: 77, moreFragments: true, protocol: IPProtocol.icmp, source: F.ipK, destination: F.ipA, payloadLength: 0)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try h2.bytes(payload: second)), now: .zero)
        #expect(F.drain(i).isEmpty)
        #expect(i.nextDeadline == .zero + .seconds(30))
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try h1.bytes(payload: first)), now: .zero)
        let out = F.drain(i)
        #expect(out.count == 2)
        #expect(i.counters.datagramsReassembled == 1)
        #expect(i.counters.echoRepliesSent == 1)
        h1.identification = 78; h2.identification = 78
        // A lone fragment times out and is counted.
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try h1.bytes(payload: first)), now: .zero)
        #expect(i.nextDeadline == .zero + .seconds(30))
        #expect(F.drain(i, now: .zero + .seconds(30)).isEmpty)
        #expect(i.reassemblyDrops[.timedOut] == 1)
        #expect(i.counters.drops.fragmentDropped == 1)
        #expect(i.nextDeadline == .zero + .seconds(60))   // only K's ARP entry lifetime left
    }
}
