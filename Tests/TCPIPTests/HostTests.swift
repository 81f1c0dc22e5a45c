import Testing
@testable import TCPIP

/// Packets crafted by hand, as a peer at 192.0.2.9 would send them to the host at 192.0.2.1.
enum HostFixture {
    static let us = IPv4Address(192, 0, 2, 1)
    static let peer = IPv4Address(192, 0, 2, 9)

    static func packet(_ h: TCPHeader, payload: [UInt8] = [], from: IPv4Address = peer, to: IPv4Address = us,
                       ip: (inout IPv4Header) -> Void = { _ in }) throws -> [UInt8] {
        let seg = try h.segmentBytes(payload: payload, source: from, destination: to)
        var iph = IPv4Header(identification: 1, dontFragment: true, protocol: IPProtocol.tcp, source: from, destination: to,
                             payloadLength: seg.count)
        ip(&iph)
        return try iph.bytes(payload: seg)
    }

    static func syn(from port: UInt16 = 40000, to dport: UInt16 = 80, seq: UInt32 = 1000) throws -> [UInt8] {
        try packet(TCPHeader(sourcePort: port, destinationPort: dport, sequenceNumber: SequenceNumber(seq),
                             flags: .syn, window: 65535, options: [.maximumSegmentSize(1460)]))
    }

    /// Everything the host has to send now, each as (IPv4 header value, TCP header value, payload).
    static func drain(_ host: IPv4Host, now: Instant = .zero) throws -> [(ip: IPv4Header, tcp: TCPHeader, payload: [UInt8], raw: [UInt8])] {
        var out: [(ip: IPv4Header, tcp: TCPHeader, payload: [UInt8], raw: [UInt8])] = []
        var buf = [UInt8](repeating: 0, count: 1500)
        for _ in 0..<1000 {
            let n = buf.withUnsafeMutableBytes { host.poll(now: now, into: $0) }
            if n == 0 { break }
            let raw = Array(buf[0..<n])
            try raw.withUnsafeBytes { b in
                let ip = try IPv4HeaderView(validating: b)
                let tcp = try TCPHeaderView(ip.payload)
                #expect(tcp.checksumIsValid(source: ip.source, destination: ip.destination))
                out.append((try ip.value(), try tcp.value(), Array(tcp.payload), raw))
            }
        }
        return out
    }
}

@Suite struct HostTests {
    typealias F = HostFixture

    func host(seed: UInt64 = 1) -> IPv4Host { IPv4Host(address: F.us, seed: seed) }

    func receive(_ h: IPv4Host, _ p: [UInt8], now: Instant = .zero) { p.withUnsafeBytes { h.receive(packet: $0, now: now) } }

    @Test func synToClosedPortGetsResetAcknowledgingIt() throws {
        let h = host()
        receive(h, try F.syn(from: 40000, to: 81, seq: 1000))
        let out = try F.drain(h)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.rst, .ack])
        #expect(out[0].tcp.sequenceNumber == SequenceNumber(0))
        #expect(out[0].tcp.acknowledgmentNumber == SequenceNumber(1001))
        #expect(out[0].tcp.sourcePort == 81 && out[0].tcp.destinationPort == 40000)
        #expect(out[0].tcp.window == 0)
        #expect(out[0].payload.isEmpty)
        #expect(out[0].ip.source == F.us && out[0].ip.destination == F.peer)
        #expect(h.counters.drops.noListener == 1)
        #expect(h.counters.resetsSent == 1)
        #expect(h.connectionCount == 0)
    }

    @Test func ackToClosedPortGetsResetAtItsAckNumber() throws {
        let h = host()
        receive(h, try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 81, sequenceNumber: SequenceNumber(5),
                                         acknowledgmentNumber: SequenceNumber(777), flags: .ack, window: 100)))
        let out = try F.drain(h)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.rst])
        #expect(out[0].tcp.sequenceNumber == SequenceNumber(777))
    }

    @Test func resetToClosedPortIsNotAnswered() throws {
        let h = host()
        receive(h, try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 81, sequenceNumber: SequenceNumber(5), flags: .rst, window: 0)))
        #expect(try F.drain(h).isEmpty)
        #expect(h.counters.drops.noListener == 1)
        #expect(h.counters.resetsSent == 0)
    }

    @Test func badTCPChecksumIsCountedAndDropped() throws {
        let h = host()
        try h.listen(port: 80)
        var p = try F.syn()
        p[20 + 16] ^= 0x01   // TCP checksum field
        receive(h, p)
        #expect(h.counters.drops.badTCPChecksum == 1)
        #expect(h.counters.drops.total == 1)
        #expect(h.connectionCount == 0)
        #expect(try F.drain(h).isEmpty)
    }

    @Test func ipDropsAreCountedByReason() throws {
        let h = host()
        try h.listen(port: 80)
        var badIP = try F.syn(); badIP[8] ^= 0xFF                      // TTL changed, header checksum stale
        receive(h, badIP)
        receive(h, try F.syn().dropLast(0).prefix(19).map { $0 })      // truncated
        var v6 = try F.syn(); v6[0] = 0x65
        receive(h, v6)
        receive(h, try F.packet(TCPHeader(sourcePort: 1, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 1),
                                to: IPv4Address(192, 0, 2, 77)))
        receive(h, try F.packet(TCPHeader(sourcePort: 1, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 1),
                                ip: { $0.protocol = IPProtocol.udp }))
        receive(h, try F.packet(TCPHeader(sourcePort: 1, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 1),
                                ip: { $0.moreFragments = true }))
        receive(h, try F.packet(TCPHeader(sourcePort: 1, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 1),
                                from: IPv4Address(224, 0, 0, 1)))
        let d = h.counters.drops
        #expect(d.badIPChecksum == 1)
        #expect(d.malformed == 1)
        #expect(d.badVersion == 1)
        #expect(d.notForUs == 1)
        #expect(d.unsupportedProtocol == 1)
        #expect(d.fragment == 1)
        #expect(d.badSource == 1)
        #expect(d.total == 7)
        #expect(h.counters.packetsIn == 7)
        #expect(h.connectionCount == 0)
        #expect(try F.drain(h).isEmpty)
    }

    @Test func synToListenerSpawnsConnectionAndAnswersSynAck() throws {
        let h = host()
        h.initialSequenceNumber = { _, _ in SequenceNumber(2000) }
        try h.listen(port: 80)
        receive(h, try F.syn(from: 40000, to: 80, seq: 100))
        #expect(h.connectionCount == 1)
        #expect(h.listener(port: 80)?.pending == 1)
        #expect(h.accept(port: 80) == nil)   // still SYN-RECEIVED
        let out = try F.drain(h)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.syn, .ack])
        #expect(out[0].tcp.sequenceNumber == SequenceNumber(2000))
        #expect(out[0].tcp.acknowledgmentNumber == SequenceNumber(101))
        #expect(out[0].tcp.sourcePort == 80 && out[0].tcp.destinationPort == 40000)
        // IPv4 header as the host writes it.
        #expect(out[0].ip.dontFragment && out[0].ip.timeToLive == 64 && out[0].ip.protocol == IPProtocol.tcp)
        #expect(out[0].ip.totalLength == out[0].raw.count)
        // The handshake's ACK makes it acceptable.
        receive(h, try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(101),
                                         acknowledgmentNumber: SequenceNumber(2001), flags: .ack, window: 65535)))
        let accepted = try #require(h.accept(port: 80))
        #expect(h.connection(accepted)?.state == .established)
        #expect(h.listener(port: 80)?.pending == 0)
    }

    @Test func backlogBoundsSpawnedConnections() throws {
        let h = host()
        try h.listen(port: 80, backlog: 2)
        for port in UInt16(40000)..<40003 { receive(h, try F.syn(from: port)) }
        #expect(h.connectionCount == 2)
        #expect(h.counters.drops.backlogFull == 1)
        #expect(h.counters.connectionsSpawned == 2)
    }

    @Test func listeningTwiceOnAPortIsRefused() throws {
        let h = host()
        try h.listen(port: 80)
        #expect(throws: HostError.portInUse) { try h.listen(port: 80) }
        #expect(throws: HostError.invalidDestination) { _ = try h.connect(to: F.us, port: 80, now: .zero) }
        #expect(throws: HostError.invalidDestination) { _ = try h.connect(to: F.peer, port: 0, now: .zero) }
    }

    @Test func ephemeralPortsAreDistinctInRangeAndSeeded() throws {
        func ports(seed: UInt64) throws -> [UInt16] {
            let h = host(seed: seed)
            return try (0..<50).map { _ in
                let c = try h.connect(to: F.peer, port: 80, now: .zero)
                return h.connection(c)!.tuple.localPort
            }
        }
        let p = try ports(seed: 5)
        #expect(Set(p).count == 50)
        #expect(p.allSatisfy { (49152...65535).contains($0) })
        #expect(try ports(seed: 5) == p)
        #expect(try ports(seed: 6) != p)
    }

    @Test func ephemeralPortsRunOutCleanly() throws {
        let h = IPv4Host(address: F.us, ephemeralPorts: 50000...50002, seed: 1)
        for _ in 0..<3 { _ = try h.connect(to: F.peer, port: 80, now: .zero) }
        #expect(throws: HostError.noEphemeralPort) { _ = try h.connect(to: F.peer, port: 80, now: .zero) }
        _ = try h.connect(to: F.peer, port: 81, now: .zero)   // another destination: free again
    }

    @Test func connectSendsSynWithFreshIdentification() throws {
        let h = host()
        h.initialSequenceNumber = { _, _ in SequenceNumber(100) }
        _ = try h.connect(to: F.peer, port: 80, now: .zero)
        _ = try h.connect(to: F.peer, port: 81, now: .zero)
        let out = try F.drain(h)
        try #require(out.count == 2)
        #expect(out.allSatisfy { $0.tcp.flags == [.syn] && $0.tcp.sequenceNumber == SequenceNumber(100) })
        #expect(out[1].ip.identification == out[0].ip.identification &+ 1)
        #expect(h.nextDeadline != nil)   // SYN retransmission timer
    }

    @Test func finishedConnectionsLeaveTheTableAndTheirHandlesGoStale() throws {
        let h = host()
        try h.listen(port: 80)
        var live: [ConnectionHandle] = []
        var gone: [ConnectionHandle] = []
        for round in 0..<5 {
            for _ in 0..<4 { live.append(try h.connect(to: F.peer, port: 80, now: .zero)) }
            // Abort half of them: a RST goes out, then they are finished and removed.
            for _ in 0..<2 { let x = live.removeFirst(); h.abort(x); gone.append(x) }
            let out = try F.drain(h)
            #expect(out.filter { $0.tcp.flags.contains(.rst) }.count == 0, "round \(round)")  // SYN-SENT aborts send nothing
            #expect(h.connectionCount == live.count)
        }
        #expect(gone.allSatisfy { h.connection($0) == nil })
        let objects = live.compactMap { h.connection($0) }
        #expect(objects.count == live.count)
        #expect(Set(objects.map { ObjectIdentifier($0) }).count == live.count)
        #expect(Set(objects.map(\.tuple)).count == live.count)
        #expect(h.counters.connectionsRemoved == gone.count)
    }

    @Test func peerResetRemovesAnEstablishedConnectionOnReceipt() throws {
        let h = host()
        h.initialSequenceNumber = { _, _ in SequenceNumber(2000) }
        try h.listen(port: 80)
        receive(h, try F.syn(from: 40000, to: 80, seq: 100))
        _ = try F.drain(h)
        receive(h, try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(101),
                                         acknowledgmentNumber: SequenceNumber(2001), flags: .ack, window: 65535)))
        let c = try #require(h.accept(port: 80))
        let conn = try #require(h.connection(c))
        receive(h, try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(101),
                                         flags: .rst, window: 0)))
        #expect(conn.state == .closed)
        #expect(h.connectionCount == 0)
        #expect(h.connection(c) == nil)
        #expect(try F.drain(h).isEmpty)
        // The slot is reused by the next connection without confusion.
        receive(h, try F.syn(from: 40001, to: 80, seq: 500))
        #expect(h.connectionCount == 1)
        let out = try F.drain(h)
        #expect(out.count == 1 && out[0].tcp.acknowledgmentNumber == SequenceNumber(501))
    }
}
