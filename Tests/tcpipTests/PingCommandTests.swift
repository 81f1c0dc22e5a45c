import Foundation
import NetworkTestSupport
import Testing

/// `tcpip ping` run inside a fresh network namespace against the kernel: the kernel side
/// of a TAP or TUN made with `ip tuntap add` is 192.0.2.1/24 and answers echo requests;
/// our binary attaches to that device as 192.0.2.2. Root required: skipped with a
/// message otherwise, a failure when CI=true.
@Suite("tcpip ping over TAP and TUN", .serialized, .prioritized)
struct PingCommandTests {
    /// Root, iproute2 and the binary; records an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        TCPIPCommand.ready(what)
    }

    /// A namespace with a TAP or TUN device made by `ip tuntap add` (kernel side
    /// 192.0.2.1/24, up). Removed on deinit, also when the test fails.
    private final class Namespace {
        let ns: NetworkNamespace
        var name: String { ns.name }
        let device: String

        private init(ns: NetworkNamespace, device: String) {
            self.ns = ns
            self.device = device
        }

        static func make(kind: String, device: String) async throws -> Namespace {
            let n = Namespace(ns: try await NetworkNamespace.make(prefix: "tcpipping"), device: device)
            for args in [["tuntap", "add", device, "mode", kind], ["addr", "add", "192.0.2.1/24", "dev", device], ["link", "set", device, "up"]] {
                try await n.ns.runChecked(["ip"] + args)
            }
            return n
        }

        /// `tcpip ping --tap|--tun DEVICE --ip 192.0.2.2/24 ARGS...` inside the namespace.
        func ping(_ flag: String, _ args: [String], seconds: Double = 10) async throws -> (status: Int32?, stdout: String, stderr: String, timedOut: Bool) {
            let r = try await runSeparately(["ip", "netns", "exec", name, TCPIPCommand.path, "ping",
                                             flag, device, "--ip", "192.0.2.2/24"] + args, seconds: seconds)
            return (r.status, r.stdoutText, r.stderr, r.timedOut)
        }
    }

    /// Three echo requests of `size` data bytes answered by the kernel: one line per reply
    /// (ICMP size = data + 8, sequence 1, 2, 3, TTL 64), then a summary with 0% loss.
    private func threeRepliesWithNoLoss(kind: String, flag: String, device: String, size: Int) async throws {
        let ns = try await Namespace.make(kind: kind, device: device)
        // -W 3: a first ARP exchange lost while the new device comes up (its request is
        // repeated after 1 s) must not cost the first reply on a loaded machine.
        let r = try await ns.ping(flag, ["-c", "3", "-W", "3", "-s", "\(size)", "192.0.2.1"])
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

    @Test func pingOverTAPWith3000ByteRequestsGetsThreeFragmentedRepliesAndNoLoss() async throws {
        guard Self.ready("tcpip ping TAP test") else { return }
        try await threeRepliesWithNoLoss(kind: "tap", flag: "--tap", device: "tapping0", size: 3000)
    }

    @Test func pingOverTUNGetsThreeRepliesAndNoLoss() async throws {
        guard Self.ready("tcpip ping TUN test") else { return }
        try await threeRepliesWithNoLoss(kind: "tun", flag: "--tun", device: "tunping0", size: 56)
    }

    @Test func pingToAnOnLinkAddressNobodyHasExitsOneWithFullLoss() async throws {
        guard Self.ready("tcpip ping unanswered test") else { return }
        let ns = try await Namespace.make(kind: "tap", device: "tapping1")
        let r = try await ns.ping("--tap", ["-c", "2", "-W", "1", "192.0.2.9"])
        #expect(!r.timedOut, "ping still running after 10 s: \(r.stdout) \(r.stderr)")
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains(" bytes from "), "\(r.stdout)")
        #expect(r.stdout.contains("\n2 packets transmitted, 0 received, "), "\(r.stdout)")
        #expect(r.stdout.contains(" 100% packet loss, time "), "\(r.stdout)")
        #expect(!r.stdout.contains("rtt min/avg/max"), "\(r.stdout)")
    }

    @Test func interruptedPingPrintsTheSummaryAndExits130() async throws {
        guard Self.ready("tcpip ping SIGINT test") else { return }
        let ns = try await Namespace.make(kind: "tun", device: "tunping1")
        // No -c: runs until SIGINT, sent once the second reply is printed.
        // `ip netns exec` execs the binary, so the process is tcpip itself.
        let r = try await runSeparately(["ip", "netns", "exec", ns.name, TCPIPCommand.path, "ping", "--tun", "tunping1",
                                         "--ip", "192.0.2.2/24", "192.0.2.1"], seconds: 20, interruptWhen: "icmp_seq=2 ")
        let stdout = r.stdoutText
        #expect(!r.timedOut, "\(stdout) \(r.stderr)")
        #expect(r.status == 130, "\(stdout) \(r.stderr)")
        #expect(stdout.contains("64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time="), "\(stdout)")
        #expect(stdout.contains("2 packets transmitted, 2 received, 0% packet loss, time "), "\(stdout)")
    }
}
