import Testing
@testable import TCPIP

@Suite struct ConnectionHandshakeTests {
    @Test func textbookHandshakeWithISNs100And2000() {
        let p = Pair.clientServer()
        let syn = p.aToB()
        #expect(syn.count == 1)
        #expect(syn[0].flags == .syn && syn[0].seq == 100 && syn[0].options == [.maximumSegmentSize(1460)])
        // Plain configuration: only MSS (1460, from a 1500-byte MTU) in SYNs; 65535-byte buffers, no scaling.
        expectSegment(syn.first, .syn, seq: 100, ack: 0, window: 65535, options: [.maximumSegmentSize(1460)])
        #expect(p.b.state == .synReceived)
        let synAck = p.bToA()
        #expect(synAck.count == 1)
        #expect(synAck[0].flags == [.syn, .ack] && synAck[0].seq == 2000 && synAck[0].ack == 101)
        expectSegment(synAck.first, [.syn, .ack], seq: 2000, ack: 101, window: 65535, options: [.maximumSegmentSize(1460)])
        #expect(p.a.state == .established)
        let ack = p.aToB()
        #expect(ack.count == 1)
        #expect(ack[0].flags == .ack && ack[0].seq == 101 && ack[0].ack == 2001 && ack[0].payload.isEmpty)
        expectSegment(ack.first, .ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(p.b.state == .established)
        #expect(stateChanges(events(p.a)) == [.synSent, .established])
        #expect(stateChanges(events(p.b)) == [.listen, .synReceived, .established])
    }

    @Test func activeOpenSendsSYNThenACKsTheSYNACK() {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: plainConfiguration(), now: .zero))
        #expect(s.conn.state == .synSent)
        s.expect(.syn, seq: 100, ack: 0, window: 65535, payload: 0, options: [.maximumSegmentSize(1460)])
        s.expectNothing()
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 8000, options: [.maximumSegmentSize(1000)])
        #expect(s.conn.state == .established)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, payload: 0, options: [])
        #expect(s.conn.sendWindow == 8000)
    }

    @Test func passiveOpenAnswersSYNWithSYNACKAndEstablishesOnACK() {
        let s = Script(TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(2000), configuration: plainConfiguration(), now: .zero))
        #expect(s.conn.state == .listen)
        s.expectNothing()
        s.send(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460)])
        #expect(s.conn.state == .synReceived)
        s.expect([.syn, .ack], seq: 2000, ack: 101, window: 65535, options: [.maximumSegmentSize(1460)])
        s.send(.ack, seq: 101, ack: 2001)
        #expect(s.conn.state == .established)
        s.expectNothing()
    }

    @Test func simultaneousOpenReachesEstablished() {
        let a = TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: plainConfiguration(), now: .zero)
        let b = TCPConnection.connect(tuple: serverTuple, iss: SequenceNumber(300), configuration: plainConfiguration(), now: .zero)
        let p = Pair(a: a, b: b)
        let synA = drain(a, now: .zero), synB = drain(b, now: .zero)
        #expect(synA.map(\.flags) == [.syn] && synB.map(\.flags) == [.syn])
        expectSegment(synA.first, .syn, seq: 100, ack: 0, window: 65535, options: [.maximumSegmentSize(1460)])
        expectSegment(synB.first, .syn, seq: 300, ack: 0, window: 65535, options: [.maximumSegmentSize(1460)])
        // Both SYNs cross.
        for (seg, to) in [(synA[0], b), (synB[0], a)] {
            let bytes = try! seg.header.segmentBytes(payload: [], source: to.tuple.remoteAddress, destination: to.tuple.localAddress)
            bytes.withUnsafeBytes { to.handle(segment: try! TCPHeaderView($0), now: .zero) }
        }
        #expect(a.state == .synReceived && b.state == .synReceived)
        let sa = p.aToB(drop: { _ in true }), sb = p.bToA(drop: { _ in true })
        #expect(sa.count == 1 && sa[0].flags == [.syn, .ack] && sa[0].seq == 100 && sa[0].ack == 301)
        #expect(sb.count == 1 && sb[0].flags == [.syn, .ack] && sb[0].seq == 300 && sb[0].ack == 101)
        // Each SYN+ACK repeats our SYN (original ISS) with its options, unscaled window.
        expectSegment(sa.first, [.syn, .ack], seq: 100, ack: 301, window: 65535, options: [.maximumSegmentSize(1460)])
        expectSegment(sb.first, [.syn, .ack], seq: 300, ack: 101, window: 65535, options: [.maximumSegmentSize(1460)])
        for (seg, to) in [(sa[0], b), (sb[0], a)] {
            let bytes = try! seg.header.segmentBytes(payload: [], source: to.tuple.remoteAddress, destination: to.tuple.localAddress)
            bytes.withUnsafeBytes { to.handle(segment: try! TCPHeaderView($0), now: .zero) }
        }
        #expect(a.state == .established && b.state == .established)
        #expect(stateChanges(events(a)) == [.synSent, .synReceived, .established])
    }

    @Test func synIsRetransmittedWithDoublingTimeoutThenConnectTimesOut() {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: plainConfiguration(), now: .zero))
        s.expect(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460)])
        // RTO 1 s, then 2, 4, 8, 16 s: SYNs at 1, 3, 7, 15, 31 s; give up at 63 s.
        var times: [Int64] = []
        for _ in 0..<5 {
            s.advanceToDeadline()
            s.expect(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460)])
            times.append(s.now.nanoseconds / 1_000_000_000)
        }
        #expect(times == [1, 3, 7, 15, 31])
        s.advanceToDeadline()
        #expect(s.now == Instant(nanoseconds: 63_000_000_000))
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.events().last == .closed(.timedOut))
    }

    @Test func synReceivedRetransmitsSYNACKWhenTheSYNIsRepeated() {
        let s = Script.synReceived()
        s.send(.syn, seq: 100, options: [.maximumSegmentSize(1460)])
        s.expect([.syn, .ack], seq: 2000, ack: 101, window: 65535, options: [.maximumSegmentSize(1460)])
        #expect(s.conn.state == .synReceived)
    }

    @Test func rtoIsThreeSecondsAfterARetransmittedSYNWithoutASample() {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: plainConfiguration(), now: .zero))
        s.expect(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460)])
        s.advanceToDeadline()
        s.expect(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460)])
        s.advance(by: .milliseconds(100))
        s.send([.syn, .ack], seq: 2000, ack: 101, options: [.maximumSegmentSize(1460)])
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        // Karn: the SYN was sent twice, so no sample; RFC 6298 §5.7: RTO = 3 s.
        #expect(s.conn.counters.smoothedRTT == nil)
        #expect(s.conn.counters.retransmissionTimeout == .seconds(3))
    }
}
