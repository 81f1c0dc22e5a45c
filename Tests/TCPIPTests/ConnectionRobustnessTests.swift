import Testing
@testable import TCPIP

/// Bad input never crashes; invariants hold; whole conversations survive loss.
@Suite struct ConnectionRobustnessTests {
    static let allStates: [TCPState] = [.listen, .synSent, .synReceived, .established, .finWait1, .finWait2,
                                        .closing, .timeWait, .closeWait, .lastAck, .closed]

    @Test(arguments: allStates)
    func randomSegmentsInEveryStateNeverBreakTheInvariants(state: TCPState) {
        var rng = SeededRandom(seed: 0xC0FFEE &+ UInt64(Self.allStates.firstIndex(of: state)!))
        for _ in 0..<12 {
            let s = Script.inState(state, configuration: rng.chance(0.5) ? plainConfiguration() : TCPConfiguration())
            for _ in 0..<150 {
                let near = rng.chance(0.7)
                let seq: UInt32 = near ? 1990 &+ UInt32(rng.next() % 3000) : UInt32(truncatingIfNeeded: rng.next())
                let ack: UInt32 = near ? 90 &+ UInt32(rng.next() % 200) : UInt32(truncatingIfNeeded: rng.next())
                let flags = TCPFlags(rawValue: UInt16(truncatingIfNeeded: rng.next()) & 0x3F)
                var options: [TCPOption] = []
                if rng.chance(0.3) { options.append(.timestamps(TCPTimestamps(value: UInt32(truncatingIfNeeded: rng.next()), echoReply: UInt32(truncatingIfNeeded: rng.next())))) }
                if rng.chance(0.2) { options.append(.sack(SACKBlocks([SACKBlock(start: SequenceNumber(ack), end: SequenceNumber(ack &+ UInt32(rng.next() % 5000)))]))) }
                if rng.chance(0.1) { options.append(.maximumSegmentSize(UInt16(truncatingIfNeeded: rng.next()))) }
                if rng.chance(0.1) { options.append(.windowScale(UInt8(truncatingIfNeeded: rng.next()))) }
                let payload = (0..<Int(rng.next() % 1600)).map { UInt8(truncatingIfNeeded: $0) }
                s.send(flags, seq: seq, ack: ack, window: UInt16(truncatingIfNeeded: rng.next()), options: options,
                       payload: payload, urgent: UInt16(truncatingIfNeeded: rng.next()))
                if rng.chance(0.2) { _ = s.write(count: Int(rng.next() % 3000)) }
                if rng.chance(0.1) { _ = s.read() }
                if rng.chance(0.05) { s.conn.close() }
                if rng.chance(0.2) { s.advance(by: .milliseconds(Int64(rng.next() % 5000))) }
                let out = s.output(bufferSize: rng.chance(0.1) ? 64 + Int(rng.next() % 200) : 2048)
                #expect(out.count < 1000)
                let c = s.conn
                #expect(c.sndUna <= c.sndNxt && c.sndNxt <= c.sndMax)
                #expect(c.sendBuffer.count <= c.sendBuffer.capacity)
                #expect(c.receiveBuffer.readable <= c.config.receiveBufferSize)
                for seg in out where !seg.flags.contains(.syn) {
                    #expect(seg.payload.count <= 1460)
                }
            }
        }
    }

    @Test func extremeConfigurationsAreBroughtIntoRange() {
        for extreme in [true, false] {
            var c = TCPConfiguration()
            c.initialRTO = extreme ? .seconds(Int64.max / 4) : .zero
            c.minimumRTO = extreme ? .seconds(Int64.max / 4) : .zero
            c.maximumRTO = extreme ? .seconds(Int64.max / 4) : .zero
            c.maximumSegmentLifetime = extreme ? .seconds(Int64.max / 4) : .zero
            c.sendBufferSize = extreme ? Int.max : 0
            c.receiveBufferSize = extreme ? Int.max : -5
            c.maximumSegmentSize = extreme ? Int.max : 0
            c.synRetries = extreme ? Int.max : -1
            c.maximumRetransmissions = extreme ? Int.max : -1
            c.eventQueueLimit = extreme ? Int.max : 0
            let p = Pair.clientServer(configuration: c)
            p.run()
            #expect(p.a.state == .established && p.b.state == .established, "extreme \(extreme)")
            _ = [UInt8](repeating: 1, count: 3000).withUnsafeBytes { p.a.write($0) }
            p.runTimed(limit: .seconds(10)) { p.b.readableBytes > 0 }
            #expect(p.b.readableBytes > 0, "extreme \(extreme)")
        }
    }

    @Test func malformedOptionsAreCountedAndDropped() {
        let s = Script.established()
        var b = s.bytes(.ack, seq: 2001, ack: 101, options: [.noOperation, .noOperation, .noOperation, .noOperation])
        b[20] = 2; b[21] = 9  // MSS with length 9: runs past the options
        s.feed(b)
        #expect(s.conn.counters.droppedSegments.badOptions == 1)
        s.expectNothing()
    }

    /// A conversation over a link that loses 5 % of segments each way: 200 000 bytes one way,
    /// 30 000 back, both sides close; every byte arrives in order and both ends close cleanly.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func lossyConversationDeliversEveryByteAndClosesCleanly(seed: UInt64) {
        let r = LossyRun(seed: seed, lossRate: 0.05)
        r.run()
        #expect(r.gotB.count == r.data.count && r.gotB == r.data, "seed \(seed): \(r.summary)")
        #expect(r.gotA.count == r.back.count && r.gotA == r.back, "seed \(seed): \(r.summary)")
        #expect(r.p.a.state == .timeWait || r.p.a.state == .closed, "seed \(seed): \(r.summary)")
        #expect(r.p.b.state == .closed, "seed \(seed): \(r.summary)")
    }

    /// 20 % loss, with and without options (NewReno without SACK, no timestamps): still exact
    /// delivery, and the RTT estimate stays sane (stale timestamp echoes after a timeout are
    /// not taken as samples): the whole run finishes within 2 minutes of virtual time.
    @Test(arguments: [UInt64(11), 12, 13], [true, false])
    func heavyLossStillDeliversEveryByte(seed: UInt64, options: Bool) {
        let r = LossyRun(seed: seed, lossRate: 0.2, configuration: options ? TCPConfiguration() : plainConfiguration())
        r.run()
        #expect(r.gotB == r.data && r.gotA == r.back, "seed \(seed): \(r.summary)")
        #expect(r.p.b.state == .closed, "seed \(seed): \(r.summary)")
        #expect(r.p.now < Instant.zero + .seconds(120), "seed \(seed): \(r.summary)")
    }

    @Test func lossyConversationSummaryIsDeterministic() {
        let r1 = LossyRun(seed: 7, lossRate: 0.1), r2 = LossyRun(seed: 7, lossRate: 0.1)
        r1.run(); r2.run()
        #expect(r1.summary == r2.summary && r1.p.now == r2.p.now)
    }
}

final class LossyRun {
    var rng: SeededRandom
    let lossRate: Double
    let p: Pair
    let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    let back = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    var gotA: [UInt8] = [], gotB: [UInt8] = []
    var steps = 0

    init(seed: UInt64, lossRate: Double, configuration: TCPConfiguration = TCPConfiguration()) {
        rng = SeededRandom(seed: seed)
        self.lossRate = lossRate
        var c = configuration
        c.delayedACKTimeout = .milliseconds(40)
        p = Pair.clientServer(configuration: c)
    }

    var summary: String {
        "a \(p.a.state) b \(p.b.state) gotB \(gotB.count)/\(data.count) gotA \(gotA.count)/\(back.count) t=\(p.now) steps \(steps) a: \(p.a.counters.retransmittedSegments) rexmit \(p.a.counters.timeouts) RTO"
    }

    func run() {
        var sentA = 0, sentB = 0
        var closedA = false, closedB = false
        var buf = [UInt8](repeating: 0, count: 65536)
        let end = Instant.zero + .seconds(3600)
        while steps < 100_000 {
            steps += 1
            if p.a.state == .established || p.a.state == .synSent, sentA < data.count {
                sentA += data[sentA...].withUnsafeBytes { p.a.write($0) }
            }
            if p.b.state == .established || p.b.state == .closeWait, sentB < back.count {
                sentB += back[sentB...].withUnsafeBytes { p.b.write($0) }
            }
            if sentA == data.count && !closedA && p.a.state == .established { p.a.close(); closedA = true }
            if sentB == back.count && !closedB && p.b.state == .closeWait { p.b.close(); closedB = true }
            let rate = lossRate
            let moved = p.aToB(drop: { _ in self.rng.chance(rate) }).count + p.bToA(drop: { _ in self.rng.chance(rate) }).count
            let nb = buf.withUnsafeMutableBytes { p.b.read(into: $0) }
            gotB += buf.prefix(nb)
            let na = buf.withUnsafeMutableBytes { p.a.read(into: $0) }
            gotA += buf.prefix(na)
            if p.a.state == .timeWait || p.a.state == .closed, p.b.state == .closed { break }
            if moved == 0 {
                let ds = [p.a.nextDeadline, p.b.nextDeadline].compactMap { $0 }
                guard let d = ds.min(), d < end else { break }
                if d > p.now { p.now = d }
            }
        }
    }
}

@Suite struct ConnectionMiscTests {
    @Test func urgentDataIsMarkedOnTheWireAndSeenAsAMark() {
        let s = Script.established()
        _ = s.write(count: 10)
        _ = s.output()
        let urgent: [UInt8] = [9, 9]
        _ = urgent.withUnsafeBytes { s.conn.writeUrgent($0) }
        s.send(.ack, seq: 2001, ack: 111)
        let seg = s.expect([.ack, .psh, .urg], seq: 111, window: 65535, payload: 2, options: [])
        // RFC 6093: the pointer is the offset of the byte after the urgent data.
        #expect(seg?.header.urgentPointer == 2)

        let r = Script.established()
        r.send([.ack, .urg], seq: 2001, ack: 101, payload: [1, 2, 3, 4], urgent: 3)
        #expect(r.conn.urgentMark == 3)
        #expect(r.read(max: 2) == [1, 2])
        #expect(r.conn.urgentMark == 1)
        #expect(r.read(max: 2) == [3, 4])
        #expect(r.conn.urgentMark == nil)
    }

    @Test func closeInSynReceivedSendsFinAfterTheHandshake() {
        let s = Script.synReceived()
        s.conn.close()
        s.expectNothing()
        s.send(.ack, seq: 101, ack: 2001)
        #expect(s.conn.state == .finWait1)
        s.expect([.fin, .ack], seq: 2001, ack: 101, window: 65535, options: [])
        #expect(stateChanges(s.events()) == [.established, .finWait1])
    }

    @Test func closeWaitStillSendsDataThenFin() {
        let s = Script.inState(.closeWait)
        _ = s.write(count: 50)
        s.conn.close()
        #expect(s.conn.state == .lastAck)
        s.expect([.fin, .ack, .psh], seq: 101, ack: 2002, window: 65534, payload: 50, options: [])  // the peer's FIN took a sequence number; the right edge stays
        s.send(.ack, seq: 2002, ack: 152)
        #expect(s.conn.state == .closed)
    }

    @Test func writeAfterCloseIsRefused() {
        let s = Script.inState(.finWait1)
        #expect(s.write(count: 10) == 0)
        #expect(s.conn.writableBytes == 0)
    }

    @Test func acceptSYNUsesTheGivenISSAndFillsTheRemotePort() {
        var t = serverTuple
        t.remotePort = 0
        let c = TCPConnection.listen(tuple: t, configuration: plainConfiguration(), now: .zero)
        let s = Script(c)
        let syn = Script(TCPConnection.listen(tuple: serverTuple, configuration: plainConfiguration(), now: .zero))
            .bytes(.syn, seq: 100, options: [.maximumSegmentSize(1460)])
        syn.withUnsafeBytes { c.acceptSYN(segment: try! TCPHeaderView($0), iss: SequenceNumber(7777), now: .zero) }
        #expect(c.tuple.remotePort == 40000)
        s.expect([.syn, .ack], seq: 7777, ack: 101, window: 65535, options: [.maximumSegmentSize(1460)])
    }

    @Test func unreachableDuringConnectEndsItWithAnError() {
        let s = Script.inState(.synSent)
        s.conn.destinationUnreachable(now: .zero)
        #expect(s.conn.state == .closed)
        #expect(s.events().last == .closed(.unreachable))
        let e = Script.established()
        e.conn.destinationUnreachable(now: .zero)
        #expect(e.conn.state == .established)
    }

    @Test func stateNamesAreTheRFCs() {
        #expect(TCPState.synSent.description == "SYN-SENT" && TCPState.finWait1.description == "FIN-WAIT-1"
                && TCPState.timeWait.description == "TIME-WAIT" && TCPState.closeWait.description == "CLOSE-WAIT")
    }
}
