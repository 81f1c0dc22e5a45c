import Foundation
import Testing

/// `tcpip ping` run inside a fresh network namespace against the kernel: the kernel side
/// of a TAP or TUN made with `ip tuntap add` is 192.0.2.1/24 and answers echo requests;
/// our binary attaches to that device as 192.0.2.2. Root required: skipped with a
/// message otherwise, a failure when CI=true.
@Suite("tcpip ping over TAP and TUN", .serialized)
struct PingCommandTests {
    private static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let binary: URL? = {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("tcpip"))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tcpip"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tcpip"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Root, iproute2 and the binary; records an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        let fm = FileManager.default
        let hasIP = fm.isExecutableFile(atPath: "/usr/sbin/ip") || fm.isExecutableFile(atPath: "/sbin/ip")
        let missing = getuid() != 0 || !hasIP ? "root and iproute2" : (binary == nil ? "the tcpip binary" : nil)
        guard let missing else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(what): needs \(missing) — CI=true, so this is a failure")
        } else {
            print("SKIP \(what): needs \(missing)")
        }
        return false
    }

    private struct CLIError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Runs a command to completion (bounded: killed after `seconds`); stdout and stderr apart.
    /// With `interruptWhen`, SIGINT is sent once stdout contains that text (event-driven, so a
    /// slow start on a loaded machine does not change what the test sees).
    private static func run(_ args: [String], seconds: Double = 10, interruptWhen: String? = nil) throws -> (status: Int32, stdout: String, stderr: String, timedOut: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let tmp = FileManager.default.temporaryDirectory
        let out = tmp.appendingPathComponent("tcpip-ping-out-\(UUID().uuidString)")
        let err = tmp.appendingPathComponent("tcpip-ping-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        let started = Date()
        let deadline = started.addingTimeInterval(seconds)
        var interrupt = interruptWhen
        while p.isRunning && Date() < deadline {
            if let text = interrupt, ((try? String(contentsOf: out, encoding: .utf8)) ?? "").contains(text) {
                kill(p.processIdentifier, SIGINT)
                interrupt = nil
            }
            usleep(10_000)
        }
        let timedOut = p.isRunning
        if timedOut { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        return (p.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                (try? String(contentsOf: err, encoding: .utf8)) ?? "", timedOut)
    }

    /// A namespace with a TAP or TUN device made by `ip tuntap add` (kernel side
    /// 192.0.2.1/24, up). Removed on deinit, also when the test fails.
    private final class Namespace {
        let name = "tcpipping-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let device: String

        init(kind: String, device: String) throws {
            self.device = device
            let add = try PingCommandTests.run(["ip", "netns", "add", name])
            guard add.status == 0 else { throw CLIError("ip netns add: \(add.stderr)") }
            for args in [["link", "set", "lo", "up"], ["tuntap", "add", device, "mode", kind],
                         ["addr", "add", "192.0.2.1/24", "dev", device], ["link", "set", device, "up"]] {
                let r = try PingCommandTests.run(["ip", "-n", name] + args)
                guard r.status == 0 else { throw CLIError("ip \(args.joined(separator: " ")): \(r.stderr)") }
            }
        }

        deinit { _ = try? PingCommandTests.run(["ip", "netns", "del", name]) }

        /// `tcpip ping --tap|--tun DEVICE --ip 192.0.2.2/24 ARGS...` inside the namespace.
        func ping(_ flag: String, _ args: [String], seconds: Double = 10) throws -> (status: Int32, stdout: String, stderr: String, timedOut: Bool) {
            try PingCommandTests.run(["ip", "netns", "exec", name, PingCommandTests.binary!.path, "ping",
                                      flag, device, "--ip", "192.0.2.2/24"] + args, seconds: seconds)
        }
    }

    /// Three echo requests of `size` data bytes answered by the kernel: one line per reply
    /// (ICMP size = data + 8, sequence 1, 2, 3, TTL 64), then a summary with 0% loss.
    private func threeRepliesWithNoLoss(kind: String, flag: String, device: String, size: Int) throws {
        let ns = try Namespace(kind: kind, device: device)
        let r = try ns.ping(flag, ["-c", "3", "-s", "\(size)", "192.0.2.1"])
        #expect(!r.timedOut, "ping still running after 10 s: \(r.stdout) \(r.stderr)")
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "PING 192.0.2.1 (192.0.2.1) \(size)(\(size + 28)) bytes of data.")
        let replies = lines.filter { $0.contains(" bytes from ") }
        #expect(replies.count == 3, "\(r.stdout)")
        for (i, line) in replies.enumerated() {
            #expect(line.hasPrefix("\(size + 8) bytes from 192.0.2.1: icmp_seq=\(i + 1) ttl=64 time="), "\(line)")
            #expect(line.hasSuffix(" ms"), "\(line)")
        }
        #expect(lines.contains("--- 192.0.2.1 ping statistics ---"), "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("3 packets transmitted, 3 received, 0% packet loss, time ") }, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("rtt min/avg/max = ") && $0.hasSuffix(" ms") }, "\(r.stdout)")
        print("ping over \(kind.uppercased()) -s \(size): \(replies.last ?? "")")
    }

    @Test func pingOverTAPWith3000ByteRequestsGetsThreeFragmentedRepliesAndNoLoss() throws {
        guard Self.ready("tcpip ping TAP test") else { return }
        try threeRepliesWithNoLoss(kind: "tap", flag: "--tap", device: "tapping0", size: 3000)
    }

    @Test func pingOverTUNGetsThreeRepliesAndNoLoss() throws {
        guard Self.ready("tcpip ping TUN test") else { return }
        try threeRepliesWithNoLoss(kind: "tun", flag: "--tun", device: "tunping0", size: 56)
    }

    @Test func pingToAnOnLinkAddressNobodyHasExitsOneWithFullLoss() throws {
        guard Self.ready("tcpip ping unanswered test") else { return }
        let ns = try Namespace(kind: "tap", device: "tapping1")
        let r = try ns.ping("--tap", ["-c", "2", "-W", "1", "192.0.2.9"])
        #expect(!r.timedOut, "ping still running after 10 s: \(r.stdout) \(r.stderr)")
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains(" bytes from "), "\(r.stdout)")
        #expect(r.stdout.contains("\n2 packets transmitted, 0 received, "), "\(r.stdout)")
        #expect(r.stdout.contains(" 100% packet loss, time "), "\(r.stdout)")
        #expect(!r.stdout.contains("rtt min/avg/max"), "\(r.stdout)")
    }

    @Test func interruptedPingPrintsTheSummaryAndExits130() throws {
        guard Self.ready("tcpip ping SIGINT test") else { return }
        let ns = try Namespace(kind: "tun", device: "tunping1")
        // No -c: runs until SIGINT, sent once the second reply is printed.
        // `ip netns exec` execs the binary, so the process is tcpip itself.
        let r = try Self.run(["ip", "netns", "exec", ns.name, Self.binary!.path, "ping", "--tun", "tunping1",
                              "--ip", "192.0.2.2/24", "192.0.2.1"], seconds: 20, interruptWhen: "icmp_seq=2 ")
        #expect(!r.timedOut, "\(r.stdout) \(r.stderr)")
        #expect(r.status == 130, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time="), "\(r.stdout)")
        #expect(r.stdout.contains("2 packets transmitted, 2 received, 0% packet loss, time "), "\(r.stdout)")
    }
}
