import Testing
@testable import TCPIP

/// RFC 9293 §3.6.1 / RFC 6191: a SYN for a four-tuple the host holds in TIME-WAIT.
///
/// The host under test is the server (192.0.2.1:80, default configuration) and closes
/// first, so it is the side that holds TIME-WAIT; the peer (192.0.2.9:40000) then
/// reconnects from the same port. Numbers: peer ISN 100, our ISS 2000; after the peer's
/// FIN our RCV.NXT is 102. The default receive buffer (256 KiB) gives a window shift of
/// 3 (262144 >> 3 = 32768 ≤ 65535), but only when the peer offers window scaling; the
/// peer here does not, so a SYN+ACK offers min(262144, 65535) = 65535, and the right edge
/// then stays at 101 + 65535: once the peer's FIN took one sequence number, TIME-WAIT's
/// ACKs offer 65534 (receiver SWS avoidance, RFC 9293 §3.8.6.2.2, grows a window only by
/// at least one MSS).
@Suite struct HostTimeWaitTests {
    typealias F = HostFixture

    static let ourISS: UInt32 = 2000
    static let newISS: UInt32 = 9000
    /// RCV.NXT in TIME-WAIT: peer ISN 100 + SYN + FIN.
    static let timeWaitRcvNxt: UInt32 = 102

    func receive(_ h: IPv4Host, _ p: [UInt8], now: Instant) { p.withUnsafeBytes { h.receive(packet: $0, now: now) } }

    func segment(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, options: [TCPOption] = []) throws -> [UInt8] {
        try F.packet(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(seq),
                               acknowledgmentNumber: SequenceNumber(ack), flags: flags, window: 65535, options: options))
    }

    /// The host's timestamp-clock offset, fixed here (by default a keyed hash of the four-tuple).
    static let tsOffset: UInt32 = 0x5EED_0000
    /// Our TSval at `now` (the clock ticks in milliseconds).
    static func tsVal(at now: Instant) -> UInt32 { now.milliseconds &+ tsOffset }

    /// Handshake, our close, the peer's ACK and FIN: the server side ends in TIME-WAIT.
    /// `ts` gives the peer's TSval for each of its segments (nil: no timestamps at all).
    func serverInTimeWait(ts: ((Int) -> UInt32)? = nil) throws -> (host: IPv4Host, old: TCPConnection, now: Instant) {
        let h = IPv4Host(address: F.us, seed: 1)
        h.initialSequenceNumber = { _, _ in SequenceNumber(Self.ourISS) }
        h.timestampOffset = { _ in Self.tsOffset }
        try h.listen(port: 80)
        var now = Instant.zero
        var step = 0
        func opts(_ extra: [TCPOption] = []) -> [TCPOption] {
            guard let ts else { return extra }
            defer { step += 1 }
            return extra + [.timestamps(TCPTimestamps(value: ts(step), echoReply: Self.tsVal(at: now)))]
        }
        receive(h, try segment(.syn, seq: 100, options: opts([.maximumSegmentSize(1460)])), now: now)
        let synAck = try F.drain(h, now: now)
        #expect(synAck.count == 1 && synAck[0].tcp.flags == [.syn, .ack])
        now = now + .milliseconds(10)
        receive(h, try segment(.ack, seq: 101, ack: 2001, options: opts()), now: now)
        let handle = try #require(h.accept(port: 80))
        let old = try #require(h.connection(handle))
        h.close(handle)
        let fin = try F.drain(h, now: now)
        try #require(fin.count == 1)
        #expect(fin[0].tcp.flags == [.fin, .ack] && fin[0].tcp.sequenceNumber.rawValue == 2001)
        now = now + .milliseconds(10)
        receive(h, try segment(.ack, seq: 101, ack: 2002, options: opts()), now: now)
        #expect(old.state == .finWait2)
        receive(h, try segment([.fin, .ack], seq: 101, ack: 2002, options: opts()), now: now)
        let lastACK = try F.drain(h, now: now)
        try #require(lastACK.count == 1)
        #expect(lastACK[0].tcp.flags == [.ack])
        #expect(lastACK[0].tcp.sequenceNumber.rawValue == 2002 && lastACK[0].tcp.acknowledgmentNumber.rawValue == Self.timeWaitRcvNxt)
        #expect(lastACK[0].tcp.window == 65534)
        #expect(old.state == .timeWait)
        _ = events(old)
        // Past the invalid-segment ACK rate limit (500 ms) of anything before.
        return (h, old, now + .seconds(1))
    }

    @Test func newSYNWithHigherISNReplacesTheTimeWaitConnection() throws {
        var (h, old, now) = try serverInTimeWait()
        h.initialSequenceNumber = { _, _ in SequenceNumber(Self.newISS) }
        receive(h, try segment(.syn, seq: 5000, options: [.maximumSegmentSize(1460)]), now: now)
        // The old incarnation ended normally and left the table; a new one took the tuple.
        #expect(old.state == .closed)
        #expect(events(old) == [.stateChanged(from: .timeWait, to: .closed), .closed(nil)])
        #expect(h.counters.timeWaitReused == 1)
        #expect(h.counters.connectionsSpawned == 2)
        #expect(h.counters.connectionsRemoved == 1)
        #expect(h.connectionCount == 1)
        #expect(h.listener(port: 80)?.pending == 1)
        let out = try F.drain(h, now: now)
        try #require(out.count == 1)
        let s = out[0].tcp
        #expect(s.flags == [.syn, .ack])
        #expect(s.sequenceNumber.rawValue == Self.newISS && s.acknowledgmentNumber.rawValue == 5001)
        #expect(s.sourcePort == 80 && s.destinationPort == 40000)
        // A SYN's window is never scaled: min(256 KiB, 65535). The peer offered MSS only,
        // so only our MSS (1460, from the 1500-byte MTU) comes back.
        #expect(s.window == 65535)
        #expect(s.options == [.maximumSegmentSize(1460)])
        #expect(out[0].payload.isEmpty)
        // The handshake completes on the new incarnation.
        now = now + .milliseconds(10)
        receive(h, try segment(.ack, seq: 5001, ack: Self.newISS + 1), now: now)
        let accepted = try #require(h.accept(port: 80))
        let fresh = try #require(h.connection(accepted))
        #expect(fresh !== old)
        #expect(fresh.state == .established)
        #expect(fresh.tuple == old.tuple)
    }

    @Test func newSYNWithOldISNGetsTheTimeWaitACKInstead() throws {
        let (h, old, start) = try serverInTimeWait()
        var now = start
        h.initialSequenceNumber = { _, _ in SequenceNumber(Self.newISS) }
        // ISN below RCV.NXT (102): an old duplicate as far as TIME-WAIT can tell. Out of the
        // window, so the engine answers with an ACK of what it holds (RFC 9293 §3.10.7.4).
        receive(h, try segment(.syn, seq: 50, options: [.maximumSegmentSize(1460)]), now: now)
        var out = try F.drain(h, now: now)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.ack])
        #expect(out[0].tcp.sequenceNumber.rawValue == 2002 && out[0].tcp.acknowledgmentNumber.rawValue == Self.timeWaitRcvNxt)
        #expect(out[0].tcp.window == 65534)
        #expect(out[0].tcp.options == [])
        #expect(old.counters.droppedSegments.outOfWindow == 1)
        // ISN equal to RCV.NXT is not "greater" either: in the window, so RFC 5961 §4's
        // challenge ACK answers it.
        now = now + .seconds(1)
        receive(h, try segment(.syn, seq: Self.timeWaitRcvNxt, options: [.maximumSegmentSize(1460)]), now: now)
        out = try F.drain(h, now: now)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.ack])
        #expect(out[0].tcp.sequenceNumber.rawValue == 2002 && out[0].tcp.acknowledgmentNumber.rawValue == Self.timeWaitRcvNxt)
        #expect(out[0].tcp.window == 65534)
        #expect(out[0].tcp.options == [])
        #expect(old.counters.challengeAcksSent == 1)
        #expect(old.state == .timeWait)
        #expect(h.counters.timeWaitReused == 0)
        #expect(h.counters.connectionsSpawned == 1)
        #expect(h.connectionCount == 1)
        #expect(h.listener(port: 80)?.pending == 0)
    }

    @Test func withoutAListenerTheTimeWaitConnectionAnswersEvenAHigherISN() throws {
        let (h, old, now) = try serverInTimeWait()
        h.stopListening(port: 80)
        receive(h, try segment(.syn, seq: 5000, options: [.maximumSegmentSize(1460)]), now: now)
        let out = try F.drain(h, now: now)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.ack])   // RFC 5961 §4 challenge ACK: 5000 is inside the window
        #expect(out[0].tcp.sequenceNumber.rawValue == 2002 && out[0].tcp.acknowledgmentNumber.rawValue == Self.timeWaitRcvNxt)
        #expect(out[0].tcp.window == 65534 && out[0].tcp.options == [])
        #expect(old.state == .timeWait)
        #expect(h.counters.timeWaitReused == 0)
        #expect(h.connectionCount == 1)
    }

    /// With timestamps the TSval decides, whatever the ISN: TS.Recent in TIME-WAIT is the
    /// TSval of the peer's FIN (1003).
    @Test func withTimestampsANewerTSvalReplacesTheTimeWaitConnectionEvenWithALowISN() throws {
        var (h, old, now) = try serverInTimeWait(ts: { 1000 + UInt32($0) })
        h.initialSequenceNumber = { _, _ in SequenceNumber(Self.newISS) }
        receive(h, try segment(.syn, seq: 50, options: [.maximumSegmentSize(1460),
                                                        .timestamps(TCPTimestamps(value: 2000, echoReply: 0))]), now: now)
        #expect(old.state == .closed)
        #expect(events(old) == [.stateChanged(from: .timeWait, to: .closed), .closed(nil)])
        #expect(h.counters.timeWaitReused == 1)
        let out = try F.drain(h, now: now)
        try #require(out.count == 1)
        let s = out[0].tcp
        #expect(s.flags == [.syn, .ack])
        #expect(s.sequenceNumber.rawValue == Self.newISS && s.acknowledgmentNumber.rawValue == 51)
        #expect(s.window == 65535)
        // MSS, then NOP NOP TS (RFC 7323 Appendix A layout), echoing the new SYN's TSval.
        #expect(s.options == [.maximumSegmentSize(1460), .noOperation, .noOperation,
                              .timestamps(TCPTimestamps(value: Self.tsVal(at: now), echoReply: 2000))])
        now = now + .milliseconds(10)
        receive(h, try segment(.ack, seq: 51, ack: Self.newISS + 1,
                               options: [.timestamps(TCPTimestamps(value: 2001, echoReply: Self.tsVal(at: now)))]), now: now)
        let fresh = try #require(h.accept(port: 80).flatMap { h.connection($0) })
        #expect(fresh.state == .established && fresh !== old)
    }

    @Test func withTimestampsAnOlderTSvalIsRejectedEvenWithAHigherISN() throws {
        let (h, old, now) = try serverInTimeWait(ts: { 1000 + UInt32($0) })
        receive(h, try segment(.syn, seq: 5000, options: [.maximumSegmentSize(1460),
                                                          .timestamps(TCPTimestamps(value: 500, echoReply: 0))]), now: now)
        // PAWS (RFC 7323 §5.3) drops it and the TIME-WAIT connection ACKs what it holds.
        #expect(old.state == .timeWait)
        #expect(old.counters.droppedSegments.paws == 1)
        #expect(h.counters.timeWaitReused == 0)
        #expect(h.connectionCount == 1)
        let out = try F.drain(h, now: now)
        try #require(out.count == 1)
        #expect(out[0].tcp.flags == [.ack])
        #expect(out[0].tcp.sequenceNumber.rawValue == 2002 && out[0].tcp.acknowledgmentNumber.rawValue == Self.timeWaitRcvNxt)
        #expect(out[0].tcp.window == 65534)
        #expect(out[0].tcp.options == [.noOperation, .noOperation,
                                       .timestamps(TCPTimestamps(value: Self.tsVal(at: now), echoReply: 1003))])
    }
    /// End to end between two hosts: the server closes first and holds TIME-WAIT; the client
    /// (one ephemeral port, so it must reuse it) reconnects at once. Timestamps are off, so
    /// the ISN rule decides: the client's new RFC 6528 ISN has moved on with the clock (4 µs
    /// ticks) far past the old incarnation's last sequence number.
    @Test func clientReconnectingFromTheSamePortWhileTheServerIsInTimeWaitGetsANewConnection() throws {
        try reconnectWhileTheServerIsInTimeWait(timestamps: false, seed: 11)
    }

    /// With timestamps (the default) the TSval rule decides. The client's timestamp clock
    /// offset is a keyed hash of the four-tuple, the same for both incarnations, so its new
    /// SYN's TSval (later in time) exceeds the server's TS.Recent whatever the pause before it.
    /// (With the offset derived from the ISS, which moves with time, seeds 1, 3, 5 and 7 failed:
    /// their pauses made the new offset "older" than the old one.)
    @Test func withTimestampsEveryReconnectFromTheSamePortIsAcceptedByTheTSvalRule() throws {
        for seed in UInt64(1)...8 {
            try reconnectWhileTheServerIsInTimeWait(timestamps: true, seed: seed)
        }
    }

    func reconnectWhileTheServerIsInTimeWait(timestamps: Bool, seed: UInt64) throws {
        var c = TCPConfiguration()
        c.timestamps = timestamps
        let client = IPv4Host(address: IPv4Address(192, 0, 2, 1), configuration: c, ephemeralPorts: 50000...50000, seed: seed)
        let server = IPv4Host(address: IPv4Address(192, 0, 2, 2), configuration: c, seed: seed &+ 1000)
        try server.listen(port: 80)
        let net = SimulatedNetwork(a: client, b: server, link: MemoryLink(aToB: FaultConfiguration(delay: .milliseconds(5)),
                                                                           bToA: FaultConfiguration(delay: .milliseconds(5))))
        let first = try client.connect(to: server.address, port: 80, now: net.now)
        let firstConn = try #require(client.connection(first))
        var accepted: ConnectionHandle? = nil
        #expect(net.run(until: {
            if accepted == nil { accepted = server.accept(port: 80) }
            return accepted != nil && firstConn.state == .established
        }, timeLimit: .seconds(5)))
        let acceptedHandle = try #require(accepted)
        let oldServer = try #require(server.connection(acceptedHandle))
        // The server closes first: FIN-WAIT-1 → FIN-WAIT-2; the client answers with its FIN.
        server.close(acceptedHandle)
        #expect(net.run(until: { firstConn.state == .closeWait }, timeLimit: .seconds(5)))
        client.close(first)
        #expect(net.run(until: { client.connectionCount == 0 && oldServer.state == .timeWait }, timeLimit: .seconds(5)))
        #expect(firstConn.state == .closed)
        _ = events(oldServer)

        // Same four-tuple again, `seed` ms later: well within the server's 60 s TIME-WAIT.
        net.run(for: .milliseconds(Int64(seed)))
        let second = try client.connect(to: server.address, port: 80, now: net.now)
        let secondConn = try #require(client.connection(second))
        #expect(secondConn.tuple == firstConn.tuple)
        #expect(secondConn.tuple.localPort == 50000)
        if !timestamps { #expect(secondConn.sendUnacknowledged > firstConn.sendNext) }  // the new ISN is past the old stream
        #expect(oldServer.negotiatedOptions.timestamps == timestamps)
        var again: ConnectionHandle? = nil
        #expect(net.run(until: {
            if again == nil { again = server.accept(port: 80) }
            return again != nil && secondConn.state == .established
        }, timeLimit: .seconds(5)))
        #expect(server.counters.timeWaitReused == 1, "seed \(seed)")
        #expect(oldServer.state == .closed)
        #expect(events(oldServer) == [.stateChanged(from: .timeWait, to: .closed), .closed(nil)])
        let againHandle = try #require(again)
        let newServer = try #require(server.connection(againHandle))
        #expect(newServer !== oldServer && newServer.state == .established)
        #expect(server.connectionCount == 1 && client.connectionCount == 1)
        // No SYN retransmission was needed: the first SYN got its SYN+ACK.
        #expect(secondConn.counters.retransmittedSegments == 0, "seed \(seed)")
        // And the new connection carries data.
        #expect(client.write(second, [1, 2, 3]) == 3)
        var got = [UInt8](repeating: 0, count: 16)
        var n = 0
        #expect(net.run(until: {
            n += got.withUnsafeMutableBytes { server.read(againHandle, into: UnsafeMutableRawBufferPointer(rebasing: $0[n...])) }
            return n == 3
        }, timeLimit: .seconds(5)))
        #expect(Array(got.prefix(n)) == [1, 2, 3])
    }
}
