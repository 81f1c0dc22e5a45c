// Shared by the tests that run the `tcpip` command line tool.
import Foundation
import Testing

/// The `tcpip` binary built beside the tests, and the checks before a CLI test runs.
public enum TCPIPCommand {
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Next to the test bundle, else in the package's debug build directory.
    public static let binary: URL? = {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("tcpip"))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tcpip"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tcpip"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// The binary's path; call after `ready` (or a nil check) said it exists.
    public static var path: String { binary?.path ?? "/nonexistent/tcpip" }

    /// Root, iproute2, each of `tools` (absolute paths) and the tcpip binary. When one is
    /// missing: a skip with a message, or under CI=true a recorded failure.
    public static func ready(_ what: String, tools: [String] = []) -> Bool {
        let fm = FileManager.default
        let hasIP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].contains { fm.isExecutableFile(atPath: $0) }
        let missingTools = tools.filter { !fm.isExecutableFile(atPath: $0) }
        let missing = !Privilege.isRoot || !hasIP ? "root and iproute2"
            : !missingTools.isEmpty ? missingTools.joined(separator: " and ")
            : (binary == nil ? "the tcpip binary" : nil)
        guard let missing else { return true }
        if Privilege.inCI {
            Issue.record("\(what): needs \(missing) — CI=true, so this is a failure")
        } else {
            print("SKIP \(what): needs \(missing)")
        }
        return false
    }

    /// Whether the binary exists; records a failure under CI=true when it does not.
    public static func binaryReady() -> Bool {
        if binary != nil { return true }
        if Privilege.inCI { Issue.record("tcpip binary not found") }
        return false
    }

    /// Starts `tcpip ARGS...` inside `namespace` (its pid is tcpip's: `env` and `ip netns
    /// exec` exec). Output is stdout+stderr unless `separateStandardError`.
    public static func start(in namespace: NetworkNamespace, _ arguments: [String],
                             separateStandardError: Bool = false) throws -> ChildProcess {
        try ChildProcess(["ip", "netns", "exec", namespace.name, path] + arguments, separateStandardError: separateStandardError)
    }
}

/// `tcpip serve SERVICE --tap|--tun DEVICE --ip 192.0.2.2/24 ARGS...` running in a fresh
/// namespace whose kernel side of the device is 192.0.2.1/24. The server is killed and the
/// namespace deleted when the value goes away, also when the test fails.
public final class ServedNamespace {
    public static let serverIP = "192.0.2.2"
    public static let kernelIP = "192.0.2.1"

    public let namespace: NetworkNamespace
    public let server: ChildProcess
    public let device: String

    private init(namespace: NetworkNamespace, server: ChildProcess, device: String) {
        self.namespace = namespace
        self.server = server
        self.device = device
    }

    deinit { server.signal(SIGKILL) }

    /// Starts the server (the device is created by it), waits (bounded) for its
    /// "serving SERVICE" line, then gives the kernel side its address.
    public static func start(service: String, kind: String, device: String, _ arguments: [String],
                             prefix: String = "tcpipsrv") async throws -> ServedNamespace {
        let ns = try await NetworkNamespace.make(prefix: prefix)
        let server = try TCPIPCommand.start(in: ns, ["serve", service, "--\(kind)", device, "--ip", "\(serverIP)/24"] + arguments)
        let served = ServedNamespace(namespace: ns, server: server, device: device)
        guard await server.waitFor(text: "serving \(service)", seconds: 10) else {
            throw NamespaceError(message: "tcpip serve \(service) did not start: \(server.output)")
        }
        try await ns.runChecked(["ip", "addr", "add", "\(kernelIP)/24", "dev", device])
        return served
    }

    /// The counters the server prints on SIGUSR1 (the text after the last "counters:"),
    /// nil when none came within `seconds`.
    public func counters(seconds: Double = 5) async -> String? {
        let before = server.output.components(separatedBy: "counters:").count
        server.signal(SIGUSR1)
        let came = await waitUntil(seconds: seconds) {
            let parts = self.server.output.components(separatedBy: "counters:")
            return parts.count > before && parts.last!.contains("drops (")
        }
        return came ? server.output.components(separatedBy: "counters:").last : nil
    }

    /// The number after `label` in a counters text ("in table 3" -> 3 for "in table").
    public static func number(after label: String, in counters: String) -> Int? {
        guard let r = counters.range(of: label + " ") else { return nil }
        return Int(counters[r.upperBound...].prefix { $0.isNumber })
    }

    /// SIGTERM, then waits (bounded) for the exit; true when it exited 0 in time.
    public func stop(seconds: Double = 8) async -> Bool {
        server.signal(SIGTERM)
        guard await server.waitForExit(seconds: seconds) else { return false }
        return server.process.terminationStatus == 0
    }
}
