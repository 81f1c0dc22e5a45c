import Testing
@testable import TCPIP

/// `TCPConfiguration.linger` (SO_LINGER) on a full close, segment by segment.
@Suite struct ConnectionLingerTests {
    func lingering(_ d: Duration?) -> TCPConfiguration {
        var c = plainConfiguration()
        c.linger = d
        return c
    }

    @Test func lingerZeroResetsAtTheHighestSequenceSentAndLeavesNoTimeWait() {
        let s = Script.established(configuration: lingering(.zero))  // ISS 100, peer 2000
        #expect(s.write(count: 100) == 100)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
        s.conn.close(fully: true)
        // No FIN: one RST at SND.NXT = 201 (the unacknowledged bytes are thrown away).
        s.expect(.rst, seq: 201, window: 0, options: [])
        #expect(s.events() == [.stateChanged(from: .established, to: .closed), .closed(.aborted)])
        #expect(s.conn.isFinished)
        #expect(s.conn.nextDeadline == nil)
        s.expectNothing()
    }

    @Test func lingerZeroInTimeWaitEndsItAtOnceWithoutAReset() {
        let s = Script.inState(.timeWait, configuration: lingering(.zero))
        #expect(s.conn.nextDeadline != nil)  // 2 × MSL would run
        s.conn.close(fully: true)
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.conn.isFinished)
        #expect(s.conn.nextDeadline == nil)
    }

    @Test func lingerRunningOutWithDataUnacknowledgedSendsRSTAfterTheFin() {
        let s = Script.established(configuration: lingering(.seconds(2)))
        #expect(s.write(count: 100) == 100)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
        s.conn.close(fully: true)
        s.expect([.fin, .ack], seq: 201, ack: 2001, window: 65535, payload: 0, options: [])
        #expect(s.conn.state == .finWait1)
        // The peer stays silent. The RTO (200 ms: the handshake's RTT was 0) fires at 0.2,
        // 0.6 and 1.4 s, each time data and FIN again in one segment.
        let t = { (ms: Int64) in Instant.zero + .milliseconds(ms) }
        for at in [t(200), t(600), t(1400)] {
            s.advanceToDeadline()
            #expect(s.now == at)
            s.expect([.ack, .psh, .fin], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
        }
        // At 2 s, before the next RTO (3 s): linger is over, RST at SND.MAX = 202.
        s.advanceToDeadline()
        #expect(s.now == t(2000))
        s.expect(.rst, seq: 202, window: 0, options: [])
        #expect(s.events().last == .closed(.aborted))
        #expect(s.conn.isFinished)
    }

    @Test func lingerWhoseDataIsAcknowledgedInTimeClosesNormally() {
        let s = Script.established(configuration: lingering(.seconds(2)))
        #expect(s.write(count: 100) == 100)
        _ = s.output()
        s.conn.close(fully: true)
        s.expect([.fin, .ack], seq: 201, ack: 2001, window: 65535, payload: 0, options: [])
        s.advance(by: .milliseconds(100))
        s.send(.ack, seq: 2001, ack: 202)  // data and FIN acknowledged
        s.expectNothing()
        #expect(s.conn.state == .finWait2)
        // The linger deadline passes without effect.
        s.advance(by: .seconds(3))
        s.expectNothing()
        #expect(s.conn.state == .finWait2)
        // The peer's FIN: TIME-WAIT as usual.
        s.send([.fin, .ack], seq: 2001, ack: 202)
        s.expect(.ack, seq: 202, ack: 2002, window: 65534, payload: 0, options: [])
        #expect(s.conn.state == .timeWait)
        #expect(!s.events().contains(.closed(.aborted)))
    }

    @Test func withoutLingerAFullCloseNeverResets() {
        let s = Script.established(configuration: lingering(nil))
        #expect(s.write(count: 100) == 100)
        _ = s.output()
        s.conn.close(fully: true)
        s.expect([.fin, .ack], seq: 201, ack: 2001, window: 65535, payload: 0, options: [])
        // Retransmissions only (RTO 200 ms doubling: 0.2, 0.6, 1.4, 3.0 s), no RST.
        var times: [Instant] = []
        for _ in 0..<8 where s.now < Instant.zero + .milliseconds(3000) {
            s.advanceToDeadline()
            times.append(s.now)
            s.expect([.ack, .psh, .fin], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
        }
        #expect(times == [200, 600, 1400, 3000].map { Instant.zero + .milliseconds($0) })
        #expect(s.conn.state == .finWait1)
    }

    @Test func lingeringCloseBeforeTheHandshakeEndsSilentlyWithNoTimerLeft() {
        let s = Script.inState(.synSent, configuration: lingering(.seconds(2)))
        s.conn.close(fully: true)
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.conn.nextDeadline == nil)
    }

    @Test func halfCloseIgnoresLinger() {
        let s = Script.established(configuration: lingering(.zero))
        s.conn.close(fully: false)
        s.expect([.fin, .ack], seq: 101, ack: 2001, window: 65535, payload: 0, options: [])
        #expect(s.conn.state == .finWait1)
    }
}
