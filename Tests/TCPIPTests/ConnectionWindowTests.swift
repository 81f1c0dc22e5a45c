import Testing
@testable import TCPIP

/// Flow control: zero-window probing, receive window advertisement, Nagle and SWS
/// avoidance, delayed ACK, keepalive, urgent data.
@Suite struct ConnectionWindowTests {
    @Test func zeroWindowIsProbedWithBackoffAndSurvivesWhileProbesAreACKed() {
        let s = Script.established(peerWindow: 0)
        #expect(s.write(count: 100) == 100)
        s.expectNothing()
        var times: [Duration] = []
        var last = s.now
        for _ in 0..<12 {
            s.advanceToDeadline()
            s.expect(.ack, seq: 100, ack: 2001, window: 65535, payload: 0, options: [])  // SND.UNA - 1: an old sequence number
            times.append(s.now - last); last = s.now
            s.send(.ack, seq: 2001, ack: 101, window: 0)
            #expect(s.conn.state == .established)
        }
        // RTO 200 ms doubled per probe, bounded by 120 s.
        #expect(times == (0..<10).map { .milliseconds(200 << $0) } + [.seconds(120), .seconds(120)])
        #expect(s.conn.counters.zeroWindowProbes == 12)
        s.send(.ack, seq: 2001, ack: 101, window: 1000)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
    }

    @Test func fullReceiveBufferAdvertisesZeroAndReadingSendsAWindowUpdate() {
        var c = plainConfiguration()
        c.receiveBufferSize = 4000
        let s = Script.established(configuration: c)
        var edges: [UInt32] = []
        // Segments of 1000 bytes (the largest seen, so "full-sized"): every second one is ACKed at once.
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 1000))
        s.expectNothing()
        s.send(.ack, seq: 3001, ack: 101, payload: Array(repeating: 1, count: 1000))
        let a1 = s.expect(.ack, seq: 101, ack: 4001, window: 2000, options: [])!
        s.send(.ack, seq: 4001, ack: 101, payload: Array(repeating: 1, count: 1000))
        s.send(.ack, seq: 5001, ack: 101, payload: Array(repeating: 1, count: 1000))
        let a2 = s.expect(.ack, seq: 101, ack: 6001, window: 0, options: [])!
        edges += [a1.ack + UInt32(a1.window), a2.ack + UInt32(a2.window)]
        // Reading 1000 bytes frees less than min(buffer/2, MSS): no update (receiver SWS avoidance).
        #expect(s.read(max: 1000).count == 1000)
        s.expectNothing()
        #expect(s.read(max: 1000).count == 1000)
        let a3 = s.expect(.ack, seq: 101, ack: 6001, window: 2000, options: [])!
        edges.append(a3.ack + UInt32(a3.window))
        #expect(edges == [6001, 6001, 8001])  // the right edge never moves left
    }

    @Test func nagleHoldsASmallSegmentWhileDataIsUnacknowledged() {
        let s = Script.established()
        _ = s.write(count: 100)
        s.expect([.ack, .psh], seq: 101, window: 65535, payload: 100, options: [])
        _ = s.write(count: 100)
        s.expectNothing()
        _ = s.write(count: 1500)
        s.expect(.ack, seq: 201, window: 65535, payload: 1460, options: [])  // a full segment goes
        s.expectNothing()  // 140 bytes wait
        s.send(.ack, seq: 2001, ack: 1661)
        s.expect([.ack, .psh], seq: 1661, window: 65535, payload: 140, options: [])
    }

    @Test func minshallNagleSendsABulkWritesShortTailAtOnceAndHoldsTheNextShortWriteUntilTheTailIsACKed() {
        let s = Script.established()
        #expect(s.conn.counters.congestionWindow == 14600)
        #expect(s.write(count: 3 * 1460 + 100) == 4480)
        // Minshall's Nagle: no short segment is outstanding, so the 100-byte tail goes with the
        // three full segments (classic Nagle held it until all 4380 bytes were ACKed, i.e. for
        // the peer's delayed ACK).
        let out = s.output()
        #expect(out.map(\.seq) == [101, 1561, 3021, 4481])
        #expect(out.map(\.payload.count) == [1460, 1460, 1460, 100])
        #expect(out.map(\.flags) == [.ack, .ack, .ack, [.ack, .psh]])
        #expect(out.allSatisfy { $0.ack == 2001 && $0.window == 65535 && $0.options.isEmpty })
        // The short segment 4481..4581 is unacknowledged: a new short write waits.
        #expect(s.write(count: 50) == 50)
        s.expectNothing()
        // An ACK of the full segments only does not release it either.
        s.send(.ack, seq: 2001, ack: 4481)
        s.expectNothing()
        // The ACK of the short segment does, at that instant.
        s.send(.ack, seq: 2001, ack: 4581)
        s.expect([.ack, .psh], seq: 4581, ack: 2001, window: 65535, payload: 50, options: [])
    }

    @Test func minshallNagleSendsAShortWriteWhileOnlyFullSegmentsAreUnacknowledged() {
        let s = Script.established()
        _ = s.write(count: 2 * 1460)
        let full = s.output()
        expectSegment(full.first, .ack, seq: 101, ack: 2001, window: 65535, options: [], payload: 1460)
        expectSegment(full.last, [.ack, .psh], seq: 1561, ack: 2001, window: 65535, options: [], payload: 1460)
        #expect(full.count == 2)
        // 2920 bytes in flight, all in full segments: a short write goes at once (classic
        // Nagle would hold it until they are acknowledged).
        _ = s.write(count: 10)
        s.expect([.ack, .psh], seq: 3021, ack: 2001, window: 65535, payload: 10, options: [])
        // Now a short segment is outstanding: the next one waits for its ACK.
        _ = s.write(count: 20)
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 3031)
        s.expect([.ack, .psh], seq: 3031, ack: 2001, window: 65535, payload: 20, options: [])
    }

    @Test func noDelaySendsSmallSegmentsAtOnce() {
        var c = plainConfiguration()
        c.noDelay = true
        let s = Script.established(configuration: c)
        _ = s.write(count: 100)
        s.expect([.ack, .psh], seq: 101, window: 65535, payload: 100, options: [])
        _ = s.write(count: 100)
        s.expect([.ack, .psh], seq: 201, window: 65535, payload: 100, options: [])
    }

    @Test func senderSWSAvoidanceWaitsForAUsefulWindowAndTheOverrideTimerSendsAnyway() {
        let s = Script.established(peerWindow: 1000)
        #expect(s.conn.counters.congestionWindow == 14600)
        _ = s.write(count: 3000)
        // Window 1000 < MSS but = max window / 2 or more: sent.
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        s.send(.ack, seq: 2001, ack: 1101, window: 300)
        // 300 < max window (1000) / 2 and less than what is queued: wait.
        s.expectNothing()
        s.advanceToDeadline()
        s.expect(.ack, seq: 1101, window: 65535, payload: 300, options: [])
    }

    @Test func delayedACKFiresAfter200Milliseconds() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: [1])
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 200_000_000))
        s.advance(by: .milliseconds(199))
        s.expectNothing()
        s.advance(by: .milliseconds(1))
        s.expect(.ack, seq: 101, ack: 2002, window: 65534, options: [])  // the FIN took a sequence number; the right edge stays (SWS avoidance)
    }

    @Test func withoutDelayedACKEverySegmentIsAcknowledged() {
        var c = plainConfiguration()
        c.delayedAcknowledgments = false
        let s = Script.established(configuration: c)
        s.send(.ack, seq: 2001, ack: 101, payload: [1])
        s.expect(.ack, seq: 101, ack: 2002, window: 65534, options: [])  // the FIN took a sequence number; the right edge stays (SWS avoidance)
    }

    @Test func delayedACKRidesOnOutgoingData() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: [1])
        _ = s.write(count: 10)
        s.expect([.ack, .psh], seq: 101, ack: 2002, window: 65534, payload: 10, options: [])  // the peer's FIN took a sequence number; the right edge stays
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 200_000_000))  // only the RTO now
        s.advance(by: .milliseconds(199))
        s.expectNothing()
    }

    @Test func keepaliveProbesAnIdleConnectionAndGivesUp() {
        var c = plainConfiguration()
        c.keepalive = true
        let s = Script.established(configuration: c)
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 7200_000_000_000))
        s.advanceToDeadline()
        s.expect(.ack, seq: 100, ack: 2001, window: 65535, payload: 0, options: [])
        // An answer restarts the idle timer.
        s.send(.ack, seq: 2001, ack: 101)
        #expect(s.conn.nextDeadline == s.now + .seconds(7200))
        s.advanceToDeadline()
        for i in 0..<9 {
            s.expect(.ack, seq: 100, ack: 2001, window: 65535, payload: 0, options: [])
            s.advanceToDeadline()
            if i < 8 { #expect(s.conn.state == .established) }
        }
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.events().last == .closed(.timedOut))
    }
}

@Suite struct ConnectionShrunkWindowTests {
    @Test func windowShrunkToZeroUnderDataInFlightIsProbedByRetransmissionWithoutTimingOut() {
        let s = Script.established()
        _ = s.write(count: 100)
        s.expect([.ack, .psh], seq: 101, window: 65535, payload: 100, options: [])
        // The peer takes nothing and closes its window.
        s.send(.ack, seq: 2001, ack: 101, window: 0)
        for _ in 0..<20 {
            s.advanceToDeadline()
            let out = s.output()
            #expect(out.count == 1 && out.first?.seq == 101 && out.first?.payload.count == 100)
            s.send(.ack, seq: 2001, ack: 101, window: 0)  // still alive, still full
        }
        #expect(s.conn.state == .established)
        s.send(.ack, seq: 2001, ack: 201, window: 1000)
        #expect(s.conn.sendUnacknowledged == SequenceNumber(201))
        // Silence for longer than the maximum RTO ends it.
        var t = 0
        _ = s.write(count: 10); _ = s.output()
        s.send(.ack, seq: 2001, ack: 201, window: 0)
        while s.conn.state == .established && t < 100 { s.advanceToDeadline(); _ = s.output(); t += 1 }
        #expect(s.events().last == .closed(.timedOut))
    }
}
