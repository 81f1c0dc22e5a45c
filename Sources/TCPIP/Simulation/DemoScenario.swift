/// The `tcpip demo` conversation, in the core so tests can run and read it:
/// two hosts 192.0.2.1 (A, client) and 192.0.2.2 (B, server, port 5001) over a
/// `MemoryLink`: handshake, a few messages each way, a bulk transfer A → B, and the
/// four-way close, printed as a ladder (the bulk part summarised in the middle),
/// then a summary.
public struct DemoScenario {
    public struct Options: Sendable {
        public var faults: FaultConfiguration = .none
        public var seed: UInt64 = 1
        public var clientISN: UInt32? = nil
        public var serverISN: UInt32? = nil
        public var bulkBytes: Int = 1 << 20
        public var messages: [String] = ["hello from A", "how are you, B?", "bye for now"]
        public var replies: [String] = ["hello A, B here", "fine, thanks", "see you"]
        /// Bulk segments shown at the start and at the end of the bulk part.
        public var bulkHead = 6
        public var bulkTail = 6
        public var capture = false
        /// Under each segment's line, one sentence from the trace explainer (`TraceExplainer`)
        /// saying what the segment does and why its numbers are what they are.
        public var explain = false
        public var language: TraceLanguage = .en
        public var configuration = TCPConfiguration.default
        public var serverPort: UInt16 = 5001
        public init() {}
    }

    public struct Summary: Sendable {
        public var bytesAToB = 0
        public var bytesBToA = 0
        public var segmentsAToB = 0
        public var segmentsBToA = 0
        public var retransmissionsA = 0
        public var retransmissionsB = 0
        public var duration: Duration = .zero
        public var finalStateA: TCPState = .closed
        public var finalStateB: TCPState = .closed
        public var faultsAToB = FaultCounters()
        public var faultsBToA = FaultCounters()
        public var dropsA = HostDropCounts()
        public var dropsB = HostDropCounts()
        /// Every byte arrived intact and both sides closed.
        public var succeeded = false
        public var failure: String? = nil
    }

    public let options: Options
    public let network: SimulatedNetwork
    public private(set) var summary = Summary()

    public static let clientAddress = IPv4Address(192, 0, 2, 1)
    public static let serverAddress = IPv4Address(192, 0, 2, 2)

    public init(options: Options) {
        self.options = options
        var seeds = SeededRandom(seed: options.seed)
        let a = IPv4Host(address: DemoScenario.clientAddress, configuration: options.configuration, seed: seeds.next())
        let b = IPv4Host(address: DemoScenario.serverAddress, configuration: options.configuration, seed: seeds.next())
        if let isn = options.clientISN { a.initialSequenceNumber = { _, _ in SequenceNumber(isn) } }
        if let isn = options.serverISN { b.initialSequenceNumber = { _, _ in SequenceNumber(isn) } }
        let link = MemoryLink(mtu: 1500, faults: options.faults, seed: seeds.next(), capture: options.capture)
        network = SimulatedNetwork(a: a, b: b, link: link)
    }

    /// Runs the whole conversation, handing each output line to `output`.
    public mutating func run(output: (String) -> Void) -> Summary {
        let net = network
        let recorder = LadderRecorder(network: net)
        // A ladder line and, for a segment's line with --explain, the index of that segment
        // in `sent` (what a capture at the senders would hold).
        typealias Line = (text: String, segment: Int?)
        var lines: [Line] = []
        let explainer = options.explain ? DemoExplainer(language: options.language) : nil
        // Ladder lines go to `lines`; in the bulk phase only head and tail are kept.
        var bulk = false
        var bulkSeen = 0
        var tail: [Line] = []
        let head = options.bulkHead, tailCount = options.bulkTail
        func add(_ l: Line) {
            if bulk {
                bulkSeen += 1
                if bulkSeen <= head { lines.append(l) } else {
                    tail.append(l)
                    if tail.count > tailCount { tail.removeFirst() }
                }
            } else {
                lines.append(l)
            }
        }
        net.observer = { trace in
            let new = recorder.lines(for: trace)
            // The segment's own line is the last one the recorder gives for a sent segment.
            let index = explainer?.record(trace)
            for (k, l) in new.enumerated() { add((l, k == new.count - 1 ? index : nil)) }
        }
        func emit(_ l: Line) {
            output(l.text)
            if let k = l.segment, let sentence = explainer?.sentence(segment: k) {
                output(DemoExplainer.indent + sentence)
            }
        }
        func flushLines() {
            for l in recorder.flush(time: net.now) { add((l, nil)) }
            for l in lines { emit(l) }
            lines.removeAll()
        }
        func fail(_ why: String) -> Summary {
            flushLines()
            summary.failure = why
            output("FAILED: \(why)")
            return finish(net, output: output)
        }

        output("tcpip demo: A = \(DemoScenario.clientAddress) (client), B = \(DemoScenario.serverAddress):\(options.serverPort) (server)")
        output("link: \(options.faults), seed \(options.seed)")
        output(Ladder.header)

        // Handshake.
        do { try net.b.listen(port: options.serverPort, backlog: 8) } catch { return fail("listen: \(error)") }
        let client: ConnectionHandle
        do { client = try net.a.connect(to: DemoScenario.serverAddress, port: options.serverPort, now: net.now) }
        catch { return fail("connect: \(error)") }
        guard let clientConn = net.a.connection(client) else { return fail("no client connection") }
        var server: ConnectionHandle? = nil
        let established = net.run(until: {
            if server == nil { server = net.b.accept(port: options.serverPort) }
            return server != nil && clientConn.state == .established
        }, timeLimit: .seconds(120))
        guard established, let server, let serverConn = net.b.connection(server) else { return fail("handshake did not complete") }
        flushLines()

        // Messages each way, one exchange at a time.
        var scratch = [UInt8](repeating: 0, count: 65536)
        func readAll(_ host: IPv4Host, _ h: ConnectionHandle, into sink: inout [UInt8]) {
            while true {
                let n = scratch.withUnsafeMutableBytes { host.read(h, into: $0) }
                if n == 0 { break }
                sink.append(contentsOf: scratch[0..<n])
            }
        }
        for (i, message) in options.messages.enumerated() {
            let m = Array(message.utf8)
            guard net.a.write(client, m) == m.count else { return fail("write refused") }
            output("# A writes \(m.count) bytes: \"\(message)\"")
            var got: [UInt8] = []
            guard net.run(until: { readAll(net.b, server, into: &got); return got.count >= m.count }, timeLimit: .seconds(120)),
                  got == m else { return fail("message \(i) did not arrive intact") }
            summary.bytesAToB += m.count
            flushLines()
            output("# B read \(got.count) bytes")
            if i < options.replies.count {
                let r = Array(options.replies[i].utf8)
                guard net.b.write(server, r) == r.count else { return fail("write refused") }
                output("# B writes \(r.count) bytes: \"\(options.replies[i])\"")
                var back: [UInt8] = []
                guard net.run(until: { readAll(net.a, client, into: &back); return back.count >= r.count }, timeLimit: .seconds(120)),
                      back == r else { return fail("reply \(i) did not arrive intact") }
                summary.bytesBToA += r.count
                flushLines()
                output("# A read \(back.count) bytes")
            }
        }

        // Bulk transfer A → B of seeded bytes.
        if options.bulkBytes > 0 {
            output("# A sends \(options.bulkBytes) bytes to B")
            var payloadRandom = SeededRandom(seed: options.seed ^ 0xB01C)
            var payload = [UInt8](repeating: 0, count: options.bulkBytes)
            var i = 0
            while i < payload.count {
                var x = payloadRandom.next()
                for k in 0..<Swift.min(8, payload.count - i) { payload[i + k] = UInt8(truncatingIfNeeded: x); x >>= 8 }
                i += 8
            }
            bulk = true; bulkSeen = 0; tail.removeAll()
            var sent = 0
            var received = 0
            var intact = true
            let ok = net.run(until: {
                if sent < payload.count {
                    sent += payload.withUnsafeBytes { net.a.write(client, UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                }
                while true {
                    let n = scratch.withUnsafeMutableBytes { net.b.read(server, into: $0) }
                    if n == 0 { break }
                    if received + n > payload.count || !scratch[0..<n].elementsEqual(payload[received..<(received + n)]) { intact = false }
                    received += n
                }
                return received >= payload.count
            }, timeLimit: .seconds(600))
            bulk = false
            flushLines()
            let skipped = bulkSeen - Swift.min(bulkSeen, options.bulkHead) - tail.count
            if skipped > 0 { output("        ... \(skipped) segments ...") }
            for l in tail { emit(l) }
            tail.removeAll()
            guard ok, intact, received == payload.count else { return fail("bulk transfer: \(received) of \(payload.count) bytes, intact \(intact)") }
            summary.bytesAToB += received
            output("# B read \(received) bytes, all as sent")
        }

        // Four-way close: A closes, B sees the end of the stream and closes too.
        output("# A closes")
        net.a.close(client)
        var bClosed = false
        let closed = net.run(until: {
            if !bClosed, serverConn.state == .closeWait {
                output("# B saw A's FIN and closes")
                bClosed = true
                net.b.close(server)
            }
            return clientConn.isFinished && serverConn.isFinished
                && net.a.connectionCount == 0 && net.b.connectionCount == 0
        }, timeLimit: .seconds(600))
        flushLines()
        guard closed else { return fail("close did not complete (A \(clientConn.state), B \(serverConn.state))") }
        summary.succeeded = true
        summary.finalStateA = clientConn.state
        summary.finalStateB = serverConn.state
        summary.retransmissionsA = clientConn.counters.retransmittedSegments
        summary.retransmissionsB = serverConn.counters.retransmittedSegments
        return finish(net, output: output)
    }

    func finish(_ net: SimulatedNetwork, output: (String) -> Void) -> Summary {
        var s = summary
        s.segmentsAToB = net.link.faultCounters(from: .a).offered
        s.segmentsBToA = net.link.faultCounters(from: .b).offered
        s.faultsAToB = net.link.faultCounters(from: .a)
        s.faultsBToA = net.link.faultCounters(from: .b)
        s.dropsA = net.a.counters.drops
        s.dropsB = net.b.counters.drops
        s.duration = net.now - .zero
        net.observer = nil
        output("")
        output("summary:")
        output("  bytes A → B: \(s.bytesAToB)   bytes B → A: \(s.bytesBToA)")
        output("  segments A → B: \(s.segmentsAToB)   B → A: \(s.segmentsBToA)")
        output("  retransmissions A: \(s.retransmissionsA)   B: \(s.retransmissionsB)")
        output("  duration (virtual): \(Instant(nanoseconds: s.duration.nanosecondsClamped)) s")
        output("  final states: A \(s.finalStateA), B \(s.finalStateB)")
        if !net.link.faults(from: .a).isNone || !net.link.faults(from: .b).isNone {
            output("  link A → B: \(s.faultsAToB)")
            output("  link B → A: \(s.faultsBToA)")
            output("  drops at A: \(s.dropsA.total)   at B: \(s.dropsB.total) (damaged: \(s.dropsA.damaged + s.dropsB.damaged))")
        }
        output(s.succeeded ? "  result: every byte delivered in order, both sides CLOSED" : "  result: FAILED (\(s.failure ?? "?"))")
        return s
    }
}

/// The `--explain` sentences of the demo: every segment the hosts send, decoded as a
/// capture at the senders would show it, analysed by the trace (`TraceConversation`) and
/// explained by `TraceExplainer` with absolute numbers, as the demo's ladder prints them.
/// The analysis is redone only when segments were added since the last sentence, so a
/// run's cost stays linear in its flushes, not quadratic in its segments.
final class DemoExplainer {
    static let indent = String(repeating: " ", count: 12) + "↳ "
    let language: TraceLanguage
    var sent: [TraceSegment] = []
    /// Analysis of `sent` as of `analysedCount` segments: frame number → explainer and event index.
    var analysedCount = -1
    var byFrame: [Int: (explainer: Int, event: Int)] = [:]
    var explainers: [TraceExplainer] = []

    init(language: TraceLanguage) { self.language = language }

    /// Keeps a sent segment; returns its index, or nil for other traces and non-TCP packets.
    func record(_ trace: NetworkTrace) -> Int? {
        guard case .sent = trace.kind else { return nil }
        let frame = sent.count + 1
        guard case .success(let s) = TraceSegment.decode(frame: frame, time: trace.time, linkType: .raw,
                                                         bytes: [UInt8](trace.packet)) else { return nil }
        sent.append(s)
        return frame - 1
    }

    /// The sentence for segment `k`, from the analysis of every segment sent so far.
    func sentence(segment k: Int) -> String? {
        if analysedCount != sent.count {
            explainers = []
            byFrame = [:]
            for c in TraceConversation.analyze(sent) {
                for (i, e) in c.events.enumerated() { byFrame[e.segment.frame] = (explainers.count, i) }
                explainers.append(TraceExplainer(c, absolute: true, language: language))
            }
            analysedCount = sent.count
        }
        guard let at = byFrame[k + 1] else { return nil }
        return explainers[at.explainer].sentence(at.event)
    }
}
