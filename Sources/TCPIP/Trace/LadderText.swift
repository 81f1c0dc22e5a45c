/// Renders a conversation as a text ladder diagram: the client's line on the left,
/// the server's on the right, one arrow per segment, each side's state beside its
/// line. At most 100 columns; colour (ANSI) only when asked for.
public struct LadderTextFormatter: Sendable {
    public var absolute: Bool
    public var explain: Bool
    public var language: TraceLanguage
    public var colour: Bool
    /// Which segments to draw (all by default); the analysis always uses every segment.
    public var include: @Sendable (TraceEvent) -> Bool = { _ in true }

    public init(absolute: Bool = false, explain: Bool = false, language: TraceLanguage = .en, colour: Bool = false) {
        self.absolute = absolute
        self.explain = explain
        self.language = language
        self.colour = colour
    }

    static let timeWidth = 10
    static let stateWidth = 12
    static let inner = 58
    /// Total width of a ladder line.
    public static let width = timeWidth + 1 + stateWidth + 1 + 1 + inner + 1 + 1 + stateWidth

    // MARK: colour

    enum Paint: String { case blue = "34", magenta = "35", red = "31", green = "32", yellow = "33", dim = "2", bold = "1" }
    func paint(_ s: String, _ p: Paint) -> String { colour ? "\u{1B}[\(p.rawValue)m" + s + "\u{1B}[0m" : s }
    func paintState(_ st: InferredState, padded: String) -> String {
        switch st {
        case .established: return paint(padded, .green)
        case .closed: return paint(padded, .red)
        case .unknown: return paint(padded, .dim)
        case .listen, .synSent, .synReceived: return paint(padded, .blue)
        default: return paint(padded, .yellow)
        }
    }

    // MARK: pieces

    func seq(_ e: TraceEvent) -> UInt32 { absolute ? e.segment.header.sequenceNumber.rawValue : e.relativeSeq }
    func ack(_ e: TraceEvent) -> UInt32 { absolute ? e.segment.header.acknowledgmentNumber.rawValue : e.relativeAck }

    /// "SYN", "SYN+ACK", "PSH+ACK", "FIN+ACK", "RST+ACK"...
    public static func flagNames(_ f: TCPFlags) -> String {
        let order: [(TCPFlags, String)] = [(.syn, "SYN"), (.fin, "FIN"), (.rst, "RST"), (.psh, "PSH"), (.urg, "URG"),
                                           (.ack, "ACK"), (.ece, "ECE"), (.cwr, "CWR"), (.ae, "AE")]
        let n = order.filter { f.contains($0.0) }.map(\.1)
        return n.isEmpty ? "none" : n.joined(separator: "+")
    }

    func tokens(_ e: TraceEvent) -> [String] {
        let h = e.segment.header
        var t = [LadderTextFormatter.flagNames(h.flags), "seq=\(seq(e))"]
        if h.flags.contains(.ack) { t.append("ack=\(ack(e))") }
        if e.segment.payloadLength > 0 { t.append("len=\(e.segment.payloadLength)") }
        t.append("win=\(e.window)" + (e.windowScaleKnown || e.window == 0 ? "" : "?"))
        if h.flags.contains(.urg) { t.append("urp=\(h.urgentPointer)") }
        return t
    }

    func details(_ e: TraceEvent) -> [String] {
        var out: [String] = []
        let h = e.segment.header
        if h.flags.contains(.syn) {
            var o: [String] = []
            for opt in h.options {
                switch opt {
                case .maximumSegmentSize(let m): o.append("MSS=\(m)")
                case .windowScale(let w): o.append("WS=\(w) (×\(1 << Int(min(w, 14))))")
                case .sackPermitted: o.append("SACK-perm")
                case .timestamps(let ts): o.append("TS=\(ts.value)/\(ts.echoReply)")
                case .unknown(let kind, _): o.append("opt\(kind)")
                default: break
                }
            }
            if !o.isEmpty { out.append(o.joined(separator: " ")) }
        } else {
            let sack: [String]
            if absolute {
                sack = h.options.flatMap { opt -> [String] in
                    if case .sack(let b) = opt { return b.map { "\($0.start.rawValue)-\($0.end.rawValue)" } }
                    return []
                }
            } else {
                sack = e.relativeSACK.map { "\($0.start)-\($0.end)" }
            }
            if !sack.isEmpty { out.append("SACK " + sack.joined(separator: " ")) }
        }
        var notes = e.annotations.names.map { name in
            name == "dup ACK" ? "[dup ACK #\(e.duplicateAckNumber)]" : "[\(name)]"
        }
        if let c = e.resetCause {
            switch c {
            case .closedPort: notes.append("[RST: port closed]")
            case .abort: notes.append("[RST: abort]")
            case .noConnection: notes.append("[RST: no connection]")
            }
        }
        if e.damaged { notes.append("[bad checksum: dropped]") }
        if let r = e.rtt { notes.append("rtt=" + LadderTextFormatter.milliseconds(r)) }
        // A note is never split across lines: its inner spaces do not break.
        if !notes.isEmpty { out.append(notes.map { $0.replacingSpaces() }.joined(separator: " ")) }
        return out
    }

    static func milliseconds(_ d: Duration) -> String {
        let us = d.nanosecondsClamped / 1000
        let whole = us / 1000, frac = abs(us % 1000)
        return "\(whole).\(String(repeating: "0", count: 3 - String(frac).count))\(frac)ms"
    }

    static func seconds(_ d: Duration) -> String {
        let us = d.nanosecondsClamped / 1000
        let s = us / 1_000_000, frac = abs(us % 1_000_000)
        return "\(s).\(String(repeating: "0", count: 6 - String(frac).count))\(frac)"
    }

    // MARK: layout

    func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        let n = max(0, w - displayWidth(s))
        return right ? String(repeating: " ", count: n) + s : s + String(repeating: " ", count: n)
    }

    /// One ladder line: time, client state, the inner part between the two lines, server state.
    func line(time: String, client: InferredState?, inner: String, server: InferredState?, innerPaint: Paint? = nil) -> String {
        let t = pad(time, LadderTextFormatter.timeWidth, right: true)
        let c = client.map { paintState($0, padded: pad($0.description, LadderTextFormatter.stateWidth)) }
            ?? String(repeating: " ", count: LadderTextFormatter.stateWidth)
        let s = server.map { paintState($0, padded: $0.description) } ?? ""
        let mid = pad(inner, LadderTextFormatter.inner)
        let body = innerPaint.map { paint(mid, $0) } ?? mid
        let l = t + " " + c + " │" + body + "│ " + s
        return trimRight(l)
    }

    func trimRight(_ s: String) -> String {
        var s = s
        while s.last == " " { s.removeLast() }
        return s
    }

    /// The arrow for a segment with as many of `tokens` as fit; returns the rest.
    func arrow(_ tokens: [String], rightward: Bool) -> (String, [String]) {
        let room = LadderTextFormatter.inner - 6
        var used: [String] = []
        var rest = tokens
        while let t = rest.first, displayWidth((used + [t]).joined(separator: " ")) <= room || used.isEmpty {
            used.append(t)
            rest.removeFirst()
        }
        var label = used.joined(separator: " ")
        if displayWidth(label) > room { label = String(label.prefix(room)) }
        let fill = String(repeating: "─", count: max(1, LadderTextFormatter.inner - displayWidth(label) - 5))
        let a = rightward ? "── " + label + " " + fill + "▶" : "◀" + fill + " " + label + " ──"
        return (a, rest)
    }

    /// Wraps text to `width` display columns at spaces.
    func wrap(_ text: String, _ width: Int) -> [String] {
        var lines: [String] = []
        var cur = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let w = String(word)
            if cur.isEmpty { cur = w }
            else if displayWidth(cur) + 1 + displayWidth(w) <= width { cur += " " + w }
            else { lines.append(cur); cur = w }
            while displayWidth(cur) > width {
                // A single word longer than the line: cut it.
                var head = ""
                for ch in cur { if displayWidth(head + String(ch)) > width { break }; head.append(ch) }
                lines.append(head)
                cur = String(cur.dropFirst(head.count))
            }
        }
        if !cur.isEmpty { lines.append(cur) }
        return lines
    }

    // MARK: whole diagram

    /// The ladder of one conversation, ending with its summary.
    public func render(_ c: TraceConversation) -> String {
        var out: [String] = []
        let st = c.stream
        let numbering = absolute ? "absolute seq/ack" : "relative seq/ack"
        out.append(paint("stream \(st.index): \(st.client) → \(st.server), \(c.events.count) segments, \(numbering)", .bold))
        let lead = LadderTextFormatter.timeWidth + 1
        let span = LadderTextFormatter.width - lead
        let l1 = pad("client", span - displayWidth("server")) + "server"
        let l2 = pad(st.client.description, span - displayWidth(st.server.description)) + st.server.description
        out.append(trimRight(String(repeating: " ", count: lead) + l1))
        out.append(trimRight(String(repeating: " ", count: lead) + l2))
        out.append(line(time: "time", client: c.initialClientState, inner: "", server: c.initialServerState))
        let t0 = st.segments.first?.time ?? .zero
        let explainer = TraceExplainer(c, absolute: absolute, language: language)
        for (i, e) in c.events.enumerated() where include(e) {
            let rightward = e.direction == .clientToServer
            let (a, rest) = arrow(tokens(e), rightward: rightward)
            let p: Paint = e.segment.header.flags.contains(.rst) || e.annotations.isRetransmission ? .red
                : (rightward ? .blue : .magenta)
            out.append(line(time: LadderTextFormatter.seconds(e.segment.time - t0), client: e.clientState,
                             inner: a, server: e.serverState, innerPaint: p))
            var extra: [String] = []
            if !rest.isEmpty { extra.append(rest.joined(separator: " ")) }
            extra += details(e)
            for d in extra {
                for w in wrap(d, LadderTextFormatter.inner - 4) {
                    out.append(line(time: "", client: nil, inner: "   " + w, server: nil))
                }
            }
            if explain {
                for w in wrap(explainer.sentence(i), LadderTextFormatter.inner - 4) {
                    out.append(line(time: "", client: nil, inner: "   " + w, server: nil, innerPaint: .dim))
                }
            }
        }
        out.append("")
        out += summaryLines(c)
        return out.joined(separator: "\n") + "\n"
    }

    /// Human figures for bytes per second.
    static func rate(_ bps: Double) -> String {
        if bps >= 1e6 { return format(bps / 1e6, 2) + " MB/s" }
        if bps >= 1e3 { return format(bps / 1e3, 2) + " kB/s" }
        return format(bps, 0) + " B/s"
    }

    static func format(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite, x >= 0, x < 1e15 else { return x.isFinite && x < 0 ? "0" : "\(x)" }
        var m = 1
        for _ in 0..<decimals { m *= 10 }
        let scaled = Int(x * Double(m) + 0.5)  // figures here are never negative
        let whole = scaled / m
        if decimals == 0 { return String(whole) }
        let f = String(scaled % m)
        return "\(whole)." + String(repeating: "0", count: max(0, decimals - f.count)) + f
    }

    public func summaryLines(_ c: TraceConversation) -> [String] {
        let s = c.summary
        var out: [String] = []
        out.append("summary: \(s.segments) segments in \(LadderTextFormatter.seconds(s.duration)) s; "
                   + "handshake \(s.handshake.map(LadderTextFormatter.milliseconds) ?? "not captured")")
        out.append("  ended: \(s.ending)")
        out.append("  client → server: \(s.bytesClientToServer) bytes, goodput \(LadderTextFormatter.rate(s.goodputClientToServer))")
        out.append("  server → client: \(s.bytesServerToClient) bytes, goodput \(LadderTextFormatter.rate(s.goodputServerToClient))")
        out.append("  retransmissions: \(s.retransmissions) of \(s.dataSegments) segments carrying data, SYN or FIN "
                   + "(\(LadderTextFormatter.format(s.retransmissionRate * 100, 1)) %), \(s.spuriousRetransmissions) spurious")
        if let lo = s.rttMin, let mean = s.rttMean, let hi = s.rttMax {
            out.append("  RTT min/mean/max \(LadderTextFormatter.milliseconds(lo)) / \(LadderTextFormatter.milliseconds(mean)) / "
                       + "\(LadderTextFormatter.milliseconds(hi)) (\(s.rttSamples) samples)")
        } else {
            out.append("  RTT: no samples")
        }
        return out
    }
}

/// Columns a string takes in a terminal: East Asian wide characters (Hangul,
/// CJK) take two, combining marks none.
public func displayWidth(_ s: String) -> Int {
    var w = 0
    for u in s.unicodeScalars {
        let v = u.value
        if v == 0x1B { continue }
        switch v {
        case 0x0300...0x036F, 0x200B...0x200F: break
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6:
            w += 2
        default: w += 1
        }
    }
    return w
}

extension String {
    /// The same text with no-break spaces, so that `wrap` keeps it on one line.
    func replacingSpaces() -> String { String(map { $0 == " " ? "\u{00A0}" : $0 }) }
}
