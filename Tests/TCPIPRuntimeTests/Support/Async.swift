import Foundation

/// Fails the test (instead of hanging) when `body` takes longer than `seconds`.
func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { g in
        g.addTask { try await body() }
        g.addTask { try await Task.sleep(for: .seconds(seconds)); return nil }
        let first = try await g.next()!
        g.cancelAll()
        guard let value = first else { throw TimeoutError(seconds: seconds) }
        return value
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "did not finish within \(seconds) s" }
}

/// The task's value, or nil after cancelling it when it takes longer than `seconds`.
func value<T: Sendable>(of task: Task<T, Never>, within seconds: Double) async -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    let finished = Flag()
    let watcher = Task {
        while !finished.isSet && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if !finished.isSet { task.cancel() }
    }
    let v = await task.value
    let timedOut = Date() >= deadline
    finished.set()
    await watcher.value
    return timedOut ? nil : v
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
