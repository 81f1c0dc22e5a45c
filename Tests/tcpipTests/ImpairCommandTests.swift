import Foundation
import Testing
import NetworkTestSupport

/// `--impair`, `--pcap` and `--trace` of the device commands, end to end: `tcpip serve http`
/// creates a TAP (or TUN) in a fresh network namespace and `curl` in that namespace (the
/// kernel's TCP) downloads a 5 MB file through it while faults apply, in userspace
/// (`--impair`) or in the kernel (`iptables -m statistic`). Each test has its own namespace,
/// so they run concurrently. Root required: skipped with a message otherwise, a failure
/// when CI=true.
@Suite("tcpip --impair, --pcap and --trace over real devices", .prioritized)
struct ImpairCommandTests {
    private static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static let binary: URL? = {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("tcpip"))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tcpip"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tcpip"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Root, iproute2, curl and the binary (and `extra` tools); an issue under CI=true when one is missing.
    private static func ready(_ what: String, extra: [String] = []) -> Bool {
        let fm = FileManager.default
        let hasIP = fm.isExecutableFile(atPath: "/usr/sbin/ip") || fm.isExecutableFile(atPath: "/sbin/ip")
        let tools = ["/usr/bin/curl"] + extra
        let missing = getuid() != 0 || !hasIP ? "root and iproute2"
            : tools.first { !fm.isExecutableFile(atPath: $0) } ?? (binary == nil ? "the tcpip binary" : nil)
        guard let missing else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(what): needs \(missing) — CI=true, so this is a failure")
        } else {
            print("SKIP \(what): needs \(missing)")
        }
        return false
    }

    /// A child process whose output (stdout+stderr) goes to a file; waited for without
    /// blocking a thread; killed on deinit if still running.
    private final class Child: @unchecked Sendable {
        let process = Process()
        let log: URL
        init(_ args: [String]) throws {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-impair-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let h = try FileHandle(forWritingTo: log)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = args
            process.standardOutput = h
            process.standardError = h
            try process.run()
        }
        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: log)
        }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        /// The exit status, or nil when it was still running after `seconds` (then it is killed).
        func wait(seconds: Double) async -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning {
                if Date() >= deadline {
                    kill(process.processIdentifier, SIGKILL)
                    return nil
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return process.terminationStatus
        }
        /// Waits until the output contains `text` (or the process ended, or `seconds` passed).
        func waitFor(_ text: String, seconds: Double) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !output.contains(text) && Date() < deadline && process.isRunning {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return output.contains(text)
        }
    }

    private struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a command to completion within `seconds`.
    private static func run(_ args: [String], seconds: Double = 10) async throws -> (status: Int32?, output: String) {
        let c = try Child(args)
        let s = await c.wait(seconds: seconds)
        return (s, c.output)
    }

    /// A namespace with a 5 MB file to serve, both removed on deinit (also when the test fails).
    private final class Setup: @unchecked Sendable {
        static let size = 5 * 1024 * 1024
        let name = "tcpipimp-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let dir: URL
        let file: [UInt8]
        var created = false

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-impair-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("site"), withIntermediateDirectories: true)
            var rng = SystemRandomNumberGenerator()
            var bytes = [UInt8](repeating: 0, count: Self.size)
            bytes.withUnsafeMutableBytes { raw in
                for i in raw.bindMemory(to: UInt64.self).indices { raw.storeBytes(of: rng.next(), toByteOffset: i * 8, as: UInt64.self) }
            }
            file = bytes
            try Data(bytes).write(to: dir.appendingPathComponent("site/f.bin"))
        }

        func create() async throws {
            let r = try await ImpairCommandTests.run(["ip", "netns", "add", name])
            guard r.status == 0 else { throw Failure(description: "ip netns add: \(r.output)") }
            created = true
            _ = try await ImpairCommandTests.run(["ip", "-n", name, "link", "set", "lo", "up"])
        }

        deinit {
            if created {
                // Not waited for (no blocking here): `ip netns del` finishes on its own.
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                p.arguments = ["ip", "netns", "del", name]
                try? p.run()
            }
            try? FileManager.default.removeItem(at: dir)
        }

        var site: String { dir.appendingPathComponent("site").path }
        var output: String { dir.appendingPathComponent("out.bin").path }

        /// `ip netns exec NAME args...`; throws unless it exits 0 in time.
        @discardableResult
        func exec(_ args: [String], seconds: Double = 10) async throws -> String {
            let r = try await ImpairCommandTests.run(["ip", "netns", "exec", name] + args, seconds: seconds)
            guard r.status == 0 else {
                throw Failure(description: "\(args.joined(separator: " ")): exit \(r.status.map(String.init) ?? "timeout"): \(r.output)")
            }
            return r.output
        }

        /// Starts `tcpip serve http` on `device` (created in the namespace) with `options`,
        /// then gives the kernel side 192.0.2.1/24.
        func startServer(device: String = "tap0", options: [String]) async throws -> Child {
            let kind = device.hasPrefix("tun") ? "--tun" : "--tap"
            let server = try Child(["ip", "netns", "exec", name, ImpairCommandTests.binary!.path, "serve", "http",
                                    kind, device, "--ip", "192.0.2.2/24", "--port", "80", "--root", site] + options)
            guard await server.waitFor("serving http", seconds: 10) else {
                throw Failure(description: "server did not start: \(server.output)")
            }
            try await exec(["ip", "addr", "add", "192.0.2.1/24", "dev", device])
            return server
        }

        /// SIGTERM, then the server's whole output once it exited (it must exit 0 within 8 s).
        func stop(_ server: Child) async -> String {
            kill(server.process.processIdentifier, SIGTERM)
            let status = await server.wait(seconds: 8)
            #expect(status == 0, "server exit status; output: \(server.output.suffix(2000))")
            return server.output
        }
    }

    /// The numbers after `key=` in the `impairment in:` and `impairment out:` lines, summed.
    private static func faultCount(_ key: String, in output: String) -> Int? {
        // The last report (SIGUSR1 may have printed one before the one on exit).
        let all = output.split(separator: "\n")
        guard let inbound = all.last(where: { $0.hasPrefix("impairment in:") }),
              let outbound = all.last(where: { $0.hasPrefix("impairment out:") }) else { return nil }
        let lines = [inbound, outbound]
        var total = 0
        for line in lines {
            guard let item = line.split(separator: " ").first(where: { $0.hasPrefix(key + "=") }),
                  let n = Int(item.dropFirst(key.count + 1)) else { return nil }
            total += n
        }
        return total
    }

    /// "retransmitted segments N" from the counters.
    private static func retransmits(in output: String) -> Int? {
        guard let r = output.range(of: "retransmitted segments ") else { return nil }
        return Int(output[r.upperBound...].prefix { $0.isNumber })
    }

    struct Transfer: Sendable {
        var seconds: Double
        var serverOutput: String
        var curlOutput: String
    }

    /// Serves the 5 MB file with `options`, downloads it with curl in the namespace
    /// within `bound` seconds, checks every byte, stops the server and returns its output.
    private static func transfer(options: [String], bound: Double,
                                 kernelSide: ((Setup) async throws -> Void)? = nil) async throws -> Transfer {
        let setup = try Setup()
        try await setup.create()
        let server = try await setup.startServer(options: options)
        if let kernelSide { try await kernelSide(setup) }
        let start = Date()
        let curl = try await run(["ip", "netns", "exec", setup.name, "curl", "-sS", "--max-time", String(Int(bound)),
                                  "-o", setup.output, "-w", "connect=%{time_connect}\n",
                                  "http://192.0.2.2/f.bin"], seconds: bound + 5)
        let seconds = Date().timeIntervalSince(start)
        var extra = ""
        if kernelSide != nil {
            extra = (try? await setup.exec(["iptables", "-L", "-v", "-n", "-x"])) ?? ""
        }
        if options.contains("--impair") {
            // SIGUSR1 prints the counters, the fault counters with them, while serving.
            kill(server.process.processIdentifier, SIGUSR1)
            #expect(await server.waitFor("impairment out:", seconds: 5), "no counters on SIGUSR1: \(server.output.suffix(2000))")
        }
        let out = await setup.stop(server)
        #expect(curl.status == 0, "curl: \(curl.output)\nserver: \(out.suffix(3000))")
        let got = FileManager.default.contents(atPath: setup.output).map { [UInt8]($0) } ?? []
        #expect(got.count == Setup.size)
        #expect(got == setup.file, "the downloaded bytes differ from the file")
        #expect(seconds < bound, "took \(seconds) s")
        return Transfer(seconds: seconds, serverOutput: out + extra, curlOutput: curl.output)
    }

    /// Every impairment spec: a 5 MB download completes byte for byte in the bound, and the
    /// counters show the fault did happen (and retransmissions where packets are lost).
    @Test("5 MB through --impair, bytes exact",
          arguments: [
            ("loss=2%", 40.0),
            ("delay=10ms,jitter=5ms", 40.0),
            ("reorder=25%", 20.0),
            ("duplicate=1%", 20.0),
            ("corrupt=0.1%", 20.0),
            ("loss=2%,delay=10ms,jitter=5ms,reorder=25%,duplicate=1%,corrupt=0.1%", 50.0),
          ])
    func fiveMegabytesUnderFaults(spec: String, bound: Double) async throws {
        guard Self.ready("--impair \(spec)") else { return }
        let t = try await Self.transfer(options: ["--impair", spec, "--impair-seed", "7"], bound: bound)
        let out = t.serverOutput
        #expect(out.contains("impairing tap0 both ways: \(spec) (seed 7)"))
        let offered = try #require(Self.faultCount("offered", in: out), "no impairment counters in: \(out)")
        // Both directions together: at least the data segments (the kernel ACKs every other one or so).
        #expect(offered >= Setup.size / 1460)
        let r = try #require(Self.retransmits(in: out))
        if spec.contains("loss") {
            #expect(try #require(Self.faultCount("lost", in: out)) > 0)
            #expect(r > 0, "server output: \(out)")
        }
        if spec.contains("reorder") { #expect(try #require(Self.faultCount("reordered", in: out)) > 0) }
        if spec.contains("duplicate") { #expect(try #require(Self.faultCount("duplicated", in: out)) > 0) }
        if spec.contains("corrupt") { #expect(try #require(Self.faultCount("corrupted", in: out)) > 0) }
        if spec.contains("delay") {
            // SYN in and SYN+ACK out each wait 10 ms ± 5 ms: at least 10 ms to connect.
            let connect = t.curlOutput.split(separator: "\n").first { $0.hasPrefix("connect=") }
                .flatMap { Double($0.dropFirst("connect=".count)) }
            #expect(try #require(connect) >= 0.010)
        }
        print("--impair \(spec): 5 MB in \(String(format: "%.2f", t.seconds)) s, retransmitted \(r)")
    }

    /// Kernel-side loss instead: iptables drops 2 % of the namespace's packets both ways.
    @Test func fiveMegabytesUnderKernelSideLoss() async throws {
        guard Self.ready("iptables loss", extra: ["/usr/sbin/iptables"]) else { return }
        let t = try await Self.transfer(options: [], bound: 40) { setup in
            for chain in ["INPUT", "OUTPUT"] {
                try await setup.exec(["iptables", "-A", chain, "-m", "statistic", "--mode", "random",
                                      "--probability", "0.02", "-j", "DROP"])
            }
        }
        let out = t.serverOutput
        #expect(!out.contains("impairment in:"))
        #expect(try #require(Self.retransmits(in: out)) > 0)
        // The DROP rules did drop: the packet counts in `iptables -L -v -x` are not all zero.
        let drops = out.split(separator: "\n").filter { $0.contains("DROP") && $0.contains("statistic") }
            .compactMap { Int($0.split(separator: " ").first ?? "") }
        #expect(drops.count == 2)
        #expect(drops.reduce(0, +) > 0)
        print("iptables 2 % loss: 5 MB in \(String(format: "%.2f", t.seconds)) s")
    }

    /// `tcpip fetch --impair` downloads 5 MB from `python3 -m http.server` on the kernel side
    /// (the kernel sends, our stack receives through the faults) and prints the counters.
    @Test func fetchFiveMegabytesThroughImpairment() async throws {
        guard Self.ready("fetch --impair", extra: ["/usr/bin/python3"]) else { return }
        let setup = try Setup()
        try await setup.create()
        // The device exists first (fetch attaches to it), so the server can bind its address.
        try await setup.exec(["ip", "tuntap", "add", "tap0", "mode", "tap"])
        try await setup.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", "tap0"])
        try await setup.exec(["ip", "link", "set", "tap0", "up"])
        let server = try Child(["ip", "netns", "exec", setup.name, "python3", "-m", "http.server", "8080",
                                "--bind", "192.0.2.1", "--directory", setup.site])
        defer { kill(server.process.processIdentifier, SIGKILL) }
        #expect(await server.waitFor("Serving HTTP", seconds: 10), "python3: \(server.output)")
        let spec = "loss=2%,delay=5ms,reorder=10%,duplicate=1%"
        let start = Date()
        let fetch = try await Self.run(["ip", "netns", "exec", setup.name, Self.binary!.path, "fetch",
                                        "--impair", spec, "--tap", "tap0", "--impair-seed", "11", "--ip", "192.0.2.2/24",
                                        "http://192.0.2.1:8080/f.bin", "-o", setup.output], seconds: 40)
        let seconds = Date().timeIntervalSince(start)
        #expect(fetch.status == 0, "fetch: \(fetch.output.suffix(3000))")
        #expect(seconds < 40)
        let got = FileManager.default.contents(atPath: setup.output).map { [UInt8]($0) } ?? []
        #expect(got.count == Setup.size)
        #expect(got == setup.file, "the downloaded bytes differ from the file")
        #expect(fetch.output.contains("impairing tap0 both ways: \(spec) (seed 11)"))
        #expect(try #require(Self.faultCount("lost", in: fetch.output), "no counters in: \(fetch.output)") > 0)
        #expect(try #require(Self.faultCount("reordered", in: fetch.output)) > 0)
        #expect(try #require(Self.faultCount("duplicated", in: fetch.output)) > 0)
        print("fetch --impair \(spec): 5 MB in \(String(format: "%.2f", seconds)) s")
    }

    /// `tcpip ping --impair delay=20ms`: every echo waits 20 ms each way, so each round
    /// trip takes at least 40 ms (the kernel answers in microseconds).
    @Test func pingRoundTripsCarryTheDelayBothWays() async throws {
        guard Self.ready("ping --impair") else { return }
        let setup = try Setup()
        try await setup.create()
        try await setup.exec(["ip", "tuntap", "add", "tun0", "mode", "tun"])
        try await setup.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", "tun0"])
        try await setup.exec(["ip", "link", "set", "tun0", "up"])
        let ping = try await Self.run(["ip", "netns", "exec", setup.name, Self.binary!.path, "ping", "--tun", "tun0",
                                       "--ip", "192.0.2.2/24", "--impair", "delay=20ms", "-c", "3", "192.0.2.1"],
                                      seconds: 20)
        #expect(ping.status == 0, "ping: \(ping.output)")
        let times = ping.output.split(separator: "\n").filter { $0.contains("bytes from 192.0.2.1") }
            .compactMap { line in line.range(of: "time=").flatMap { Double(line[$0.upperBound...].prefix { $0 != " " }) } }
        #expect(times.count == 3, "ping: \(ping.output)")
        for t in times { #expect(t >= 40 && t < 1000, "round trip \(t) ms") }
        #expect(Self.faultCount("offered", in: ping.output).map { $0 >= 6 } == true, "ping: \(ping.output)")
    }

    /// A bad spec or a seed without --impair is a usage error (exit 64) naming the problem,
    /// before any device is opened.
    @Test func badImpairOptionsAreUsageErrors() async throws {
        guard let binary = Self.binary else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("no tcpip binary") }
            return
        }
        let cases: [([String], String)] = [
            (["serve", "echo", "--port", "7", "--impair", "loss=200%"], "--impair: loss=200%: out of range"),
            (["fetch", "http://192.0.2.1/", "--impair", "delay=fast"], "--impair: delay=fast: expected a duration"),
            (["ping", "192.0.2.1", "--impair", "wobble=1%"], "--impair: unknown fault 'wobble'"),
            (["ping", "192.0.2.1", "--impair-seed", "3"], "--impair-seed needs --impair"),
            (["serve", "echo", "--port", "7", "--pcap", ""], "--pcap: empty file name"),
        ]
        for (args, message) in cases {
            let r = try await Self.run([binary.path] + args + ["--tap", "tapnone0", "--ip", "192.0.2.2/24"], seconds: 10)
            #expect(r.status == 64, "\(args): \(r.output)")
            #expect(r.output.contains(message), "\(args): \(r.output)")
        }
    }

    /// `--pcap` records at the TAP: Ethernet frames with ARP and the TCP handshake, as tshark reads them.
    @Test func pcapRecordsTheHandshakeAtTheDevice() async throws {
        guard Self.ready("--pcap", extra: ["/usr/bin/tshark"]) else { return }
        let setup = try Setup()
        try await setup.create()
        let pcap = setup.dir.appendingPathComponent("cap.pcap").path
        let server = try await setup.startServer(options: ["--pcap", pcap])
        let curl = try await Self.run(["ip", "netns", "exec", setup.name, "curl", "-sS", "--max-time", "10",
                                       "-o", "/dev/null", "-w", "%{http_code}", "http://192.0.2.2/"], seconds: 15)
        #expect(curl.output.hasSuffix("200"))
        _ = await setup.stop(server)
        let r = try await Self.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "frame.protocols",
                                    "-e", "tcp.flags.str", "-e", "ip.src"], seconds: 30)
        #expect(r.status == 0, "tshark: \(r.output)")
        let lines = r.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("eth:ethertype:arp") })
        let syn = lines.firstIndex { $0.contains("eth:ethertype:ip:tcp") && $0.contains("S·") && !$0.contains("A") && $0.hasSuffix("192.0.2.1") }
        let synAck = lines.firstIndex { $0.contains("eth:ethertype:ip:tcp") && $0.contains("·A··S·") && $0.hasSuffix("192.0.2.2") }
        #expect(syn != nil, "no SYN in: \(r.output.prefix(2000))")
        #expect(synAck != nil, "no SYN+ACK in: \(r.output.prefix(2000))")
        if let syn, let synAck { #expect(syn < synAck) }
        #expect(lines.contains { $0.contains(":http") })
    }

    /// `--trace` on a TUN: one ladder line per segment on stderr, the handshake first.
    @Test func traceShowsTheHandshakeLadder() async throws {
        guard Self.ready("--trace") else { return }
        let setup = try Setup()
        try await setup.create()
        let server = try await setup.startServer(device: "tun0", options: ["--trace"])
        let curl = try await Self.run(["ip", "netns", "exec", setup.name, "curl", "-sS", "--max-time", "10",
                                       "-o", "/dev/null", "-w", "%{http_code}", "http://192.0.2.2/"], seconds: 15)
        #expect(curl.output.hasSuffix("200"))
        let out = await setup.stop(server)
        let ladder = out.split(separator: "\n").filter { $0.contains("192.0.2.2:80") && $0.contains("192.0.2.1:") }
        #expect(ladder.count >= 7, "trace: \(out)")
        let first = try #require(ladder.first)
        #expect(first.hasPrefix("  0.000000 192.0.2.2:80 "))
        #expect(first.contains("◀") && first.contains(" SYN seq=0 "))
        #expect(ladder.count > 1 && ladder[1].contains("── SYN+ACK seq=0 ack=1 ") && ladder[1].contains("▶ 192.0.2.1:"))
        #expect(ladder.contains { $0.contains("PSH+ACK seq=1 ack=1 len=") && $0.contains("◀") })
        #expect(ladder.contains { $0.contains("FIN") })
    }
}
