import Testing
@testable import TCPIP

@Suite struct NewRenoTests {
    let t0 = Instant.zero

    @Test func initialWindowFollowsRFC6928() {
        #expect(CongestionWindow.initialWindow(maximumSegmentSize: 1460) == 14_600)   // min(14600, max(2920, 14600))
        #expect(CongestionWindow.initialWindow(maximumSegmentSize: 536) == 5_360)     // min(5360, 14600)
        #expect(CongestionWindow.initialWindow(maximumSegmentSize: 9000) == 18_000)   // max(18000, 14600)
        let r = NewReno(maximumSegmentSize: 1460)
        #expect(r.congestionWindow == 14_600)
        #expect(r.slowStartThreshold == 65_535 << 14)
        #expect(NewReno(maximumSegmentSize: 1460, initialWindow: 4380).congestionWindow == 4380)
    }

    @Test func slowStartGrowsByAckedBytesUpToTwoSegmentsPerAck() {
        var r = NewReno(maximumSegmentSize: 1460)
        r.onAck(ackedBytes: 1460, flightSize: 14_600, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 16_060)            // 14600 + 1460
        r.onAck(ackedBytes: 2920, flightSize: 14_600, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 18_980)            // + 2920 (= L·SMSS, still allowed)
        r.onAck(ackedBytes: 14_600, flightSize: 18_980, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 21_900)            // stretch ACK: + min(14600, 2·1460) = + 2920
        r.onAck(ackedBytes: 0, flightSize: 0, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 21_900)            // nothing acknowledged: no change
    }

    @Test func congestionAvoidanceGrowsOneSegmentPerWindowOfAckedBytes() {
        var r = NewReno(maximumSegmentSize: 1460)
        r.onEnterRecovery(flightSize: 40_000, now: t0)
        #expect(r.slowStartThreshold == 20_000)          // max(40000/2, 2920)
        #expect(r.congestionWindow == 20_000)
        r.onExitRecovery(flightSize: 30_000, now: t0)
        #expect(r.congestionWindow == 20_000)            // min(20000, max(30000, 1460) + 1460)
        // cwnd == ssthresh: congestion avoidance. 13 ACKs of 1460 = 18980 < 20000: no growth yet.
        for _ in 0..<13 { r.onAck(ackedBytes: 1460, flightSize: 20_000, now: t0, smoothedRTT: nil) }
        #expect(r.congestionWindow == 20_000)
        // The 14th brings 20440 ≥ cwnd: + 1 SMSS, 440 carried over.
        r.onAck(ackedBytes: 1460, flightSize: 20_000, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 21_460)
        #expect(r.bytesAckedInAvoidance == 440)
        // Next window: 440 + 14·1460 = 20880 < 21460; the 15th ACK reaches 22340: + 1 SMSS, 880 left.
        for _ in 0..<14 { r.onAck(ackedBytes: 1460, flightSize: 21_460, now: t0, smoothedRTT: nil) }
        #expect(r.congestionWindow == 21_460)
        r.onAck(ackedBytes: 1460, flightSize: 21_460, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 22_920)
        #expect(r.bytesAckedInAvoidance == 880)
    }

    @Test func recoveryInflatesDeflatesAndExitsPerRFC6582() {
        var r = NewReno(maximumSegmentSize: 1460)
        // Loss with 20 segments in flight: ssthresh = 14600, cwnd = ssthresh.
        r.onEnterRecovery(flightSize: 29_200, now: t0)
        #expect(r.slowStartThreshold == 14_600)
        #expect(r.congestionWindow == 14_600)
        r.inflate(by: 3 * 1460)                          // the engine's 3·SMSS (no SACK)
        #expect(r.congestionWindow == 18_980)
        r.inflate(by: 1460)                              // one more duplicate ACK
        #expect(r.congestionWindow == 20_440)
        // Partial ACK of 5840 new bytes: deflate by it, add back one SMSS.
        r.deflate(by: 5840)
        r.inflate(by: 1460)
        #expect(r.congestionWindow == 16_060)
        // Full ACK with 4000 bytes still in flight: min(14600, max(4000, 1460) + 1460) = 5460.
        r.onExitRecovery(flightSize: 4000, now: t0)
        #expect(r.congestionWindow == 5460)
        #expect(r.isInSlowStart)
        r.deflate(by: 100_000)
        #expect(r.congestionWindow == 1460)              // never below one SMSS
        // Small flight: ssthresh floor of 2·SMSS.
        r.onEnterRecovery(flightSize: 2000, now: t0)
        #expect(r.slowStartThreshold == 2920)
    }

    @Test func timeoutCollapsesTheWindowToOneSegment() {
        var r = NewReno(maximumSegmentSize: 1460)
        for _ in 0..<10 { r.onAck(ackedBytes: 2920, flightSize: 30_000, now: t0, smoothedRTT: nil) }
        #expect(r.congestionWindow == 43_800)            // 14600 + 10·2920
        r.onRetransmissionTimeout(flightSize: 43_800, now: t0)
        #expect(r.slowStartThreshold == 21_900)          // 43800 / 2
        #expect(r.congestionWindow == 1460)              // the loss window
        r.onAck(ackedBytes: 1460, flightSize: 1460, now: t0, smoothedRTT: nil)
        #expect(r.congestionWindow == 2920)              // slow start again
    }

    @Test func idleRestartLimitsTheWindowToTheInitialWindow() {
        var r = NewReno(maximumSegmentSize: 1460)
        for _ in 0..<10 { r.onAck(ackedBytes: 2920, flightSize: 30_000, now: t0, smoothedRTT: nil) }
        r.onIdleRestart(now: t0 + .seconds(5))
        #expect(r.congestionWindow == 14_600)            // min(IW, 43800)
        r.onRetransmissionTimeout(flightSize: 14_600, now: t0)
        r.onIdleRestart(now: t0 + .seconds(10))
        #expect(r.congestionWindow == 1460)              // min(IW, 1460): never raised
    }

    @Test func settingTheMSSBeforeAnyEventRecomputesTheInitialWindow() {
        var r = NewReno(maximumSegmentSize: 536)
        #expect(r.congestionWindow == 5360)
        r.maximumSegmentSize = 1460
        #expect(r.congestionWindow == 14_600)
        r.onAck(ackedBytes: 1460, flightSize: 1460, now: t0, smoothedRTT: nil)
        r.maximumSegmentSize = 1000
        #expect(r.congestionWindow == 16_060)            // after growth the window is kept
        #expect(r.maximumSegmentSize == 1000)
    }

    @Test func controllerForwardsToTheChosenAlgorithm() {
        var c = CongestionController(.newReno, maximumSegmentSize: 1460)
        var r = NewReno(maximumSegmentSize: 1460)
        #expect(c.algorithm == .newReno)
        c.onAck(ackedBytes: 2920, flightSize: 14_600, now: t0, smoothedRTT: nil)
        r.onAck(ackedBytes: 2920, flightSize: 14_600, now: t0, smoothedRTT: nil)
        c.onEnterRecovery(flightSize: 17_520, now: t0); r.onEnterRecovery(flightSize: 17_520, now: t0)
        c.inflate(by: 4380); r.inflate(by: 4380)
        c.deflate(by: 1000); r.deflate(by: 1000)
        c.onExitRecovery(flightSize: 3000, now: t0); r.onExitRecovery(flightSize: 3000, now: t0)
        #expect(c.congestionWindow == r.congestionWindow)
        #expect(c.slowStartThreshold == r.slowStartThreshold)
        #expect(c.congestionWindow == 4460)              // min(8760, 3000 + 1460)
        c.onRetransmissionTimeout(flightSize: 4460, now: t0)
        #expect(c.congestionWindow == 1460)
        c.maximumSegmentSize = 1400
        #expect(c.maximumSegmentSize == 1400)
        let cubic = CongestionController(.cubic, maximumSegmentSize: 1460)
        #expect(cubic.algorithm == .cubic)
        #expect(cubic.congestionWindow == 14_600)
    }
}
