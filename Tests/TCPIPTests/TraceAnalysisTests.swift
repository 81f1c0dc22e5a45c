import Testing
@testable import TCPIP

/// Annotations with Wireshark's tcp.analysis meanings, from crafted segments.
@Suite struct TraceAnalysisTests {
    /// A handshake with timestamps and SACK; the server then sends data.
    func established(ts: Bool = false) -> TraceScript {
        var t = TraceScript()
        var o: [TCPOption] = [.maximumSegmentSize(1000), .sackPermitted]
        if ts { o.append(.timestamps(TCPTimestamps(value: 1, echoReply: 0))) }
        t.c(0, .syn, seq: 0, options: o)
        t.s(10, [.syn, .ack], seq: 0, ack: 1, options: o)
        t.c(20, .ack, seq: 1, ack: 1)
        return t
    }

    func sack(_ s: UInt32, _ e: UInt32) -> [TCPOption] {
        [.sack(SACKBlocks([SACKBlock(start: SequenceNumber(s), end: SequenceNumber(e))]))]
    }

    @Test func lossGivesDuplicateAcksWithCountsAndAFastRetransmission() {
        var t = established()
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)          // 3: lost after the capture point
        for k in 1...4 { t.s(30 + Double(k) * 0.1, .ack, seq: 1 + UInt32(k) * 1000, ack: 1, len: 1000) }
        t.c(40, .ack, seq: 1, ack: 1, options: sack(1001, 2001))   // 8
        t.c(40.1, .ack, seq: 1, ack: 1, options: sack(1001, 3001))
        t.c(40.2, .ack, seq: 1, ack: 1, options: sack(1001, 4001))
        t.s(41, .ack, seq: 1, ack: 1, len: 1000)          // 11: fast retransmission
        t.c(51, .ack, seq: 1, ack: 5001)
        let c = t.conversation
        let e = c.events
        #expect(e[8].annotations.contains(.duplicateAck) && e[8].duplicateAckNumber == 1)
        #expect(e[9].duplicateAckNumber == 2)
        #expect(e[10].duplicateAckNumber == 3)
        #expect(e[11].annotations == [.fastRetransmission])
        #expect(e[11].annotations.isRetransmission)
        #expect(e[8].relativeSACK.map { [$0.start, $0.end] } == [[1001, 2001]])
        #expect(e[12].duplicateAckNumber == 0)
        // The final ACK exactly covers the last segment, sent once at 30.4 ms.
        #expect(e[12].rtt == .microseconds(20_600))
        #expect(e[1].rtt == .milliseconds(10))
        #expect(c.summary.retransmissions == 1)
        #expect(c.summary.bytesServerToClient == 5000)
    }

    @Test func retransmissionLongAfterIsNotOutOfOrder() {
        var t = established()
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)
        t.s(31, .ack, seq: 1001, ack: 1, len: 1000)
        t.s(31.5, .ack, seq: 1, ack: 1, len: 1000)       // within the first RTT (20 ms): reordered
        t.s(300, .ack, seq: 1001, ack: 1, len: 1000)     // long after: a retransmission
        let e = t.conversation.events
        #expect(e[5].annotations == [.outOfOrder])
        #expect(e[6].annotations == [.retransmission])
    }

    @Test func segmentBeyondTheHighestSeenIsAGapBeforeTheCapture() {
        var t = established()
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)
        t.s(31, .ack, seq: 2001, ack: 1, len: 1000)
        t.c(32, .ack, seq: 1, ack: 3001)
        let e = t.conversation.events
        #expect(e[4].annotations.contains(.previousSegmentNotCaptured))
        // The ACK covers bytes the capture never saw, as Wireshark also says.
        #expect(e[5].annotations.contains(.ackedUnseenSegment))
    }

    @Test func zeroWindowProbeAndItsAck() {
        var t = established()
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)
        t.c(31, .ack, seq: 1, ack: 1001, win: 0)           // 4: zero window
        t.s(231, .ack, seq: 1001, ack: 1, len: 1)           // 5: probe
        t.c(232, .ack, seq: 1, ack: 1001, win: 0)           // 6: probe ACK
        t.c(500, .ack, seq: 1, ack: 1001, win: 8000)        // 7: window update
        let e = t.conversation.events
        #expect(e[4].annotations == [.zeroWindow])
        #expect(e[5].annotations == [.zeroWindowProbe])
        #expect(e[6].annotations == [.zeroWindowProbeAck, .zeroWindow])
        #expect(e[7].annotations == [.windowUpdate])
        #expect(e[7].window == 8000)
    }

    @Test func keepAliveAndItsAck() {
        var t = established()
        t.c(1000, .ack, seq: 0, ack: 1)                     // one below the next sequence
        t.s(1001, .ack, seq: 1, ack: 1)
        let e = t.conversation.events
        #expect(e[3].annotations == [.keepAlive])
        #expect(e[4].annotations == [.keepAliveAck])
    }

    @Test func segmentFillingTheScaledWindowIsWindowFull() {
        var t = TraceScript()
        t.c(0, .syn, seq: 0, win: 1000, options: [.windowScale(2)])
        t.s(10, [.syn, .ack], seq: 0, ack: 1, win: 1000, options: [.windowScale(1)])
        t.c(20, .ack, seq: 1, ack: 1, win: 1000)              // client window 1000 << 2 = 4000
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)
        t.s(30.1, .ack, seq: 1001, ack: 1, len: 3000)          // up to 4001: the edge
        let c = t.conversation
        #expect(c.clientWindowScale == 2 && c.serverWindowScale == 1)
        #expect(c.events[2].window == 4000)
        #expect(c.events[4].annotations == [.windowFull])
        #expect(c.events[3].window == 65535 << 1)
    }

    @Test func dsackMarksTheRetransmissionSpurious() {
        var t = established()
        t.s(30, .ack, seq: 1, ack: 1, len: 1000)
        t.s(300, .ack, seq: 1, ack: 1, len: 1000)             // 4: timeout retransmission
        t.c(301, .ack, seq: 1, ack: 1001, options: sack(1, 1001))   // 5: D-SACK: it had them already
        let e = t.conversation.events
        #expect(e[4].annotations.contains(.retransmission))
        #expect(e[4].annotations.contains(.spuriousByDSACK))
        #expect(e[5].annotations.contains(.duplicateSACK))
        // Karn: an ACK of a retransmitted segment gives no RTT sample.
        #expect(e[5].rtt == nil)
        #expect(t.conversation.summary.spuriousRetransmissions == 1)
    }

    @Test func timestampEchoOfTheOriginalMarksTheRetransmissionSpurious() {
        var t = established(ts: true)
        func ts(_ v: UInt32, _ e: UInt32) -> [TCPOption] { [.timestamps(TCPTimestamps(value: v, echoReply: e))] }
        t.s(30, .ack, seq: 1, ack: 1, len: 1000, options: ts(100, 1))
        t.s(300, .ack, seq: 1, ack: 1, len: 1000, options: ts(370, 1))   // 4
        t.c(301, .ack, seq: 1, ack: 1001, options: ts(5, 100))            // echoes the original
        t.s(310, .ack, seq: 1001, ack: 1, len: 1000, options: ts(380, 5))
        t.s(600, .ack, seq: 1001, ack: 1, len: 1000, options: ts(670, 5)) // 7
        t.c(601, .ack, seq: 1, ack: 2001, options: ts(9, 670))            // echoes the retransmission
        let e = t.conversation.events
        #expect(e[4].annotations.contains(.spuriousByTimestamps))
        #expect(!e[7].annotations.contains(.spuriousByTimestamps))
        #expect(e[7].annotations.contains(.retransmission))
    }

    @Test func portReuseWithANewISNStartsANewStream() {
        var t = TraceScript.textbook
        t.c(5000, .syn, seq: 90000)
        t.s(5001, [.syn, .ack], seq: 70000, ack: 90001)
        let streams = TraceStream.group(t.segments)
        #expect(streams.count == 2)
        #expect(streams[0].segments.count == 11)
        #expect(streams[1].segments.count == 2)
        #expect(streams[1].index == 1)
        // A retransmitted SYN with the same ISN stays in its stream.
        var u = TraceScript()
        u.c(0, .syn, seq: 5)
        u.c(1000, .syn, seq: 5)
        #expect(TraceStream.group(u.segments).count == 1)
    }
}
