import Testing
@testable import TCPIP

/// RFC 1191 in the engine: `TCPConnection.lowerPathMTU` shrinks the segments and resends
/// what was in flight at the new size.
@Suite struct ConnectionPathMTUTests {
    @Test func lowerPathMTUResendsEverythingInFlightAtTheNewSizeWithoutShrinkingCwnd() {
        let s = Script.established()  // plain: no options, MSS 1460 both ways, ISS 100
        #expect(s.write(count: 4000) == 4000)
        // Initial window 10 × 1460 (RFC 6928): two full segments and the 1080-byte tail (Minshall's
        // Nagle sends a short segment while no other short one is unacknowledged; classic Nagle
        // held it, and this test then saw 920 of its bytes go as new data within the resend).
        let before = s.output()
        #expect(before.map(\.payload.count) == [1460, 1460, 1080])
        #expect(before.map(\.seq) == [101, 1561, 3021])
        let cwnd = s.conn.counters.congestionWindow
        #expect(cwnd == 14600)

        // A router says 1000: segments of 960 from SND.UNA, at once, within the same cwnd.
        #expect(s.conn.lowerPathMTU(1000, now: s.now))
        #expect(s.conn.maximumSegmentSizeToPeer == 960)
        let after = s.output()
        #expect(after.map(\.payload.count) == [960, 960, 960, 960, 160])
        #expect(after.map(\.seq) == [101, 1061, 2021, 2981, 3941])
        #expect(after.map(\.flags) == [.ack, .ack, .ack, .ack, [.ack, .psh]])
        #expect(after.allSatisfy { $0.ack == 2001 })
        #expect(after.flatMap(\.payload) == (0..<4000).map { UInt8(truncatingIfNeeded: $0) })
        // The 4000 bytes sent before went again in five segments; no timeout, no congestion response.
        #expect(s.conn.counters.retransmittedSegments == 5)
        #expect(s.conn.counters.timeouts == 0)
        #expect(s.conn.counters.congestionWindow == cwnd)

        // New data after the ACK: at most 960 bytes a segment (the 80-byte tail goes too: the
        // short segment sent before, 3021..4101, is acknowledged).
        s.send(.ack, seq: 2001, ack: 4101)
        s.expectNothing()
        #expect(s.write(count: 2000) == 2000)
        let more = s.output()
        #expect(more.map(\.payload.count) == [960, 960, 80])
        #expect(more.map(\.seq) == [4101, 5061, 6021])
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
        // Three full 28-byte segments and the 16-byte tail (Minshall's Nagle: no short segment
        // was outstanding; classic Nagle held the tail until the full ones were acknowledged).
        let first = s.output()
        #expect(first.map(\.payload.count) == [28, 28, 28, 16])
        #expect(first.map(\.seq) == [101, 129, 157, 185])
        // A further short write waits for the ACK of that 16-byte segment.
        #expect(s.write(count: 10) == 10)
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 201)
        s.expect([.ack, .psh], seq: 201, ack: 2001, window: 65535, payload: 10, options: [])
    }

    @Test func withNothingInFlightOnlyTheSizeChanges() {
        let s = Script.established()
        #expect(s.conn.lowerPathMTU(576, now: s.now))
        s.expectNothing()
        #expect(s.conn.maximumSegmentSizeToPeer == 536)
        #expect(s.conn.counters.retransmittedSegments == 0)
    }
}
