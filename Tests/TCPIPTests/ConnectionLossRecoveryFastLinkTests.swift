import Testing
@testable import TCPIP

/// SACK loss recovery as a sender, segment by segment: RFC 6675 duplicate ACKs (new SACK
/// information counts, whatever the window), NextSeg rules 3 and 4 (the rescue
/// retransmission), a lost retransmission found before the RTO, a new recovery right at
/// the previous RecoveryPoint, and the tail loss probe (RFC 8985 §7).
///
/// The sender: ISS 100, no timestamps (payload = the peer's MSS 1000), SACK permitted by
/// the peer; data segments at 101, 1101, 2101, ... Its window field is always 65535 and its
/// segments carry no options (it receives no data).
@Suite struct ConnectionLossRecoveryFastLinkTests {
    /// Established SACK sender; the SYN+ACK arrives `rtt` after the SYN (the first RTT
    /// sample: SRTT = rtt, RTTVAR = rtt/2), then `bytes` are written and the initial
    /// window (10 segments) goes out at 101, 1101, ..., 9101.
    func sender(bytes: Int, rtt: Duration = .zero, probes: Bool = true, sack: Bool = true) -> Script {
        var c = plainConfiguration()
        c.selectiveAcknowledgments = sack
        c.tailLossProbes = probes
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: c, now: .zero))
        _ = s.output()
        s.advance(by: rtt)
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 65535,
               options: sack ? [.maximumSegmentSize(1000), .noOperation, .noOperation, .sackPermitted] : [.maximumSegmentSize(1000)])
        _ = s.output()
        _ = s.events()
        #expect(s.write(count: bytes) == bytes)
        let segments = min(10, (bytes + 999) / 1000)
        #expect(s.output().map(\.seq) == (0..<segments).map { UInt32(101 + 1000 * $0) })
        return s
    }

    func sack(_ ranges: [(UInt32, UInt32)]) -> [TCPOption] {
        [.noOperation, .noOperation, .sack(SACKBlocks(ranges.map { SACKBlock(start: SequenceNumber($0.0), end: SequenceNumber($0.1)) }))]
    }

    /// A duplicate ACK from the peer (ACK 101-style: the peer's SEQ is 2001, no data).
    func dupAck(_ s: Script, ack: UInt32, window: UInt16 = 65535, _ ranges: [(UInt32, UInt32)]) {
        s.send(.ack, seq: 2001, ack: ack, window: window, options: sack(ranges))
    }

    // MARK: (a) duplicate ACKs with SACK

    @Test func dupACKsWithNewSACKInformationAndAGrowingWindowTriggerFastRetransmitAtTheThird() {
        let s = sender(bytes: 12_000)
        // 101 is lost; 1101, 2101, 3101 arrive. The peer (as Linux) opens its window on each ACK:
        // RFC 5681 would not count these, RFC 6675 counts each since it SACKs new data.
        dupAck(s, ack: 101, window: 60_000, [(1101, 2101)])
        s.expect(.ack, seq: 10101, window: 65535, payload: 1000, options: [])          // limited transmit
        dupAck(s, ack: 101, window: 61_000, [(1101, 3101)])
        s.expect([.ack, .psh], seq: 11101, window: 65535, payload: 1000, options: [])  // limited transmit
        #expect(s.conn.counters.duplicateAcksReceived == 2 && s.conn.counters.fastRetransmits == 0)
        dupAck(s, ack: 101, window: 62_000, [(1101, 4101)])
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])            // fast retransmit
        #expect(s.conn.counters.duplicateAcksReceived == 3 && s.conn.counters.fastRetransmits == 1)
        // ssthresh = cwnd = FlightSize / 2 = 12 000 / 2 (SACK: no 3·SMSS inflation).
        #expect(s.conn.counters.slowStartThreshold == 6000 && s.conn.counters.congestionWindow == 6000)
        #expect(s.conn.sendWindow == 62_000)
        // pipe = 1000 (101, resent) + 8000 (4101..12101) > cwnd: nothing more.
        s.expectNothing()
    }

    @Test func aRepeatedSACKIsNoDuplicateACK() {
        let s = sender(bytes: 10_000)
        dupAck(s, ack: 101, [(1101, 2101)])
        dupAck(s, ack: 101, [(1101, 2101)])   // nothing new (e.g. a duplicated ACK)
        dupAck(s, ack: 101, [(1101, 2101)])
        #expect(s.conn.counters.duplicateAcksReceived == 1)
        s.expectNothing()
    }

    @Test func withoutSACKAChangedWindowStillMeansNoDuplicateACK() {
        let s = sender(bytes: 10_000, sack: false)
        s.send(.ack, seq: 2001, ack: 101, window: 60_000)
        s.send(.ack, seq: 2001, ack: 101, window: 61_000)
        s.send(.ack, seq: 2001, ack: 101, window: 62_000)
        #expect(s.conn.counters.duplicateAcksReceived == 0 && s.conn.counters.fastRetransmits == 0)
        s.expectNothing()
        // The same three with the window unchanged are duplicates (RFC 5681): fast retransmit.
        for _ in 0..<3 { s.send(.ack, seq: 2001, ack: 101, window: 62_000) }
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.duplicateAcksReceived == 3 && s.conn.counters.fastRetransmits == 1)
    }

    @Test func aLossRightAfterRecoveryEndedAtTheRecoveryPointStartsANewRecovery() {
        let s = sender(bytes: 10_000)
        dupAck(s, ack: 101, [(1101, 2101)])
        dupAck(s, ack: 101, [(1101, 3101)])
        dupAck(s, ack: 101, [(1101, 4101)])
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        // Full ACK exactly at RecoveryPoint (10101): recovery ends; cwnd = min(ssthresh 5000, 0 + 2·SMSS).
        s.send(.ack, seq: 2001, ack: 10101)
        #expect(s.conn.counters.congestionWindow == 2000)
        #expect(s.write(count: 5000) == 5000)
        #expect(s.output().map(\.seq) == [10101, 11101])
        // 10101 (the first byte after RecoveryPoint) is lost: ACKs stay at 10101 = the old `recover`.
        dupAck(s, ack: 10101, [(11101, 12101)])
        s.expect(.ack, seq: 12101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 10101, [(11101, 13101)])
        s.expect(.ack, seq: 13101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 10101, [(11101, 14101)])
        // HighACK ≥ RecoveryPoint (RFC 6675 §5.1): a new recovery, fast retransmit of 10101; cwnd =
        // max(4000 / 2, 2·SMSS), pipe 1000 (10101 resent): room for the last new segment.
        #expect(s.output().map(\.seq) == [10101, 14101])
        #expect(s.conn.counters.fastRetransmits == 2 && s.conn.counters.timeouts == 0)
    }

    // MARK: (b) NextSeg

    @Test func partialACKFollowedBySACKDupACKRetransmitsTheNextHoleAtOnce() {
        let s = sender(bytes: 10_000)
        // 101 and 4101 lost.
        dupAck(s, ack: 101, [(1101, 2101)])
        dupAck(s, ack: 101, [(1101, 3101)])
        dupAck(s, ack: 101, [(1101, 4101)])
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.congestionWindow == 5000)
        dupAck(s, ack: 101, [(5101, 6101), (1101, 4101)])
        s.expectNothing()  // pipe 1000 (101 resent) + 1000 (4101) + 4000 (6101..10101) > 5000 − SMSS
        // The retransmission of 101 arrives: partial ACK. pipe = 1000 + 4000 = cwnd.
        s.send(.ack, seq: 2001, ack: 4101, options: sack([(5101, 6101)]))
        s.expectNothing()
        // Next SACK: pipe 4000, room for one segment. 4101 is not yet IsLost (2000 SACKed above) and
        // no new data is queued: NextSeg rule 3 (unSACKed, past HighRxt, below the highest SACK).
        dupAck(s, ack: 4101, [(5101, 7101)])
        s.expect(.ack, seq: 4101, window: 65535, payload: 1000, options: [])
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 10101)
        #expect(s.conn.counters.retransmittedSegments == 2 && s.conn.counters.timeouts == 0)
    }

    @Test func aLostRetransmissionOfTheNextHoleIsSentAgainAfterThreeSACKsOfLaterData() {
        let s = sender(bytes: 30_000)
        // Originals of 101 and 2101 lost, and later the retransmission of 2101.
        dupAck(s, ack: 101, [(1101, 2101)])
        s.expect(.ack, seq: 10101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 101, [(3101, 4101), (1101, 2101)])
        s.expect(.ack, seq: 11101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 101, [(3101, 5101), (1101, 2101)])
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])       // fast retransmit
        #expect(s.conn.counters.congestionWindow == 6000)                        // 12 000 / 2
        dupAck(s, ack: 101, [(3101, 6101), (1101, 2101)])
        s.expectNothing()                                                        // pipe 7000
        dupAck(s, ack: 101, [(3101, 7101), (1101, 2101)])
        s.expectNothing()                                                        // pipe 6000
        dupAck(s, ack: 101, [(3101, 8101), (1101, 2101)])
        s.expect(.ack, seq: 2101, window: 65535, payload: 1000, options: [])     // rule 1: 2101 IsLost
        dupAck(s, ack: 101, [(3101, 9101), (1101, 2101)])
        s.expect(.ack, seq: 12101, window: 65535, payload: 1000, options: [])    // rule 2: new data
        // Partial ACK (101's retransmission arrived); 2101's retransmission is lost.
        s.send(.ack, seq: 2001, ack: 2101, options: sack([(3101, 9101)]))
        s.expect(.ack, seq: 13101, window: 65535, payload: 1000, options: [])
        // 9101, 10101, 11101 arrive: sent before 2101's retransmission (SND.MAX was 12101 then).
        dupAck(s, ack: 2101, [(3101, 10101)])
        s.expect(.ack, seq: 14101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 2101, [(3101, 11101)])
        s.expect(.ack, seq: 15101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 2101, [(3101, 12101)])
        s.expect(.ack, seq: 16101, window: 65535, payload: 1000, options: [])
        // 12101 and 13101, sent after it: 1000 and 2000 bytes SACKed above 12101, not yet enough.
        dupAck(s, ack: 2101, [(3101, 13101)])
        s.expect(.ack, seq: 17101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 2101, [(3101, 14101)])
        s.expect(.ack, seq: 18101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lostRetransmissions == 0)
        // 14101: 3000 bytes > 2·SMSS of data sent after the retransmission arrived: it was lost.
        // 2101 goes again at once, then new data into the room the pipe leaves.
        dupAck(s, ack: 2101, [(3101, 15101)])
        #expect(s.output().map(\.seq) == [2101, 19101])
        #expect(s.conn.counters.lostRetransmissions == 1)
        // It arrives: everything up to 15101 is acknowledged, past RecoveryPoint (12101): recovery ends.
        s.send(.ack, seq: 2001, ack: 15101)
        #expect(s.conn.counters.timeouts == 0 && s.conn.counters.fastRetransmits == 1)
        #expect(s.conn.counters.retransmittedSegments == 3)
    }

    @Test func rescueRetransmissionResendsTheHighestUnSACKedSegmentOncePerRecovery() {
        let s = sender(bytes: 10_000)
        // 101 and the last segment 9101 lost; nothing new to send.
        dupAck(s, ack: 101, [(1101, 2101)])
        dupAck(s, ack: 101, [(1101, 3101)])
        dupAck(s, ack: 101, [(1101, 4101)])
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        dupAck(s, ack: 101, [(1101, 5101)])
        s.expectNothing()                                            // pipe 1000 + 5000
        dupAck(s, ack: 101, [(1101, 6101)])
        s.expectNothing()                                            // pipe 1000 + 4000 = cwnd
        // pipe 1000 + 3000: room. Rule 1: nothing lost past HighRxt (1101); rule 2: no new data;
        // rule 3: nothing unSACKed below the highest SACK (7101) past HighRxt. Rule 4: the
        // segment holding the highest unSACKed byte, 9101 (the last).
        dupAck(s, ack: 101, [(1101, 7101)])
        s.expect([.ack, .psh], seq: 9101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.rescueRetransmissions == 1)
        // Once per recovery: more room, no second rescue.
        dupAck(s, ack: 101, [(1101, 8101)])
        s.expectNothing()
        dupAck(s, ack: 101, [(1101, 9101)])
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 9101)                           // 101 arrived: partial ACK
        s.expectNothing()
        s.send(.ack, seq: 2001, ack: 10101)                          // the rescue arrived
        #expect(s.conn.counters.timeouts == 0 && s.conn.counters.retransmittedSegments == 2)
        s.expectNothing()
        #expect(s.conn.nextDeadline == nil)
    }

    // MARK: (c) tail loss probe

    /// SRTT 30 ms (handshake), RTTVAR 15 ms: RTO = max(30 + 4·15, 200 ms) = 200 ms.
    @Test func tailLossIsProbedAtTwoSRTTAndRecoveredWithoutRTO() {
        let s = sender(bytes: 5000, rtt: .milliseconds(30))
        // Sent at 30 ms: PTO = 2·SRTT = 60 ms (more than one segment in flight), before the RTO (230 ms).
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 90_000_000))
        // At 60 ms 101 and 1101 are acknowledged; 2101, 3101, 4101 (the tail) are lost.
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 2101)
        s.expectNothing()
        // RTT sample 30 ms (101 was timed): SRTT 30 ms, RTTVAR 11.25 ms; PTO restarts: 60 + 60 ms.
        #expect(s.conn.counters.smoothedRTT == .milliseconds(30))
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 120_000_000))
        s.advanceToDeadline()
        #expect(s.now == Instant(nanoseconds: 120_000_000))
        // The probe: no new data, nothing SACKed: the last segment again.
        s.expect([.ack, .psh], seq: 4101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 1 && s.conn.counters.timeouts == 0)
        // The RTO restarts from the probe: 120 + 200 ms; no second probe.
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 320_000_000))
        // The probe's SACK shows 2101..4101 missing, sent a PTO before it: recovery starts at once
        // (ssthresh = cwnd = max(3000 / 2, 2·SMSS)).
        s.advance(by: .milliseconds(30))
        dupAck(s, ack: 2101, [(4101, 5101)])
        s.expect(.ack, seq: 2101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.fastRetransmits == 1 && s.conn.counters.congestionWindow == 2000)
        s.expectNothing()
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 3101, options: sack([(4101, 5101)]))  // partial ACK
        s.expect(.ack, seq: 3101, window: 65535, payload: 1000, options: [])  // rule 3
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 5101)
        #expect(s.conn.counters.timeouts == 0 && s.conn.counters.retransmittedSegments == 3)
        #expect(s.conn.nextDeadline == nil)
        s.expectNothing()
    }

    @Test func aLostLastSegmentIsResentByTheProbeAndTheRepairReducesTheWindowOnce() {
        let s = sender(bytes: 3000, rtt: .milliseconds(30))
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 2101)                             // 2101, the last, is lost
        #expect(s.conn.counters.congestionWindow == 12_000)
        // One segment in flight: PTO = 2·SRTT + 200 ms (the peer may delay its ACK) = 260 ms, later
        // than the RTO (60 + 200 ms): the probe goes at 260 ms instead of the RTO, without backoff.
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 260_000_000))
        s.advanceToDeadline()
        s.expect([.ack, .psh], seq: 2101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 1 && s.conn.counters.timeouts == 0)
        #expect(s.conn.counters.retransmissionTimeout == .milliseconds(200))
        // Acknowledged without a D-SACK: the probe repaired a loss. The window is reduced as for
        // fast recovery: ssthresh = cwnd = max(1000 / 2, 2·SMSS).
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 3101)
        #expect(s.conn.counters.lossProbeRepairs == 1)
        #expect(s.conn.counters.congestionWindow == 2000 && s.conn.counters.slowStartThreshold == 2000)
    }

    @Test func aProbeAnsweredWithADSACKLeavesTheWindowAlone() {
        let s = sender(bytes: 3000, rtt: .milliseconds(30))
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 2101)
        s.advanceToDeadline()
        s.expect([.ack, .psh], seq: 2101, window: 65535, payload: 1000, options: [])
        // Only the ACK of 2101 was lost: the peer reports the probe as a duplicate (RFC 2883).
        s.advance(by: .milliseconds(30))
        s.send(.ack, seq: 2001, ack: 3101, options: sack([(2101, 3101)]))
        #expect(s.conn.counters.lossProbeRepairs == 0)
        #expect(s.conn.counters.congestionWindow == 13_000)  // slow start: + 1000
    }

    @Test func theProbeSendsNewDataWhenThePeersWindowAllows() {
        // 15 000 bytes: 10 segments under the initial window, 5000 bytes wait for cwnd.
        let s = sender(bytes: 15_000, rtt: .milliseconds(30))
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 90_000_000))
        // Every segment or every ACK is lost: at the PTO one new segment goes, beyond cwnd.
        s.advanceToDeadline()
        s.expect(.ack, seq: 10101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 1 && s.conn.counters.retransmittedSegments == 0)
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 290_000_000))  // RTO from the probe
        // No second probe: the RTO follows.
        s.advanceToDeadline()
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 1 && s.conn.counters.timeouts == 1)
    }

    @Test func theProbeResendsAHoleBelowSACKedData() {
        let s = sender(bytes: 4000, rtt: .milliseconds(30))
        // 101 lost; 1101 and 2101 arrive (two duplicate ACKs: no fast retransmit), 3101 lost.
        s.advance(by: .milliseconds(30))
        dupAck(s, ack: 101, [(1101, 2101)])
        dupAck(s, ack: 101, [(1101, 3101)])
        s.expectNothing()
        // The PTO armed when the data went out (30 + 60 ms) fires: the hole at 101 is resent.
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 90_000_000))
        s.advanceToDeadline()
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 1)
    }

    @Test func probesCanBeTurnedOff() {
        let s = sender(bytes: 5000, rtt: .milliseconds(30), probes: false)
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 230_000_000))  // the RTO only
        s.advanceToDeadline()
        s.expect(.ack, seq: 101, window: 65535, payload: 1000, options: [])
        #expect(s.conn.counters.lossProbes == 0 && s.conn.counters.timeouts == 1)
    }

    @Test func noProbeWithoutSACK() {
        let s = sender(bytes: 5000, rtt: .milliseconds(30), sack: false)
        #expect(s.conn.nextDeadline == Instant(nanoseconds: 230_000_000))
    }

    // MARK: receiving side of a probe

    @Test func theACKOfARetransmissionEndingAtRCVNXTIsTaken() {
        // The peer's segment 2001..2101 arrives and we ACK it; that ACK is lost. We close (FIN 101).
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: [UInt8](repeating: 7, count: 100))
        s.advanceToDeadline()  // delayed ACK
        s.expect(.ack, seq: 101, ack: 2101, window: 65435, options: [])
        s.conn.close()
        s.expect([.fin, .ack], seq: 101, ack: 2101, window: 65435, options: [])
        // The peer resends 2001..2101 (a probe), now acknowledging our FIN: the data is a
        // duplicate, but its ACK is current (FIN-WAIT-2), and we ACK again.
        s.send(.ack, seq: 2001, ack: 102, payload: [UInt8](repeating: 7, count: 100))
        #expect(s.conn.state == .finWait2)
        s.expect(.ack, seq: 102, ack: 2101, window: 65435, options: [])
        #expect(s.conn.counters.duplicateBytes == 100 && s.conn.counters.droppedSegments.outOfWindow == 0)
    }
}
