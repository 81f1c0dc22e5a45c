import Foundation
import Testing

// The whole test bundle runs in one process on as many cooperative threads as there are
// cores (two here). A synchronous test that waits for a child process (tshark, chromium)
// holds one of them for seconds; two such tests stop every async test, whose timing
// bounds then fail for reasons that have nothing to do with the stack. These two tools
// keep waiting off the pool and let timing-sensitive tests go first.

/// Runs blocking work (waiting for a child process, reading its pipes to the end) on a
/// thread of its own, so it never holds one of the cooperative threads.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 21
        thread.start()
    }
}

/// Runs a test, or every test of a suite, as a high-priority task: its continuations are
/// scheduled ahead of the bundle's queued synchronous tests, so a test that checks how
/// long something takes waits at most for one running test, not for the whole queue.
public struct Prioritized: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withoutActuallyEscaping(function) { f in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask(priority: .high) { try await f() }
                try await group.waitForAll()
            }
        }
    }
}

extension Trait where Self == Prioritized {
    /// See `Prioritized`.
    public static var prioritized: Self { Prioritized() }
}
