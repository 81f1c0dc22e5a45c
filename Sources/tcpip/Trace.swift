import ArgumentParser
import TCPIP
import TCPIPDevices

import Foundation

/// `tcpip trace FILE`: each TCP conversation of a capture as a ladder diagram, with
/// the state of each side inferred from the segments.
struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show TCP conversations of a capture as ladder diagrams with each side's state.",
        discussion: """
            Streams are numbered as tshark's tcp.stream. Sequence and acknowledgment numbers are \
            relative to each side's ISN (the SYN is 0) unless --absolute. States are inferred \
            from the segments as RFC 9293 defines them; "?" where the capture cannot tell. \
            Annotations follow Wireshark's tcp.analysis definitions.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, svg, html }

    @Argument(help: "The capture file (pcap or pcapng).")
    var file: String

    @Option(name: .long, help: "Only the stream with this number (tshark's tcp.stream).")
    var stream: Int?

    @Option(name: .long, help: "Only streams with this port at either end.")
    var port: UInt16?

    @Option(name: .long, help: "Output format: text, svg or html.")
    var format: Format = .text

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(name: .long, help: "Raw sequence and acknowledgment numbers.")
    var absolute = false

    @Flag(name: .long, help: "One plain sentence under each arrow saying what the segment does.")
    var explain = false

    @Option(name: .long, help: "Language of --explain: en or ko.")
    var lang: String = "en"

    @Option(name: .long, help: "Show segments from this many seconds after the capture's first packet.")
    var from: Double?

    @Option(name: .long, help: "Show segments up to this many seconds after the capture's first packet.")
    var to: Double?

    func validate() throws {
        guard TraceLanguage(rawValue: lang) != nil else { throw ValidationError("--lang must be en or ko") }
        if stream != nil && port != nil { throw ValidationError("use --stream or --port, not both") }
        for (name, v) in [("--from", from), ("--to", to)] {
            if let v, !(v.isFinite && v >= 0 && v <= 1e9) { throw ValidationError("\(name) must be seconds from 0 to 1e9") }
        }
        if let f = from, let t = to, f > t { throw ValidationError("--from must not be after --to") }
    }

    func run() throws {
        let bytes: [UInt8]
        do { bytes = try CaptureFile.readBytes(path: file) } catch {
            Trace.printError("tcpip: \(error)")
            throw ExitCode.failure
        }
        let isTerminal = output == nil && isatty(STDOUT_FILENO) != 0
            && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        let result = Trace.render(captureBytes: bytes, options: options(colour: isTerminal))
        for message in result.messages { Trace.printError("tcpip: \(file): \(message)") }
        if let out = output {
            do { try CaptureFile.write(Array(result.text.utf8), to: out) } catch {
                Trace.printError("tcpip: \(error)")
                throw ExitCode.failure
            }
        } else {
            FileHandle.standardOutput.write(Data(result.text.utf8))
        }
        if result.failed { throw ExitCode.failure }
    }

    struct Options {
        var stream: Int?
        var port: UInt16?
        var format: Format = .text
        var absolute = false
        var explain = false
        var language: TraceLanguage = .en
        var from: Double?
        var to: Double?
        var colour = false
    }

    func options(colour: Bool) -> Options {
        Options(stream: stream, port: port, format: format, absolute: absolute, explain: explain,
                language: TraceLanguage(rawValue: lang) ?? .en, from: from, to: to, colour: colour)
    }

    /// What `run` prints: the diagrams, messages for standard error, and whether the capture was bad.
    static func render(captureBytes: [UInt8], options o: Options) -> (text: String, messages: [String], failed: Bool) {
        let input = TraceInput(captureBytes: captureBytes)
        var messages: [String] = []
        var failed = false
        if let e = input.readError {
            messages.append("\(e); showing the \(input.segments.count + input.nonTCPFrames + input.malformed.count) packets read before it")
            failed = true
        }
        for m in input.malformed.prefix(20) { messages.append("frame \(m.frame) skipped: \(m.reason)") }
        if input.malformed.count > 20 { messages.append("\(input.malformed.count - 20) more malformed frames skipped") }

        var conversations = TraceConversation.analyze(input.segments)
        if let n = o.stream { conversations = conversations.filter { $0.stream.index == n } }
        if let p = o.port { conversations = conversations.filter { $0.stream.client.port == p || $0.stream.server.port == p } }
        if conversations.isEmpty {
            messages.append(o.stream != nil || o.port != nil ? "no TCP stream matches" : "no TCP segments")
            return ("", messages, true)
        }
        let origin = input.segments.first?.time ?? .zero
        let lower = o.from.map { origin + .nanoseconds(Int64($0 * 1e9)) }
        let upper = o.to.map { origin + .nanoseconds(Int64($0 * 1e9)) }
        let include: @Sendable (TraceEvent) -> Bool = { e in
            (lower.map { e.segment.time >= $0 } ?? true) && (upper.map { e.segment.time <= $0 } ?? true)
        }
        switch o.format {
        case .text:
            var f = LadderTextFormatter(absolute: o.absolute, explain: o.explain, language: o.language, colour: o.colour)
            f.include = include
            return (conversations.map { f.render($0) }.joined(separator: "\n"), messages, failed)
        case .svg:
            var f = LadderSVGFormatter(absolute: o.absolute, explain: o.explain, language: o.language)
            f.include = include
            return (f.svgDocument(conversations), messages, failed)
        case .html:
            var f = LadderSVGFormatter(absolute: o.absolute, explain: o.explain, language: o.language)
            f.include = include
            return (f.html(conversations, title: "tcpip trace"), messages, failed)
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
