import ArgumentParser
import Dispatch
import TCPIP
import TCPIPApps
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `tcpip serve echo|discard`: a TCP service on our own stack, reachable through a TUN
/// device. SIGINT/SIGTERM close the connections and exit 0; SIGUSR1 prints the counters.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve echo (RFC 862), discard (RFC 863) or HTTP/1.1 over TCP on the userspace stack, through a TAP or TUN device.",
        discussion: """
        The device is attached to when it exists (made with `ip tuntap add`, its kernel side \
        configured by the caller); otherwise it is created and brought up, and the caller \
        gives the kernel side an address (e.g. `ip addr add 192.0.2.1/24 dev tun0`).
        On a TAP the stack has its own MAC address and answers ARP; on both it answers \
        ping and sends ICMP port unreachable for UDP and RST for TCP to closed ports.
        Example: tcpip serve echo --tap tap0 --ip 192.0.2.2/24 --port 7
        HTTP: GET and HEAD of the files under --root DIR (directory listings, index.html; \
        nothing outside DIR), or without --root a built-in page; connections kept alive.
        Example: tcpip serve http --tun tun0 --ip 192.0.2.2/24 --port 80 --root ./site
        SIGINT or SIGTERM: connections are closed (FIN, then RST after 3 s), counters printed, exit 0.
        SIGUSR1: counters printed.
        """
    )

    enum Service: String, ExpressibleByArgument, CaseIterable {
        case echo, discard, http
    }

    @Argument(help: "The service: echo, discard or http.")
    var service: Service

    @Option(help: "http: serve the files under this directory (default: a built-in page).")
    var root: String?

    @Option(help: "http: close a connection that sends nothing, reset one that takes none of our bytes, for this many seconds.")
    var idleTimeout: Int = 15

    @Option(help: "TCP port to listen on.")
    var port: UInt16

    @Option(help: ArgumentHelp("How long a closed connection stays in TIME-WAIT (2 × MSL; default 60s), e.g. 1s or 500ms.",
                               valueName: "duration", visibility: .hidden))
    var timeWait: String?

    /// `--time-wait` as a duration: a number with `ms` or `s` (the default unit).
    static func parseTimeWait(_ text: String) -> Duration? {
        let (number, scale): (Substring, Double) = text.hasSuffix("ms") ? (text.dropLast(2), 0.001)
            : text.hasSuffix("s") ? (text.dropLast(), 1) : (Substring(text), 1)
        guard let value = Double(number), value.isFinite else { return nil }
        let ms = value * scale * 1000
        guard ms >= 2, ms <= 240_000, ms == ms.rounded() else { return nil }
        return .milliseconds(Int64(ms))
    }

    /// The stack's TCP settings: the defaults, with MSL = half of `--time-wait`.
    var tcpConfiguration: TCPConfiguration {
        var c = TCPConfiguration()
        if let timeWait, let d = Self.parseTimeWait(timeWait) { c.maximumSegmentLifetime = d / 2 }
        return c
    }

    /// The address and prefix of `--ip`.
    static func parseAddress(_ text: String) throws -> (IPv4Address, Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(parts[0]) else {
            throw ValidationError("--ip: '\(text)' is not ADDR/PREFIX (e.g. 192.0.2.2/24)")
        }
        var prefix = 32
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...32).contains(p) else {
                throw ValidationError("--ip: prefix '\(parts[1])' is not 0...32")
            }
            prefix = p
        }
        return (address, prefix)
    }

    @OptionGroup var link: DeviceOptions

    func validate() throws {
        guard port != 0 else { throw ValidationError("--port must be 1...65535") }
        if root != nil && service != .http { throw ValidationError("--root is for http only") }
        guard (1...86400).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1...86400") }
        if let timeWait, Self.parseTimeWait(timeWait) == nil {
            throw ValidationError("--time-wait: '\(timeWait)' is not a whole number of milliseconds in 2ms...240s (e.g. 1s, 500ms)")
        }
        if let root {
            do { _ = try StaticDirectorySite(root: root) } catch {
                throw ValidationError("--root: '\(root)' is not a readable directory")
            }
        }
    }

    func run() throws {
        // Signals are taken by sigwait on this thread: block them before any other thread starts.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGINT, SIGTERM, SIGUSR1] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let opened = try link.open(configuration: tcpConfiguration)
        let (stack, device, existed, stackMTU) = (opened.stack, opened.device, opened.existed, opened.mtu)
        let address = stack.address
        let kind = device.kind
        // validate() checked --root already.
        let directory: StaticDirectorySite? = root.flatMap { try? StaticDirectorySite(root: $0) }
        let listener = try blocking { try await stack.listen(port: port) }
        let mode = service
        let idle = Duration.seconds(idleTimeout)
        let server = Task {
            await withTaskGroup(of: Void.self) { group in
                do {
                    for try await stream in listener {
                        group.addTask {
                            if mode == .http {
                                if let directory { await ServeHTTP.handle(stream, site: directory, idleTimeout: idle) }
                                else { await ServeHTTP.handle(stream, site: BuiltinFileSite(), idleTimeout: idle) }
                            } else {
                                await Serve.handle(stream, mode)
                            }
                        }
                    }
                } catch {}
            }
        }
        print("serving \(mode.rawValue)\(directory.map { " from \($0.root)" } ?? "") on \(address):\(port) through \(existed ? "existing" : "new") \(kind == .tap ? "TAP" : "TUN") \(device.name) (MTU \(stackMTU))")
        fflush(nil)

        while true {
            var received: Int32 = 0
            guard sigwait(&signals, &received) == 0 else { continue }
            if received == SIGUSR1 {
                let s = blocking { await stack.statistics() }
                print("counters:\n\(s)")
                fflush(nil)
                continue
            }
            print("signal \(received == SIGINT ? "SIGINT" : "SIGTERM"): closing connections")
            fflush(nil)
            listener.close()
            blocking { await stack.shutdown(gracePeriod: .seconds(3)) }
            opened.capture?.close()
            server.cancel()
            let s = blocking { await stack.statistics() }
            print("counters:\n\(s)")
            fflush(nil)
            return
        }
    }

    static func handle(_ stream: TCPStream, _ mode: Service) async {
        do {
            while true {
                let bytes = try await stream.read(maxBytes: 262144)
                if bytes.isEmpty { break }
                if mode == .echo { try await stream.write(bytes) }
            }
            stream.close()
        } catch {
            stream.abort()
        }
    }
}

/// Runs an async operation to completion from synchronous code (the command's main thread).
private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

private func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.result = .success(await body())
        done.signal()
    }
    done.wait()
    return try! box.result!.get()
}

/// Written by one task before the semaphore is signalled, read after the wait.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
