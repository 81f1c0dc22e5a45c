import Foundation
import Testing
import NetworkTestSupport

/// The clean-up of the kernel-test helpers runs in deinits, often on one of the few
/// cooperative threads: it must return at once, and still leave no process and no
/// namespace behind.
@Suite("Test clean-up: no waiting in deinit, nothing left behind")
struct TestCleanupTests {
    /// Whether /proc still lists `pid` (a zombie counts: not yet reaped).
    private static func exists(_ pid: Int32) -> Bool {
        FileManager.default.fileExists(atPath: "/proc/\(pid)")
    }

    /// `sleep 30` with SIGTERM ignored (kept across the exec), as a child started from a task
    /// thread mostly is (it inherits that thread's blocked signals).
    private static let deafToSIGTERM = ["sh", "-c", "trap '' TERM; exec sleep 30"]

    /// A child that ignores SIGTERM used to hold the dropping thread 2 s; now the drop kills
    /// it without waiting, and Foundation reaps it: its pid leaves /proc.
    @Test func droppingARunningChildKillsItAtOnceAndItIsReaped() async throws {
        var child: ChildProcess? = try ChildProcess(Self.deafToSIGTERM)
        let pid = try #require(child?.pid)
        // Past the trap: the exec made it `sleep`.
        #expect(await waitUntil(seconds: 5) {
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "sleep\n"
        })
        let start = Date()
        child = nil
        let dropSeconds = Date().timeIntervalSince(start)
        #expect(dropSeconds < 1, "the drop took \(dropSeconds) s")
        let gone = await waitUntil(seconds: 5) { !Self.exists(pid) }
        #expect(gone, "pid \(pid) still in /proc 5 s after the drop")
    }

    /// `stop()` in a `defer` likewise: SIGKILL, no wait; the process is reaped.
    @Test func stopKillsWithoutWaiting() async throws {
        let child = try ChildProcess(Self.deafToSIGTERM)
        let start = Date()
        child.stop()
        #expect(Date().timeIntervalSince(start) < 1)
        #expect(await child.waitForExit(seconds: 5))
        #expect(child.process.terminationReason == .uncaughtSignal)
        #expect(child.process.terminationStatus == SIGKILL)
    }

    /// A dropped namespace is gone from `ip netns list` (bounded wait), though its deinit
    /// only starts `ip netns del`.
    @Test func droppedNamespaceIsDeleted() async throws {
        guard Privilege.requireRoot("namespace clean-up test") else { return }
        var ns: NetworkNamespace? = try await NetworkNamespace.make(prefix: "tcpipcln")
        let name = try #require(ns?.name)
        let listed = try await runAsync(["ip", "netns", "list"], seconds: 10)
        #expect(listed.output.contains(name), "\(listed.output)")
        ns = nil
        let gone = try await waitUntil(seconds: 10, interval: .milliseconds(50)) {
            let r = try await runAsync(["ip", "netns", "list"], seconds: 10)
            return r.status == 0 && !r.output.contains(name)
        }
        #expect(gone, "\(name) still listed 10 s after the drop")
    }
}
