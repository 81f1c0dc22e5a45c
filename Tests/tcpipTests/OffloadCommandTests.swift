import Foundation
import Testing

/// `tcpip serve echo --offload` on a TAP or TUN opened with the virtio-net header, against Linux
/// TCP in a fresh network namespace: the kernel hands the stack coalesced super-segments
/// with partial checksums, and the stack hands the kernel 64 KiB super-segments to cut.
/// Root required: skipped with a message otherwise, a failure when CI=true.
@Suite("tcpip --offload over TAP and TUN", .serialized)
struct OffloadCommandTests {
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

    private static func ready(_ what: String) -> Bool {
        let hasIP = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip")
        let hasPython = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
        let missing = getuid() != 0 || !hasIP ? "root and iproute2" : (!hasPython ? "python3" : (binary == nil ? "the tcpip binary" : nil))
        guard let missing else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(what): needs \(missing) — CI=true, so this is a failure")
        } else {
            print("SKIP \(what): needs \(missing)")
        }
        return false
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A child process writing to a log file; killed on deinit if still running.
    final class Child {
        let process = Process()
        let log: URL
        init(_ args: [String]) throws {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-offload-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let h = try FileHandle(forWritingTo: log)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = args
            process.standardOutput = h
            process.standardError = h
            try process.run()
        }
        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: log)
        }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits (without blocking a thread) until `output` contains `text` or the process
        /// ends or `seconds` pass.
        func waitFor(_ text: String, seconds: Double) async throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !output.contains(text) && Date() < deadline && process.isRunning {
                try await Task.sleep(for: .milliseconds(20))
            }
            return output.contains(text)
        }

        /// Waits until the process exits (killed after `seconds`); its status.
        func finish(seconds: Double) async throws -> Int32 {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            return process.terminationStatus
        }
    }

    static func run(_ args: [String], seconds: Double = 10) async throws -> (status: Int32, output: String) {
        let c = try Child(args)
        let s = try await c.finish(seconds: seconds)
        return (s, c.output)
    }

    /// The namespace, deleted on deinit (also when the test fails).
    final class Namespace {
        let name = "tcpipoff-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        deinit {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["ip", "netns", "del", name]
            try? p.run()
            p.waitUntilExit()   // a few milliseconds, once
        }
    }

    /// 10 MB each way at once through the echo service: every byte back in order; and the
    /// counters show the offload at work — fewer packets in and out together than the
    /// 7,242 segments of 1,448 bytes 10 MB would take in one direction without it.
    @Test(arguments: ["--tap", "--tun"])
    func echoOfTenMegabytesThroughSuperSegmentsBothWays(kind: String) async throws {
        guard Self.ready("tcpip --offload test") else { return }
        let ns = Namespace()
        let add = try await Self.run(["ip", "netns", "add", ns.name])
        try #require(add.status == 0, "\(add.output)")
        _ = try await Self.run(["ip", "-n", ns.name, "link", "set", "lo", "up"])
        let device = kind == "--tap" ? "tapoff0" : "tunoff0"
        let server = try Child(["ip", "netns", "exec", ns.name, Self.binary!.path, "serve", "echo",
                                kind, device, "--ip", "192.0.2.2/24", "--port", "7", "--mtu", "1500", "--offload"])
        #expect(try await server.waitFor("serving echo on 192.0.2.2:7", seconds: 10), "\(server.output)")
        let addr = try await Self.run(["ip", "-n", ns.name, "addr", "add", "192.0.2.1/24", "dev", device])
        try #require(addr.status == 0, "\(addr.output)")

        let script = #"""
        import socket, random, threading, hashlib, time
        data = random.Random(11).randbytes(10_000_000)
        s = socket.create_connection(("192.0.2.2", 7), timeout=20)
        def send():
            s.sendall(data); s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        got = bytearray()
        while True:
            b = s.recv(1 << 20)
            if not b: break
            got.extend(b)
        t.join()
        print("ECHO", "OK" if bytes(got) == data else "BAD", len(got), hashlib.sha256(got).hexdigest()[:16])
        """#
        let client = try await Self.run(["ip", "netns", "exec", ns.name, "/usr/bin/python3", "-c", script], seconds: 40)
        #expect(client.output.contains("ECHO OK 10000000"), "\(client.output)")

        kill(server.process.processIdentifier, SIGTERM)
        let status = try await server.finish(seconds: 10)
        #expect(status == 0, "\(server.output)")
        let out = server.output
        // "packets in N, out M" from the counters printed on exit.
        let line = out.split(separator: "\n").first { $0.hasPrefix("packets in ") }
        let numbers = line.map { $0.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } } ?? []
        try #require(numbers.count >= 2, "\(out)")
        let (packetsIn, packetsOut) = (numbers[0], numbers[1])
        print("offload echo \(kind): \(client.output.trimmingCharacters(in: .whitespacesAndNewlines)); packets in \(packetsIn), out \(packetsOut)")
        #expect(packetsIn + packetsOut < 7_242, "in \(packetsIn) out \(packetsOut): \(out)")
        #expect(!out.contains("device read drops"), "\(out)")
    }

    /// The impairment and the capture sit between the device and the stack and would pass
    /// super-segments on without their header: the combination is refused before any device
    /// is opened (no root needed).
    @Test(arguments: [["--impair", "loss=1%"], ["--pcap", "/tmp/never-written.pcap"], ["--trace"]])
    func offloadWithImpairPcapOrTraceIsRefused(extra: [String]) async throws {
        guard let binary = Self.binary else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("the tcpip binary is missing") }
            return
        }
        let r = try await Self.run([binary.path, "serve", "echo", "--tap", "tapnever0", "--ip", "192.0.2.2/24",
                                    "--port", "7", "--offload"] + extra)
        #expect(r.status != 0)
        #expect(r.output.contains("--offload cannot be combined with --impair, --pcap or --trace"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.pcap"))
    }
}
