import Testing
@testable import TCPIP

/// RFC 1191 in the engine: `TCPConnection.lowerPathMTU` shrinks the segments and resends
/// what was in flight at the new size.
@Suite struct ConnectionPathMTUTests {
    @Test func lowerPathMTUResendsEverythingInFlightAtTheNewSizeWithoutShrinkingCwnd() {
        let s = Script.established()  // plain: no options, MSS 1460 both ways, ISS 100
        #expect(s.write(count: 4000) == 4000)
        // Initial window 10 × 1460 (RFC 6928): two full segments; Nagle holds the 1080-byte tail.
        let before = s.output()
        #expect(before.map(\.payload.count) == [1460, 1460])
        #expect(before.map(\.seq) == [101, 1561])
        let cwnd = s.conn.counters.congestionWindow
        #expect(cwnd == 14600)

        // A router says 1000: segments of 960 from SND.UNA, at once, within the same cwnd.
        #expect(s.conn.lowerPathMTU(1000, now: s.now))
        #expect(s.conn.maximumSegmentSizeToPeer == 960)
        let after = s.output()
        #expect(after.map(\.payload.count) == [960, 960, 960, 960])
        #expect(after.map(\.seq) == [101, 1061, 2021, 2981])
        #expect(after.allSatisfy { $0.flags == [.ack] && $0.ack == 2001 })
        #expect(after.flatMap(\.payload) == (0..<3840).map { UInt8(truncatingIfNeeded: $0) })
        // The 2920 bytes sent before went again in four segments (the last also carrying
        // 920 new bytes); no timeout, no congestion response.
        #expect(s.conn.counters.retransmittedSegments == 4)
        #expect(s.conn.counters.timeouts == 0)
        #expect(s.conn.counters.congestionWindow == cwnd)

        // ACKs: the 160-byte tail, then new data, all at most 960 bytes.
        s.send(.ack, seq: 2001, ack: 3941)
        s.expect([.ack, .psh], seq: 3941, ack: 2001, window: 65535, payload: 160, options: [])
        s.send(.ack, seq: 2001, ack: 4101)
        #expect(s.write(count: 2000) == 2000)
        #expect(s.output().map(\.payload.count) == [960, 960])
    }

    @Test func aPathMTUNotBelowTheCurrentSegmentSizeChangesNothing() {
        let s = Script.established()
        #expect(s.write(count: 1000) == 1000)
        _ = s.output()
        #expect(!s.conn.lowerPathMTU(1500, now: s.now))
        #expect(!s.conn.lowerPathMTU(9000, now: s.now))
        #expect(s.conn.maximumSegmentSizeToPeer == 1460)
        s.expectNothing()  // nothing resent
    }

    @Test func thePathMTUNeverGoesBelowSixtyEight() {
        let s = Script.established()
        #expect(s.conn.lowerPathMTU(40, now: s.now))
        #expect(s.conn.maximumSegmentSizeToPeer == 28)
        #expect(s.write(count: 100) == 100)
        // Three full 28-byte segments; Nagle holds the 16-byte tail until they are acknowledged.
        let first = s.output()
        #expect(first.map(\.payload.count) == [28, 28, 28])
        #expect(first.map(\.seq) == [101, 129, 157])
        s.send(.ack, seq: 2001, ack: 185)
        s.expect([.ack, .psh], seq: 185, ack: 2001, window: 65535, payload: 16, options: [])
    }

    @Test func withNothingInFlightOnlyTheSizeChanges() {
        let s = Script.established()
        #expect(s.conn.lowerPathMTU(576, now: s.now))
        s.expectNothing()
        #expect(s.conn.maximumSegmentSizeToPeer == 536)
        #expect(s.conn.counters.retransmittedSegments == 0)
    }
}
