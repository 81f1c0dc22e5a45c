import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TCPIP
import TCPIPApps
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `tcpip fetch http://ADDR[:PORT]/PATH [-o FILE]`: an HTTP/1.1 GET over our own stack,
/// through a TAP or TUN device. The body goes to FILE (or stdout); progress goes to stderr
/// (a bar on a terminal, plain lines otherwise). Exit 0 on success, 130 on SIGINT (143 on
/// SIGTERM), 1 with a one-line `tcpip: fetch: ...` error otherwise.
struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a file with HTTP/1.1 GET over the userspace stack, through a TAP or TUN device.",
        discussion: """
        The device is attached to when it exists (made with `ip tuntap add`, its kernel side \
        configured by the caller); otherwise it is created and brought up, and the caller \
        gives the kernel side an address. The host must be an IPv4 address (no DNS). \
        Content-Length, chunked and read-until-close bodies; redirects are reported, not followed.
        Example: tcpip fetch --tap tap0 --ip 192.0.2.2/24 http://192.0.2.1:8080/f -o f
        Progress on stderr: a bar (bytes, rate, ETA) on a terminal, one line a second otherwise.
        Exit status: 0 done, 130 interrupted (SIGINT), 143 terminated (SIGTERM), 1 any error.
        """
    )

    @Argument(help: "The URL: http://ADDR[:PORT]/PATH (ADDR an IPv4 address).")
    var url: String

    @Option(name: [.short, .customLong("output")], help: "Write the body to this file (default: stdout).")
    var output: String?

    @Option(help: "Seconds to wait for the connection to open.")
    var connectTimeout: Double = 10

    /// The URL parsed, its host as an IPv4 address.
    static func parseURL(_ text: String) throws -> (HTTPURL, IPv4Address) {
        let url: HTTPURL
        switch HTTPURL.parse(text) {
        case .success(let u): url = u
        case .failure(.unsupportedScheme): throw ValidationError("'\(text)': only http:// URLs are supported")
        case .failure(.missingHost): throw ValidationError("'\(text)': no host")
        case .failure(.invalidPort): throw ValidationError("'\(text)': the port is not 1...65535")
        case .failure(.invalidCharacter): throw ValidationError("'\(text)': invalid character in the host")
        }
        guard let address = IPv4Address(url.host) else {
            throw ValidationError("'\(url.host)' is not an IPv4 address (the stack has no DNS)")
        }
        return (url, address)
    }

    @OptionGroup var link: DeviceOptions

    func validate() throws {
        _ = try Fetch.parseURL(url)
        guard connectTimeout > 0, connectTimeout <= 3600 else { throw ValidationError("--connect-timeout must be > 0 and at most 3600 seconds") }
        if let output, output.isEmpty { throw ValidationError("-o: empty file name") }
    }

    func run() throws {
        // Signals are taken by sigwait on a thread of ours: block them before any other thread starts.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGINT, SIGTERM] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let (target, host) = try Fetch.parseURL(url)
        let stack: TCPStack
        let capture: CaptureHandle?
        do {
            let opened = try link.open()
            (stack, capture) = (opened.stack, opened.capture)
        } catch {
            Fetch.fail("\(error)")
        }
        let printCounters = link.impair != nil

        let job = FetchJob(url: target, host: host, output: output,
                           connectTimeout: .milliseconds(Int64(connectTimeout * 1000)),
                           progressIsTerminal: isatty(2) == 1)
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        let task = Task {
            let result: Result<Void, any Error>
            do { result = .success(try await job.run(on: stack)) } catch { result = .failure(error) }
            await stack.shutdown(gracePeriod: .seconds(1))
            capture?.close()
            if printCounters { DeviceOptions.writeStandardError("counters:\n\(await stack.statistics())\n") }
            outcome.result = result
            done.signal()
        }
        let waitSet = signals
        let watcher = Thread {
            var set = waitSet
            var received: Int32 = 0
            while sigwait(&set, &received) != 0 {}
            outcome.signal.store(received, ordering: .sequentiallyConsistent)
            task.cancel()
            // The download normally ends at once when cancelled; never hang on it.
            sleep(3)
            DeviceOptions.writeStandardError("\ntcpip: fetch: \(received == SIGINT ? "interrupted" : "terminated")\n")
            _exit(128 + received)
        }
        watcher.start()
        done.wait()

        let signal = outcome.signal.load(ordering: .sequentiallyConsistent)
        if signal != 0 {
            DeviceOptions.writeStandardError("\ntcpip: fetch: \(signal == SIGINT ? "interrupted" : "terminated")\n")
            throw ExitCode(128 + signal)
        }
        if case .failure(let error) = outcome.result! {
            Fetch.fail(Fetch.message(for: error, job: job))
        }
    }

    /// The one-line message for why the fetch failed.
    static func message(for error: any Error, job: FetchJob) -> String {
        switch error {
        case let e as HTTPFetchError: e.message
        case let e as TCPStreamError: "\(job.host):\(job.url.port): \(e)"
        case let e as OutputError: e.message
        default: "\(error)"
        }
    }

    /// Prints `tcpip: fetch: message` on stderr and exits 1.
    static func fail(_ message: String) -> Never {
        // Keep it one line whatever the error's text.
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        DeviceOptions.writeStandardError("tcpip: fetch: \(line)\n")
        Glibc.exit(1)
    }
}

/// One download: connect, send the request, stream the body to the output, report progress.
struct FetchJob: Sendable {
    let url: HTTPURL
    let host: IPv4Address
    let output: String?
    let connectTimeout: Duration
    let progressIsTerminal: Bool

    func run(on stack: TCPStack) async throws {
        let stream = try await stack.connect(to: host, port: url.port, timeout: connectTimeout)
        defer { stream.close() }
        var fetch = HTTPFetch(url: url)
        let clock = ContinuousClock()
        let start = clock.now
        try await stream.write(fetch.request)

        let out = FileOutput(path: output)
        defer { out.close() }
        var throttle = ProgressThrottle(interval: progressIsTerminal ? .milliseconds(100) : .seconds(1))
        var formatter: ProgressFormatter?
        while !fetch.isComplete {
            let bytes = try await stream.read(maxBytes: 1 << 18)
            if bytes.isEmpty {
                try fetch.receiveEnd { try out.write($0) }
                break
            }
            try fetch.receive(bytes) { try out.write($0) }
            if formatter == nil, let head = fetch.head {
                formatter = ProgressFormatter(total: fetch.expectedLength, isTerminal: progressIsTerminal)
                let length = fetch.expectedLength.map { "\($0) bytes" } ?? "length unknown"
                DeviceOptions.writeStandardError("HTTP \(head.status)\(head.reason.isEmpty ? "" : " " + head.reason), \(length)\n")
            }
            if let formatter, !fetch.isComplete {
                let elapsed = clock.now - start
                if throttle.shouldEmit(at: elapsed) {
                    DeviceOptions.writeStandardError(formatter.line(bytes: fetch.bodyBytes, elapsed: elapsed))
                }
            }
        }
        try out.finish()
        let elapsed = clock.now - start
        let final = formatter ?? ProgressFormatter(total: fetch.expectedLength, isTerminal: progressIsTerminal)
        DeviceOptions.writeStandardError(final.finished(bytes: fetch.bodyBytes, elapsed: elapsed))
    }
}

/// The body's destination: FILE (created when the first body byte or the end arrives, so a
/// failed request leaves no empty file) or stdout.
final class FileOutput {
    let path: String?
    private var fd: Int32 = -1

    init(path: String?) {
        self.path = path
        if path == nil { fd = 1 }
    }

    private func open() throws {
        guard fd < 0, let path else { return }
        let f = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw OutputError(path: path, errno: errno) }
        fd = f
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try open()
        let e = FileOutput.writeAll(fd, bytes)
        if e != 0 { throw OutputError(path: path ?? "stdout", errno: e) }
    }

    /// The response ended: create the file even for an empty body.
    func finish() throws {
        try open()
    }

    func close() {
        if fd > 2 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// Writes everything (retrying short writes and EINTR); returns 0 or the errno.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return 0
    }
}

struct OutputError: Error {
    let path: String
    let errno: Int32
    var message: String { "\(path): \(String(cString: strerror(errno)))" }
}

/// `result` is written by the download task before the semaphore is signalled, read after
/// the wait; `signal` is the signal that interrupted the fetch (0: none).
private final class OutcomeBox: @unchecked Sendable {
    var result: Result<Void, any Error>?
    let signal = Atomic<Int32>(0)
}
