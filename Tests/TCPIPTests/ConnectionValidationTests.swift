import Testing
@testable import TCPIP

/// RFC 9293 §3.10.7.4 acceptability and RFC 5961 checks in synchronized states.
@Suite struct ConnectionValidationTests {
    @Test func outOfWindowDataIsACKedWithRcvNxtAndNotTaken() {
        let s = Script.established()
        s.send(.ack, seq: 2001 + 70_000, ack: 101, payload: [1, 2, 3])
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.read().isEmpty)
        #expect(s.conn.counters.droppedSegments.outOfWindow == 1)
    }

    @Test func emptyOutOfWindowSegmentsBackToBackAreAnsweredOncePerInterval() {
        let s = Script.established()
        s.send(.ack, seq: 1000, ack: 101)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        s.send(.ack, seq: 1000, ack: 101)
        s.expectNothing()
        s.advance(by: .milliseconds(500))
        s.send(.ack, seq: 1000, ack: 101)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
    }

    @Test func oldDuplicateDataIsACKedEveryTime() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 100))
        s.advance(by: .milliseconds(200))
        s.expect(.ack, seq: 101, ack: 2101, window: 65535 - 100, options: [])  // 100 bytes unread
        for _ in 0..<2 {
            s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 1, count: 100))
            s.expect(.ack, seq: 101, ack: 2101, window: 65535 - 100, options: [])  // 100 bytes unread
        }
        #expect(s.read() == Array(repeating: 1, count: 100))
    }

    @Test func segmentStraddlingRcvNxtIsTrimmedToItsNewPart() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: [1, 2, 3, 4])
        s.send(.ack, seq: 2003, ack: 101, payload: [3, 4, 5, 6])
        #expect(s.read() == [1, 2, 3, 4, 5, 6])
        #expect(s.conn.receiveNext == SequenceNumber(2007))
    }

    @Test func segmentBeyondTheWindowIsTrimmedToTheWindow() {
        var c = plainConfiguration()
        c.receiveBufferSize = 1000
        let s = Script.established(configuration: c)
        s.send(.ack, seq: 2001, ack: 101, payload: Array(repeating: 9, count: 1200))
        s.expect(.ack, seq: 101, ack: 3001, window: 0, options: [])
        #expect(s.read().count == 1000)
    }

    @Test func ackForDataNeverSentGetsAnACKAndChangesNothing() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 500)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.conn.state == .established && s.conn.sendUnacknowledged == SequenceNumber(101))
    }

    @Test func synInEstablishedGetsAChallengeACKAndTheConnectionLives() {
        let s = Script.established()
        s.send(.syn, seq: 5000)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.conn.state == .established)
        #expect(s.conn.counters.challengeAcksSent == 1)
        s.send(.syn, seq: 2001)  // in the window, still a challenge (rate-limited: nothing yet)
        s.expectNothing()
        #expect(s.conn.state == .established)
    }

    @Test func segmentWithoutACKFlagInASynchronizedStateIsDropped() {
        let s = Script.established()
        s.send(.psh, seq: 2001, payload: [1, 2, 3])
        s.expectNothing()
        #expect(s.read().isEmpty)
        #expect(s.conn.counters.droppedSegments.noACK == 1)
    }

    @Test func zeroWindowStillAcceptsACKsAtRcvNxt() {
        var c = plainConfiguration()
        c.receiveBufferSize = 100
        let s = Script.established(configuration: c)
        _ = s.write(count: 10)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 100, payload: 10, options: [])
        s.send(.ack, seq: 2001, ack: 111, payload: Array(repeating: 1, count: 100))
        s.advance(by: .milliseconds(200))
        s.expect(.ack, seq: 111, ack: 2101, window: 0, options: [])
        // Window is zero: a segment with data at RCV.NXT is not taken, but its ACK is.
        _ = s.write(count: 5)
        s.expect([.ack, .psh], seq: 111, ack: 2101, window: 0, payload: 5, options: [])
        s.send(.ack, seq: 2101, ack: 116, payload: [7])
        s.expect(.ack, seq: 116, ack: 2101, window: 0, options: [])
        #expect(s.conn.sendUnacknowledged == SequenceNumber(116))
        #expect(s.read().count == 100)
    }

    @Test func ackOlderThanTheLargestWindowGetsAChallengeACK() {
        let s = Script.established()
        // SND.UNA = 101, MAX.SND.WND = 65535: an ACK below 101 - 65535 is not acceptable (RFC 5961 §5).
        s.send(.ack, seq: 2001, ack: 101 &- 70_000, payload: [1, 2, 3])
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.read().isEmpty)
        #expect(s.conn.counters.challengeAcksSent == 1)
        // An old but acceptable duplicate ACK is processed normally: its data is taken.
        s.send(.ack, seq: 2001, ack: 100, payload: [1, 2, 3])
        #expect(s.read() == [1, 2, 3])
    }
}
