// The namespace, TUN device and child processes of the benchmark (copied in spirit from
// Tests/NetworkTestSupport/NetworkNamespace.swift: this is a separate package).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs a command to completion within `timeout` seconds: (status, stdout+stderr).
@discardableResult
func runCommand(_ arguments: [String], timeout: TimeInterval = 10) throws -> (status: Int32, output: String) {
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

/// A network namespace for one benchmark run. Deleted by `delete()` (called on every exit
/// path, and from SIGINT/SIGTERM), and by a watchdog shell that outlives a crash of this
/// process: it polls our pid and deletes the namespace once we are gone.
final class BenchNamespace: @unchecked Sendable {
    let name: String
    let suffix: String
    private var deleted = false

    init() throws {
        suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        name = "lcmp-\(suffix)"
        let r = try runCommand(["ip", "netns", "add", name])
        guard r.status == 0 else { throw BenchError("ip netns add \(name): \(r.output)") }
        // The watchdog: detached from our stdio, ends as soon as the namespace is gone or
        // right after this process exits (then deletes the namespace).
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null && [ -e /run/netns/\(name) ]; do sleep 0.5; done; ip netns del \(name) 2>/dev/null; exit 0"]
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        watchdog.standardInput = FileHandle.nullDevice
        try? watchdog.run()
        try exec(["ip", "link", "set", "lo", "up"])
    }

    func delete() {
        if deleted { return }
        deleted = true
        _ = try? runCommand(["ip", "netns", "del", name])
    }

    deinit { delete() }

    @discardableResult
    func exec(_ arguments: [String], timeout: TimeInterval = 10) throws -> String {
        let r = try runCommand(["ip", "netns", "exec", name] + arguments, timeout: timeout)
        guard r.status == 0 else {
            throw BenchError("\(arguments.joined(separator: " ")) in \(name): exit \(r.status): \(r.output)")
        }
        return r.output
    }

    func adopt(interface: String) throws {
        let r = try runCommand(["ip", "link", "set", "dev", interface, "netns", name])
        guard r.status == 0 else { throw BenchError("move \(interface) to \(name): \(r.output)") }
    }
}

/// The namespace to delete from a signal handler.
nonisolated(unsafe) var namespaceToDelete: String? = nil

func installSignalCleanup() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal(sig) { s in
            if let n = namespaceToDelete {
                // Async-signal-safe enough for a benchmark: fork + exec ip.
                let pid = fork()
                if pid == 0 {
                    let args = ["ip", "netns", "del", n]
                    var cargs = args.map { strdup($0) } + [nil]
                    execvp("ip", &cargs)
                    _exit(127)
                }
                var st: Int32 = 0
                waitpid(pid, &st, 0)
            }
            _exit(128 + s)
        }
    }
}

/// A child process (the kernel-side client, run in the namespace) whose exit is awaited
/// without blocking a thread, with a time bound.
final class Child: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    private var collected = Data()
    private let lock = NSLock()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        output.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.collected.append(d); self.lock.unlock()
        }
        try process.run()
    }

    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    func stop() {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The exit status, or nil when it was killed after `seconds`.
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { stop(); return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Let the readability handler take the last bytes.
        try? await Task.sleep(for: .milliseconds(20))
        output.fileHandleForReading.readabilityHandler = nil
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        lock.withLock { collected.append(rest) }
        return process.terminationStatus
    }
}
