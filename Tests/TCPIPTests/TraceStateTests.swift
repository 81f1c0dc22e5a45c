import Testing
@testable import TCPIP

/// State inference: every RFC 9293 transition seen from the segments alone.
@Suite struct TraceStateTests {
    typealias S = InferredState

    func states(_ t: TraceScript) -> [[S]] {
        t.conversation.events.map { [$0.clientState, $0.serverState] }
    }

    /// The textbook conversation up to (not including) segment `n`.
    func textbookPrefix(_ n: Int) -> TraceScript {
        var t = TraceScript.textbook
        t.segments = Array(t.segments.prefix(n))
        return t
    }

    @Test func textbookConversationGoesThroughEveryActiveAndPassiveState() {
        let c = TraceScript.textbook.conversation
        #expect(c.initialClientState == .closed)
        #expect(c.initialServerState == .listen)
        #expect(states(TraceScript.textbook) == [
            [.synSent, .synReceived], [.established, .synReceived], [.established, .established],
            [.established, .established], [.established, .established], [.established, .established],
            [.established, .established], [.finWait1, .closeWait], [.finWait2, .closeWait],
            [.timeWait, .lastAck], [.timeWait, .closed],
        ])
        #expect(c.summary.ending == .closed(firstFIN: .clientToServer, simultaneous: false))
    }

    @Test func simultaneousOpenGoesThroughSynReceivedOnBothSides() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, .syn, seq: 2000)
        t.c(5, [.syn, .ack], seq: 100, ack: 2001)
        t.s(6, [.syn, .ack], seq: 2000, ack: 101)
        let c = t.conversation
        #expect(c.initialClientState == .closed)
        #expect(c.initialServerState == .closed)
        #expect(states(t) == [[.synSent, .closed], [.synReceived, .synReceived],
                              [.synReceived, .established], [.established, .established]])
    }

    @Test func simultaneousCloseGoesThroughClosingToTimeWaitOnBothSides() {
        var t = textbookPrefix(7)
        t.c(50, [.fin, .ack], seq: 201, ack: 2501)
        t.s(51, [.fin, .ack], seq: 2501, ack: 201)   // sent before the client's FIN arrived
        t.c(60, .ack, seq: 202, ack: 2502)
        t.s(61, .ack, seq: 2502, ack: 202)
        #expect(Array(states(t).suffix(4)) == [[.finWait1, .established], [.closing, .closing],
                                               [.closing, .timeWait], [.timeWait, .timeWait]])
        #expect(t.conversation.summary.ending == .closed(firstFIN: nil, simultaneous: true))
    }

    @Test func finAckAnsweringFinGoesFromFinWait1StraightToTimeWait() {
        var t = textbookPrefix(7)
        t.c(50, [.fin, .ack], seq: 201, ack: 2501)
        t.s(60, [.fin, .ack], seq: 2501, ack: 202)
        t.c(70, .ack, seq: 202, ack: 2502)
        #expect(Array(states(t).suffix(3)) == [[.finWait1, .closeWait], [.timeWait, .lastAck], [.timeWait, .closed]])
    }

    @Test func serverClosingFirstPutsClientInCloseWaitAndLastAck() {
        var t = textbookPrefix(7)
        t.s(50, [.fin, .ack], seq: 2501, ack: 201)
        t.c(60, .ack, seq: 201, ack: 2502)
        t.c(61, [.fin, .ack], seq: 201, ack: 2502)
        t.s(70, .ack, seq: 2502, ack: 202)
        #expect(Array(states(t).suffix(4)) == [[.closeWait, .finWait1], [.closeWait, .finWait2],
                                               [.lastAck, .timeWait], [.closed, .timeWait]])
    }

    @Test func rstAnsweringSynMeansClosedPort() throws {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, [.rst, .ack], seq: 0, ack: 101, win: 0)
        let c = t.conversation
        #expect(c.initialServerState == .closed)
        #expect(states(t) == [[.synSent, .closed], [.closed, .closed]])
        #expect(c.events[1].resetCause == .closedPort)
        #expect(c.summary.ending == .refused)
    }

    @Test func rstInSynReceivedReturnsPassiveSideToListen() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, [.syn, .ack], seq: 2000, ack: 101)
        t.c(2, [.rst, .ack], seq: 101, ack: 2001)
        #expect(states(t) == [[.synSent, .synReceived], [.established, .synReceived], [.closed, .listen]])
        #expect(t.conversation.events[2].resetCause == .abort)
    }

    @Test func bareRstAnsweringSynAckShowsTheClientNeverTookIt() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, [.syn, .ack], seq: 2000, ack: 101)
        t.c(2, .rst, seq: 101)   // no ACK: the SYN+ACK found no connection
        #expect(states(t) == [[.synSent, .synReceived], [.synSent, .synReceived], [.closed, .listen]])
    }

    @Test func rstInSynSentFromTheClientClosesIt() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.c(1000, .rst, seq: 101)
        #expect(states(t) == [[.synSent, .unknown], [.closed, .unknown]])
    }

    /// A RST after the textbook's first `n` segments, from either side, closes both
    /// (TIME-WAIT ignores one: see `rstFromTheClosedSideLeavesTimeWaitAlone`).
    @Test(arguments: [(3, true), (3, false), (7, true), (7, false), (8, true), (8, false),
                      (9, true), (9, false)])
    func rstInEveryConnectedStateClosesBothSides(n: Int, fromClient: Bool) {
        var t = textbookPrefix(n)
        let before = states(t).last!
        // The sequence number the receiver expects next (RFC 5961: only that one resets).
        func next(_ fromClient: Bool) -> UInt32 {
            t.segments.filter { ($0.sourceEndpoint == t.client) == fromClient }.map { $0.end.rawValue }.max()!
        }
        let (cs, ss) = (next(true), next(false))
        if fromClient { t.c(100, [.rst, .ack], seq: cs, ack: ss) } else { t.s(100, [.rst, .ack], seq: ss, ack: cs) }
        let c = t.conversation
        #expect(states(t).last! == [.closed, .closed])
        #expect(c.events.last!.resetCause == .abort, "after \(before)")
        #expect(c.summary.ending == .reset(by: fromClient ? .clientToServer : .serverToClient, .abort))
    }

    @Test func rstFromTheClosedSideLeavesTimeWaitAlone() {
        var t = TraceScript.textbook
        t.s(100, [.rst], seq: 2502)
        let c = t.conversation
        #expect(c.events.last!.resetCause == .noConnection)
        // RFC 1337: TIME-WAIT ignores a RST.
        #expect(states(t).last! == [.timeWait, .closed])
    }

    @Test func rstWithAnUnexpectedSequenceNumberResetsNothing() {
        var t = textbookPrefix(7)
        t.c(100, [.rst, .ack], seq: 5000, ack: 2501)       // RFC 5961: not RCV.NXT (201)
        #expect(states(t).last! == [.closed, .established])
        t.c(101, [.rst, .ack], seq: 201, ack: 2501)
        #expect(states(t).last! == [.closed, .closed])
    }

    @Test func rstInSynSentMustAcknowledgeTheSyn() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, [.rst, .ack], seq: 0, ack: 55)             // does not acknowledge the SYN: ignored
        #expect(states(t).last![0] == .synSent)
    }

    @Test func captureStartingMidStreamShowsUnknownUntilTheCloseTells() {
        var t = TraceScript()
        t.c(0, [.psh, .ack], seq: 5001, ack: 9001, len: 100)
        t.s(1, .ack, seq: 9001, ack: 5101)
        t.c(2, [.fin, .ack], seq: 5101, ack: 9001)
        t.s(3, .ack, seq: 9001, ack: 5102)
        t.s(4, [.fin, .ack], seq: 9001, ack: 5102)
        t.c(5, .ack, seq: 5102, ack: 9002)
        let c = t.conversation
        #expect(c.initialClientState == .unknown)
        #expect(c.initialServerState == .unknown)
        #expect(states(t) == [[.unknown, .unknown], [.unknown, .unknown], [.finWait1, .unknown],
                              [.finWait2, .unknown], [.timeWait, .lastAck], [.timeWait, .closed]])
        // Relative numbers as Wireshark gives them without a SYN: first seq is 1.
        #expect(c.events[0].relativeSeq == 1)
        #expect(c.events[0].relativeAck == 1)
    }

    @Test func serverThatNeverAnswersStaysUnknown() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.c(1000, .syn, seq: 100)
        let c = t.conversation
        #expect(c.initialServerState == .unknown)
        #expect(states(t) == [[.synSent, .unknown], [.synSent, .unknown]])
        #expect(c.events[1].annotations.contains(.retransmission))
    }

    @Test func finNeverAcknowledgedByAReceiverThatKeepsSendingIsUnknownAfterwards() {
        var t = textbookPrefix(7)
        t.c(50, [.fin, .ack], seq: 201, ack: 2501)
        t.s(51, [.psh, .ack], seq: 2501, ack: 201, len: 10)   // does not acknowledge the FIN
        t.c(52, [.fin, .ack], seq: 201, ack: 2511)           // FIN again
        let s = states(t)
        #expect(s[7] == [.finWait1, .established])
        #expect(s[8] == [.finWait1, .established])
        #expect(s[9] == [.finWait1, .unknown])
    }
}

extension TraceStateTests {
    @Test func finSentAgainAfterItsAckShowsTheAckWasLostAfterTheCapturePoint() {
        var t = TraceScript.textbook
        // The client's last ACK was lost after the capture point: the server repeats its FIN,
        // the client (TIME-WAIT) answers again.
        t.s(300, [.fin, .ack], seq: 2501, ack: 202)
        t.c(301, .ack, seq: 202, ack: 2502)
        let s = states(t)
        #expect(s[10] == [.timeWait, .lastAck])   // the first ACK did not arrive
        #expect(s[11] == [.timeWait, .lastAck])
        #expect(s[12] == [.timeWait, .closed])
    }

    @Test func finSentAgainWithNoLaterAckKeepsItsSenderInLastAck() {
        var t = TraceScript.textbook
        t.s(300, [.fin, .ack], seq: 2501, ack: 202)
        let s = states(t)
        #expect(s[10] == [.timeWait, .lastAck])
        #expect(s[11] == [.timeWait, .lastAck])
    }

    @Test func synAckSentAgainAfterTheHandshakeAckKeepsServerInSynReceived() {
        var t = TraceScript()
        t.c(0, .syn, seq: 100)
        t.s(1, [.syn, .ack], seq: 2000, ack: 101)
        t.c(2, .ack, seq: 101, ack: 2001)
        t.s(1000, [.syn, .ack], seq: 2000, ack: 101)
        t.c(1001, .ack, seq: 101, ack: 2001)
        #expect(states(t) == [[.synSent, .synReceived], [.established, .synReceived], [.established, .synReceived],
                              [.established, .synReceived], [.established, .established]])
    }
}

extension TraceStateTests {
    @Test func finLostAfterTheCapturePointTakesEffectWithItsRetransmission() {
        var t = textbookPrefix(7)
        t.c(50, [.fin, .ack], seq: 201, ack: 2501)         // 7: lost after the capture point
        t.s(60, [.fin, .ack], seq: 2501, ack: 201)         // 8: the server closes, not having it
        t.c(61, .ack, seq: 202, ack: 2502)                 // 9
        t.c(300, [.fin, .ack], seq: 201, ack: 2502)        // 10: the client's FIN again
        t.s(301, .ack, seq: 2502, ack: 202)                // 11
        #expect(Array(states(t).suffix(5)) == [[.finWait1, .established], [.closing, .finWait1], [.closing, .finWait2],
                                               [.closing, .timeWait], [.timeWait, .timeWait]])
    }
}

extension TraceStateTests {
    @Test func damagedSegmentDoesNotCountForTheStates() {
        var t = TraceScript.textbook
        for i in t.segments.indices { t.segments[i].checksumValid = true }
        // A FIN from the server arrives damaged before the real one (insert before segment 9).
        var bad = t.segments[9]
        bad.checksumValid = false
        bad.header.flags = [.fin, .ack, .rst]
        t.segments.insert(bad, at: 9)
        let c = t.conversation
        #expect(c.events[9].damaged)
        #expect(c.damagedFrames == [bad.frame])
        #expect(c.events.map { [$0.clientState, $0.serverState] }[8...10] == [[.finWait2, .closeWait], [.finWait2, .closeWait], [.timeWait, .lastAck]])
        #expect(LadderTextFormatter().render(c).contains("[bad checksum: dropped]".replacingSpaces()))
    }
}
