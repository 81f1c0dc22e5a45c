import Testing
@testable import TCPIP

@Suite struct CubicTests {
    static let t0 = Instant(nanoseconds: 10_000_000_000)
    static let rtt = Duration.milliseconds(100)

    static func close(_ a: Double, _ b: Double, _ eps: Double = 1e-9) -> Bool { abs(a - b) <= eps * max(1, abs(b)) }

    /// A CUBIC sender with SMSS 1000 that has just lost a packet at cwnd = W_max = 100 segments
    /// with 100 segments in flight, and left recovery.
    static func afterLossAt100() -> Cubic {
        var c = Cubic(maximumSegmentSize: 1000, initialWindow: 100_000)
        c.onEnterRecovery(flightSize: 100_000, now: t0)
        c.onExitRecovery(flightSize: 70_000, now: t0)
        return c
    }

    @Test func cubeRootIsAccurate() {
        #expect(Self.close(Cubic.cubeRoot(75), 4.217163326508746))
        #expect(Self.close(Cubic.cubeRoot(27), 3))
        #expect(Self.close(Cubic.cubeRoot(-8), -2))
        #expect(Self.close(Cubic.cubeRoot(1e-12), 1e-4))
        #expect(Cubic.cubeRoot(0) == 0)
    }

    @Test func lossAtWmax100SetsThresholdAndKPerRFC9438() {
        var c = Self.afterLossAt100()
        #expect(c.maximumWindow == 100)
        #expect(c.slowStartThreshold == 70_000)          // 100 000 · β (0.7)
        #expect(c.congestionWindow == 70_000)            // min(ssthresh, max(70000, 1000) + 1000)
        // The first ACK in congestion avoidance starts the epoch:
        // K = ∛(W_max·(1 − β)/C) = ∛(100·0.3/0.4) = ∛75 = 4.217163326508746 s.
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0 + .seconds(1), smoothedRTT: Self.rtt)
        #expect(c.epochStart == Self.t0 + .seconds(1))
        #expect(Self.close(c.k, 4.217163326508746))
        // W_cubic(t) = 0.4·(t − K)³ + 100:
        //   t = 0: 0.4·(−4.2172)³ + 100 = −30 + 100 = 70      t = 1: 86.68076383512988
        //   t = 2: 95.64033568663878    t = K: 100            t = 6: 102.26670325646442
        //   t = 10: 177.35399908835427
        #expect(Self.close(c.cubicWindow(at: .zero), 70))
        #expect(Self.close(c.cubicWindow(at: .seconds(1)), 86.68076383512988))
        #expect(Self.close(c.cubicWindow(at: .seconds(2)), 95.64033568663878))
        #expect(Self.close(c.cubicWindow(at: .nanoseconds(4_217_163_327)), 100))
        #expect(Self.close(c.cubicWindow(at: .seconds(6)), 102.26670325646442))
        #expect(Self.close(c.cubicWindow(at: .seconds(10)), 177.35399908835427))
    }

    @Test func firstAckOfTheEpochIsInTheRenoFriendlyRegion() {
        var c = Self.afterLossAt100()
        // t = 0: W_est = 70 + α·1/70 with α = 3·0.3/1.7 = 0.5294117647: 70.00756302521009,
        // W_cubic(0) = 70 < W_est, so cwnd = W_est = 70 007.56 bytes.
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0 + .seconds(1), smoothedRTT: Self.rtt)
        #expect(Self.close(c.renoEstimate, 70.00756302521009))
        #expect(c.congestionWindow == 70_007)
    }

    @Test func renoFriendlyRegionGrowsLikeRenoWhenCubicIsBelow() {
        var c = Self.afterLossAt100()
        // 70 one-segment ACKs all at the epoch's first instant (t = 0, W_cubic = 70): the window
        // follows W_est, which gains α/cwnd per ACK: 70.52745296306891 segments after 70 ACKs.
        for _ in 0..<70 { c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0, smoothedRTT: Self.rtt) }
        #expect(Self.close(c.renoEstimate, 70.52745296306891))
        #expect(c.congestionWindow == 70_527)
        #expect(c.cubicWindow(at: .zero) < c.renoEstimate)
    }

    @Test func concaveRegionApproachesTheCubicTargetOneRTTAhead() {
        var c = Self.afterLossAt100()
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0 + .seconds(1), smoothedRTT: Self.rtt)   // epoch start, cwnd 70.00756
        // t = 2 s: W_cubic(2) = 95.64 > W_est = 70.01513. target = W_cubic(2 + 0.1) = 96.20402731269051
        // (inside [cwnd, 1.5·cwnd]); cwnd += (96.204 − 70.00756)/70.00756 · 1 → 70.38175780010958.
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0 + .seconds(3), smoothedRTT: Self.rtt)
        #expect(Self.close(c.renoEstimate, 70.01512523337487))
        #expect(c.congestionWindow == 70_381)
    }

    @Test func convexRegionGrowthIsCappedAtHalfASegmentPerSegmentAcked() {
        var c = Self.afterLossAt100()
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0, smoothedRTT: Self.rtt)
        // t = 20 s: W_cubic(20.1) ≈ 1702 segments ≫ 1.5·cwnd, so target = 1.5·cwnd and
        // cwnd += 0.5·cwnd/cwnd = 0.5 segment per acknowledged segment: + 500 bytes, + 1000 for two.
        let before = c.congestionWindow
        c.onAck(ackedBytes: 1000, flightSize: 70_000, now: Self.t0 + .seconds(20), smoothedRTT: Self.rtt)
        #expect(abs(c.congestionWindow - (before + 500)) <= 1)
        let mid = c.congestionWindow
        c.onAck(ackedBytes: 2000, flightSize: 70_000, now: Self.t0 + .seconds(20), smoothedRTT: Self.rtt)
        #expect(abs(c.congestionWindow - (mid + 1000)) <= 1)
    }

    @Test func fastConvergenceLowersWmaxWhenLossComesBelowThePreviousWmax() {
        var c = Self.afterLossAt100()                      // W_max = 100
        c.inflate(by: 20_000)                              // cwnd 90 segments
        c.onEnterRecovery(flightSize: 90_000, now: Self.t0 + .seconds(5))
        // 90 < 100: W_max = 90·(1 + 0.7)/2 = 76.5; ssthresh = 0.7·90000 = 63000.
        #expect(Self.close(c.maximumWindow, 76.5))
        #expect(c.slowStartThreshold == 63_000)
        #expect(c.congestionWindow == 63_000)
        c.onAck(ackedBytes: 1000, flightSize: 63_000, now: Self.t0 + .seconds(6), smoothedRTT: Self.rtt)
        // K = ∛((76.5 − 63)/0.4) = ∛33.75 = 3.2316520350478255 s.
        #expect(Self.close(c.k, 3.2316520350478255))

        var plain = Self.afterLossAt100()
        plain.fastConvergence = false
        plain.inflate(by: 20_000)
        plain.onEnterRecovery(flightSize: 90_000, now: Self.t0 + .seconds(5))
        #expect(plain.maximumWindow == 90)                 // without fast convergence W_max = cwnd
        plain.onAck(ackedBytes: 1000, flightSize: 63_000, now: Self.t0 + .seconds(6), smoothedRTT: Self.rtt)
        #expect(Self.close(plain.k, 4.07162642489236))     // ∛((90 − 63)/0.4) = ∛67.5

        // A loss above the previous W_max sets W_max to cwnd.
        var up = Self.afterLossAt100()
        up.inflate(by: 50_000)                             // 120 segments
        up.onEnterRecovery(flightSize: 120_000, now: Self.t0)
        #expect(up.maximumWindow == 120)
    }

    @Test func renoEstimateUsesAlphaOneOnceItReachesThePriorWindow() {
        // Loss at 10 segments: cwnd_prior = 10, ssthresh = 7 segments.
        var c = Cubic(maximumSegmentSize: 1000, initialWindow: 10_000)
        c.onEnterRecovery(flightSize: 10_000, now: Self.t0)
        var sawAlpha = false, sawOne = false
        for _ in 0..<200 {
            let est = c.renoEstimate, cwnd = Double(c.congestionWindow) / 1000
            c.onAck(ackedBytes: 1000, flightSize: 7000, now: Self.t0, smoothedRTT: Self.rtt)
            if est == 0 { continue }                       // the epoch's first ACK initialises W_est
            let step = (c.renoEstimate - est) * cwnd       // α · acked segments
            if est < 10 { #expect(abs(step - Cubic.alpha) < 0.01); sawAlpha = true }
            else { #expect(abs(step - 1) < 0.01); sawOne = true }
        }
        #expect(sawAlpha && sawOne)
    }

    @Test func timeoutCollapsesToOneSegmentAndIdleRestartEndsTheEpoch() {
        var c = Cubic(maximumSegmentSize: 1000, initialWindow: 100_000)
        c.onRetransmissionTimeout(flightSize: 100_000, now: Self.t0)
        #expect(c.congestionWindow == 1000)
        #expect(c.slowStartThreshold == 70_000)
        #expect(c.maximumWindow == 100)
        c.onAck(ackedBytes: 5000, flightSize: 1000, now: Self.t0, smoothedRTT: nil)
        #expect(c.congestionWindow == 3000)                // slow start: + min(5000, 2·SMSS)

        var d = Cubic(maximumSegmentSize: 1000)              // IW = min(10·1000, max(2000, 14600)) = 10 000
        for _ in 0..<10 { d.onAck(ackedBytes: 2000, flightSize: 10_000, now: Self.t0, smoothedRTT: nil) }
        #expect(d.congestionWindow == 30_000)
        d.onEnterRecovery(flightSize: 30_000, now: Self.t0)
        d.onExitRecovery(flightSize: 21_000, now: Self.t0)
        d.onAck(ackedBytes: 1000, flightSize: 21_000, now: Self.t0, smoothedRTT: Self.rtt)
        #expect(d.epochStart == Self.t0)
        d.onIdleRestart(now: Self.t0 + .seconds(30))
        #expect(d.congestionWindow == 10_000)              // min(IW, cwnd)
        #expect(d.epochStart == nil)
    }

    @Test func controllerRunsCubic() {
        var c = CongestionController(.cubic, maximumSegmentSize: 1000, initialWindow: 100_000)
        var d = Cubic(maximumSegmentSize: 1000, initialWindow: 100_000)
        for (i, ack) in [1000, 2000, 1000].enumerated() {
            c.onEnterRecovery(flightSize: 100_000, now: Self.t0); d.onEnterRecovery(flightSize: 100_000, now: Self.t0)
            c.onExitRecovery(flightSize: 60_000, now: Self.t0); d.onExitRecovery(flightSize: 60_000, now: Self.t0)
            c.onAck(ackedBytes: ack, flightSize: 50_000, now: Self.t0 + .seconds(i), smoothedRTT: Self.rtt)
            d.onAck(ackedBytes: ack, flightSize: 50_000, now: Self.t0 + .seconds(i), smoothedRTT: Self.rtt)
        }
        #expect(c.congestionWindow == d.congestionWindow)
        #expect(c.slowStartThreshold == d.slowStartThreshold)
    }
}
