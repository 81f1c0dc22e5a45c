// Shared by the test targets that create network namespaces (devices, runtime).
import Foundation
import Testing

/// Whether this process may create network namespaces and devices. When it may not,
/// a test skips with a message — except under CI (CI=true), where that is a failure.
public enum Privilege {
    public static var isRoot: Bool { getuid() == 0 }
    public static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Returns true when the test can go on; records an issue in CI otherwise.
    public static func requireRoot(_ what: String) -> Bool {
        let hasIP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].contains {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        if isRoot && hasIP { return true }
        let message = "\(what): needs root and iproute2 (`ip`) to create a network namespace"
        if inCI {
            Issue.record("\(message) — CI=true, so this is a failure, not a skip")
        } else {
            print("SKIP \(message)")
        }
        return false
    }
}

/// Runs a command with a time bound; returns (status, stdout+stderr).
@discardableResult
public func runCommand(_ arguments: [String], timeout: TimeInterval = 10) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit() }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Starts a command and returns without waiting for it (its output is discarded); for
/// clean-up that must not hold the calling thread. Foundation reaps it when it exits.
public func startDetached(_ arguments: [String]) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try? p.run()
}

/// A network namespace made for one test, deleted when the value is dropped (deinit),
/// even when the test fails. Names carry a unique suffix so tests run in parallel.
public final class NetworkNamespace {
    public let name: String
    public let suffix: String

    public init(prefix: String = "tcpipt") throws {
        suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        name = "\(prefix)-\(suffix)"
        let r = try runCommand(["ip", "netns", "add", name])
        guard r.status == 0 else { throw NamespaceError(message: "ip netns add \(name): \(r.output)") }
        try exec(["ip", "link", "set", "lo", "up"])
    }

    /// A namespace that exists already (made by `make`); deleted on deinit like the others.
    private init(name: String, suffix: String) {
        self.name = name
        self.suffix = suffix
    }

    /// Like `init(prefix:)`, without holding a task thread while `ip` runs.
    public static func make(prefix: String = "tcpipt") async throws -> NetworkNamespace {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let name = "\(prefix)-\(suffix)"
        let r = try await runAsync(["ip", "netns", "add", name], seconds: 10)
        guard r.status == 0 else { throw NamespaceError(message: "ip netns add \(name): \(r.output)") }
        let ns = NetworkNamespace(name: name, suffix: suffix)
        try await ns.runChecked(["ip", "link", "set", "lo", "up"])
        return ns
    }

    /// Starts `ip netns del` and returns at once: a deinit may run on a cooperative thread,
    /// which must not wait for a process. Foundation reaps the `ip` when it exits; it runs
    /// to the end even when the test process exits first.
    deinit {
        startDetached(["ip", "netns", "del", name])
    }

    /// Runs a command inside the namespace; throws when it exits non-zero.
    @discardableResult
    public func exec(_ arguments: [String], timeout: TimeInterval = 10) throws -> String {
        let r = try runCommand(["ip", "netns", "exec", name] + arguments, timeout: timeout)
        guard r.status == 0 else {
            throw NamespaceError(message: "\(arguments.joined(separator: " ")) in \(name): exit \(r.status): \(r.output)")
        }
        return r.output
    }

    /// Runs a command inside the namespace without holding a task thread; nil status when
    /// it was killed at the bound. Output is stdout+stderr.
    public func run(_ arguments: [String], seconds: Double = 10) async throws -> (status: Int32?, output: String) {
        try await runAsync(["ip", "netns", "exec", name] + arguments, seconds: seconds)
    }

    /// `run`, throwing when the command exits non-zero or is killed at the bound.
    @discardableResult
    public func runChecked(_ arguments: [String], seconds: Double = 10) async throws -> String {
        let r = try await run(arguments, seconds: seconds)
        guard r.status == 0 else {
            throw NamespaceError(message: "\(arguments.joined(separator: " ")) in \(name): \(r.status.map { "exit \($0)" } ?? "killed after \(seconds) s"): \(r.output)")
        }
        return r.output
    }

    /// Moves an interface of this (the test's) namespace into the namespace.
    public func adopt(interface: String) throws {
        let r = try runCommand(["ip", "link", "set", "dev", interface, "netns", name])
        guard r.status == 0 else { throw NamespaceError(message: "move \(interface) to \(name): \(r.output)") }
    }

    /// Makes a TAP or TUN (`kind` "tap" or "tun") named `device` with `ip tuntap add`, gives
    /// the kernel's side of it `address` (CIDR) and brings it up; a `tcpip` command can then
    /// attach to it.
    public func addTunTap(kind: String, device: String, address: String) async throws {
        for args in [["tuntap", "add", device, "mode", kind], ["addr", "add", address, "dev", device],
                     ["link", "set", device, "up"]] {
            try await runChecked(["ip"] + args)
        }
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A process started without blocking a task thread: its exit is awaited through the
/// termination handler, with a time bound (the process is killed past it).
///
/// The child inherits the signal mask of the thread that starts it; from a task (a
/// libdispatch worker) SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM... are
/// blocked. `tcpip` takes its signals with sigwait, so they reach it; most other programs
/// (tcpdump, python) never see them: end those another way (tcpdump -c, SIGKILL).
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    /// Standard output, and standard error too unless it was asked for apart.
    public let outputURL: URL
    /// Standard error when `separateStandardError`.
    public let errorURL: URL?

    public init(_ arguments: [String], separateStandardError: Bool = false) throws {
        let tmp = FileManager.default.temporaryDirectory
        outputURL = tmp.appendingPathComponent("tcpip-rt-\(UUID().uuidString).log")
        errorURL = separateStandardError ? tmp.appendingPathComponent("tcpip-rt-\(UUID().uuidString).err") : nil
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputURL)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = handle
        if let errorURL {
            _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errorURL)
        } else {
            process.standardError = handle
        }
        try process.run()
    }

    /// Kills a process still running without waiting (see `stop`).
    deinit {
        stop()
        try? FileManager.default.removeItem(at: outputURL)
        if let errorURL { try? FileManager.default.removeItem(at: errorURL) }
    }

    public var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }
    public var standardOutput: Data { (try? Data(contentsOf: outputURL)) ?? Data() }
    public var standardError: String { errorURL.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }
    /// The pid; `env` and `ip netns exec` exec, so it is the command's own.
    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` if the process still runs.
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// SIGKILL if the process still runs, and returns at once: it never holds the calling
    /// thread (a deinit or a `defer` on a cooperative thread). Foundation reaps the process
    /// when it dies. For an orderly exit use `terminate(seconds:)` (awaited) instead.
    public func stop() {
        signal(SIGKILL)
    }

    /// Waits (without blocking a thread) until the process exits or `seconds` pass.
    public func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { await terminate(); return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Waits until the process exits or `seconds` pass, sending SIGINT once its output
    /// holds `text` (event-driven, so a slow start does not change what the test sees).
    public func wait(seconds: Double, interruptWhen text: String) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var pending = true
        while process.isRunning {
            if Date() >= deadline { await terminate(); return nil }
            if pending && output.contains(text) { signal(SIGINT); pending = false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Waits (bounded) until the output holds `text`; false at the bound or when the
    /// process exits without it.
    public func waitFor(text: String, seconds: Double) async -> Bool {
        await waitUntil(seconds: seconds) { self.output.contains(text) || !self.process.isRunning }
        return output.contains(text)
    }

    /// Waits (bounded) for the exit; true when it exited in time.
    public func waitForExit(seconds: Double) async -> Bool {
        await waitUntil(seconds: seconds) { !self.process.isRunning }
    }

    /// SIGTERM, then SIGKILL if it still runs after `seconds`; waits without blocking a thread.
    public func terminate(seconds: Double = 2) async {
        guard process.isRunning else { return }
        process.terminate()
        if await waitForExit(seconds: seconds) { return }
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(seconds: 5)
    }
}

/// Polls `condition` every `interval` until it holds or `seconds` pass; returns whether it held.
@discardableResult
public func waitUntil(seconds: Double, interval: Duration = .milliseconds(20),
                      _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try await condition() { return true }
        if Date() >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}

/// Runs a command to completion within `seconds`; nil status when it was killed.
public func runAsync(_ arguments: [String], seconds: Double) async throws -> (status: Int32?, output: String) {
    let p = try ChildProcess(arguments)
    let status = await p.wait(seconds: seconds)
    return (status, p.output)
}

/// What a command run by `runSeparately` gave.
public struct CommandResult: Sendable {
    /// nil when it was killed at the time bound.
    public var status: Int32?
    public var stdout: Data
    public var stderr: String
    public var timedOut: Bool { status == nil }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a command to completion within `seconds`, stdout and stderr apart; with
/// `interruptWhen`, SIGINT is sent once stdout holds that text.
public func runSeparately(_ arguments: [String], seconds: Double, interruptWhen: String? = nil) async throws -> CommandResult {
    let p = try ChildProcess(arguments, separateStandardError: true)
    let status: Int32?
    if let interruptWhen { status = await p.wait(seconds: seconds, interruptWhen: interruptWhen) }
    else { status = await p.wait(seconds: seconds) }
    return CommandResult(status: status, stdout: p.standardOutput, stderr: p.standardError)
}
