import Testing
@testable import TCPIP

@Suite struct ConnectionResetTests {
    func resetFor(_ bytes: [UInt8]) -> Segment? {
        var out = [UInt8](repeating: 0, count: 64)
        let n = bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes {
                TCPConnection.resetFor(segment: try! TCPHeaderView(raw), into: $0, source: serverAddress, destination: clientAddress)
            }
        }
        guard n > 0 else { return nil }
        return Array(out.prefix(n)).withUnsafeBytes { raw in
            let v = try! TCPHeaderView(raw)
            #expect(v.checksumIsValid(source: serverAddress, destination: clientAddress))
            return Segment(header: try! v.value(), payload: Array(v.payload))
        }
    }

    func peerSegment(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, payload: Int = 0) -> [UInt8] {
        let h = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(seq),
                          acknowledgmentNumber: SequenceNumber(ack), flags: flags, window: 1000)
        return try! h.segmentBytes(payload: Array(repeating: 0, count: payload), source: clientAddress, destination: serverAddress)
    }

    @Test func synToAClosedPortGetsRSTACKWithSeqZeroAndAckSeqPlusOne() {
        let r = resetFor(peerSegment(.syn, seq: 500))
        #expect(r?.flags == [.rst, .ack] && r?.seq == 0 && r?.ack == 501 && r?.header.sourcePort == 80 && r?.header.destinationPort == 40000)
        #expect(r?.window == 0 && r?.options == [])
    }

    @Test func segmentWithSynFinAndDataToAClosedPortCountsAllOfThem() {
        let r = resetFor(peerSegment([.syn, .fin], seq: 500, payload: 10))
        #expect(r?.flags == [.rst, .ack] && r?.seq == 0 && r?.ack == 512 && r?.window == 0 && r?.options == [])
    }

    @Test func ackToAClosedPortGetsRSTWithSeqFromTheAckAndNoACKFlag() {
        let r = resetFor(peerSegment([.ack, .psh], seq: 500, ack: 777, payload: 5))
        #expect(r?.flags == .rst && r?.seq == 777 && r?.ack == 0 && r?.window == 0 && r?.options == [])
    }

    @Test func rstToAClosedPortIsNeverAnswered() {
        #expect(resetFor(peerSegment(.rst, seq: 500)) == nil)
        #expect(resetFor(peerSegment([.rst, .ack], seq: 500, ack: 9)) == nil)
    }

    @Test func closeInSynSentSendsNothingAndALateSynAckGetsRST() {
        let s = Script.inState(.synSent)
        s.conn.close()
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.events() == [.stateChanged(from: .synSent, to: .closed), .closed(nil)])
        s.send([.syn, .ack], seq: 2000, ack: 101)
        s.expect(.rst, seq: 101, ack: 0, window: 0, options: [])
    }

    @Test func acceptableRSTInSynSentRefusesTheConnection() {
        let s = Script.inState(.synSent)
        s.send([.rst, .ack], seq: 0, ack: 101)
        s.expectNothing()
        #expect(s.conn.state == .closed)
        #expect(s.events() == [.stateChanged(from: .synSent, to: .closed), .closed(.refused)])
    }

    @Test func rstInSynSentWithUnacceptableAckIsDropped() {
        let s = Script.inState(.synSent)
        s.send([.rst, .ack], seq: 0, ack: 5000)
        s.send(.rst, seq: 0)
        s.expectNothing()
        #expect(s.conn.state == .synSent)
        #expect(s.conn.counters.droppedSegments.badACK == 1 && s.conn.counters.droppedSegments.badRST == 1)
    }

    @Test func unacceptableAckInSynSentGetsRSTFromTheAck() {
        let s = Script.inState(.synSent)
        s.send([.syn, .ack], seq: 2000, ack: 5000)
        s.expect(.rst, seq: 5000, ack: 0, window: 0, options: [])
        #expect(s.conn.state == .synSent)
    }

    @Test func rstInSynReceivedMakesTheEmbryonicConnectionVanish() {
        let s = Script.synReceived()
        s.send(.rst, seq: 101)
        s.expectNothing()
        #expect(s.conn.state == .closed && s.conn.isFinished)
        #expect(s.events() == [.stateChanged(from: .synReceived, to: .closed), .closed(.reset)])
    }

    @Test func onlyAckOfISSPlusOneCompletesThePassiveHandshake() {
        let s = Script.synReceived()
        s.send(.ack, seq: 101, ack: 2005)
        s.expect(.rst, seq: 2005, ack: 0, window: 0, options: [])
        #expect(s.conn.state == .synReceived)
        s.send(.ack, seq: 101, ack: 2000)
        s.expect(.rst, seq: 2000, ack: 0, window: 0, options: [])
        #expect(s.conn.state == .synReceived)
        s.send(.ack, seq: 101, ack: 2001)
        s.expectNothing()
        #expect(s.conn.state == .established)
    }

    @Test func rstExactlyAtRcvNxtResetsAnEstablishedConnection() {
        let s = Script.established()
        s.send(.rst, seq: 2001)
        s.expectNothing()
        #expect(s.events() == [.stateChanged(from: .established, to: .closed), .closed(.reset)])
    }

    @Test func rstInWindowButNotAtRcvNxtGetsARateLimitedChallengeACK() {
        let s = Script.established()
        s.send(.rst, seq: 2011)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        s.send(.rst, seq: 2021)
        s.expectNothing()  // within 500 ms of the last challenge
        s.advance(by: .milliseconds(500))
        s.send(.rst, seq: 2031)
        s.expect(.ack, seq: 101, ack: 2001, window: 65535, options: [])
        #expect(s.conn.state == .established)
        #expect(s.conn.counters.challengeAcksSent == 2)
    }

    @Test func rstOutsideTheWindowIsSilentlyDropped() {
        let s = Script.established()
        s.send(.rst, seq: 2001 + 70_000)
        s.send(.rst, seq: 1500)
        s.expectNothing()
        #expect(s.conn.state == .established)
    }

    @Test func rstInEveryStateAtRcvNxtCloses() {
        for (state, seq, error) in [(TCPState.finWait1, UInt32(2001), TCPError?.some(.reset)), (.finWait2, 2001, .reset),
                                    (.closeWait, 2002, .reset), (.closing, 2002, nil), (.lastAck, 2002, nil)] {
            let s = Script.inState(state)
            s.send(.rst, seq: seq)
            #expect(s.conn.state == .closed, "\(state)")
            #expect(s.events() == [.stateChanged(from: state, to: .closed), .closed(error)], "\(state)")
            s.expectNothing()
        }
    }

    @Test func rstInTimeWaitIsIgnoredPerRFC1337ByDefault() {
        let s = Script.inState(.timeWait)
        s.send(.rst, seq: 2002)
        #expect(s.conn.state == .timeWait)
        s.expectNothing()
    }

    @Test func rstInTimeWaitClosesWhenThePolicySaysSo() {
        var c = plainConfiguration()
        c.timeWaitResetPolicy = .close
        let s = Script.inState(.timeWait, configuration: c)
        s.send(.rst, seq: 2002)
        #expect(s.conn.state == .closed)
        #expect(s.events().last == .closed(nil))
    }

    @Test func fullCloseWithUnreadDataSendsRSTInsteadOfFIN() {
        let s = Script.established()
        s.send(.ack, seq: 2001, ack: 101, payload: [1, 2, 3])
        s.conn.close(fully: true)
        s.expect(.rst, seq: 101, ack: 0, window: 0, options: [])
        #expect(s.events().last == .closed(.aborted))
    }

    @Test func abortInSynSentAndTimeWaitSendsNothing() {
        for state in [TCPState.synSent, .timeWait, .lastAck] {
            let s = Script.inState(state)
            s.conn.abort()
            s.expectNothing()
            #expect(s.conn.state == .closed && s.conn.isFinished)
        }
    }
}
