import Testing
@testable import TCPIP

@Suite struct ConnectionDataTests {
    @Test func hundredByteSegmentAtSeq101IsAcknowledgedWith201() {
        let p = Pair.clientServer()
        p.run()
        #expect(p.a.state == .established && p.b.state == .established)
        let data = (0..<100).map { UInt8($0) }
        #expect(data.withUnsafeBytes { p.a.write($0) } == 100)
        let seg = p.aToB()
        #expect(seg.count == 1 && seg[0].seq == 101 && seg[0].payload == data && seg[0].flags == [.ack, .psh])
        expectSegment(seg.first, [.ack, .psh], seq: 101, ack: 2001, window: 65535, options: [], payload: 100)
        // A single segment waits for the delayed ACK (200 ms).
        #expect(p.bToA().isEmpty)
        p.now = p.now + .milliseconds(200)
        let ack = p.bToA()
        #expect(ack.count == 1 && ack[0].flags == .ack && ack[0].ack == 201)
        expectSegment(ack.first, .ack, seq: 2001, ack: 201, window: 65535 - 100, options: [])  // 100 bytes unread
        var buf = [UInt8](repeating: 0, count: 200)
        #expect(buf.withUnsafeMutableBytes { p.b.read(into: $0) } == 100)
        #expect(Array(buf.prefix(100)) == data)
    }

    @Test func fiveHundredByteSegmentAtSeq2001IsAcknowledgedWith2501() {
        let s = Script.established()
        s.send([.ack, .psh], seq: 2001, ack: 101, payload: Array(repeating: 1, count: 500))
        #expect(s.events() == [.readable])
        s.expectNothing()
        s.advance(by: .milliseconds(200))
        s.expect(.ack, seq: 101, ack: 2501, window: 65535 - 500, options: [])
    }

    @Test func everySecondFullSegmentIsAcknowledgedAtOnce() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 1460))
        s.expectNothing()
        s.send(.ack, seq: 3461, ack: 101, payload: Array(repeating: 1, count: 1460))
        s.expect(.ack, seq: 101, ack: 4921, window: 65535 - 2920, options: [])  // 2 × 1460 bytes unread
    }

    @Test func bulkTransferDeliversEveryByteInOrder() {
        // Delayed ACK shorter than the minimum RTO: with a zero RTT both would otherwise be 200 ms.
        var c = plainConfiguration()
        c.delayedACKTimeout = .milliseconds(100)
        let p = Pair.clientServer(configuration: c)
        p.run()
        let data = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var written = 0
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<1000 where received.count < data.count {
            if written < data.count {
                written += data[written...].withUnsafeBytes { p.a.write($0) }
            }
            p.runTimed(limit: .seconds(5)) { false }
            let n = buf.withUnsafeMutableBytes { p.b.read(into: $0) }
            received += buf.prefix(n)
        }
        #expect(received == data)
        #expect(p.a.counters.retransmittedSegments == 0)
    }

    @Test func outOfOrderSegmentIsAcknowledgedImmediatelyAndDeliveredWhenTheGapFills() {
        let s = Script.established()
        s.send(.ack, seq: 2101, ack: 101, payload: Array(repeating: 2, count: 100))
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.read().isEmpty)
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 100))
        s.expect(.ack, seq: 101, ack: 2201, window: 65535 - 200, options: [])  // 200 bytes unread
        #expect(s.read() == Array(repeating: 1, count: 100) + Array(repeating: 2, count: 100))
    }

    @Test func segmentFillingAllOrPartOfAGapIsAcknowledgedAtTheSameInstant() {
        let s = Script.established()
        // Holes: 2001..2101 and 2201..2301 missing; 2101..2201 and 2301..2401 held out of order.
        s.send(.ack, seq: 2101, ack: 101, payload: Array(repeating: 2, count: 100))
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])  // out of order: at once
        s.send(.ack, seq: 2301, ack: 101, payload: Array(repeating: 4, count: 100))
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        // Part of the first hole, at RCV.NXT (2001..2051): RCV.NXT moves, the ACK goes now
        // (RFC 5681 §4.2), not after the 200 ms delayed-ACK timer.
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 50))
        s.expect(.ack, seq: 101, ack: 2051, window: 65535 - 50, options: [])
        #expect(s.conn.delayedACKDeadline == nil)
        // The rest of the first hole joins 2101..2201.
        s.send(.ack, seq: 2051, ack: 101, payload: Array(repeating: 1, count: 50))
        s.expect(.ack, seq: 101, ack: 2201, window: 65535 - 200, options: [])
        // The second hole: everything to 2401 is in order, still at the same instant.
        s.send(.ack, seq: 2201, ack: 101, payload: Array(repeating: 3, count: 100))
        s.expect(.ack, seq: 101, ack: 2401, window: 65535 - 400, options: [])
        #expect(s.conn.delayedACKDeadline == nil)
        #expect(s.now == .zero)
        #expect(s.read() == Array(repeating: 1, count: 100) + Array(repeating: 2, count: 100)
                    + Array(repeating: 3, count: 100) + Array(repeating: 4, count: 100))
        // No gap left: the next in-order short segment is ACKed by the delayed-ACK timer again.
        s.send(.ack, seq: 2401, ack: 101, payload: Array(repeating: 5, count: 100))
        s.expectNothing()
        #expect(s.conn.delayedACKDeadline == Instant(nanoseconds: 200_000_000))
        s.advance(by: .milliseconds(200))
        // The 400 bytes read freed less than an MSS: the right edge stays at 2401 + 65135 (receiver SWS avoidance).
        s.expect(.ack, seq: 101, ack: 2501, window: 65535 - 500, options: [])
    }
}

@Suite struct ConnectionWrapTests {
    @Test func transferAcrossTheSequenceNumberWrapIsExact() {
        // Delayed ACK below the minimum RTO (with a zero RTT both would be 200 ms).
        var c = TCPConfiguration()
        c.delayedACKTimeout = .milliseconds(100)
        let a = TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(0xFFFF_F000), configuration: c, now: .zero)
        let b = TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(0xFFFF_FFF0), configuration: c, now: .zero)
        let p = Pair(a: a, b: b)
        p.run()
        #expect(a.state == .established && b.state == .established)
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        var sent = 0, got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<10_000 where got.count < data.count {
            if sent < data.count { sent += data[sent...].withUnsafeBytes { a.write($0) } }
            _ = [1, 2, 3].withUnsafeBytes { b.write($0) }
            p.runTimed(limit: .seconds(1)) { false }
            let n = buf.withUnsafeMutableBytes { b.read(into: $0) }
            got += buf.prefix(n)
            _ = buf.withUnsafeMutableBytes { a.read(into: $0) }
        }
        #expect(got == data)
        #expect(a.sendUnacknowledged == SequenceNumber(0xFFFF_F001) + 100_000)
        #expect(a.counters.retransmittedSegments == 0)
    }
}
