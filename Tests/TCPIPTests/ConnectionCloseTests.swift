import Testing
@testable import TCPIP

@Suite struct ConnectionCloseTests {
    @Test func fourWayClosePassesFinWaitAndTimeWaitOnOneSideAndCloseWaitLastAckOnTheOther() {
        let p = Pair.clientServer()
        p.run()
        _ = events(p.a); _ = events(p.b)
        p.a.close()
        let fin = p.aToB()
        #expect(fin.count == 1 && fin[0].flags == [.fin, .ack] && fin[0].seq == 101 && fin[0].ack == 2001)
        // Plain configuration: no options, 65535-byte buffers, no scaling.
        expectSegment(fin.first, [.fin, .ack], seq: 101, ack: 2001, window: 65535, options: [])
        #expect(p.b.state == .closeWait)
        let ack = p.bToA()
        #expect(ack.count == 1 && ack[0].flags == .ack && ack[0].ack == 102)
        // The FIN took a sequence number; B's right edge stays (SWS avoidance): 65535 - 1.
        expectSegment(ack.first, .ack, seq: 2001, ack: 102, window: 65534, options: [])
        #expect(p.a.state == .finWait2)
        p.b.close()
        let fin2 = p.bToA()
        #expect(fin2.count == 1 && fin2[0].flags == [.fin, .ack] && fin2[0].seq == 2001 && fin2[0].ack == 102)
        expectSegment(fin2.first, [.fin, .ack], seq: 2001, ack: 102, window: 65534, options: [])
        #expect(p.b.state == .lastAck)
        #expect(p.a.state == .timeWait)
        let lastAck = p.aToB()
        #expect(lastAck.count == 1 && lastAck[0].flags == .ack && lastAck[0].seq == 102 && lastAck[0].ack == 2002)
        expectSegment(lastAck.first, .ack, seq: 102, ack: 2002, window: 65534, options: [])
        #expect(p.b.state == .closed)
        #expect(stateChanges(events(p.a)) == [.finWait1, .finWait2, .timeWait])
        #expect(events(p.b) == [.peerClosed, .stateChanged(from: .established, to: .closeWait),
                                 .stateChanged(from: .closeWait, to: .lastAck),
                                 .stateChanged(from: .lastAck, to: .closed), .closed(nil)])
        // TIME-WAIT lasts 2 × MSL = 60 s.
        #expect(p.a.nextDeadline == Instant(nanoseconds: 60_000_000_000))
        p.now = Instant(nanoseconds: 60_000_000_000)
        #expect(drain(p.a, now: p.now).isEmpty)
        #expect(p.a.state == .closed && p.a.isFinished)
        #expect(events(p.a) == [.stateChanged(from: .timeWait, to: .closed), .closed(nil)])
    }

    @Test func simultaneousCloseGoesThroughClosingToTimeWait() {
        let p = Pair.clientServer()
        p.run()
        p.a.close(); p.b.close()
        let fa = p.aToB(drop: { _ in true }), fb = p.bToA(drop: { _ in true })
        #expect(fa.map(\.flags) == [[.fin, .ack]] && fb.map(\.flags) == [[.fin, .ack]])
        #expect(fa.first?.seq == 101 && fa.first?.ack == 2001 && fa.first?.window == 65535 && fa.first?.options == [])
        #expect(fb.first?.seq == 2001 && fb.first?.ack == 101 && fb.first?.window == 65535 && fb.first?.options == [])
        for (seg, to) in [(fa[0], p.b), (fb[0], p.a)] {
            let bytes = try! seg.header.segmentBytes(payload: [], source: to.tuple.remoteAddress, destination: to.tuple.localAddress)
            bytes.withUnsafeBytes { to.handle(segment: try! TCPHeaderView($0), now: .zero) }
        }
        #expect(p.a.state == .closing && p.b.state == .closing)
        // Each side ACKs the other's FIN (plain configuration: no options; each FIN took a
        // sequence number and the right edge stays, so 65535 - 1).
        let ackA = p.aToB()
        #expect(ackA.count == 1)
        #expect(ackA.first?.flags == .ack && ackA.first?.seq == 102 && ackA.first?.ack == 2002)
        #expect(ackA.first?.window == 65534 && ackA.first?.options == [] && ackA.first?.payload == [])
        #expect(p.b.state == .timeWait)
        let ackB = p.bToA()
        #expect(ackB.count == 1)
        #expect(ackB.first?.flags == .ack && ackB.first?.seq == 2002 && ackB.first?.ack == 102)
        #expect(ackB.first?.window == 65534 && ackB.first?.options == [] && ackB.first?.payload == [])
        #expect(p.a.state == .timeWait && p.b.state == .timeWait)
        // Nothing more: TIME-WAIT does not answer an ACK of its FIN.
        #expect(p.aToB().isEmpty && p.bToA().isEmpty)
    }

    @Test func halfCloseKeepsReceiving() {
        let s = Script.established()
        s.conn.close()
        s.expect([.fin, .ack], seq: 101, ack: 2001, window: 65535, options: [])
        s.send(.ack, seq: 2001, ack: 102)
        #expect(s.conn.state == .finWait2)
        s.send([.ack, .psh], seq: 2001, ack: 102, payload: Array(repeating: 7, count: 500))
        #expect(s.read() == Array(repeating: 7, count: 500))
        s.advance(by: .milliseconds(200))
        s.expect(.ack, seq: 102, ack: 2501, window: 65535 - 500, options: [])  // 500 bytes unread
    }

    @Test func finIsRetransmittedLikeData() {
        let s = Script.established()
        s.conn.close()
        s.expect([.fin, .ack], seq: 101, ack: 2001, window: 65535, options: [])
        // The handshake measured an RTT of 0, so the RTO is the 200 ms minimum.
        s.advanceToDeadline()
        #expect(s.now == Instant(nanoseconds: 200_000_000))
        s.expect([.fin, .ack], seq: 101, ack: 2001, window: 65535, options: [])
        s.advanceToDeadline()
        #expect(s.now == Instant(nanoseconds: 600_000_000))
        s.expect([.fin, .ack], seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.conn.state == .finWait1)
    }

    @Test func finWait2TimesOutAfterAFullClose() {
        let s = Script.inState(.finWait2)
        s.advance(by: .seconds(5))
        s.conn.close(fully: true)
        s.expectNothing()  // the poll after close starts the timer
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 65_000_000_000))
        s.advanceToDeadline()
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.events().last == .closed(.timedOut))
    }

    @Test func lastAckClosesWhenTheFinIsAcknowledged() {
        let s = Script.inState(.lastAck)
        s.send(.ack, seq: 2002, ack: 102)
        #expect(s.conn.state == .closed)
        #expect(s.events() == [.stateChanged(from: .lastAck, to: .closed), .closed(nil)])
    }

    @Test func timeWaitAcknowledgesARetransmittedFinAndRestartsTheTimer() {
        let s = Script.inState(.timeWait)
        s.advance(by: .seconds(10))
        s.send([.fin, .ack], seq: 2001, ack: 102)
        s.expect(.ack, seq: 102, ack: 2002, window: 65534, options: [])  // the FIN took a sequence number; the right edge stays (SWS avoidance)
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 70_000_000_000))
    }

    @Test func abortAfterATimeoutStillUsesTheHighestSequenceSent() {
        let s = Script.established()
        _ = s.write(count: 3000)
        // 101..3101 in flight: two full segments and the 80-byte tail (Minshall's Nagle sends a
        // short segment when no other short one is unacknowledged; classic Nagle held it).
        #expect(s.output().map(\.seq) == [101, 1561, 3021])
        s.advanceToDeadline()
        _ = s.output()  // timeout: back to 101
        s.conn.abort()
        s.expect(.rst, seq: 3101, ack: 0, window: 0, options: [])
    }

    @Test func abortSendsRSTAndReportsAborted() {
        let s = Script.established()
        s.conn.abort()
        s.expect(.rst, seq: 101, ack: 0, window: 0, options: [])
        #expect(s.conn.state == .closed && s.conn.isFinished)
        #expect(s.events() == [.stateChanged(from: .established, to: .closed), .closed(.aborted)])
    }
}

@Suite struct ConnectionTransitionTests {
    @Test func closeInListenGoesToClosedSilently() {
        let s = Script.inState(.listen)
        #expect(s.events() == [.stateChanged(from: .closed, to: .listen)])
        s.conn.close()
        s.expectNothing()
        #expect(s.events() == [.stateChanged(from: .listen, to: .closed), .closed(nil)])
    }

    @Test func synReceivedGivesUpAfterTheSynRetries() {
        let s = Script.synReceived()
        var sent = 0
        while s.conn.state == .synReceived {
            s.advanceToDeadline()
            sent += s.output().filter { $0.flags == [.syn, .ack] && $0.seq == 2000 }.count
        }
        #expect(sent == 5)
        #expect(s.events().last == .closed(.timedOut))
    }

    @Test func finWait1GoesStraightToTimeWaitOnAFinThatAcknowledgesOurs() {
        let s = Script.inState(.finWait1)
        s.send([.fin, .ack], seq: 2001, ack: 102)
        s.expect(.ack, seq: 102, ack: 2002, window: 65534, options: [])  // the FIN took a sequence number; the right edge stays (SWS avoidance)
        #expect(stateChanges(s.events()) == [.finWait2, .timeWait])
    }

    @Test func closingGoesToTimeWaitWhenOurFinIsAcknowledged() {
        let s = Script.inState(.closing)
        s.send(.ack, seq: 2002, ack: 102)
        #expect(s.conn.state == .timeWait)
        s.expectNothing()
    }

    @Test func bareFinIsTakenUnderAZeroWindow() {
        var c = plainConfiguration()
        c.receiveBufferSize = 100
        let s = Script.established(configuration: c)
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 100))
        s.advance(by: .milliseconds(200))
        s.expect(.ack, seq: 101, ack: 2101, window: 0, options: [])
        s.send([.fin, .ack], seq: 2101, ack: 101)
        s.expect(.ack, seq: 101, ack: 2102, window: 0, options: [])
        #expect(s.conn.state == .closeWait)
    }
}
