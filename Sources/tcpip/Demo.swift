import ArgumentParser
import TCPIP
import TCPIPDevices

/// `tcpip demo`: two simulated hosts, a conversation printed as a ladder.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Two simulated hosts (192.0.2.1 and 192.0.2.2) over an in-memory link: handshake, messages, a bulk transfer and the close, as a ladder diagram.",
        discussion: """
        Every run is deterministic: the same --seed and --impair print the same lines.
        Faults use the shared syntax, e.g. --impair loss=5%,delay=20ms,jitter=5ms,reorder=10%,duplicate=1%,corrupt=1%,rate=100mbit
        """
    )

    @Option(help: "Faults on the link, both directions (e.g. loss=5%,delay=20ms); 'none' for a perfect link.")
    var impair: String = "none"

    @Option(help: "One-way delay added when --impair gives none (e.g. 10ms, 0).")
    var delay: String = "10ms"

    @Option(help: "Seed of every random choice (faults, ports, ISNs, payload).")
    var seed: UInt64 = 1

    @Option(help: "Bytes of the bulk transfer from A to B.")
    var bytes: Int = 1 << 20

    @Option(help: "Write everything that crossed the link to this pcap file (raw IPv4).")
    var pcap: String?

    @Option(name: .customLong("isn-client"), help: "Initial sequence number of the client (A).")
    var isnClient: UInt32?

    @Option(name: .customLong("isn-server"), help: "Initial sequence number of the server (B).")
    var isnServer: UInt32?

    @Flag(name: .long, help: "Under each segment's line, one plain sentence saying what it does and why its numbers are what they are.")
    var explain = false

    @Option(name: .long, help: "Language of --explain: en or ko.")
    var lang: String = "en"

    func validate() throws {
        guard TraceLanguage(rawValue: lang) != nil else { throw ValidationError("--lang must be en or ko") }
    }

    mutating func run() throws {
        var faults: FaultConfiguration
        do { faults = try FaultConfiguration(parsing: impair) } catch {
            throw ValidationError("--impair: \(error)")
        }
        if !impair.lowercased().contains("delay=") {
            do { faults = try FaultConfiguration(parsing: "delay=\(delay)").merged(into: faults) } catch {
                throw ValidationError("--delay: \(error)")
            }
        }
        guard bytes >= 0 else { throw ValidationError("--bytes must be 0 or more") }
        var options = DemoScenario.Options()
        options.faults = faults
        options.seed = seed
        options.bulkBytes = bytes
        options.clientISN = isnClient
        options.serverISN = isnServer
        options.capture = pcap != nil
        options.explain = explain
        options.language = TraceLanguage(rawValue: lang) ?? .en
        var scenario = DemoScenario(options: options)
        let summary = scenario.run { print($0) }
        if let path = pcap {
            let writer = scenario.network.link.capturePcap()
            try CaptureFile.write(writer, to: path)
            print("  pcap: \(writer.recordCount) packets written to \(path)")
        }
        if !summary.succeeded { throw ExitCode(1) }
    }
}

extension FaultConfiguration {
    /// `self`'s delay put into `other`.
    func merged(into other: FaultConfiguration) -> FaultConfiguration {
        var o = other
        o.delay = delay
        return o
    }
}
