import Testing
@testable import TCPIP

@Suite struct RetransmissionTimerTests {
    @Test func rtoFollowsRFC6298ArithmeticSampleBySample() {
        var e = RTTEstimator()
        #expect(e.rto == .seconds(1))                       // no sample yet: initial RTO
        #expect(e.smoothedRTT == nil)
        // First sample R = 100 ms: SRTT = 100, RTTVAR = 50,
        // RTO = max(200 min, 100 + max(1, 4·50)) = 300 ms.
        e.addSample(.milliseconds(100))
        #expect(e.smoothedRTT == .milliseconds(100))
        #expect(e.rttVariance == .milliseconds(50))
        #expect(e.rto == .milliseconds(300))
        // R = 200 ms: RTTVAR = 3/4·50 + 1/4·|100 − 200| = 37.5 + 25 = 62.5,
        // SRTT = 7/8·100 + 1/8·200 = 112.5, RTO = 112.5 + 4·62.5 = 362.5 ms.
        e.addSample(.milliseconds(200))
        #expect(e.rttVariance == .microseconds(62_500))
        #expect(e.smoothedRTT == .microseconds(112_500))
        #expect(e.rto == .microseconds(362_500))
        // R = 112.5 ms (equal to SRTT): RTTVAR = 3/4·62.5 = 46.875, SRTT stays 112.5,
        // RTO = 112.5 + 187.5 = 300 ms.
        e.addSample(.microseconds(112_500))
        #expect(e.rttVariance == .microseconds(46_875))
        #expect(e.smoothedRTT == .microseconds(112_500))
        #expect(e.rto == .milliseconds(300))
    }

    @Test func rtoIsClampedToTheMinimumAndMaximum() {
        var e = RTTEstimator()
        // R = 10 ms: 10 + 4·5 = 30 ms, raised to the 200 ms minimum.
        e.addSample(.milliseconds(10))
        #expect(e.rto == .milliseconds(200))
        var slow = RTTEstimator()
        // R = 100 s: 100 + 4·50 = 300 s, capped at 120 s.
        slow.addSample(.seconds(100))
        #expect(slow.rto == .seconds(120))
    }

    @Test func clockGranularityBoundsTheVarianceTerm() {
        var e = RTTEstimator(minimumRTO: .zero, clockGranularity: .milliseconds(1))
        // R = 100 µs: RTTVAR = 50 µs, 4·RTTVAR = 200 µs < G = 1 ms, so RTO = 100 µs + 1 ms.
        e.addSample(.microseconds(100))
        #expect(e.rto == .microseconds(1100))
    }

    @Test func backoffDoublesUpToTheMaximumAndASampleClearsIt() {
        var e = RTTEstimator()
        e.addSample(.milliseconds(100))                    // RTO 300 ms
        var expected: [Duration] = []
        for _ in 0..<12 { e.backOff(); expected.append(e.rto) }
        // 300 ms · 2^n: 0.6, 1.2, 2.4, 4.8, 9.6, 19.2, 38.4, 76.8 s, then 153.6 s > 120 s: capped.
        #expect(expected == [.milliseconds(600), .milliseconds(1200), .milliseconds(2400), .milliseconds(4800),
                             .milliseconds(9600), .milliseconds(19_200), .milliseconds(38_400), .milliseconds(76_800),
                             .seconds(120), .seconds(120), .seconds(120), .seconds(120)])
        #expect(e.backoffCount == 12)
        // A new sample (R = 100 ms again: RTTVAR = 37.5, SRTT = 100) clears the backoff: RTO = 100 + 150 = 250 ms.
        e.addSample(.milliseconds(100))
        #expect(e.backoffCount == 0)
        #expect(e.rto == .milliseconds(250))
        e.backOff()
        #expect(e.rto == .milliseconds(500))
        e.resetBackoff()
        #expect(e.rto == .milliseconds(250))
    }

    @Test func initialRTOBacksOffBeforeAnySample() {
        var e = RTTEstimator()
        e.backOff(); e.backOff()
        #expect(e.rto == .seconds(4))                       // 1 s doubled twice (SYN retransmissions)
        for _ in 0..<1000 { e.backOff() }
        #expect(e.rto == .seconds(120))
    }

    @Test func handshakeTimeoutStartsDataWithThreeSecondRTO() {
        var e = RTTEstimator()
        e.backOff()                                         // SYN retransmitted once: 2 s
        e.handshakeTimedOut()
        #expect(e.rto == .seconds(3))                       // RFC 6298 §5.7
        #expect(e.backoffCount == 0)
        e.addSample(.milliseconds(100))
        #expect(e.rto == .milliseconds(300))                // samples take over as usual
        e.handshakeTimedOut()
        #expect(e.rto == .milliseconds(300))                // no effect once sampled
    }
}
