/// Which way a segment travels.
public enum TraceDirection: Hashable, Sendable {
    case clientToServer, serverToClient
    public var reversed: TraceDirection { self == .clientToServer ? .serverToClient : .clientToServer }
}

/// One segment of a conversation with everything the trace knows about it.
public struct TraceEvent: Sendable {
    public var segment: TraceSegment
    public var direction: TraceDirection
    /// Sequence and acknowledgement numbers relative to each side's ISN (the SYN is 0),
    /// as Wireshark numbers them; when a side's SYN was not captured, its first segment's
    /// sequence number minus one is its base.
    public var relativeSeq: UInt32
    public var relativeAck: UInt32
    /// SACK blocks relative to the receiver's base (the data sender's ISN).
    public var relativeSACK: [(start: UInt32, end: UInt32)]
    public var annotations: TraceAnnotations
    /// For a duplicate ACK, how many duplicates of this ACK so far (1, 2, ...); 0 otherwise.
    public var duplicateAckNumber: Int
    /// The round-trip time this ACK measures: from the segment it exactly acknowledges
    /// (never one that was retransmitted, by Karn's rule) to this ACK.
    public var rtt: Duration?
    /// The advertised window in bytes, scaled once both SYNs agreed on window scaling;
    /// `windowScaleKnown` is false when the capture cannot tell the scale.
    public var window: Int
    public var windowScaleKnown: Bool
    public var resetCause: TraceResetCause?
    /// Each side's state after this segment.
    public var clientState: InferredState
    public var serverState: InferredState
    /// Its TCP checksum failed while the same direction's others pass: damaged on the way,
    /// dropped by its receiver, left out of the states.
    public var damaged: Bool = false
}

/// How a conversation ended, as far as the capture shows.
public enum TraceEnding: Hashable, Sendable, CustomStringConvertible {
    case refused
    case reset(by: TraceDirection, TraceResetCause?)
    /// Both FINs sent and acknowledged; `simultaneous` when they crossed.
    case closed(firstFIN: TraceDirection?, simultaneous: Bool)
    /// One side sent a FIN that the capture does not show acknowledged or answered.
    case halfClosed(by: TraceDirection)
    case open

    public var description: String {
        switch self {
        case .refused: return "refused (RST answered the SYN)"
        case .reset(let d, let cause):
            let who = d == .clientToServer ? "client" : "server"
            switch cause {
            case .closedPort: return "reset by the \(who): port closed"
            case .noConnection: return "reset by the \(who): no such connection"
            default: return "reset by the \(who) (abort)"
            }
        case .closed(let first, let simultaneous):
            if simultaneous { return "simultaneous close" }
            guard let first else { return "closed" }
            return "closed by the \(first == .clientToServer ? "client" : "server") (4-way FIN close)"
        case .halfClosed(let d): return "half-closed by the \(d == .clientToServer ? "client" : "server")"
        case .open: return "still open at the end of the capture"
        }
    }
}

/// Figures for a whole conversation.
public struct TraceSummary: Sendable {
    public var segments: Int
    public var duration: Duration
    /// Payload bytes each way, counting each byte once (highest sequence reached).
    public var bytesClientToServer: Int
    public var bytesServerToClient: Int
    /// Segments that are retransmissions of any kind, and their share of the data segments.
    public var retransmissions: Int
    /// Retransmissions known to have been unnecessary (already acknowledged, D-SACK, timestamps).
    public var spuriousRetransmissions: Int
    public var dataSegments: Int
    public var rttMin: Duration?
    public var rttMean: Duration?
    public var rttMax: Duration?
    public var rttSamples: Int
    /// From the SYN to the ACK that completes the handshake.
    public var handshake: Duration?
    public var ending: TraceEnding

    public var retransmissionRate: Double { dataSegments == 0 ? 0 : Double(retransmissions) / Double(dataSegments) }

    /// Bytes per second in each direction over the whole duration.
    public var goodputClientToServer: Double { perSecond(bytesClientToServer) }
    public var goodputServerToClient: Double { perSecond(bytesServerToClient) }
    func perSecond(_ bytes: Int) -> Double {
        let s = Double(duration.nanosecondsClamped) / 1e9
        return s > 0 ? Double(bytes) / s : 0
    }
}

/// The analysis of one conversation: relative numbers, annotations, states, summary.
public struct TraceConversation: Sendable {
    public var stream: TraceStream
    public var events: [TraceEvent]
    public var initialClientState: InferredState
    public var initialServerState: InferredState
    /// The ISN of each side when its SYN was captured.
    public var clientISN: SequenceNumber?
    public var serverISN: SequenceNumber?
    /// Window scale shift per direction, when both SYNs were captured (0 when not negotiated).
    public var clientWindowScale: Int?
    public var serverWindowScale: Int?
    public var summary: TraceSummary
    /// Frames whose TCP checksum failed (where that direction's others pass): left out of the states.
    public var damagedFrames: [Int]

    /// Per-direction bookkeeping, with Wireshark's `tcp_analyze_seq_info` meanings
    /// (raw 32-bit values, zero meaning "not seen yet", as there).
    struct Flow {
        var base: UInt32 = 0
        var baseSet = false
        var nextSeq: UInt32 = 0
        var nextSeqTime = Instant.zero
        var lastAck: UInt32 = 0
        var lastAckTime = Instant.zero
        var window: UInt32 = .max
        var windowFromSYN = true
        var dupAcks = 0
        var maxSeqToBeAcked: UInt32 = 0
        var lastFlags = TraceAnnotations()
        var unacked: [(seq: UInt32, end: UInt32, time: Instant, retransmitted: Bool, tsval: UInt32?)] = []
        /// Retransmissions whose first acknowledgement has not been seen (for Eifel detection).
        var awaitingAck: [(event: Int, end: UInt32, tsval: UInt32)] = []
        /// Recent retransmissions, for D-SACK reports.
        var recentRetransmissions: [(event: Int, seq: UInt32, end: UInt32)] = []
        var highestEnd: SequenceNumber? = nil
        var lowestSeq: SequenceNumber? = nil
    }

    public init(_ stream: TraceStream) {
        self.stream = stream
        let segs = stream.segments
        let fromClient = segs.map { $0.sourceEndpoint == stream.client }
        // A segment whose IP header checksum fails, or whose TCP checksum fails in a direction
        // where others pass (so not checksum offload at the capturing host), was damaged: its receiver dropped it, so it does
        // not count for the states.
        var verifies = [false, false]
        for (k, sg) in segs.enumerated() where sg.checksumValid == true { verifies[fromClient[k] ? 0 : 1] = true }
        let damaged = segs.indices.filter {
            !segs[$0].ipChecksumValid || (segs[$0].checksumValid == false && verifies[fromClient[$0] ? 0 : 1])
        }
        let damagedSet = Set(damaged)
        let kept = segs.indices.filter { !damagedSet.contains($0) }
        let inferred = StateInference(segments: kept.map { segs[$0] }, clientIsSource: kept.map { fromClient[$0] })
        var expanded: [(client: InferredState, server: InferredState)] = []
        var k = 0
        var last = inferred.initial
        for i in segs.indices {
            if k < kept.count && kept[k] == i { last = inferred.after[k]; k += 1 }
            expanded.append(last)
        }
        let states = (initial: inferred.initial, after: expanded)
        self.damagedFrames = damaged.map { segs[$0].frame }
        initialClientState = states.initial.client
        initialServerState = states.initial.server

        let clientSYN = segs.first { $0.sourceEndpoint == stream.client && $0.header.flags.contains(.syn) }
        let serverSYN = segs.first { $0.sourceEndpoint == stream.server && $0.header.flags.contains(.syn) }
        clientISN = clientSYN?.header.sequenceNumber
        serverISN = serverSYN?.header.sequenceNumber
        func ws(_ s: TraceSegment?) -> Int? {
            for case .windowScale(let v) in s?.header.options ?? [] { return Int(min(v, 14)) }
            return nil
        }
        if clientSYN != nil, serverSYN != nil {
            if let c = ws(clientSYN), let s = ws(serverSYN) { clientWindowScale = c; serverWindowScale = s }
            else { clientWindowScale = 0; serverWindowScale = 0 }
        } else {
            clientWindowScale = nil; serverWindowScale = nil
        }

        var flows = [Flow(), Flow()]  // 0: client→server, 1: server→client
        var events: [TraceEvent] = []
        var firstRTT: Duration? = nil
        var lastSYNTime: Instant? = nil
        var rtts: [Duration] = []
        var handshake: Duration? = nil
        var firstSYNTime: Instant? = nil
        var sawSYNACK = false
        var pendingFirstRTT: Duration? = nil

        for (i, s) in segs.enumerated() {
            let f = fromClient[i] ? 0 : 1, r = 1 - f
            let h = s.header
            let flags = h.flags
            let seq = h.sequenceNumber.rawValue, ack = h.acknowledgmentNumber.rawValue
            let len = UInt32(s.payloadLength)
            let window = UInt32(h.window)
            let synFinRst: TCPFlags = [.syn, .fin, .rst]
            let scale = f == 0 ? clientWindowScale : serverWindowScale
            let peerScale = f == 0 ? serverWindowScale : clientWindowScale
            var a = TraceAnnotations()
            var dupNumber = 0
            var tsval: UInt32? = nil, tsecr: UInt32? = nil
            for case .timestamps(let ts) in h.options { tsval = ts.value; tsecr = ts.echoReply }

            if !flows[f].baseSet {
                flows[f].base = flags.contains(.syn) ? seq : seq &- 1
                flows[f].baseSet = true
            }
            if !flows[r].baseSet && flags.contains(.ack) {
                flows[r].base = ack &- 1
                flows[r].baseSet = true
            }
            // Wireshark's first RTT (its out-of-order threshold): from the most recent bare SYN
            // to the first segment with ACK but not SYN.
            if flags.contains(.syn) {
                if !flags.contains(.ack) {
                    lastSYNTime = s.time
                    if firstSYNTime == nil { firstSYNTime = s.time }
                } else {
                    sawSYNACK = true
                }
            } else if flags.contains(.ack) {
                if firstRTT == nil, let t = lastSYNTime { pendingFirstRTT = s.time - t }
                if let t0 = firstSYNTime, handshake == nil, sawSYNACK, !flags.contains(.rst) { handshake = s.time - t0 }
            }

            analysis: do {
                if len == 1 && seq == flows[f].nextSeq && flows[r].window == 0 {
                    a.insert(.zeroWindowProbe)
                    break analysis
                }
                if window == 0 && flags.isDisjoint(with: synFinRst) { a.insert(.zeroWindow) }
                if flows[f].nextSeq != 0 && SequenceNumber(seq) > SequenceNumber(flows[f].nextSeq) && !flags.contains(.rst) {
                    a.insert(.previousSegmentNotCaptured)
                }
                if len <= 1 && seq == flows[f].nextSeq &- 1 && flags.isDisjoint(with: synFinRst) { a.insert(.keepAlive) }
                let sameSeqAck = seq == flows[f].nextSeq && ack == flows[f].lastAck && flags.isDisjoint(with: synFinRst)
                if len == 0 && window != 0 && window != flows[f].window && sameSeqAck { a.insert(.windowUpdate) }
                if len > 0, let ps = peerScale, flags.isDisjoint(with: synFinRst), flows[r].window != .max {
                    let shift = flows[r].windowFromSYN ? 0 : ps
                    if seq &+ len == flows[r].lastAck &+ (flows[r].window << UInt32(shift)) { a.insert(.windowFull) }
                }
                if len == 0 && window != 0 && window == flows[f].window && sameSeqAck && flows[r].lastFlags.contains(.keepAlive) {
                    a.insert(.keepAliveAck)
                    break analysis
                }
                if len == 0 && window == 0 && window == flows[f].window && sameSeqAck && flows[r].lastFlags.contains(.zeroWindowProbe) {
                    a.insert(.zeroWindowProbeAck)
                    break analysis
                }
                if len == 0 && window != 0 && window == flows[f].window && sameSeqAck {
                    flows[f].dupAcks = flows[f].dupAcks == -1 ? 1 : flows[f].dupAcks + 1
                    a.insert(.duplicateAck)
                    dupNumber = flows[f].dupAcks
                }
            }
            if ack != flows[f].lastAck { flows[f].dupAcks = 0 }
            if flows[r].maxSeqToBeAcked != 0 && SequenceNumber(ack) > SequenceNumber(flows[r].maxSeqToBeAcked) && flags.contains(.ack) {
                if SequenceNumber(flows[r].maxSeqToBeAcked) > SequenceNumber(flows[r].nextSeq) {
                    flows[r].maxSeqToBeAcked = flows[r].nextSeq
                    a.insert(.ackedUnseenSegment)
                } else {
                    if flows[r].dupAcks == 0 { a.insert(.ackedUnseenSegment) }
                    flows[r].dupAcks = -1
                }
            }
            if len > 0 || !flags.isDisjoint(with: [.syn, .fin]) {
                retrans: do {
                    var notAdvanced = flows[f].nextSeq != 0 && SequenceNumber(seq) < SequenceNumber(flows[f].nextSeq)
                    if a.contains(.keepAlive) { break retrans }
                    if len > 1 && flows[f].nextSeq &- 1 == seq { notAdvanced = false }
                    if len > 0 && flows[r].lastAck != 0 && SequenceNumber(seq &+ len) <= SequenceNumber(flows[r].lastAck) {
                        a.insert(.spuriousRetransmission)
                        break retrans
                    }
                    let sinceAck = s.time - flows[r].lastAckTime
                    if notAdvanced && flows[r].dupAcks >= 2 && flows[r].lastAck == seq && sinceAck < .milliseconds(20) {
                        a.insert(.fastRetransmission)
                        break retrans
                    }
                    let sinceNext = s.time - flows[f].nextSeqTime
                    let threshold = (firstRTT.map { $0 == .zero ? nil : $0 } ?? nil) ?? .milliseconds(3)
                    let segEnd = seq &+ len &+ (flags.isDisjoint(with: [.syn, .fin]) ? 0 : 1)
                    if notAdvanced && sinceNext < threshold && flows[f].nextSeq != segEnd {
                        a.insert(.outOfOrder)
                        break retrans
                    }
                    if notAdvanced { a.insert(.retransmission) }
                }
            }
            if let p = pendingFirstRTT { firstRTT = p; pendingFirstRTT = nil }
            var nextSeq = seq &+ len
            if len > 0 || !flags.isDisjoint(with: [.syn, .fin]) {
                if !flags.isDisjoint(with: [.syn, .fin]) { nextSeq &+= 1 }
                let again = a.isRetransmission || flows[f].unacked.contains { $0.seq == seq }
                if again {
                    var originalTS: UInt32? = nil
                    for k in flows[f].unacked.indices where flows[f].unacked[k].seq == seq {
                        flows[f].unacked[k].retransmitted = true
                        originalTS = originalTS ?? flows[f].unacked[k].tsval
                    }
                    if let mine = tsval, let old = originalTS, SequenceNumber(old) < SequenceNumber(mine) {
                        flows[f].awaitingAck.append((i, nextSeq, mine))
                    }
                    flows[f].recentRetransmissions.append((i, seq, nextSeq))
                    if flows[f].recentRetransmissions.count > 256 { flows[f].recentRetransmissions.removeFirst(128) }
                } else if flows[f].unacked.count < 10_000 {
                    flows[f].unacked.append((seq, nextSeq, s.time, a.isRetransmission, tsval))
                }
            }
            if SequenceNumber(nextSeq) > SequenceNumber(flows[f].nextSeq) || flows[f].nextSeq == 0 {
                if !a.contains(.zeroWindowProbe) {
                    flows[f].nextSeq = nextSeq
                    flows[f].nextSeqTime = s.time
                }
            }
            if seq == flows[f].maxSeqToBeAcked || flows[f].maxSeqToBeAcked == 0 {
                if !a.contains(.zeroWindowProbe) { flows[f].maxSeqToBeAcked = flows[f].nextSeq }
            }
            flows[f].window = window
            flows[f].windowFromSYN = flags.contains(.syn)
            flows[f].lastAck = ack
            flows[f].lastAckTime = s.time
            flows[f].lastFlags = a

            // RTT: an ACK that exactly covers a segment sent once.
            var rtt: Duration? = nil
            if flags.contains(.ack) && !flags.contains(.rst) {
                let ackSeq = SequenceNumber(ack)
                if let m = flows[r].unacked.last(where: { $0.end == ack }), !m.retransmitted {
                    rtt = s.time - m.time
                    rtts.append(rtt!)
                }
                flows[r].unacked.removeAll { SequenceNumber($0.end) <= ackSeq }
                // Eifel: the first ACK covering a retransmission echoes the original's timestamp.
                if !flows[r].awaitingAck.isEmpty {
                    for w in flows[r].awaitingAck where SequenceNumber(w.end) <= ackSeq {
                        if let ecr = tsecr, SequenceNumber(ecr) < SequenceNumber(w.tsval) {
                            events[w.event].annotations.insert(.spuriousByTimestamps)
                        }
                    }
                    flows[r].awaitingAck.removeAll { SequenceNumber($0.end) <= ackSeq }
                }
            }

            // D-SACK: a first SACK block below the cumulative ACK, or inside the second block.
            var sackRel: [(UInt32, UInt32)] = []
            for case .sack(let blocks) in h.options {
                for b in blocks { sackRel.append((b.start.rawValue &- flows[r].base, b.end.rawValue &- flows[r].base)) }
                if let b0 = blocks.first, flags.contains(.ack) {
                    var dsack = b0.start < h.acknowledgmentNumber
                    if !dsack, blocks.count > 1, b0.start >= blocks[1].start, b0.end <= blocks[1].end { dsack = true }
                    if dsack {
                        a.insert(.duplicateSACK)
                        // The latest retransmission inside the reported block was not needed.
                        if let m = flows[r].recentRetransmissions.last(where: {
                            SequenceNumber($0.seq) >= b0.start && SequenceNumber($0.end) <= b0.end + 1
                        }) {
                            events[m.event].annotations.insert(.spuriousByDSACK)
                        }
                    }
                }
            }

            // Statistics of unique bytes.
            if len > 0 {
                let start = h.sequenceNumber, end = h.sequenceNumber + Int(len)
                if flows[f].lowestSeq.map({ start < $0 }) ?? true { flows[f].lowestSeq = start }
                if flows[f].highestEnd.map({ end > $0 }) ?? true { flows[f].highestEnd = end }
            }

            var cause: TraceResetCause? = nil
            if flags.contains(.rst) {
                let prior = i == 0 ? (fromClient[i] ? states.initial.client : states.initial.server)
                    : (fromClient[i] ? states.after[i - 1].client : states.after[i - 1].server)
                let senderSentSYN = segs[..<i].contains { $0.sourceEndpoint == s.sourceEndpoint && $0.header.flags.contains(.syn) }
                let answersSYN = i > 0 && segs[i - 1].header.flags == .syn && segs[i - 1].destinationEndpoint == s.sourceEndpoint
                if !senderSentSYN && answersSYN && flags.contains(.ack) && h.acknowledgmentNumber == segs[i - 1].header.sequenceNumber + 1 {
                    cause = .closedPort
                } else if [.closed, .timeWait, .listen].contains(prior) {
                    cause = .noConnection
                } else if prior != .unknown {
                    cause = .abort
                }
            }

            let shift = scale ?? 0
            events.append(TraceEvent(
                segment: s, direction: f == 0 ? .clientToServer : .serverToClient,
                relativeSeq: seq &- flows[f].base,
                relativeAck: flags.contains(.ack) ? ack &- flows[r].base : 0,
                relativeSACK: sackRel.map { (start: $0.0, end: $0.1) },
                annotations: a, duplicateAckNumber: dupNumber, rtt: rtt,
                window: flags.contains(.syn) ? Int(window) : Int(window) << shift,
                windowScaleKnown: flags.contains(.syn) || scale != nil,
                resetCause: cause,
                clientState: states.after[i].client, serverState: states.after[i].server))
        }
        for i in damaged { events[i].damaged = true }
        self.events = events

        // Summary.
        func bytes(_ k: Int) -> Int {
            guard let hi = flows[k].highestEnd, let lo = flows[k].lowestSeq else { return 0 }
            return max(0, hi - lo)
        }
        let duration = (segs.last?.time ?? .zero) - (segs.first?.time ?? .zero)
        let retransmissions = events.filter { $0.annotations.isRetransmission }.count
        let dataSegments = events.filter { $0.segment.payloadLength > 0 || !$0.segment.header.flags.isDisjoint(with: [.syn, .fin]) }.count
        let ending = TraceConversation.ending(events: events, stream: stream)
        summary = TraceSummary(
            segments: segs.count, duration: duration,
            bytesClientToServer: bytes(0), bytesServerToClient: bytes(1),
            retransmissions: retransmissions,
            spuriousRetransmissions: events.filter { $0.annotations.isSpurious }.count, dataSegments: dataSegments,
            rttMin: rtts.min(), rttMean: rtts.isEmpty ? nil : rtts.reduce(.zero, +) / rtts.count, rttMax: rtts.max(),
            rttSamples: rtts.count, handshake: handshake, ending: ending)
    }

    static func ending(events: [TraceEvent], stream: TraceStream) -> TraceEnding {
        if let rst = events.first(where: { $0.segment.header.flags.contains(.rst) }) {
            if rst.resetCause == .closedPort { return .refused }
            return .reset(by: rst.direction, rst.resetCause)
        }
        let fins = events.filter { $0.segment.header.flags.contains(.fin) }
        guard let first = fins.first else { return .open }
        let other = fins.first { $0.direction != first.direction }
        guard let other else { return .halfClosed(by: first.direction) }
        let lastState = events.last.map { ($0.clientState, $0.serverState) }
        let simultaneous: Bool = {
            // The second FIN does not acknowledge the first: they crossed.
            let firstFinSeq = first.segment.header.sequenceNumber + first.segment.payloadLength
            let h = other.segment.header
            return !(h.flags.contains(.ack) && h.acknowledgmentNumber > firstFinSeq)
        }()
        if let (c, s) = lastState, [c, s].contains(.timeWait) || [c, s].contains(.closed) || c == .unknown {
            return .closed(firstFIN: simultaneous ? nil : first.direction, simultaneous: simultaneous)
        }
        return .halfClosed(by: first.direction)
    }

    /// Every conversation in a capture's segments.
    public static func analyze(_ segments: [TraceSegment]) -> [TraceConversation] {
        TraceStream.group(segments).map(TraceConversation.init)
    }
}
