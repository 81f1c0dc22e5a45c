/// A side's RFC 9293 connection state as far as a capture shows it, or `unknown`
/// where the segments cannot tell (the capture began mid-stream, or a side never
/// answered). Never a guess.
public enum InferredState: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case closed, listen, synSent, synReceived, established
    case finWait1, finWait2, closing, timeWait, closeWait, lastAck
    case unknown

    /// The RFC's name ("SYN-SENT"), or "?".
    public var description: String {
        switch self {
        case .closed: return "CLOSED"
        case .listen: return "LISTEN"
        case .synSent: return "SYN-SENT"
        case .synReceived: return "SYN-RECEIVED"
        case .established: return "ESTABLISHED"
        case .finWait1: return "FIN-WAIT-1"
        case .finWait2: return "FIN-WAIT-2"
        case .closing: return "CLOSING"
        case .timeWait: return "TIME-WAIT"
        case .closeWait: return "CLOSE-WAIT"
        case .lastAck: return "LAST-ACK"
        case .unknown: return "?"
        }
    }
}

/// Infers both sides' states after every segment of one conversation.
///
/// A side's state is a function of a few facts, each of which the segments date:
/// it sent its SYN; it received the peer's SYN; its SYN was acknowledged; the same
/// three for FIN; whether it sent its FIN before it received the peer's; a RST.
/// Sending is dated by the capture. Receiving is dated by the receiver's own
/// acknowledgement numbers: the peer's SYN or FIN reached a side no later than the
/// first segment that side sent whose ACK covers it, and after every segment it
/// sent whose ACK does not (so crossing FINs give CLOSING, crossing SYNs give a
/// simultaneous open). A fact the capture cannot date (a mid-stream start, a side
/// that never answered) is unknown; a state is shown only when every possible
/// value of the unknown facts gives the same one.
public struct StateInference: Sendable {
    /// Before the first segment.
    public private(set) var initial: (client: InferredState, server: InferredState)
    /// After each segment, in order.
    public private(set) var after: [(client: InferredState, server: InferredState)]

    /// A fact over the rows of a trace: unknown, false or true at each row.
    struct Fact {
        var prior: Bool? = false
        var falseFrom: Int? = nil
        var unknownFrom: Int? = nil
        var trueFrom: Int? = nil
        func at(_ i: Int) -> Bool? {
            if let t = trueFrom, i >= t { return true }
            if let u = unknownFrom, i >= u { return nil }
            if let f = falseFrom, i >= f { return false }
            return prior
        }
        static let never = Fact(prior: false)
        static let unknown = Fact(prior: nil)
    }

    enum Role { case active, passive, closedPort, midStream, silent }

    struct SideFacts {
        var role: Role = .silent
        var synSent = Fact.never
        var peerSynReceived = Fact.never
        var synAcked = Fact.never
        var finSent = Fact.never
        var peerFinReceived = Fact.never
        var finAcked = Fact.never
        /// Whether its FIN left before the peer's FIN arrived (CLOSING/TIME-WAIT rather than LAST-ACK/CLOSED).
        var finFirst: Bool? = true
        var reset = Fact.never
        var resetGivesListen = false
    }

    public init(segments: [TraceSegment], clientIsSource: [Bool]) {
        let n = segments.count
        func indices(client: Bool) -> [Int] { (0..<n).filter { clientIsSource[$0] == client } }
        let clientRows = indices(client: true), serverRows = indices(client: false)
        var sides = [SideFacts(), SideFacts()]  // 0 client, 1 server
        let rowsOf = [clientRows, serverRows]

        func firstRow(_ side: Int, _ pred: (TraceSegment) -> Bool) -> Int? { rowsOf[side].first { pred(segments[$0]) } }

        // Roles.
        for side in 0..<2 {
            guard let first = rowsOf[side].first else { sides[side].role = .silent; continue }
            let f = segments[first].header.flags
            if f.contains(.syn) && !f.contains(.ack) { sides[side].role = .active }
            else if f.contains(.syn) { sides[side].role = .passive }
            else if f.contains(.rst), firstRow(1 - side, { $0.header.flags.contains(.syn) }).map({ $0 < first }) == true {
                sides[side].role = .closedPort
            } else { sides[side].role = .midStream }
        }

        func covers(_ s: TraceSegment, _ seq: SequenceNumber) -> Bool {
            s.header.flags.contains(.ack) && s.header.acknowledgmentNumber > seq
        }

        // When `side` received the peer's control (SYN or FIN) at `seq`, first seen at row `c`.
        func receipt(side: Int, seq: SequenceNumber, firstCopy c: Int, historyKnown: Bool) -> Fact {
            var fact = Fact(prior: historyKnown ? false : nil)
            let later = rowsOf[side].filter { $0 > c }
            if let j = later.first(where: { covers(segments[$0], seq) }) {
                let lastNonCovering = later.last { $0 < j && !covers(segments[$0], seq) }
                // The peer sent the same segment again before it was covered: the earlier copies
                // did not arrive (lost after the capture point); the last copy did.
                // (Only when the side showed, after the first copy, that it did not have it.)
                let since = max(c, lastNonCovering ?? c)
                if let n = lastNonCovering, n > c, let copy = rowsOf[1 - side].last(where: {
                    $0 > since && $0 < j && segments[$0].end - 1 == seq
                        && segments[$0].header.flags.intersection([.syn, .fin, .ack])
                        == segments[c].header.flags.intersection([.syn, .fin, .ack])
                }) {
                    fact.trueFrom = copy
                } else if let n = lastNonCovering, segments[n].header.flags.contains(.ack),
                   segments[n].header.acknowledgmentNumber != seq,
                   let filler = rowsOf[1 - side].last(where: { $0 > n && $0 < j }) {
                    // There was a hole before it: it took effect when the hole was filled,
                    // with the peer's last segment before the covering ACK.
                    fact.trueFrom = max(c, filler)
                } else {
                    // In flight (or the next expected byte) when the side last sent: it arrived just after.
                    fact.trueFrom = max(c, lastNonCovering ?? c)
                }
            } else if later.isEmpty {
                // The side sent nothing more that would show otherwise: it received it
                // (a loss after the capture point would have brought a retransmission).
                fact.trueFrom = c
            } else {
                // It kept sending without acknowledging it: not received while it did so,
                // and after its last segment the capture cannot tell.
                fact.falseFrom = c
                fact.unknownFrom = later.last! + 1
            }
            if !historyKnown, let nc = rowsOf[side].first(where: {
                $0 <= (fact.trueFrom ?? Int.max) && segments[$0].header.flags.contains(.ack) && !covers(segments[$0], seq)
            }) {
                // A segment that does not acknowledge it proves it had not arrived by then.
                fact.falseFrom = min(fact.falseFrom ?? nc, nc)
            }
            return fact
        }

        // Facts that the capture shows only through acknowledgements when their segment was not captured.
        func provenByAcks(_ side: Int, history: Bool) -> Fact {
            let firstAck = firstRow(side) { $0.header.flags.contains(.ack) && !$0.header.flags.contains(.syn) }
            if let f = firstAck, f == rowsOf[side].first { return Fact(prior: true) }
            return Fact(prior: history ? false : nil, trueFrom: firstAck)
        }

        // When `side` learnt that its SYN or FIN (ending at `end`) was acknowledged: at the
        // peer's first covering ACK, unless the side sent the control again after it (the ACK
        // was lost after the capture point); then at the next covering ACK after the last copy.
        func acknowledged(side: Int, end: SequenceNumber, control: TCPFlags, prior: Bool?) -> Fact {
            let peer = 1 - side
            let covering = rowsOf[peer].filter { covers(segments[$0], end - 1) && !segments[$0].header.flags.contains(.rst) }
            guard let a = covering.first else { return Fact(prior: prior) }
            // Copies of what the side had already sent before the ACK (a simultaneous open's
            // first SYN+ACK after a bare SYN is an answer, not a copy).
            let kinds: TCPFlags = [.syn, .fin, .ack]
            let before = Set(rowsOf[side].filter { $0 < a && segments[$0].header.flags.contains(control) }
                .map { segments[$0].header.flags.intersection(kinds).rawValue })
            let again = rowsOf[side].filter {
                $0 > a && segments[$0].header.flags.contains(control) && before.contains(segments[$0].header.flags.intersection(kinds).rawValue)
            }
            guard let last = again.last else { return Fact(prior: prior, trueFrom: a) }
            let a2 = covering.first { $0 > last }
            return Fact(prior: prior, falseFrom: a, unknownFrom: a2 == nil ? last + 1 : nil, trueFrom: a2)
        }

        for side in 0..<2 {
            let peer = 1 - side
            let role = sides[side].role
            if role == .silent || role == .closedPort { continue }
            let mySYN = firstRow(side) { $0.header.flags.contains(.syn) }
            let peerSYN = firstRow(peer) { $0.header.flags.contains(.syn) }
            let myHistory = mySYN != nil && mySYN == rowsOf[side].first
            let peerHistory = peerSYN != nil && peerSYN == rowsOf[peer].first

            // SYN facts.
            if let r = mySYN {
                sides[side].synSent = Fact(prior: false, trueFrom: r)
                let isn = segments[r].header.sequenceNumber
                sides[side].synAcked = acknowledged(side: side, end: isn + 1, control: .syn, prior: false)
            } else {
                sides[side].synSent = Fact(prior: true)
                sides[side].synAcked = provenByAcks(side, history: false)
            }
            if let r = peerSYN {
                sides[side].peerSynReceived = receipt(side: side, seq: segments[r].header.sequenceNumber,
                                                      firstCopy: r, historyKnown: true)
            } else {
                sides[side].peerSynReceived = provenByAcks(side, history: myHistory)
            }

            // FIN facts.
            let myFIN = firstRow(side) { $0.header.flags.contains(.fin) && !$0.header.flags.contains(.rst) }
            let peerFIN = firstRow(peer) { $0.header.flags.contains(.fin) && !$0.header.flags.contains(.rst) }
            if let r = myFIN {
                sides[side].finSent = Fact(prior: myHistory ? false : nil, trueFrom: r)
                let finSeq = segments[r].header.sequenceNumber + segments[r].payloadLength
                sides[side].finAcked = acknowledged(side: side, end: finSeq + 1, control: .fin, prior: myHistory ? false : nil)
                let a = firstRow(peer) { covers($0, finSeq) && !$0.header.flags.contains(.rst) }
                if !myHistory, let nc = rowsOf[peer].first(where: { $0 < (a ?? Int.max) && segments[$0].header.flags.contains(.ack) }) {
                    // A peer acknowledgement below it shows it was not acknowledged before the capture.
                    sides[side].finAcked.falseFrom = min(sides[side].finAcked.falseFrom ?? nc, nc)
                }
                if let p = peerFIN {
                    let peerFinSeq = segments[p].header.sequenceNumber + segments[p].payloadLength
                    sides[side].finFirst = !covers(segments[r], peerFinSeq)
                } else {
                    sides[side].finFirst = peerHistory ? true : nil
                }
            } else {
                sides[side].finSent = myHistory ? .never : .unknown
                sides[side].finAcked = myHistory ? .never : .unknown
                sides[side].finFirst = nil
            }
            if let p = peerFIN {
                let peerFinSeq = segments[p].header.sequenceNumber + segments[p].payloadLength
                sides[side].peerFinReceived = receipt(side: side, seq: peerFinSeq, firstCopy: p, historyKnown: peerHistory)
            } else {
                sides[side].peerFinReceived = peerHistory ? .never : .unknown
            }

            // RST sent: the sender is gone. RSTs received are weighed once the other facts are known.
            if let r = firstRow(side, { $0.header.flags.contains(.rst) }) { sides[side].reset = Fact(prior: false, trueFrom: r) }
        }

        // Whether a RST from the peer at row k can reset `side` (RFC 9293 §3.10.7 with RFC 5961):
        // in SYN-SENT it must acknowledge the SYN; otherwise its sequence number must be the
        // side's RCV.NXT, which lies between the side's last ACK and the end of what the peer sent.
        func acceptable(_ k: Int, side: Int) -> Bool {
            let rst = segments[k].header
            let mine = rowsOf[side].filter { $0 < k }
            guard let lastAck = mine.last(where: { segments[$0].header.flags.contains(.ack) }) else {
                guard let syn = mine.first(where: { segments[$0].header.flags.contains(.syn) }) else { return true }
                return rst.flags.contains(.ack) && rst.acknowledgmentNumber == segments[syn].header.sequenceNumber + 1
            }
            let low = segments[lastAck].header.acknowledgmentNumber
            var high = low
            for r in rowsOf[1 - side] where r < k && !segments[r].header.flags.contains(.rst) {
                high = SequenceNumber.max(high, segments[r].end)
            }
            return rst.sequenceNumber.isInClosed(low, high)
        }

        var memo: [Int: ([Bool?], InferredState)] = [:]
        var lastResult = InferredState.unknown
        for side in 0..<2 where sides[side].role != .silent && sides[side].role != .closedPort {
            for k in rowsOf[1 - side] where segments[k].header.flags.contains(.rst) {
                if let r = sides[side].reset.trueFrom, r < k { break }
                guard acceptable(k, side: side) else { continue }
                // TIME-WAIT ignores a RST (RFC 1337); a closed side has nothing to reset.
                // (No received RST is counted yet for this side: this is the state without them.)
                memo[side] = nil
                let before = state(side, k - 1)
                if before == .timeWait || before == .closed { continue }
                sides[side].reset = Fact(prior: false, trueFrom: k)
                if sides[side].role == .passive, sides[side].synAcked.at(k) == false { sides[side].resetGivesListen = true }
                break
            }
            memo[side] = nil
        }

        func state(_ side: Int, _ i: Int) -> InferredState {
            let f = sides[side]
            switch f.role {
            case .silent: return .unknown
            case .closedPort: return .closed
            default: break
            }
            if f.reset.at(i) == true { return f.resetGivesListen ? .listen : .closed }
            let passive = f.role == .passive
            let facts: [Bool?] = [f.synSent.at(i), f.peerSynReceived.at(i), f.synAcked.at(i),
                                  f.finSent.at(i), f.peerFinReceived.at(i), f.finAcked.at(i), f.finFirst]
            // Consecutive rows mostly share their facts: reuse the last answer.
            if let (k, v) = memo[side], k == facts { return v }
            defer { memo[side] = (facts, lastResult) }
            let unknown = facts.indices.filter { facts[$0] == nil }
            var result: InferredState? = nil
            for combo in 0..<(1 << unknown.count) {
                var v = facts.map { $0 ?? false }
                for (k, idx) in unknown.enumerated() { v[idx] = combo & (1 << k) != 0 }
                let s = StateInference.derive(synSent: v[0], peerSynReceived: v[1], synAcked: v[2], finSent: v[3],
                                              peerFinReceived: v[4], finAcked: v[5], finFirst: v[6], passive: passive)
                if result == nil { result = s } else if result != s { lastResult = .unknown; return .unknown }
            }
            lastResult = result ?? .unknown
            return lastResult
        }

        initial = (state(0, -1), state(1, -1))
        after = (0..<n).map { (state(0, $0), state(1, $0)) }
    }

    /// The RFC 9293 state that a set of facts implies.
    static func derive(synSent: Bool, peerSynReceived: Bool, synAcked: Bool, finSent: Bool,
                       peerFinReceived: Bool, finAcked: Bool, finFirst: Bool, passive: Bool) -> InferredState {
        if !synSent && !peerSynReceived { return passive ? .listen : .closed }
        if synSent && !peerSynReceived { return .synSent }
        if !(synSent && synAcked) { return finSent ? .finWait1 : .synReceived }
        switch (finSent, peerFinReceived) {
        case (false, false): return .established
        case (false, true): return .closeWait
        case (true, false): return finAcked ? .finWait2 : .finWait1
        case (true, true):
            if finFirst { return finAcked ? .timeWait : .closing }
            return finAcked ? .closed : .lastAck
        }
    }
}
