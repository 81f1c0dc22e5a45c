import Testing
@testable import TCPIP

/// Engine bugs found by the `connection` fuzz target (fuzz/targets/connection.swift), each
/// replayed as a scenario with the exact segments expected.
@Suite struct ConnectionFuzzRegressionTests {
    /// Found by the fuzzer: 200 bytes in flight, the peer shrinks its window to zero, the
    /// application queues more; at the RTO the retransmission (a probe past the zero window)
    /// carried a full MSS, 536 bytes at 101..637, far past SND.MAX = 301: new data sent as a
    /// "retransmission", outside the bookkeeping (SND.MAX stayed 301, so the peer's ACK of 637
    /// would be an ACK of unsent data). A retransmission resends only what was sent: 200 bytes.
    @Test func retransmissionAfterAWindowShrinkResendsOnlyWhatWasSent() {
        let s = Script.established(peerMSS: 536)  // ISS 100, peer ISS 2000
        #expect(s.write(count: 200) == 200)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 65535, payload: 200, options: [])
        // The peer acknowledges nothing and closes its window.
        s.send(.ack, seq: 2001, ack: 101, window: 0)
        s.expectNothing()
        #expect(s.write(count: 1000) == 1000)
        s.expectNothing()
        // RTO: 200 ms (the handshake's RTT sample of 0 gives the minimum RTO). The oldest
        // segment goes again as it was sent (no PSH: more data is queued behind it).
        s.advanceToDeadline()
        #expect(s.now == Instant.zero + .milliseconds(200))
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, payload: 200, options: [])
        #expect(s.conn.sndMax == SequenceNumber(301))
        // The window opens and acknowledges the 200 bytes. cwnd: 1 SMSS after the RTO
        // (RFC 5681 §3.1 loss window, 536) + min(200 acked, SMSS) in slow start = 736; one
        // full segment of the new data goes (301..837); the 200 bytes of room left are held
        // by Nagle (data in flight, a partial segment).
        s.send(.ack, seq: 2001, ack: 301, window: 65535)
        #expect(s.conn.counters.congestionWindow == 736)
        let out = s.output()
        #expect(out.map(\.seq) == [301])
        #expect(out.map(\.payload.count) == [536])
        #expect(s.conn.sndMax == SequenceNumber(837))
    }

    /// Fast retransmit with less than an MSS in flight and more data queued behind it: the
    /// retransmission carries the 100 bytes that were sent, not the queued bytes after them.
    @Test func fastRetransmitResendsOnlyWhatWasSent() {
        var c = plainConfiguration()
        c.noDelay = true
        let s = Script.established(peerMSS: 536, configuration: c)
        #expect(s.write(count: 100) == 100)
        s.expect([.ack, .psh], seq: 101, ack: 2001, window: 65535, payload: 100, options: [])
        // The peer's window is exactly the 100 bytes: what is written next waits.
        s.send(.ack, seq: 2001, ack: 101, window: 100)
        #expect(s.write(count: 1000) == 1000)
        s.expectNothing()
        // Three duplicate ACKs (window unchanged, no data): fast retransmit of 101..201.
        for _ in 0..<3 { s.send(.ack, seq: 2001, ack: 101, window: 100) }
        let out = s.output()
        #expect(out.count == 1)
        #expect(out.first?.seq == 101)
        #expect(out.first?.payload.count == 100)
        #expect(s.conn.sndMax == SequenceNumber(201))
    }
}

/// Found by the fuzzer: in CLOSE-WAIT (peer FIN at 2001 taken, RCV.NXT = 2002) a second FIN at
/// 2002 and then one at 2003 each advanced RCV.NXT, past the window we had advertised, and
/// were acknowledged (ack=2003, 2004) as if the peer's stream had more sequence space after its
/// FIN. Nothing follows a FIN: in every state after it, such a segment changes nothing.
@Suite struct ConnectionSecondFINTests {
    @Test(arguments: [TCPState.closeWait, .closing, .lastAck, .timeWait])
    func aFINPastThePeersFINIsIgnored(state: TCPState) {
        let s = Script.inState(state)  // ISS 100, peer ISS 2000, the peer's FIN at 2001 taken
        #expect(s.conn.receiveNext == SequenceNumber(2002))
        let una = s.conn.sendUnacknowledged.rawValue
        s.send([.fin, .ack], seq: 2002, ack: una)
        s.send([.fin, .ack], seq: 2003, ack: una)
        #expect(s.conn.receiveNext == SequenceNumber(2002))
        #expect(s.conn.state == state)
        #expect(s.events().isEmpty)
        s.expectNothing()
    }
}
