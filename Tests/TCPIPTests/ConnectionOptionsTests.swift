import Testing
@testable import TCPIP

/// MSS, window scale, timestamps (RTTM, PAWS), SACK-permitted, SACK and D-SACK blocks.
@Suite struct ConnectionOptionsTests {
    /// Active open with the default configuration against a peer offering every option;
    /// returns the script and our SYN's TSval.
    func establishedWithOptions(peerTS: UInt32 = 5000, peerScale: UInt8 = 7, sack: Bool = true,
                                configuration: TCPConfiguration = TCPConfiguration()) -> (Script, UInt32) {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: configuration, now: .zero))
        let syn = s.expectOne()!
        let ours = syn.timestamps?.value ?? 0
        var opts: [TCPOption] = [.maximumSegmentSize(1460)]
        if sack { opts.append(.sackPermitted) }
        opts += [.timestamps(TCPTimestamps(value: peerTS, echoReply: ours)), .noOperation, .windowScale(peerScale)]
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 65535, options: opts)
        _ = s.output()
        _ = s.events()
        return (s, ours)
    }

    @Test func synCarriesMSSSackPermittedTimestampsAndWindowScaleWithAnUnscaledWindow() {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: TCPConfiguration(), now: .zero))
        let syn = s.expectOne()!
        let ts = syn.timestamps!
        #expect(syn.flags == .syn && syn.window == 65535)
        #expect(syn.options == [.maximumSegmentSize(1460), .sackPermitted, .timestamps(TCPTimestamps(value: ts.value, echoReply: 0)),
                                .noOperation, .windowScale(3)])
    }

    @Test func windowScaleShiftIsComputedFromTheReceiveBuffer() {
        var c = TCPConfiguration()
        #expect(c.receiveWindowShift == 3)  // 256 KiB >> 3 = 32768 fits 16 bits
        c.receiveBufferSize = 65535
        #expect(c.receiveWindowShift == 0)
        c.receiveBufferSize = 4 << 20
        #expect(c.receiveWindowShift == 7)
        c.windowScaling = false
        #expect(c.receiveWindowShift == 0)
    }

    @Test func negotiatedOptionsScaleWindowsAndEchoTimestamps() {
        let (s, ours) = establishedWithOptions()
        _ = ours
        // Our ACK of the SYN+ACK went out in establishedWithOptions; the next one shows the scaled window.
        s.send(.ack, seq: 2001, ack: 101, window: 100, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 5001, echoReply: 0))],
               payload: [1])
        s.advance(by: .milliseconds(200))
        let a = s.expect(.ack, seq: 101, ack: 2002, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours &+ 200, echoReply: 5001))])
        // 262143 free bytes >> 3 would be 32767, which would move the right edge
        // (2001 + 32768 << 3) one byte left: rounded up to keep it (as Linux does).
        #expect(a?.window == 32768)
        #expect(a?.options == [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: a!.timestamps!.value, echoReply: 5001))])
        #expect(s.conn.sendWindow == 100 << 7)
        #expect(s.conn.negotiatedOptions == TCPNegotiatedOptions(peerMaximumSegmentSize: 1460, sendMaximumSegmentSize: 1448,
                                                                 sendWindowShift: 7, receiveWindowShift: 3,
                                                                 timestamps: true, selectiveAcknowledgments: true))
    }

    @Test func synAckCarriesOnlyOptionsTheSynHad() {
        let cases: [([TCPOption], [TCPOption])] = [
            ([.maximumSegmentSize(1000)], [.maximumSegmentSize(1460)]),
            ([.maximumSegmentSize(1000), .noOperation, .windowScale(2)], [.maximumSegmentSize(1460), .noOperation, .windowScale(3)]),
            ([.noOperation, .noOperation, .sackPermitted], [.maximumSegmentSize(1460), .noOperation, .noOperation, .sackPermitted]),
        ]
        for (offered, expected) in cases {
            let s = Script(TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(2000), configuration: TCPConfiguration(), now: .zero))
            s.send(.syn, seq: 100, window: 65535, options: offered)
            let sa = s.expect([.syn, .ack], seq: 2000, ack: 101, window: 65535, options: expected)
            #expect(sa?.options == expected)
        }
        let s = Script(TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(2000), configuration: TCPConfiguration(), now: .zero))
        s.send(.syn, seq: 100, window: 65535, options: [.maximumSegmentSize(1460), .sackPermitted,
                                                        .timestamps(TCPTimestamps(value: 777, echoReply: 0)), .noOperation, .windowScale(7)])
        // Without an offset from the stack, our TSval at time 0 is ISS × 2654435761 (RFC 7323 §5.4).
        let sa = s.expect([.syn, .ack], seq: 2000, ack: 101, window: 65535, options: [.maximumSegmentSize(1460), .sackPermitted, .timestamps(TCPTimestamps(value: UInt32(2000) &* 2_654_435_761, echoReply: 777)), .noOperation, .windowScale(3)])!
        #expect(sa.options == [.maximumSegmentSize(1460), .sackPermitted,
                               .timestamps(TCPTimestamps(value: sa.timestamps!.value, echoReply: 777)), .noOperation, .windowScale(3)])
    }

    @Test func noSegmentCarriesMoreThanThePeersMSSLessOptionBytes() {
        var c = TCPConfiguration()
        c.noDelay = true
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: c, now: .zero))
        let syn = s.expectOne()!
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 65535,
               options: [.maximumSegmentSize(500), .noOperation, .noOperation,
                         .timestamps(TCPTimestamps(value: 1, echoReply: syn.timestamps!.value))])
        _ = s.output()
        #expect(s.write(count: 2000) == 2000)
        // 500 - 12 bytes of timestamp option = 488 per segment.
        #expect(s.output().map(\.payload.count) == [488, 488, 488, 488, 48])
    }

    @Test func mssIs536WhenTheSynHadNone() {
        var c = plainConfiguration()
        c.noDelay = true
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: c, now: .zero))
        _ = s.output()
        s.send([.syn, .ack], seq: 2000, ack: 101, window: 65535)
        _ = s.output()
        #expect(s.write(count: 1200) == 1200)
        let out = s.output()
        #expect(out.map(\.payload.count) == [536, 536, 128])
        #expect(out.map(\.seq) == [101, 637, 1173])
    }

    @Test func pawsDropsAnOlderTimestampAndACKsIt() {
        let (s, ours) = establishedWithOptions(sack: false)
        s.send(.ack, seq: 2001, ack: 101, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 6000, echoReply: 0))],
               payload: [1, 2])
        #expect(s.read() == [1, 2])
        s.send(.ack, seq: 2003, ack: 101, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 5500, echoReply: 0))],
               payload: [3, 4])
        let a = s.expect(.ack, seq: 101, ack: 2003, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 6000))])
        #expect(a?.timestamps?.echoReply == 6000)
        #expect(s.read().isEmpty)
        #expect(s.conn.counters.droppedSegments.paws == 1)
    }

    @Test func tsRecentIsUpdatedOnlyFromInOrderSegments() {
        let (s, ours) = establishedWithOptions(sack: false)
        // Out of order (beyond RCV.NXT) with a newer TSval: ACKed at once, TS.Recent unchanged.
        s.send(.ack, seq: 2101, ack: 101, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 9000, echoReply: 0))],
               payload: [5])
        let a = s.expect(.ack, seq: 101, ack: 2001, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 5000))])
        #expect(a?.timestamps?.echoReply == 5000)
        // In order: TS.Recent follows.
        s.send(.ack, seq: 2001, ack: 101, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 9001, echoReply: 0))],
               payload: Array(repeating: 0, count: 100))
        // 101 bytes unread, the right edge kept: (262144 − 101 + 7) >> 3 = 32756.
        let b = s.expect(.ack, seq: 101, ack: 2102, window: 32756, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 9001))])
        #expect(b?.timestamps?.echoReply == 9001)
    }

    @Test func rstAndFinCarryACurrentTimestamp() {
        let (s, ours) = establishedWithOptions(sack: false)
        s.advance(by: .milliseconds(1234))
        s.conn.close()
        let fin = s.expect([.fin, .ack], seq: 101, ack: 2001, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours &+ 1234, echoReply: 5000))])!
        let expectedNow = fin.timestamps!.value
        s.advance(by: .milliseconds(10))
        s.conn.abort()
        let rst = s.expect(.rst, seq: 102, window: 0, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours &+ 1244, echoReply: 5000))])!
        #expect(rst.timestamps == TCPTimestamps(value: expectedNow &+ 10, echoReply: 5000))
        #expect(fin.timestamps!.echoReply == 5000)
    }

    @Test func timestampsGiveRTTSamplesFromRetransmissions() {
        let (s, _) = establishedWithOptions(sack: false)
        _ = s.write(count: 100)
        let first = s.expectOne()!
        s.advanceToDeadline()  // RTO 200 ms (handshake RTT 0)
        let again = s.expectOne()!
        #expect(again.seq == first.seq && again.timestamps!.value == first.timestamps!.value &+ 200)
        s.advance(by: .milliseconds(300))
        s.send(.ack, seq: 2001, ack: 201, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 5001, echoReply: again.timestamps!.value))])
        // Second sample 300 ms after SRTT 0: SRTT = 300/8 = 37.5 ms.
        #expect(s.conn.counters.smoothedRTT == .microseconds(37_500))
    }

    @Test func outOfOrderDataIsReportedInSACKBlocksMostRecentFirst() {
        let (s, ours) = establishedWithOptions()
        let ts: [TCPOption] = [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 5000, echoReply: 0))]
        s.send(.ack, seq: 3001, ack: 101, options: ts, payload: Array(repeating: 1, count: 500))
        // Out-of-order bytes do not move RCV.NXT: the right edge 2001 + 32768 << 3 stays, so 32768.
        #expect(s.expect(.ack, seq: 101, ack: 2001, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 5000)), .noOperation, .noOperation, .sack(SACKBlocks([SACKBlock(start: SequenceNumber(3001), end: SequenceNumber(3501))]))])?.sackBlocks == SACKBlocks([SACKBlock(start: SequenceNumber(3001), end: SequenceNumber(3501))]))
        s.send(.ack, seq: 4001, ack: 101, options: ts, payload: Array(repeating: 1, count: 500))
        #expect(s.expect(.ack, seq: 101, ack: 2001, window: 32768, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 5000)), .noOperation, .noOperation, .sack(SACKBlocks([SACKBlock(start: SequenceNumber(4001), end: SequenceNumber(4501)), SACKBlock(start: SequenceNumber(3001), end: SequenceNumber(3501))]))])?.sackBlocks == SACKBlocks([SACKBlock(start: SequenceNumber(4001), end: SequenceNumber(4501)),
                                                                                SACKBlock(start: SequenceNumber(3001), end: SequenceNumber(3501))]))
        s.send(.ack, seq: 2001, ack: 101, options: ts, payload: Array(repeating: 1, count: 1000))
        // 1500 bytes unread (500 more held out of order), the right edge kept: (262144 − 1500 + 7) >> 3.
        #expect(s.expect(.ack, seq: 101, ack: 3501, window: 32581, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours, echoReply: 5000)), .noOperation, .noOperation, .sack(SACKBlocks([SACKBlock(start: SequenceNumber(4001), end: SequenceNumber(4501))]))])?.sackBlocks == SACKBlocks([SACKBlock(start: SequenceNumber(4001), end: SequenceNumber(4501))]))
    }

    @Test func duplicateSegmentIsReportedWithADSACKBlock() {
        let (s, ours) = establishedWithOptions()
        let ts: [TCPOption] = [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 5000, echoReply: 0))]
        s.send(.ack, seq: 2001, ack: 101, options: ts, payload: Array(repeating: 1, count: 100))
        s.advance(by: .milliseconds(200))
        // 100 bytes unread, the right edge kept: (262144 − 100 + 7) >> 3 = 32756 (shift 3, rounded up).
        #expect(s.expect(.ack, seq: 101, ack: 2101, window: 32756, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours &+ 200, echoReply: 5000))])?.sackBlocks.isEmpty == true)
        s.send(.ack, seq: 2001, ack: 101, options: ts, payload: Array(repeating: 1, count: 100))
        #expect(s.expect(.ack, seq: 101, ack: 2101, window: 32756, options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: ours &+ 200, echoReply: 5000)), .noOperation, .noOperation, .sack(SACKBlocks([SACKBlock(start: SequenceNumber(2001), end: SequenceNumber(2101))]))])?.sackBlocks == SACKBlocks([SACKBlock(start: SequenceNumber(2001), end: SequenceNumber(2101))]))
    }

    @Test func timeWaitAcceptsANewSYNOnlyWithANewerTimestampOrHigherSequence() {
        let plain = Script.inState(.timeWait)
        func syn(_ s: Script, seq: UInt32, options: [TCPOption] = []) -> Bool {
            s.bytes(.syn, seq: seq, options: options).withUnsafeBytes { s.conn.acceptsNewSYN(segment: try! TCPHeaderView($0)) }
        }
        #expect(syn(plain, seq: 5000))
        #expect(!syn(plain, seq: 1000))
        let (s, _) = establishedWithOptions(sack: false)
        s.conn.close(); _ = s.output()
        let ts = { (v: UInt32) -> [TCPOption] in [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: v, echoReply: 0))] }
        s.send([.fin, .ack], seq: 2001, ack: 102, options: ts(5100))
        _ = s.output()
        #expect(s.conn.state == .timeWait)
        #expect(syn(s, seq: 1000, options: ts(5200)))
        #expect(!syn(s, seq: 9000, options: ts(5000)))
    }
}
