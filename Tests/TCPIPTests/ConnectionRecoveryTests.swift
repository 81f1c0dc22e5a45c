import Testing
@testable import TCPIP

/// RTO (RFC 6298), fast retransmit / NewReno (RFC 5681, 6582), SACK recovery (RFC 6675),
/// limited transmit (RFC 3042), slow start and restart after idle.
@Suite struct ConnectionRecoveryTests {
    /// Established sender with peer MSS 1000 (no timestamps: payload 1000), 10 segments
    /// (IW = 10 000 bytes) sent at seq 101, 1101, ..., 9101.
    func senderWithTenSegments(sack: Bool = false, bytes: Int = 10_000) -> Script {
        var c = plainConfiguration()
        c.selectiveAcknowledgments = sack
        c.sendBufferSize = 65535
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: c, now: .zero))
        _ = s.output()
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 65535,
               options: sack ? [.maximumSegmentSize(1000), .noOperation, .noOperation, .sackPermitted] : [.maximumSegmentSize(1000)])
        _ = s.output()
        #expect(s.write(count: bytes) == bytes)
        let out = s.output()
        #expect(out.map(\.seq) == (0..<10).map { (k: Int) -> UInt32 in UInt32(101 + 1000 * k) })
        return s
    }

    func sackOption(_ ranges: [(UInt32, UInt32)]) -> [TCPOption] {
        [.noOperation, .noOperation, .sack(SACKBlocks(ranges.map { SACKBlock(start: SequenceNumber($0.0), end: SequenceNumber($0.1)) }))]
    }

    @Test func rtoDoublesOnEachTimeoutUpToTheBoundThenTimesOut() {
        let s = Script.established()
        _ = s.write(count: 100)
        s.expect([.ack, .psh], seq: 101, window: 65535, payload: 100, options: [])
        var intervals: [Duration] = []
        var last = s.now
        while s.conn.state == .established {
            s.advanceToDeadline()
            let out = s.output()
            intervals.append(s.now - last)
            last = s.now
            if s.conn.state == .established { #expect(out.count == 1 && out.first?.seq == 101) }
        }
        // RTO 200 ms (minimum; handshake RTT 0), doubled: 0.2 ... 102.4 s, then the 120 s bound.
        let expected: [Duration] = (0..<10).map { .milliseconds(200 << $0) } + Array(repeating: .seconds(120), count: 6)
        #expect(intervals == expected)
        // 15 retransmissions, timed out at the 16th expiry: 204.6 + 720 = 924.6 s.
        #expect(s.now == Instant(nanoseconds: 924_600_000_000))
        #expect(s.conn.counters.retransmittedSegments == 15)
        #expect(s.events().last == .closed(.timedOut))
    }

    @Test func karnNoRTTSampleFromARetransmittedSegment() {
        let s = Script.established()
        #expect(s.conn.counters.smoothedRTT == .zero)
        _ = s.write(count: 100)
        _ = s.output()
        s.advanceToDeadline()
        _ = s.output()  // retransmission at 200 ms
        s.advance(by: .milliseconds(300))
        s.send(.ack, seq: 2001, ack: 201)
        #expect(s.conn.counters.smoothedRTT == .zero)
        // The backoff stays until a valid sample: RTO is still 400 ms.
        #expect(s.conn.counters.retransmissionTimeout == .milliseconds(400))
        _ = s.write(count: 100)
        _ = s.output()
        s.advance(by: .milliseconds(80))
        s.send(.ack, seq: 2001, ack: 301)
        // A fresh segment is timed: SRTT = 80/8 = 10 ms.
        #expect(s.conn.counters.smoothedRTT == .milliseconds(10))
    }

    @Test func fastRetransmitAfterThreeDuplicateACKsWithLimitedTransmitOnTheFirstTwo() {
        let s = senderWithTenSegments(bytes: 12_000)
        // Segment 101 is lost; segments 1101, 2101, 3101 arrive: three duplicate ACKs for 101.
        s.send(.ack, seq: 2001, ack: 101)
        s.expect([.ack], seq: 10101, window: 65535, payload: 1000, options: [])  // limited transmit
        s.send(.ack, seq: 2001, ack: 101)
        s.expect([.ack, .psh], seq: 11101, window: 65535, payload: 1000, options: [])  // limited transmit
        s.send(.ack, seq: 2001, ack: 101)
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])  // fast retransmit
        #expect(s.conn.counters.fastRetransmits == 1 && s.conn.counters.duplicateAcksReceived == 3)
        // ssthresh = FlightSize/2 = 12000/2; cwnd = ssthresh + 3 SMSS.
        #expect(s.conn.counters.slowStartThreshold == 6000 && s.conn.counters.congestionWindow == 9000)
        // The retransmission fills the hole: everything is acknowledged, recovery ends with
        // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(6000, 2000).
        s.send(.ack, seq: 2001, ack: 12101)
        #expect(s.conn.counters.congestionWindow == 2000)
        s.expectNothing()
    }

    @Test func newRenoRetransmitsOnPartialACKsForSeveralLossesWithoutSACK() {
        let s = senderWithTenSegments()
        // Segments 101 and 2101 lost. ACKs for 1101, 3101, 4101: three duplicates -> fast retransmit.
        for _ in 0..<3 { s.send(.ack, seq: 2001, ack: 101) }
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        // ssthresh = max(FlightSize 10000 / 2, 2 SMSS) = 5000, cwnd = 5000 + 3 SMSS = 8000.
        #expect(s.conn.counters.slowStartThreshold == 5000 && s.conn.counters.congestionWindow == 8000)
        // Segments 5101..9101 arrive: five more duplicates inflate cwnd to 13000; no new data queued.
        for _ in 0..<5 { s.send(.ack, seq: 2001, ack: 101) }
        #expect(s.conn.counters.congestionWindow == 13000)
        s.expectNothing()
        // The retransmission arrives: ACK 2101 is partial (recover = 10101): retransmit 2101 at once,
        // deflate by the 2000 acknowledged and add back one SMSS: 13000 - 2000 + 1000.
        s.send(.ack, seq: 2001, ack: 2101)
        s.expect(.ack, seq: 2101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.congestionWindow == 12000)
        s.send(.ack, seq: 2001, ack: 10101)
        #expect(s.conn.counters.congestionWindow == 2000)
        #expect(s.conn.counters.fastRetransmits == 1 && s.conn.counters.timeouts == 0)
        #expect(s.conn.counters.retransmittedSegments == 2)
    }

    @Test func sackRecoveryRetransmitsEachLostSegmentWhenThePipeAllows() {
        let s = senderWithTenSegments(sack: true)
        // 101 and 2101 lost.
        s.send(.ack, seq: 2001, ack: 101, options: sackOption([(1101, 2101)]))
        s.send(.ack, seq: 2001, ack: 101, options: sackOption([(3101, 4101), (1101, 2101)]))
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 101, options: sackOption([(3101, 5101), (1101, 2101)]))
        // Third duplicate: IsLost(101) (3000 bytes SACKed above): fast retransmit of 101.
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.congestionWindow == 5000)
        // SACK of 5101..6101: pipe = 1000 (101, retransmitted) + 0 (2101 now lost: 4000 SACKed above)
        //   + 4000 (6101..10101) = 5000 = cwnd: nothing.
        s.send(.ack, seq: 2001, ack: 101, options: sackOption([(3101, 6101), (1101, 2101)]))
        s.expectNothing()
        // SACK of 6101..7101: pipe 4000 < cwnd: NextSeg rule 1 gives the lost 2101.
        s.send(.ack, seq: 2001, ack: 101, options: sackOption([(3101, 7101), (1101, 2101)]))
        s.expect(.ack, seq: 2101, window: 65535, payload: 1000, options: [])
        s.send(.ack, seq: 2001, ack: 10101)
        #expect(s.conn.counters.fastRetransmits == 1 && s.conn.counters.retransmittedSegments == 2)
        #expect(s.conn.counters.timeouts == 0)
    }

    @Test func timeoutGoesBackToSndUnaWithOneSegmentWindow() {
        let s = senderWithTenSegments()
        s.advanceToDeadline()
        // cwnd = 1 SMSS: only the first segment again.
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.congestionWindow == 1000 && s.conn.counters.slowStartThreshold == 5000)
        // Its ACK opens cwnd to 2 SMSS: the next two (retransmitted) segments.
        s.send(.ack, seq: 2001, ack: 1101)
        #expect(s.output().map(\.seq) == [1101, 2101])
    }

    @Test func slowStartGrowsCwndByOneSMSSPerACKedSMSS() {
        let s = senderWithTenSegments(bytes: 30_000)
        #expect(s.conn.counters.congestionWindow == 10_000)
        s.send(.ack, seq: 2001, ack: 1101)
        #expect(s.conn.counters.congestionWindow == 11_000)
        s.send(.ack, seq: 2001, ack: 3101)
        // One ACK for two segments: + min(2000, 2 SMSS) (RFC 3465, L = 2).
        #expect(s.conn.counters.congestionWindow == 13_000)
        // 7000 bytes (3101..10101) in flight under cwnd 13 000: six new segments.
        #expect(s.output().map(\.seq) == (10..<16).map { (k: Int) -> UInt32 in UInt32(101 + 1000 * k) })
    }

    @Test func restartAfterIdleResetsCwndToTheRestartWindow() {
        let s = senderWithTenSegments()
        s.send(.ack, seq: 2001, ack: 10101)
        #expect(s.conn.counters.congestionWindow == 12_000)  // + min(10000, 2 SMSS)
        s.advance(by: .seconds(5))  // idle longer than the RTO
        _ = s.write(count: 30_000)
        #expect(s.output().count == 10)
        #expect(s.conn.counters.congestionWindow == 10_000)
    }
    @Test func congestionAvoidanceGrowsCwndByOneSMSSPerWindowOfACKedBytes() {
        // SMSS 1000 (the peer's MSS, no options), IW 10 000. A timeout sets
        // ssthresh = FlightSize/2 = 10 000/2 = 5000 and cwnd = 1 SMSS; slow start (RFC 3465, L = 2)
        // then climbs 1000 → 2000 → 4000 → 6000 ≥ ssthresh.
        let s = senderWithTenSegments(bytes: 60_000)
        s.advanceToDeadline()
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.congestionWindow == 1000 && s.conn.counters.slowStartThreshold == 5000)
        s.send(.ack, seq: 2001, ack: 1101)
        #expect(s.conn.counters.congestionWindow == 2000)            // + min(1000, 2 SMSS)
        #expect(s.output().map(\.seq) == [1101, 2101])
        s.send(.ack, seq: 2001, ack: 3101)
        #expect(s.conn.counters.congestionWindow == 4000)            // + min(2000, 2 SMSS)
        #expect(s.output().map(\.seq) == [3101, 4101, 5101, 6101])
        s.send(.ack, seq: 2001, ack: 7101)
        #expect(s.conn.counters.congestionWindow == 6000)            // + min(4000, 2 SMSS): now ≥ ssthresh
        #expect(s.output().map(\.seq) == (7..<13).map { (k: Int) -> UInt32 in UInt32(101 + 1000 * k) })

        // Congestion avoidance, byte counting (RFC 5681 §3.1, RFC 3465 §2.1): acknowledged bytes
        // accumulate and cwnd grows by one SMSS only once a whole cwnd of them (6000: one RTT's
        // worth) has been acknowledged. The first five ACKs (5000 bytes) leave cwnd at 6000, each
        // releasing one segment; the sixth reaches 6000 and cwnd becomes 7000 (two segments go).
        var next: UInt32 = 13_101
        for k in 1...5 {
            s.send(.ack, seq: 2001, ack: 7101 + UInt32(1000 * k))
            #expect(s.conn.counters.congestionWindow == 6000, "ACK \(k)")
            #expect(s.output().map(\.seq) == [next], "ACK \(k)")
            next += 1000
        }
        s.send(.ack, seq: 2001, ack: 13_101)
        #expect(s.conn.counters.congestionWindow == 7000)
        #expect(s.output().map(\.seq) == [next, next + 1000])
        next += 2000
        // The next RTT: 7000 bytes more for the next SMSS (the counter restarted at 0).
        for k in 1...6 {
            s.send(.ack, seq: 2001, ack: 13_101 + UInt32(1000 * k))
            #expect(s.conn.counters.congestionWindow == 7000, "ACK \(k) of the second round")
            #expect(s.output().map(\.seq) == [next], "ACK \(k) of the second round")
            next += 1000
        }
        s.send(.ack, seq: 2001, ack: 20_101)
        #expect(s.conn.counters.congestionWindow == 8000)
        #expect(s.output().map(\.seq) == [next, next + 1000])
        #expect(s.conn.counters.slowStartThreshold == 5000)
        #expect(s.conn.counters.timeouts == 1 && s.conn.counters.fastRetransmits == 0)
    }
}
