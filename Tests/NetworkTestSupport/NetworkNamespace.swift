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

    deinit {
        _ = try? runCommand(["ip", "netns", "del", name])
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

    /// Moves an interface of this (the test's) namespace into the namespace.
    public func adopt(interface: String) throws {
        let r = try runCommand(["ip", "link", "set", "dev", interface, "netns", name])
        guard r.status == 0 else { throw NamespaceError(message: "move \(interface) to \(name): \(r.output)") }
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A process started without blocking a task thread: its exit is awaited through the
/// termination handler, with a time bound (the process is killed past it).
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let outputURL: URL

    public init(_ arguments: [String]) throws {
        outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-rt-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputURL)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: outputURL)
    }

    public var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }

    public func stop() {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits (without blocking a thread) until the process exits or `seconds` pass.
    public func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { stop(); return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

/// Runs a command to completion within `seconds`; nil status when it was killed.
public func runAsync(_ arguments: [String], seconds: Double) async throws -> (status: Int32?, output: String) {
    let p = try ChildProcess(arguments)
    let status = await p.wait(seconds: seconds)
    return (status, p.output)
}
