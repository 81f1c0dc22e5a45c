/// Renders conversations as self-contained SVG: a ladder diagram (every field of a
/// segment in its `<title>`, shown on hover) and a Stevens time-sequence graph.
/// No external fetches, no scripts from elsewhere; `html` adds a few lines of its own
/// script that copy the hovered segment's fields into a panel.
public struct LadderSVGFormatter: Sendable {
    public var absolute: Bool
    public var explain: Bool
    public var language: TraceLanguage
    public var include: @Sendable (TraceEvent) -> Bool = { _ in true }

    public init(absolute: Bool = false, explain: Bool = false, language: TraceLanguage = .en) {
        self.absolute = absolute
        self.explain = explain
        self.language = language
    }

    static let width = 960
    static let leftX = 250
    static let rightX = 710
    static let rowHeight = 34
    static let explainLineHeight = 14

    static func escape(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(ch)
            }
        }
        return o
    }

    static func num(_ x: Double) -> String { LadderTextFormatter.format(max(0, x), 1) }

    /// Every field of a segment, one per line, for hovering.
    func fields(_ e: TraceEvent, _ c: TraceConversation) -> String {
        let s = e.segment, h = s.header
        var l: [String] = []
        l.append("frame \(s.frame), t=\(LadderTextFormatter.seconds(s.time - (c.stream.segments.first?.time ?? s.time))) s")
        l.append("\(s.source):\(h.sourcePort) → \(s.destination):\(h.destinationPort)")
        l.append("flags \(LadderTextFormatter.flagNames(h.flags)) (0x\(String(h.flags.rawValue, radix: 16)))")
        l.append("seq \(h.sequenceNumber.rawValue) (relative \(e.relativeSeq))")
        l.append("ack \(h.acknowledgmentNumber.rawValue) (relative \(e.relativeAck))\(h.flags.contains(.ack) ? "" : ", ACK bit clear")")
        l.append("payload \(s.payloadLength) bytes, next seq \(s.end.rawValue)")
        l.append("window \(h.window) raw, \(e.window) bytes\(e.windowScaleKnown ? "" : " (scale unknown)")")
        l.append("urgent pointer \(h.urgentPointer), reserved bits \(h.reserved)")
        if !h.options.isEmpty { l.append("options: " + h.options.map(\.description).joined(separator: ", ")) }
        if !e.annotations.names.isEmpty { l.append("analysis: " + e.annotations.names.joined(separator: ", ")) }
        if e.duplicateAckNumber > 0 { l.append("duplicate ACK #\(e.duplicateAckNumber)") }
        if let r = e.rtt { l.append("RTT sample \(LadderTextFormatter.milliseconds(r))") }
        l.append("client \(e.clientState), server \(e.serverState)")
        return l.joined(separator: "\n")
    }

    /// The ladder of one conversation as an SVG element (no XML prolog), and its height.
    public func ladder(_ c: TraceConversation, y0: Int = 0) -> (svg: String, height: Int) {
        let text = LadderTextFormatter(absolute: absolute, explain: explain, language: language)
        let explainer = TraceExplainer(c, absolute: absolute, language: language)
        let W = LadderSVGFormatter.width, L = LadderSVGFormatter.leftX, R = LadderSVGFormatter.rightX
        var body: [String] = []
        var y = y0 + 70
        let t0 = c.stream.segments.first?.time ?? .zero
        body.append("<text x=\"10\" y=\"\(y0 + 20)\" class=\"h\">stream \(c.stream.index): "
                    + "\(LadderSVGFormatter.escape(c.stream.client.description)) → \(LadderSVGFormatter.escape(c.stream.server.description))</text>")
        body.append("<text x=\"\(L)\" y=\"\(y0 + 44)\" class=\"end\" text-anchor=\"middle\">client \(c.stream.client)</text>")
        body.append("<text x=\"\(R)\" y=\"\(y0 + 44)\" class=\"end\" text-anchor=\"middle\">server \(c.stream.server)</text>")
        body.append("<text x=\"\(L - 8)\" y=\"\(y0 + 62)\" class=\"st\" text-anchor=\"end\">\(c.initialClientState)</text>")
        body.append("<text x=\"\(R + 8)\" y=\"\(y0 + 62)\" class=\"st\">\(c.initialServerState)</text>")
        let lineTop = y
        for (i, e) in c.events.enumerated() where include(e) {
            let right = e.direction == .clientToServer
            let (x1, x2) = right ? (L, R) : (R, L)
            let cls = e.segment.header.flags.contains(.rst) ? "rst"
                : (e.annotations.isRetransmission ? "rtx" : (right ? "c2s" : "s2c"))
            let label = text.tokens(e).joined(separator: " ")
            let details = text.details(e).joined(separator: "  ")
            body.append("<g class=\"seg \(cls)\"><title>\(LadderSVGFormatter.escape(fields(e, c)))</title>")
            // Label above the arrow, the arrow sloping down by the time it takes, details below.
            body.append("<text x=\"\((L + R) / 2)\" y=\"\(y)\" text-anchor=\"middle\" class=\"lbl\">\(LadderSVGFormatter.escape(label))</text>")
            body.append("<line x1=\"\(x1)\" y1=\"\(y + 6)\" x2=\"\(x2)\" y2=\"\(y + 22)\" marker-end=\"url(#arrow)\"/>")
            if !details.isEmpty {
                body.append("<text x=\"\((L + R) / 2)\" y=\"\(y + 34)\" text-anchor=\"middle\" class=\"det\">\(LadderSVGFormatter.escape(details))</text>")
            }
            body.append("<text x=\"10\" y=\"\(y + 10)\" class=\"t\">\(LadderTextFormatter.seconds(e.segment.time - t0))</text>")
            body.append("<text x=\"\(L - 8)\" y=\"\(y + 26)\" text-anchor=\"end\" class=\"st\">\(e.clientState)</text>")
            body.append("<text x=\"\(R + 8)\" y=\"\(y + 26)\" class=\"st\">\(e.serverState)</text>")
            body.append("</g>")
            y += details.isEmpty ? LadderSVGFormatter.rowHeight : LadderSVGFormatter.rowHeight + 12
            if explain {
                y += 2
                for line in text.wrap(explainer.sentence(i), 62) {
                    body.append("<text x=\"\((L + R) / 2)\" y=\"\(y)\" text-anchor=\"middle\" class=\"ex\">\(LadderSVGFormatter.escape(line))</text>")
                    y += LadderSVGFormatter.explainLineHeight
                }
                y += 6
            }
        }
        body.insert("<line x1=\"\(L)\" y1=\"\(lineTop - 4)\" x2=\"\(L)\" y2=\"\(y)\" class=\"life\"/>", at: 0)
        body.insert("<line x1=\"\(R)\" y1=\"\(lineTop - 4)\" x2=\"\(R)\" y2=\"\(y)\" class=\"life\"/>", at: 0)
        y += 10
        for s in text.summaryLines(c) {
            body.append("<text x=\"10\" y=\"\(y)\" class=\"sum\">\(LadderSVGFormatter.escape(s))</text>")
            y += 16
        }
        _ = W
        return (body.joined(separator: "\n"), y - y0 + 10)
    }

    /// A Stevens time-sequence graph of the data one way (`direction`): each data
    /// segment a vertical bar from its first to its last sequence number at the time it
    /// passed, the receiver's ACK line, its receive-window edge, its SACK blocks;
    /// retransmissions in red.
    public func timeSequence(_ c: TraceConversation, direction: TraceDirection, y0: Int = 0) -> (svg: String, height: Int) {
        let W = Double(LadderSVGFormatter.width), H = 360.0, left = 70.0, top = Double(y0) + 30, plotW = W - left - 20, plotH = H - 70
        let events = c.events.filter(include)
        let data = events.filter { $0.direction == direction && ($0.segment.payloadLength > 0 || !$0.segment.header.flags.isDisjoint(with: [.syn, .fin])) }
        let acks = events.filter { $0.direction != direction && $0.segment.header.flags.contains(.ack) }
        guard let first = events.first?.segment.time, let last = events.last?.segment.time else { return ("", 0) }
        var lo = UInt32.max, hi: UInt32 = 0
        for e in data { lo = min(lo, e.relativeSeq); hi = max(hi, e.relativeSeq &+ UInt32(e.segment.sequenceLength)) }
        for e in acks { lo = min(lo, e.relativeAck); hi = max(hi, e.relativeAck) }
        if lo > hi { lo = 0; hi = 1 }
        if hi == lo { hi = lo + 1 }
        let span = max(1, Double((last - first).nanosecondsClamped))
        func X(_ t: Instant) -> Double { left + Double((t - first).nanosecondsClamped) / span * plotW }
        func Y(_ s: UInt32) -> Double { top + plotH - (Double(s) - Double(lo)) / (Double(hi) - Double(lo)) * plotH }
        func yClamped(_ s: Int) -> Double { top + plotH - min(1.0, (Double(s) - Double(lo)) / (Double(hi) - Double(lo))) * plotH }
        var o: [String] = []
        let who = direction == .clientToServer ? "client → server" : "server → client"
        o.append("<text x=\"10\" y=\"\(y0 + 18)\" class=\"h\">time-sequence graph, stream \(c.stream.index), data \(who)</text>")
        o.append("<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" class=\"frame\"/>")
        o.append("<text x=\"\(left)\" y=\"\(top + plotH + 16)\" class=\"ax\">0 s</text>")
        o.append("<text x=\"\(left + plotW)\" y=\"\(top + plotH + 16)\" class=\"ax\" text-anchor=\"end\">\(LadderTextFormatter.seconds(last - first)) s</text>")
        o.append("<text x=\"\(left - 4)\" y=\"\(top + plotH)\" class=\"ax\" text-anchor=\"end\">\(lo)</text>")
        o.append("<text x=\"\(left - 4)\" y=\"\(top + 10)\" class=\"ax\" text-anchor=\"end\">\(hi)</text>")
        // ACK line and window edge: steps.
        var ackPath = "", winPath = ""
        var prevX: Double? = nil, prevAck = 0.0, prevWin = 0.0
        for e in acks {
            let x = X(e.segment.time), ya = Y(e.relativeAck), yw = yClamped(Int(e.relativeAck) + e.window)
            if let px = prevX {
                _ = px
                ackPath += " L\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(prevAck)) L\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(ya))"
                winPath += " L\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(prevWin)) L\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(yw))"
            } else {
                ackPath = "M\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(ya))"
                winPath = "M\(LadderSVGFormatter.num(x)),\(LadderSVGFormatter.num(yw))"
            }
            prevX = x; prevAck = ya; prevWin = yw
            for b in e.relativeSACK {
                o.append("<line x1=\"\(LadderSVGFormatter.num(x))\" y1=\"\(LadderSVGFormatter.num(Y(b.start)))\" x2=\"\(LadderSVGFormatter.num(x))\" y2=\"\(LadderSVGFormatter.num(Y(b.end)))\" class=\"sack\"><title>SACK \(b.start)-\(b.end)</title></line>")
            }
            if e.annotations.contains(.zeroWindow) {
                o.append("<circle cx=\"\(LadderSVGFormatter.num(x))\" cy=\"\(LadderSVGFormatter.num(ya))\" r=\"3\" class=\"zw\"><title>zero window</title></circle>")
            }
        }
        let endX = left + plotW
        if !ackPath.isEmpty {
            ackPath += " L\(LadderSVGFormatter.num(endX)),\(LadderSVGFormatter.num(prevAck))"
            winPath += " L\(LadderSVGFormatter.num(endX)),\(LadderSVGFormatter.num(prevWin))"
            o.append("<path d=\"\(ackPath)\" class=\"ackl\"/>")
            o.append("<path d=\"\(winPath)\" class=\"winl\"/>")
        }
        for e in data {
            let x = X(e.segment.time)
            let y1 = Y(e.relativeSeq), y2 = Y(e.relativeSeq &+ UInt32(e.segment.sequenceLength))
            let cls = e.annotations.isRetransmission ? "drtx" : "dseg"
            o.append("<g class=\"\(cls)\"><title>frame \(e.segment.frame): seq \(e.relativeSeq) len \(e.segment.payloadLength)\(e.annotations.names.isEmpty ? "" : " [" + e.annotations.names.joined(separator: ", ") + "]")</title>"
                     + "<line x1=\"\(LadderSVGFormatter.num(x))\" y1=\"\(LadderSVGFormatter.num(y1))\" x2=\"\(LadderSVGFormatter.num(x))\" y2=\"\(LadderSVGFormatter.num(y2))\"/>"
                     + "<line x1=\"\(LadderSVGFormatter.num(x - 2))\" y1=\"\(LadderSVGFormatter.num(y2))\" x2=\"\(LadderSVGFormatter.num(x + 2))\" y2=\"\(LadderSVGFormatter.num(y2))\"/></g>")
        }
        let ly = top + plotH + 34
        o.append("<text x=\"\(left)\" y=\"\(ly)\" class=\"ax\"><tspan class=\"k-d\">■ data</tspan>  <tspan class=\"k-r\">■ retransmission</tspan>  "
                 + "<tspan class=\"k-a\">■ ACK</tspan>  <tspan class=\"k-w\">■ receive window edge</tspan>  <tspan class=\"k-s\">■ SACK</tspan></text>")
        return (o.joined(separator: "\n"), Int(H))
    }

    static let style = """
        text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;fill:#222}
        .h{font-size:14px;font-weight:bold}.end{font-weight:bold}.st{fill:#555;font-size:11px}
        .t{fill:#777;font-size:11px}.lbl{font-size:12px}.det{font-size:10px;fill:#a33}.ex{font-size:11px;fill:#336}
        .sum{font-size:12px}.life{stroke:#888;stroke-width:2}
        .seg line{stroke-width:1.6}.c2s line{stroke:#1f5fbf}.s2c line{stroke:#8a2fa0}.rtx line,.rst line{stroke:#c62828}
        .seg:hover line{stroke-width:3}.seg:hover .lbl{font-weight:bold}
        .frame{fill:none;stroke:#aaa}.ax{font-size:11px;fill:#555}
        .dseg line{stroke:#1f5fbf;stroke-width:1.5}.drtx line{stroke:#c62828;stroke-width:2}
        .ackl{fill:none;stroke:#2e7d32;stroke-width:1.2}.winl{fill:none;stroke:#e0a000;stroke-width:1.2}
        .sack{stroke:#8a2fa0;stroke-width:3;opacity:.6}.zw{fill:#c62828}
        .k-d{fill:#1f5fbf}.k-r{fill:#c62828}.k-a{fill:#2e7d32}.k-w{fill:#e0a000}.k-s{fill:#8a2fa0}
        """

    /// One standalone SVG document: every conversation's ladder, then a time-sequence
    /// graph of each direction that carried data.
    public func svgDocument(_ conversations: [TraceConversation]) -> String {
        var parts: [String] = []
        var y = 0
        for c in conversations {
            let l = ladder(c, y0: y)
            parts.append(l.svg)
            y += l.height
            for d in [TraceDirection.clientToServer, .serverToClient]
            where c.events.contains(where: { $0.direction == d && $0.segment.payloadLength > 0 && include($0) }) {
                let g = timeSequence(c, direction: d, y0: y)
                parts.append(g.svg)
                y += g.height
            }
        }
        let W = LadderSVGFormatter.width
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(W)" height="\(y)" viewBox="0 0 \(W) \(y)">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>
            <style>\(LadderSVGFormatter.style)</style>
            <rect width="100%" height="100%" fill="#fff"/>
            \(parts.joined(separator: "\n"))
            </svg>

            """
    }

    /// An HTML page around the SVG; hovering a segment shows all its fields in a panel.
    public func html(_ conversations: [TraceConversation], title: String) -> String {
        // The SVG inline, without its XML declaration (the first line).
        let svg = svgDocument(conversations).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
        return """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)"><head><meta charset="utf-8"><title>\(LadderSVGFormatter.escape(title))</title>
            <style>body{margin:0;font-family:system-ui,sans-serif}#panel{position:fixed;top:8px;right:8px;max-width:420px;
            background:#fffbe6;border:1px solid #d8c36a;padding:8px;font:12px ui-monospace,Menlo,monospace;white-space:pre-wrap;
            display:none}</style></head>
            <body>
            <pre id="panel"></pre>
            \(svg)
            <script>
            // Shows the hovered segment's fields (its SVG <title>) in the panel.
            const panel = document.getElementById('panel');
            document.querySelectorAll('g.seg').forEach(function (g) {
              const t = g.querySelector('title');
              g.addEventListener('mouseenter', function () { panel.textContent = t ? t.textContent : ''; panel.style.display = 'block'; });
              g.addEventListener('mouseleave', function () { panel.style.display = 'none'; });
            });
            </script>
            </body></html>

            """
    }
}
