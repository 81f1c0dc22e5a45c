import TCPIP
import TCPIPDevices
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Work posted to the loop thread. It gets the loop's state, or nil when the loop has
/// stopped (then it runs at once on the posting thread and must fail its operation).
typealias LoopCommand = @Sendable (LoopCore?) -> Void

/// The cancellation flag of one pending operation, shared by the task's cancellation
/// handler and the loop thread.
///
/// The handler sets the flag, then posts `cancel(waiter)`. The loop registers a waiter
/// only if the flag is clear, and `cancel` resumes it only if it is still registered; so
/// whichever of "register" and "cancel" reaches the loop first, the continuation is
/// resumed exactly once and nothing stays behind.
final class Waiter: Sendable {
    let cancelled = Atomic<Bool>(false)
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

/// One event loop: a thread that alone touches an `IPv4Host`.
///
/// Each round it runs the commands user calls posted, reads the interface until EAGAIN
/// (at most `LoopCore.readBatch` packets), flushes `host.poll` to the interface (at most
/// `LoopCore.writeBatch` packets), hands events to the waiting continuations, then
/// sleeps in poll(2) on the interface descriptor and a wake-up pipe (written by `post`),
/// until the host's `nextDeadline` (or a connect timeout), rounded up to the millisecond.
///
/// Why not SwiftNIO: the loop waits on exactly two descriptors and owns one non-blocking
/// device; NIO's `EventLoop` would add a dependency, a Channel pipeline we don't use and a
/// scheduled-task heap duplicating the host's own deadline heap, for no gain in this
/// shape. poll on two descriptors costs the same as epoll here (epoll pays off with many
/// descriptors). A NIO `Channel` front-end can come later
/// on top of the same commands. Measured (Benchmarks/loop-compare, BENCHMARKS.md): NIO's loop
/// with this device I/O is within noise of this one; through NIO's pipe channel a TUN bulk
/// transfer runs at 0.2× (one packet per wake-up). This loop's extra syscalls are listed there.
///
/// `@unchecked Sendable`: the queue is behind a `Mutex`; `core` is touched only by the
/// loop thread (commands reach it through `post`).
final class EventLoop: @unchecked Sendable {
    struct Queue {
        var commands: [LoopCommand] = []
        var wakePending = false
        var stopped = false
    }

    let queue = Mutex(Queue())
    /// The counters as they were when the loop stopped.
    let finalStatistics = Mutex<TCPStackStatistics?>(nil)
    /// A non-blocking pipe: `post` writes a byte to `wakeWriteFD`; the loop waits on
    /// `wakeFD` (the read end) and drains it.
    let wakeFD: Int32
    let wakeWriteFD: Int32
    let core: LoopCore

    init(core: LoopCore) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw DeviceError("pipe", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = fds[0]
        wakeWriteFD = fds[1]
        self.core = core
    }

    deinit {
        Glibc.close(wakeFD)
        Glibc.close(wakeWriteFD)
    }

    /// Starts the loop thread. The thread keeps the loop alive until it stops.
    func start() throws {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let r = pthread_create(&thread, nil, { arg in
            let loop = Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        guard r == 0 else {
            box.release()
            throw DeviceError("pthread_create", errno: r)
        }
        pthread_detach(thread)
    }

    /// Queues a command for the loop thread and wakes it; runs it at once with nil when
    /// the loop has stopped.
    func post(_ command: @escaping LoopCommand) {
        let (accepted, wake) = queue.withLock { q -> (Bool, Bool) in
            if q.stopped { return (false, false) }
            q.commands.append(command)
            let w = !q.wakePending
            q.wakePending = true
            return (true, w)
        }
        if !accepted { command(nil); return }
        if wake {
            var one: UInt8 = 1
            _ = Glibc.write(wakeWriteFD, &one, 1)
        }
    }

    /// Runs `body` on the loop with a continuation it must resume once (or register as a
    /// waiter that the loop resumes later). Task cancellation resumes a registered waiter
    /// with `CancellationError`; a stopped loop fails with `TCPStreamError.stackStopped`.
    func perform<T: Sendable>(
        _ body: @escaping @Sendable (LoopCore, Waiter, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        let waiter = Waiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                post { core in
                    guard let core else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
                    if waiter.isCancelled { continuation.resume(throwing: CancellationError()); return }
                    body(core, waiter, continuation)
                }
            }
        } onCancel: {
            waiter.cancelled.store(true, ordering: .releasing)
            post { core in core?.cancel(waiter) }
        }
    }

    /// Runs `body` on the loop and returns its result (nil when the loop has stopped).
    func query<T: Sendable>(_ body: @escaping @Sendable (LoopCore) -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            post { core in continuation.resume(returning: core.map(body)) }
        }
    }

    private func takeCommands() -> [LoopCommand] {
        queue.withLock { q in
            q.wakePending = false
            if q.commands.isEmpty { return [] }
            let c = q.commands
            q.commands.removeAll(keepingCapacity: true)
            return c
        }
    }

    private func run() {
        core.runLoop(interface: core.interface, processor: core.processor, takeCommands: takeCommands, wakeFD: wakeFD)
        let last = core.statistics
        finalStatistics.withLock { $0 = last }
        // Stopped: later posts run at once with nil; those already queued fail now.
        let late = queue.withLock { q -> [LoopCommand] in
            q.stopped = true
            let c = q.commands
            q.commands = []
            return c
        }
        for c in late { c(nil) }
        core.finishStop()
    }
}

extension LoopCore {
    /// The loop body, generic over the interface and the processor so per-packet calls
    /// are direct (the existentials are opened once, here).
    func runLoop<D: PacketInterface, P: PacketProcessor>(interface: D, processor: P,
                                                          takeCommands: () -> [LoopCommand], wakeFD: Int32) {
        var fds = [pollfd(fd: interface.fileDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        while true {
            var now = MonotonicClock.now()
            for c in takeCommands() { c(self) }
            var more = false
            do {
                more = try receive(from: interface, into: processor, now: now)
                now = MonotonicClock.now()
                if try flush(to: interface, from: processor, now: now) { more = true }
                dispatch(now: now)
                if touched, try flush(to: interface, from: processor, now: now) { more = true }
                if udpSendsWaitForAnotherRound { more = true }
            } catch {
                failure = "\(error)"
                abortEverything()
                return
            }
            rounds += 1
            if shouldExit(now: now) {
                abortEverything()
                _ = try? flush(to: interface, from: processor, now: now)
                return
            }
            // Sleep until the next deadline, a packet, or a posted command.
            var timeout: Int32 = -1
            if more {
                timeout = 0
            } else if let d = nextWakeup(now: now) {
                let ns = max(0, min((d - now).nanosecondsClamped, 3_600_000_000_000))
                timeout = Int32((ns + 999_999) / 1_000_000)  // rounded up: never wake early and spin
            }
            let r = poll(&fds, 2, timeout)
            if r < 0 && errno != EINTR {
                failure = "ppoll: errno \(errno)"
                abortEverything()
                return
            }
            if r > 0 {
                if fds[1].revents & Int16(POLLIN) != 0 {
                    var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
                    _ = withUnsafeMutableBytes(of: &drain) { Glibc.read(wakeFD, $0.baseAddress, $0.count) }
                }
                if fds[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                    failure = "interface descriptor error (revents \(fds[0].revents))"
                    abortEverything()
                    return
                }
            }
        }
    }
}
