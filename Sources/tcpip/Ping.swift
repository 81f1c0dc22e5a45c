import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TCPIP
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `tcpip ping ADDR [-s SIZE] [-c N]`: ICMP echo requests from our own stack, through a
/// TAP or TUN device, printed like ping(8). Exit 0 when at least one reply came, 1
/// otherwise, 130 on SIGINT (after the summary).
struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send ICMP echo requests from the userspace stack, through a TAP or TUN device.",
        discussion: """
        The device is attached to when it exists (made with `ip tuntap add`, its kernel side \
        configured by the caller); otherwise it is created and brought up. Requests larger \
        than the MTU are fragmented.
        Example: tcpip ping --tap tap0 --ip 192.0.2.2/24 -c 3 -s 3000 192.0.2.1
        Exit status: 0 at least one reply, 1 none (or an error), 130 interrupted (SIGINT).
        """
    )

    @Argument(help: "The IPv4 address to ping.")
    var address: String

    @Option(name: .short, help: "ICMP data bytes per request (the reply line counts 8 more: the ICMP header).")
    var size: Int = 56

    @Option(name: .short, help: "Stop after this many requests (default: until interrupted).")
    var count: Int?

    @Option(name: .short, help: "Seconds between requests (at least 0.2).")
    var interval: Double = 1

    @Option(name: .customShort("W"), help: "Seconds to wait for each reply.")
    var wait: Double = 1

    @OptionGroup var link: DeviceOptions

    func validate() throws {
        guard IPv4Address(address) != nil else { throw ValidationError("'\(address)' is not an IPv4 address") }
        guard (0...65507).contains(size) else { throw ValidationError("-s must be 0...65507") }
        if let count, count < 1 { throw ValidationError("-c must be at least 1") }
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("-i must be 0.2...3600 seconds") }
        guard wait > 0, wait <= 3600 else { throw ValidationError("-W must be > 0 and at most 3600 seconds") }
    }

    func run() throws {
        // Signals are taken by sigwait on a thread of ours: block them before any other thread starts.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let target = IPv4Address(address)!
        let stack: TCPStack
        let capture: CaptureHandle?
        do {
            let opened = try link.open()
            (stack, capture) = (opened.stack, opened.capture)
        } catch {
            Ping.fail("\(error)")
        }
        let printCounters = link.impair != nil

        Ping.writeOut("PING \(target) (\(target)) \(size)(\(size + 28)) bytes of data.\n")
        let tally = PingTally()
        let done = DispatchSemaphore(value: 0)
        let (size, count) = (size, count)
        let interval = Duration.milliseconds(Int64(interval * 1000))
        let wait = Duration.milliseconds(Int64(wait * 1000))
        let task = Task {
            do {
                try await Ping.pingLoop(stack: stack, target: target, size: size, count: count,
                                        interval: interval, wait: wait, tally: tally)
            } catch is CancellationError {
            } catch {
                tally.error.withLock { $0 = "\(error)" }
            }
            await stack.shutdown(gracePeriod: .zero)
            capture?.close()
            if printCounters { DeviceOptions.writeStandardError("counters:\n\(await stack.statistics())\n") }
            done.signal()
        }
        let waitSet = signals
        let watcher = Thread {
            var set = waitSet
            var received: Int32 = 0
            while sigwait(&set, &received) != 0 {}
            tally.interrupted.store(true, ordering: .sequentiallyConsistent)
            task.cancel()
            // Cancellation ends the loop at once; never hang on it.
            sleep(3)
            _exit(130)
        }
        watcher.start()
        done.wait()

        if let error = tally.error.withLock({ $0 }) { Ping.fail(error) }
        let s = tally.state.withLock { $0 }
        Ping.writeOut(Ping.summary(target: target, s))
        if tally.interrupted.load(ordering: .sequentiallyConsistent) { throw ExitCode(130) }
        if s.received == 0 { throw ExitCode(1) }
    }

    static func pingLoop(stack: TCPStack, target: IPv4Address, size: Int, count: Int?,
                         interval: Duration, wait: Duration, tally: PingTally) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var sequence = 1
        while count.map({ sequence <= $0 }) ?? true {
            try Task.checkCancellation()
            let sentAt = clock.now
            let seq = UInt16(truncatingIfNeeded: sequence)
            tally.state.withLock { $0.transmitted += 1 }
            let answer = try await stack.ping(target, sequence: seq, size: size, timeout: wait)
            switch answer {
            case .reply(let r)?:
                let ms = Double(r.roundTrip.nanosecondsClamped) / 1e6
                tally.state.withLock { $0.record(ms) }
                writeOut("\(r.size + 8) bytes from \(r.from): icmp_seq=\(r.sequence) ttl=\(r.timeToLive) time=\(String(format: "%.3f", ms)) ms\(r.dataMatches ? "" : " (wrong data)")\n")
            case .error(let sequence, let from, let type, let code)?:
                tally.state.withLock { $0.errors += 1 }
                writeOut("From \(from) icmp_seq=\(sequence) \(describe(type: type, code: code))\n")
            case nil:
                break
            }
            tally.state.withLock { $0.elapsed = clock.now - start }
            sequence += 1
            if count.map({ sequence > $0 }) ?? false { break }
            let next = sentAt + interval
            if clock.now < next { try await Task.sleep(until: next, clock: clock) }
        }
    }

    static func describe(type: UInt8, code: UInt8) -> String {
        switch (type, code) {
        case (3, 0): "Destination Net Unreachable"
        case (3, 1): "Destination Host Unreachable"
        case (3, 2): "Destination Protocol Unreachable"
        case (3, 3): "Destination Port Unreachable"
        case (3, 4): "Frag needed and DF set"
        case (11, 0): "Time to live exceeded"
        case (11, 1): "Frag reassembly time exceeded"
        default: "ICMP type \(type) code \(code)"
        }
    }

    static func summary(target: IPv4Address, _ s: PingTally.State) -> String {
        let loss = s.transmitted == 0 ? 0 : (s.transmitted - s.received) * 100 / s.transmitted
        let ms = Int(s.elapsed.nanosecondsClamped / 1_000_000)
        var text = "\n--- \(target) ping statistics ---\n"
        text += "\(s.transmitted) packets transmitted, \(s.received) received, "
        if s.errors > 0 { text += "+\(s.errors) errors, " }
        text += "\(loss)% packet loss, time \(ms)ms\n"
        if s.received > 0 {
            let f = { (v: Double) in String(format: "%.3f", v) }
            text += "rtt min/avg/max = \(f(s.minimum))/\(f(s.total / Double(s.received)))/\(f(s.maximum)) ms\n"
        }
        return text
    }

    /// Prints `tcpip: ping: message` on stderr and exits 1.
    static func fail(_ message: String) -> Never {
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        DeviceOptions.writeStandardError("tcpip: ping: \(line)\n")
        Glibc.exit(1)
    }

    static func writeOut(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = FileOutput.writeAll(1, $0) }
    }
}

/// What the ping task counted, read by the main thread after it finished.
final class PingTally: Sendable {
    struct State {
        var transmitted = 0
        var received = 0
        var errors = 0
        var minimum = Double.infinity
        var maximum = 0.0
        var total = 0.0
        var elapsed = Duration.zero

        mutating func record(_ ms: Double) {
            received += 1
            minimum = min(minimum, ms)
            maximum = max(maximum, ms)
            total += ms
        }
    }
    let state = Mutex(State())
    let error = Mutex<String?>(nil)
    let interrupted = Atomic<Bool>(false)
}
