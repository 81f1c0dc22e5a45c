import Testing
@testable import TCPIP

@Suite struct InterfaceICMPTests {
    typealias F = IFX

    func frame(_ datagram: [UInt8]) -> [UInt8] { F.ethernet(to: F.macA, type: EtherType.ipv4, datagram) }

    @Test func echoRequestGetsExactReply() throws {
        let i = try F.interface(seed: 7)
        F.introduceK(to: i)
        let data: [UInt8] = Array(0..<56)
        let request = F.echoRequest(id: 0x1234, seq: 7, data: data)
        i.receive(frame(try F.ip(IPProtocol.icmp, request, ttl: 3)), now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        let f = out[0]
        #expect(f.count == 14 + 20 + 8 + 56)
        #expect(Array(f[0..<14]) == bytes(fromHex: "020000000001 02000000000a 0800")!)
        try F.ipv4(of: f) { ip in
            #expect(ip.headerLength == 20)
            #expect(ip.totalLength == 84)
            #expect(ip.dscp == 0 && ip.ecn == 0)
            #expect(!ip.dontFragment && !ip.moreFragments && ip.fragmentOffset == 0)
            #expect(ip.timeToLive == 64)
            #expect(ip.protocol == IPProtocol.icmp)
            #expect(ip.source == F.ipA && ip.destination == F.ipK)
            #expect(ip.checksumIsValid)
            let icmp = try ICMPv4MessageView(ip.payload)
            #expect(icmp.type == ICMPv4Type.echoReply && icmp.code == 0)
            #expect(icmp.identifier == 0x1234 && icmp.sequenceNumber == 7)
            #expect(Array(icmp.body) == data)
            // Only the type changed (8 -> 0): the checksum is the request's plus 0x0800 (RFC 1624).
            let requestChecksum = UInt16(request[2]) << 8 | UInt16(request[3])
            #expect(icmp.checksum == InternetChecksum.updated(requestChecksum, old: UInt16(0x0800), new: UInt16(0)))
            #expect(icmp.checksumIsValid)
        }
        #expect(i.counters.echoRepliesSent == 1)
    }

    @Test func badIPChecksumIsDroppedAndCounted() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        var d = try F.ip(IPProtocol.icmp, F.echoRequest(data: [1, 2]))
        d[10] ^= 0x01
        i.receive(frame(d), now: .zero)
        #expect(F.drain(i).isEmpty)
        #expect(i.counters.drops.badIPChecksum == 1)
        #expect(i.counters.drops.total == 1)
    }

    @Test func badICMPChecksumAndBroadcastEchoAreNotAnswered() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        var e = F.echoRequest(data: [1, 2])
        e[2] ^= 0xFF
        i.receive(frame(try F.ip(IPProtocol.icmp, e)), now: .zero)
        i.receive(F.ethernet(to: .broadcast, type: EtherType.ipv4,
                             try F.ip(IPProtocol.icmp, F.echoRequest(data: [1]), to: IPv4Address(192, 0, 2, 255))), now: .zero)
        i.receive(frame(try F.ip(IPProtocol.icmp, F.echoRequest(data: [1]), to: IPv4Address(192, 0, 2, 99))), now: .zero)
        #expect(F.drain(i).isEmpty)
        #expect(i.counters.drops.badICMPChecksum == 1)
        #expect(i.counters.drops.echoToBroadcast == 1)
        #expect(i.counters.drops.notForUs == 1)
    }

    @Test func udpToClosedPortGetsPortUnreachableQuotingHeaderAndEightBytes() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let datagram = try F.ip(IPProtocol.udp, try F.udp(from: 5000, to: 9, Array("hello, closed port".utf8)), id: 0x4242)
        i.receive(frame(datagram), now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        try F.ipv4(of: out[0]) { ip in
            #expect(ip.destination == F.ipK && ip.source == F.ipA && ip.protocol == IPProtocol.icmp)
            #expect(ip.totalLength == 20 + 8 + 28)
            let icmp = try ICMPv4MessageView(ip.payload)
            #expect(icmp.type == ICMPv4Type.destinationUnreachable)
            #expect(icmp.code == ICMPv4UnreachableCode.port.rawValue)
            #expect(icmp.restOfHeader == 0)
            #expect(icmp.checksumIsValid)
            #expect(Array(icmp.body) == Array(datagram[0..<28]))
        }
        #expect(i.counters.drops.udpNoSocket == 1)
        #expect(i.counters.icmpErrorsSent == 1)
    }

    @Test func unknownProtocolGetsProtocolUnreachable() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let datagram = try F.ip(253, Array(0..<40))
        i.receive(frame(datagram), now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        try F.ipv4(of: out[0]) { ip in
            let icmp = try ICMPv4MessageView(ip.payload)
            #expect(icmp.type == ICMPv4Type.destinationUnreachable)
            #expect(icmp.code == ICMPv4UnreachableCode.protocol.rawValue)
            #expect(Array(icmp.body) == Array(datagram[0..<28]))
            #expect(icmp.checksumIsValid)
        }
        #expect(i.counters.drops.unknownProtocol == 1)
    }

    @Test func noErrorAboutAnErrorOrABroadcast() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        // UDP to a closed port at the subnet broadcast: no port unreachable.
        let bcast = IPv4Address(192, 0, 2, 255)
        i.receive(F.ethernet(to: .broadcast, type: EtherType.ipv4,
                             try F.ip(IPProtocol.udp, try F.udp(to: 9, [1], dst: bcast), to: bcast)), now: .zero)
        #expect(F.drain(i).isEmpty)
        #expect(i.counters.drops.udpNoSocket == 1)
        #expect(i.counters.icmpErrorsSent == 0)
    }

    @Test func errorsAreRateLimitedByTokenBucket() throws {
        let i = try F.interface { $0.errorRate = RateLimit(perSecond: 2, burst: 3) }
        F.introduceK(to: i)
        let d = try F.ip(IPProtocol.udp, try F.udp(to: 9, [1]))
        for _ in 0..<5 { i.receive(frame(d), now: .zero) }
        #expect(F.drain(i).count == 3)
        #expect(i.counters.drops.errorRateLimited == 2)
        // Half a second later one token is back.
        let later = Instant(nanoseconds: 500_000_000)
        for _ in 0..<2 { i.receive(frame(d), now: later) }
        #expect(F.drain(i, now: later).count == 1)
        #expect(i.counters.drops.errorRateLimited == 3)
    }

    @Test func echoRepliesAreRateLimited() throws {
        let i = try F.interface { $0.echoReplyRate = RateLimit(perSecond: 10, burst: 2) }
        F.introduceK(to: i)
        for s in 0..<4 { i.receive(frame(try F.ip(IPProtocol.icmp, F.echoRequest(seq: UInt16(s), data: [1]))), now: .zero) }
        #expect(F.drain(i).count == 2)
        #expect(i.counters.drops.echoRateLimited == 2)
        let later = Instant(nanoseconds: 100_000_000)
        i.receive(frame(try F.ip(IPProtocol.icmp, F.echoRequest(seq: 9, data: [1]))), now: later)
        #expect(F.drain(i, now: later).count == 1)
    }

    @Test func tokenBucketRefillsAtItsRateUpToTheBurst() {
        var b = TokenBucket(RateLimit(perSecond: 4, burst: 2))
        let t = Instant(nanoseconds: 60_000_000_000)
        let times: [Int64] = [0, 0, 0, 249_999_999, 250_000_000, 250_000_000, t.nanoseconds, t.nanoseconds, t.nanoseconds]
        let got = times.map { b.take(now: Instant(nanoseconds: $0)) }
        // Burst of 2, then one token per 250 ms; a long idle time gives back the burst, no more.
        #expect(got == [true, true, false, false, true, false, true, true, false])
        var u = TokenBucket(.unlimited)
        let all = (0..<1000).map { _ in u.take(now: .zero) }
        #expect(all.allSatisfy { $0 })
    }

    @Test func pingOfOurOwnCollectsReplyWithRoundTrip() throws {
        let a = try F.interface(ip: F.ipA, mac: F.macA)
        let b = try F.interface(ip: F.ipB, mac: F.macB, seed: 2)
        let pair = InterfacePair(a: a, b: b)
        try a.sendPing(to: F.ipB, sequence: 1, size: 56, now: .zero)
        pair.exchange()
        pair.now = Instant(nanoseconds: 3_000_000)
        try a.sendPing(to: F.ipB, sequence: 2, size: 56, now: pair.now)
        pair.exchange()
        let r1 = try #require(a.nextPingEvent())
        let r2 = try #require(a.nextPingEvent())
        guard case .reply(let p1) = r1, case .reply(let p2) = r2 else { Issue.record("not replies"); return }
        #expect(p1.from == F.ipB && p1.sequence == 1 && p1.size == 56 && p1.dataMatches && p1.timeToLive == 64)
        #expect(p2.sequence == 2 && p2.roundTrip == .zero)
        #expect(a.counters.pingRepliesReceived == 2)
        #expect(b.counters.echoRepliesSent == 2)
    }
}

@Suite struct InterfaceICMPErrorVerdictTests {
    typealias F = IFX
    static let tuple = FourTuple(localAddress: F.ipA, localPort: 40000, remoteAddress: F.ipK, remotePort: 80)

    /// An ICMP error of `type`/`code` quoting a TCP segment from A (tuple above) with `seq`.
    func error(type: UInt8 = ICMPv4Type.destinationUnreachable, code: UInt8, mtu: UInt16 = 0, seq: UInt32,
               sourcePort: UInt16 = 40000, quotedTotalLength: Int = 1500) throws -> [UInt8] {
        var seg = try TCPHeader(sourcePort: sourcePort, destinationPort: 80, sequenceNumber: SequenceNumber(seq), flags: .syn,
                                window: 1000).segmentBytes(source: F.ipA, destination: F.ipK)
        seg = Array(seg[0..<8])
        var quoted = try IPv4Header(identification: 3, dontFragment: true, protocol: IPProtocol.tcp, source: F.ipA,
                                    destination: F.ipK, payloadLength: 8).bytes(payload: seg)
        quoted[2] = UInt8(quotedTotalLength >> 8); quoted[3] = UInt8(truncatingIfNeeded: quotedTotalLength)
        return ICMPv4Message.other(type: type, code: code, restOfHeader: UInt32(mtu), body: quoted).bytes()
    }

    func verdict(_ m: [UInt8], state: TCPState = .synSent, una: UInt32 = 1000, nxt: UInt32 = 1001) -> ICMPErrorVerdict {
        m.withUnsafeBytes { b in
            let v = try! ICMPv4MessageView(b)
            return Interface.icmpErrorVerdict(for: v, localAddress: F.ipA) { t in
                t == Self.tuple ? ICMPErrorTarget(state: state, sendUnacknowledged: SequenceNumber(una), sendNext: SequenceNumber(nxt)) : nil
            }
        }
    }

    @Test func inWindowUnreachableDuringConnectFailsIt() throws {
        #expect(verdict(try error(code: 1, seq: 1000)) == .failConnect(Self.tuple, .host))
        #expect(verdict(try error(code: 3, seq: 1000)) == .failConnect(Self.tuple, .port))
    }

    @Test func outOfWindowSequenceIsIgnored() throws {
        #expect(verdict(try error(code: 1, seq: 1001)) == .outOfWindow(Self.tuple, SequenceNumber(1001)))
        #expect(verdict(try error(code: 1, seq: 999)) == .outOfWindow(Self.tuple, SequenceNumber(999)))
        // Nothing outstanding: no sequence number is acceptable.
        #expect(verdict(try error(code: 1, seq: 5000), state: .established, una: 5000, nxt: 5000)
                == .outOfWindow(Self.tuple, SequenceNumber(5000)))
    }

    @Test func unknownTupleIsIgnored() throws {
        let other = FourTuple(localAddress: F.ipA, localPort: 40001, remoteAddress: F.ipK, remotePort: 80)
        #expect(verdict(try error(code: 1, seq: 1000, sourcePort: 40001)) == .unknownConnection(other))
    }

    @Test func synchronizedConnectionTakesUnreachableAsSoftError() throws {
        #expect(verdict(try error(code: 1, seq: 5500), state: .established, una: 5000, nxt: 6000) == .softError(Self.tuple))
        #expect(verdict(try error(type: ICMPv4Type.timeExceeded, code: 0, seq: 1000)) == .softError(Self.tuple))
    }

    @Test func fragmentationNeededLowersPathMTU() throws {
        #expect(verdict(try error(code: 4, mtu: 1400, seq: 5500), state: .established, una: 5000, nxt: 6000)
                == .lowerPathMTU(Self.tuple, mtu: 1400))
        // No next-hop MTU (old router): the plateau below the quoted length (RFC 1191).
        #expect(verdict(try error(code: 4, mtu: 0, seq: 5500), state: .established, una: 5000, nxt: 6000)
                == .lowerPathMTU(Self.tuple, mtu: 1492))
        // A "next-hop MTU" not below what we sent is bogus.
        #expect(verdict(try error(code: 4, mtu: 1500, seq: 5500), state: .established, una: 5000, nxt: 6000)
                == .softError(Self.tuple))
    }

    @Test func hostUnreachableFailsARealConnectAndForgedOneDoesNot() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let h = try i.host.connect(to: F.ipK, port: 80, now: .zero)
        let syn = F.drain(i)
        try #require(syn.count == 1)
        let conn = try #require(i.host.connection(h))
        let iss = conn.initialSendSequence.rawValue
        let port = conn.tuple.localPort
        // Forged: wrong sequence number. Ignored.
        let forged = try error(code: 1, seq: iss &+ 77, sourcePort: port)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, forged)), now: .zero)
        #expect(conn.state == .synSent)
        #expect(i.counters.drops.icmpErrorIgnored == 1)
        // Genuine: fails the connect with .unreachable and the connection leaves the table.
        let genuine = try error(code: 1, seq: iss, sourcePort: port)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, genuine)), now: .zero)
        #expect(conn.state == .closed)
        var last: TCPEvent?
        while let e = conn.nextEvent() { last = e }
        #expect(last == .closed(.unreachable))
        #expect(F.drain(i).isEmpty)
        #expect(i.host.connectionCount == 0)
        #expect(i.counters.icmpErrorsApplied == 1)
    }
}
