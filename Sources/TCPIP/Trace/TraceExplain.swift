/// The language of `--explain` sentences.
public enum TraceLanguage: String, Sendable, CaseIterable {
    case en, ko
}

/// One plain sentence per segment for learners: what the segment does and why its
/// numbers are what they are, in the numbering the ladder shows.
public struct TraceExplainer: Sendable {
    public var conversation: TraceConversation
    public var absolute: Bool
    public var language: TraceLanguage

    /// For each event: the previous ACK-bearing event the same way, and the latest SYN or
    /// FIN the other way (computed once, so explaining a long capture stays linear).
    let previousAck: [Int?]
    let peerControl: [Int?]
    /// The window the other side advertised last, before each event.
    let peerWindow: [Int?]

    public init(_ conversation: TraceConversation, absolute: Bool, language: TraceLanguage) {
        self.conversation = conversation
        self.absolute = absolute
        self.language = language
        var prevAck: [Int?] = [], control: [Int?] = [], window: [Int?] = []
        var lastAck: [TraceDirection: Int] = [:], lastControl: [TraceDirection: Int] = [:]
        var lastWindow: [TraceDirection: Int] = [:]
        for (i, e) in conversation.events.enumerated() {
            prevAck.append(lastAck[e.direction])
            control.append(lastControl[e.direction.reversed])
            window.append(lastWindow[e.direction.reversed])
            lastWindow[e.direction] = e.window
            let f = e.segment.header.flags
            if f.contains(.ack) { lastAck[e.direction] = i }
            if !f.isDisjoint(with: [.syn, .fin]) { lastControl[e.direction] = i }
        }
        previousAck = prevAck
        peerControl = control
        peerWindow = window
    }

    func seq(_ e: TraceEvent) -> UInt32 { absolute ? e.segment.header.sequenceNumber.rawValue : e.relativeSeq }
    func ack(_ e: TraceEvent) -> UInt32 { absolute ? e.segment.header.acknowledgmentNumber.rawValue : e.relativeAck }

    func who(_ d: TraceDirection) -> String {
        switch (language, d) {
        case (.en, .clientToServer): return "the client"
        case (.en, .serverToClient): return "the server"
        case (.ko, .clientToServer): return "클라이언트"
        case (.ko, .serverToClient): return "서버"
        }
    }
    /// The side as the topic of a sentence ("클라이언트는"); in English just its name.
    func topic(_ d: TraceDirection) -> String { language == .ko ? who(d) + "는" : who(d) }

    func inState(_ s: InferredState) -> String { s == .closed ? "CLOSED" : "in \(s)" }

    /// The sentence for event `i`.
    public func sentence(_ i: Int) -> String {
        let events = conversation.events
        let e = events[i]
        let h = e.segment.header
        let f = h.flags
        let d = e.direction
        let sender = d == .clientToServer ? e.clientState : e.serverState
        let receiver = d == .clientToServer ? e.serverState : e.clientState
        let ko = language == .ko
        let a = e.annotations
        let len = e.segment.payloadLength

        if f.contains(.rst) {
            let port = d == .clientToServer ? conversation.stream.client.port : conversation.stream.server.port
            switch e.resetCause {
            case .closedPort:
                return ko ? "RST: \(who(d))의 \(port)번 포트에서 연결을 기다리는 프로세스가 없어 연결을 거부합니다. \(topic(d.reversed)) 이제 \(receiver) 상태입니다."
                    : "RST: nothing listens on port \(port) at \(who(d)), so it refuses the connection; \(who(d.reversed)) is now \(receiver)."
            case .noConnection:
                return ko ? "RST: \(topic(d)) 이 세그먼트에 해당하는 연결이 없다고 알립니다. \(topic(d.reversed)) 이제 \(receiver) 상태입니다."
                    : "RST: \(who(d)) has no connection for what it received and says so; \(who(d.reversed)) is now \(receiver)."
            default:
                return ko ? "RST: \(topic(d)) FIN 교환 없이 연결을 즉시 끊습니다. 양쪽 모두 \(sender) 상태가 됩니다."
                    : "RST: \(who(d)) aborts the connection at once, without the FIN exchange; both sides are now \(sender)."
            }
        }
        if f.contains(.syn) && !f.contains(.ack) {
            if a.isRetransmission {
                return ko ? "SYN 재전송: 제시간에 SYN+ACK가 오지 않아 \(topic(d)) 연결 요청을 다시 보냅니다."
                    : "SYN again: no SYN+ACK came back in time, so \(who(d)) repeats its request."
            }
            return ko ? "SYN: \(topic(d)) 연결을 요청합니다. 초기 순서 번호(ISN)는 \(seq(e))이며, 이제 \(sender) 상태에서 응답을 기다립니다."
                : "SYN: \(who(d)) asks to open a connection; its initial sequence number (ISN) is \(seq(e)), and it now waits in \(sender)."
        }
        if f.contains(.syn) {
            let peerISN = ack(e) &- 1
            return ko ? "SYN+ACK: \(topic(d)) 요청을 받아들이고 자신의 ISN(\(seq(e)))을 보냅니다. SYN이 순서 번호 하나를 차지하므로 ACK = 상대 ISN \(peerISN) + 1 = \(ack(e))입니다."
                : "SYN+ACK: \(who(d)) accepts and sends its own ISN \(seq(e)); ACK \(ack(e)) = \(who(d.reversed))'s ISN \(peerISN) + 1, since the SYN takes one sequence number."
        }
        if f.contains(.fin) {
            var s: String
            if a.isRetransmission {
                s = ko ? "FIN 재전송: \(topic(d)) 확인 응답을 받지 못한 FIN을 다시 보냅니다."
                    : "FIN again: \(who(d)) repeats its FIN, which was not acknowledged in time."
            } else if sender == .lastAck {
                s = ko ? "FIN: \(who(d))도 더 보낼 데이터가 없습니다. 마지막 ACK를 기다리며 \(sender) 상태가 됩니다."
                    : "FIN: no more data from \(who(d)) either; it now waits in \(sender) for the last ACK."
            } else {
                s = ko ? "FIN: \(topic(d)) 더 보낼 데이터가 없습니다. 이제 \(sender) 상태로 기다립니다."
                    : "FIN: no more data from \(who(d)); it now waits in \(sender)."
            }
            if len > 0 {
                s += ko ? " 마지막 데이터 \(len)바이트도 함께 실었습니다." : " It carries the last \(len) bytes with it."
            }
            return s
        }
        if a.contains(.zeroWindowProbe) {
            return ko ? "윈도 탐색(window probe): 상대의 윈도가 열렸는지 묻기 위해 \(topic(d)) 1바이트를 보냅니다."
                : "Window probe: \(who(d)) sends one byte to ask whether \(who(d.reversed))'s window has opened."
        }
        if a.contains(.keepAlive), peerWindow[i] == 0 {
            return ko ? "윈도 탐색(window probe): \(who(d.reversed))의 윈도가 0이므로 \(topic(d)) 데이터 없이 한 바이트 앞 번호로 세그먼트를 보내 윈도가 열렸는지 묻습니다(Linux 방식)."
                : "Window probe, as Linux sends it (no data, one byte behind): \(who(d.reversed))'s window is 0, so \(who(d)) asks whether it has opened."
        }
        if a.contains(.keepAlive) {
            return ko ? "Keep-alive: \(topic(d)) 상대가 아직 살아 있는지 확인하려고 이미 확인된 바이트 하나 앞을 보냅니다."
                : "Keep-alive: \(who(d)) sends a segment one byte behind, to check that \(who(d.reversed)) is still there."
        }
        if len > 0 {
            let first = seq(e), last = first &+ UInt32(len) &- 1
            if a.isRetransmission {
                let base = ko ? "재전송: 제때 확인 응답을 받지 못해 \(topic(d)) \(first)번부터 \(last)번까지 \(len)바이트를 다시 보냅니다."
                    : "Retransmission: \(who(d)) sends bytes \(first) to \(last) (\(len) bytes) again, because they were not acknowledged in time."
                if a.isSpurious {
                    return base + (ko ? " 하지만 \(topic(d.reversed)) 이미 받은 바이트였으므로 필요 없는 재전송이었습니다."
                        : " It was not needed: \(who(d.reversed)) already had them.")
                }
                return base
            }
            return ko ? "데이터: \(topic(d)) \(first)번부터 \(last)번까지 \(len)바이트를 보냅니다. 다음 새 바이트는 \(last &+ 1)번입니다."
                : "Data: \(who(d)) sends bytes \(first) to \(last) (\(len) bytes); the next new byte will be \(last &+ 1)."
        }
        // A segment without data, SYN or FIN: an acknowledgement.
        let value = ack(e)
        if a.contains(.duplicateAck) {
            return ko ? "중복 ACK #\(e.duplicateAckNumber): \(topic(d)) 아직 \(value)번 바이트를 기다립니다. 그 뒤의 세그먼트는 왔지만 \(value)번은 오지 않았습니다."
                : "Duplicate ACK #\(e.duplicateAckNumber): \(who(d)) still expects byte \(value); a later segment arrived but \(value) did not."
        }
        if a.contains(.zeroWindow) {
            return ko ? "ACK \(value), 윈도 0: \(who(d))의 수신 버퍼가 가득 차서 \(topic(d.reversed)) 보내기를 멈춰야 합니다."
                : "ACK \(value) with window 0: \(who(d))'s receive buffer is full, so \(who(d.reversed)) must stop sending."
        }
        let previous = previousAck[i].map { events[$0] }
        // Did this ACK cover the peer's SYN or FIN?
        if let p = peerControl[i].map({ events[$0] }) {
            let ctlEnd = (absolute ? p.segment.header.sequenceNumber.rawValue : p.relativeSeq) &+ UInt32(p.segment.payloadLength) &+ 1
            let isFin = p.segment.header.flags.contains(.fin)
            if ctlEnd == value, previous.map({ ack($0) != value }) ?? true {
                let peerName = who(d.reversed)
                if p.segment.header.flags.contains(.syn) {
                    let both = e.clientState == .established && e.serverState == .established
                    return ko ? "ACK \(value): \(peerName)의 ISN \(value &- 1) + 1. 3-way 핸드셰이크가 끝나 \(both ? "양쪽 모두" : topic(d)) \(both ? "ESTABLISHED" : "\(sender)") 상태입니다."
                        : "ACK \(value): \(peerName)'s ISN \(value &- 1) + 1; the three-way handshake is complete and \(both ? "both sides are ESTABLISHED" : "\(who(d)) is \(sender)")."
                }
                if isFin {
                    return ko ? "ACK \(value): \(peerName)의 FIN도 순서 번호 하나를 차지하므로 \(value &- 1) + 1 = \(value)입니다. 이제 \(topic(d)) \(sender), \(topic(d.reversed)) \(receiver) 상태입니다."
                        : "ACK \(value): \(peerName)'s FIN takes one sequence number, so \(value &- 1) + 1 = \(value); now \(who(d)) is \(inState(sender)) and \(peerName) is \(inState(receiver))."
                }
            }
        }
        if let prev = previous, ack(prev) != value, SequenceNumber(value) > SequenceNumber(ack(prev)) {
            let p = ack(prev), n = value &- p
            return ko ? "ACK \(value): \(p) + \(n)바이트를 받았으므로 다음에 기대하는 바이트는 \(value)번입니다."
                : "ACK \(value): \(p) + \(n) bytes received, next byte expected is \(value)."
        }
        if a.contains(.windowUpdate) {
            return ko ? "윈도 갱신: 새로 확인한 데이터는 없고, \(who(d))의 수신 윈도가 \(e.window)바이트가 되었음을 알립니다."
                : "Window update: nothing new acknowledged; \(who(d))'s receive window is now \(e.window) bytes."
        }
        return ko ? "ACK \(value): \(topic(d)) 다음에 기대하는 바이트가 \(value)번임을 알립니다."
            : "ACK \(value): \(who(d)) says the next byte it expects is \(value)."
    }
}
