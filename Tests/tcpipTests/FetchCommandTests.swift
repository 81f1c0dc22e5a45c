import Foundation
import NetworkTestSupport
import Testing

/// `tcpip fetch` run inside a fresh network namespace against the kernel: python's
/// http.server listens on 192.0.2.1 (the kernel side of a TAP or TUN made with
/// `ip tuntap add`), our binary attaches to that device as 192.0.2.2. Root required:
/// skipped with a message otherwise, a failure when CI=true.
@Suite("tcpip fetch over TAP and TUN", .serialized, .prioritized)
struct FetchCommandTests {
    /// Root, iproute2, python3, sha256sum and the binary; records an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        TCPIPCommand.ready(what, tools: ["/usr/bin/python3", "/usr/bin/sha256sum"])
    }

    private struct CLIError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    private static func sha256(_ path: String) async throws -> String {
        let r = try await runSeparately(["/usr/bin/sha256sum", path], seconds: 20)
        guard r.status == 0, let hash = r.stdoutText.split(separator: " ").first else {
            throw CLIError("sha256sum \(path): \(r.stderr)")
        }
        return String(hash)
    }

    /// A namespace with a TAP or TUN device made by `ip tuntap add` (kernel side 192.0.2.1/24,
    /// up), a directory of files, and `python3 -m http.server` serving it on 192.0.2.1:8080.
    /// Everything is removed on deinit, also when the test fails.
    private final class KernelHTTPServer {
        let ns: NetworkNamespace
        var namespace: String { ns.name }
        let device: String
        let directory: URL
        var server: ChildProcess?

        private init(ns: NetworkNamespace, device: String, directory: URL) {
            self.ns = ns
            self.device = device
            self.directory = directory
        }

        static func make(kind: String, device: String) async throws -> KernelHTTPServer {
            let ns = try await NetworkNamespace.make(prefix: "tcpipfetch")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-fetch-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let k = KernelHTTPServer(ns: ns, device: device, directory: directory)
            for args in [["tuntap", "add", device, "mode", kind], ["addr", "add", "192.0.2.1/24", "dev", device], ["link", "set", device, "up"]] {
                try await k.ns.runChecked(["ip"] + args)
            }
            return k
        }

        deinit {
            server?.signal(SIGKILL)
            try? FileManager.default.removeItem(at: directory)
        }

        /// Writes `count` random bytes to `name` in the served directory; returns its path.
        func makeFile(_ name: String, count: Int) async throws -> String {
            let path = directory.appendingPathComponent(name).path
            let r = try await runAsync(["sh", "-c", "head -c \(count) /dev/urandom > '\(path)'"], seconds: 20)
            guard r.status == 0 else { throw CLIError("random file: \(r.output)") }
            return path
        }

        /// Starts the kernel-side HTTP server and waits (bounded) until it listens.
        func startHTTP() async throws {
            server = try ChildProcess(["ip", "netns", "exec", namespace, "/usr/bin/python3", "-m", "http.server", "8080",
                                       "--bind", "192.0.2.1", "--directory", directory.path])
            try await waitListening(port: 8080)
        }

        /// Waits (bounded, 5 s) until something listens on `address`:`port` in the namespace.
        func waitListening(address: String = "192.0.2.1", port: Int) async throws {
            let listening = try await waitUntil(seconds: 5, interval: .milliseconds(50)) {
                let r = try await ns.run(["ss", "-Hltn", "src", "\(address):\(port)"])
                return r.status == 0 && !r.output.isEmpty
            }
            if !listening { throw CLIError("nothing listens on \(address):\(port) after 5 s") }
        }

        /// `tcpip fetch --tap|--tun DEVICE --ip 192.0.2.2/24 ARGS...` inside the namespace.
        func fetch(_ flag: String, _ args: [String], seconds: Double = 30) async throws -> CommandResult {
            try await runSeparately(["ip", "netns", "exec", namespace, TCPIPCommand.path, "fetch",
                                     flag, device, "--ip", "192.0.2.2/24"] + args, seconds: seconds)
        }
    }

    /// The 50 MB download over `kind`, checked byte for byte; prints the rate `done:` reports.
    private func downloadsFiftyMegabytes(kind: String, flag: String, device: String) async throws {
        let k = try await KernelHTTPServer.make(kind: kind, device: device)
        let size = 50 * 1024 * 1024
        let served = try await k.makeFile("big.bin", count: size)
        try await k.startHTTP()
        let out = k.directory.appendingPathComponent("out.bin").path
        let r = try await k.fetch(flag, ["http://192.0.2.1:8080/big.bin", "-o", out], seconds: 40)
        #expect(!r.timedOut, "fetch still running after 40 s: \(r.stderr)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "the body went to -o, nothing to stdout")
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.size] as? NSNumber)?.intValue == size)
        let (got, want) = (try await Self.sha256(out), try await Self.sha256(served))
        #expect(got == want)
        // stderr is not a terminal here: plain lines, the head first, `done:` last.
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.first == "HTTP 200 OK, \(size) bytes", "\(r.stderr)")
        #expect(lines.last?.hasPrefix("done: 50.0 MiB in ") == true, "\(r.stderr)")
        #expect(!r.stderr.contains("\r"), "no terminal control characters when stderr is not a terminal")
        print("fetch over \(kind.uppercased()): \(lines.last ?? "")")
    }

    @Test func fetchOverTAPSavesA50MBFileIdenticalToTheServedOne() async throws {
        guard Self.ready("tcpip fetch TAP test") else { return }
        try await downloadsFiftyMegabytes(kind: "tap", flag: "--tap", device: "tapfetch0")
    }

    @Test func fetchOverTUNSavesA50MBFileIdenticalToTheServedOne() async throws {
        guard Self.ready("tcpip fetch TUN test") else { return }
        try await downloadsFiftyMegabytes(kind: "tun", flag: "--tun", device: "tunfetch0")
    }

    @Test func fetchWithoutOutputWritesTheBodyToStdoutAndProgressToStderr() async throws {
        guard Self.ready("tcpip fetch stdout test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tun", device: "tunfetch1")
        let served = try await k.makeFile("small.bin", count: 100_000)
        try await k.startHTTP()
        let r = try await k.fetch("--tun", ["http://192.0.2.1:8080/small.bin"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try Data(contentsOf: URL(fileURLWithPath: served))))
        #expect(r.stderr.hasPrefix("HTTP 200 OK, 100000 bytes\n"), "\(r.stderr)")
        #expect(r.stderr.contains("done: 97.7 KiB in "), "\(r.stderr)")
    }

    @Test func fetchOnATerminalDrawsABarUpdatedInPlace() async throws {
        guard Self.ready("tcpip fetch terminal test") else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("util-linux script missing — CI=true, so this is a failure") }
            else { print("SKIP tcpip fetch terminal test: needs /usr/bin/script") }
            return
        }
        let k = try await KernelHTTPServer.make(kind: "tun", device: "tunfetch3")
        let served = try await k.makeFile("five.bin", count: 5 * 1024 * 1024)
        try await k.startHTTP()
        let out = k.directory.appendingPathComponent("five.out").path
        // script(1) gives the command a pseudo-terminal: stderr is a terminal.
        let command = ["ip", "netns", "exec", k.namespace, TCPIPCommand.path, "fetch", "--tun", "tunfetch3",
                       "--ip", "192.0.2.2/24", "http://192.0.2.1:8080/five.bin", "-o", out].joined(separator: " ")
        let r = try await runSeparately(["/usr/bin/script", "-qec", command, "/dev/null"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        let tty = String(decoding: r.stdout, as: UTF8.self)
        #expect(tty.contains("\r[") && tty.contains("]  ") && tty.contains("/ 5.0 MiB"), "a bar: \(tty.debugDescription)")
        #expect(tty.contains("\u{1B}[K"), "each update erases the rest of the line: \(tty.debugDescription)")
        #expect(tty.contains("\rdone: 5.0 MiB in "), "the last line replaces the bar: \(tty.debugDescription)")
        let (got, want) = (try await Self.sha256(out), try await Self.sha256(served))
        #expect(got == want)
    }

    @Test func fetchOfAMissingPathExitsNonZeroWithTheStatusInOneLineAndNoFile() async throws {
        guard Self.ready("tcpip fetch 404 test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tap", device: "tapfetch1")
        try await k.startHTTP()
        let out = k.directory.appendingPathComponent("missing.out").path
        let r = try await k.fetch("--tap", ["http://192.0.2.1:8080/no-such-file", "-o", out], seconds: 20)
        #expect(!r.timedOut)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr == "tcpip: fetch: server answered 404 File not found\n")
        #expect(!FileManager.default.fileExists(atPath: out), "a failed request leaves no file")
    }

    @Test func fetchToAClosedPortExitsNonZeroWithConnectionRefused() async throws {
        guard Self.ready("tcpip fetch refused test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tap", device: "tapfetch2")
        let r = try await k.fetch("--tap", ["http://192.0.2.1:8081/f", "-o", k.directory.appendingPathComponent("f").path], seconds: 20)
        #expect(!r.timedOut)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr == "tcpip: fetch: 192.0.2.1:8081: connection refused\n")
    }

    @Test func fetchInterruptedBySIGINTExitsWith130() async throws {
        guard Self.ready("tcpip fetch SIGINT test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tun", device: "tunfetch2")
        // A listener that never answers: the kernel completes the handshake, no response comes.
        let silent = try ChildProcess(["ip", "netns", "exec", k.namespace, "/usr/bin/python3", "-c",
                                       "import socket, time\ns = socket.socket()\ns.bind(('192.0.2.1', 8090))\ns.listen()\ntime.sleep(30)"])
        defer { silent.signal(SIGKILL) }
        try await k.waitListening(port: 8090)

        let p = try ChildProcess(["ip", "netns", "exec", k.namespace, TCPIPCommand.path, "fetch", "--tun", "tunfetch2",
                                  "--ip", "192.0.2.2/24", "http://192.0.2.1:8090/slow"], separateStandardError: true)
        defer { p.signal(SIGKILL) }
        // Connected and waiting for the response: the kernel shows the established connection.
        let established = try await waitUntil(seconds: 5, interval: .milliseconds(50)) {
            guard p.isRunning else { return false }
            let r = try await k.ns.run(["ss", "-Htn", "state", "established", "src", "192.0.2.1:8090"])
            return !r.output.isEmpty
        }
        #expect(established, "no established connection to the silent listener")
        #expect(p.isRunning, "fetch ended before SIGINT")
        // `ip netns exec` execs the binary: the pid is ours.
        p.signal(SIGINT)
        #expect(await p.waitForExit(seconds: 5), "still running 5 s after SIGINT")
        if !p.isRunning {
            #expect(p.process.terminationReason == .exit)
            #expect(p.process.terminationStatus == 130)
        }
        let stderr = p.standardError
        #expect(stderr.hasSuffix("tcpip: fetch: interrupted\n"), "\(stderr)")
    }

    /// A kernel-side HTTP server (python, raw socket) at ADDR:PORT with the responses
    /// http.server does not give: `/chunked` (HTTP/1.1, Transfer-Encoding: chunked, 300000
    /// bytes in chunks of 1...40000 bytes, the body also written to DIR/chunked.expected),
    /// `/redirect` (301, Location: /elsewhere), `/short` (Content-Length 100000, closes
    /// after 40000 bytes), anything else 200 with body `hello`.
    private static let customServer = #"""
    import socket, sys, random, threading, os
    addr, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(11)
    body = rng.randbytes(300000)
    open(os.path.join(directory, "chunked.expected"), "wb").write(body)
    def serve(c):
        req = b""
        while b"\r\n\r\n" not in req:
            b = c.recv(4096)
            if not b: return
            req += b
        path = req.split(b" ")[1]
        if path == b"/chunked":
            out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"]
            i = 0
            while i < len(body):
                n = min(rng.randint(1, 40000), len(body) - i)
                out.append(b"%x;ext=1\r\n" % n + body[i:i+n] + b"\r\n")
                i += n
            out.append(b"0\r\nX-Trailer: yes\r\n\r\n")
            c.sendall(b"".join(out))
        elif path == b"/redirect":
            c.sendall(b"HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
        elif path == b"/short":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + bytes(40000))
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        c.shutdown(socket.SHUT_WR)
        c.settimeout(5)
        try:
            while c.recv(4096): pass
        except Exception: pass
        c.close()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    """#

    /// Starts `customServer` in the namespace at `address`:`port`; killed on deinit of the returned process holder.
    private static func startCustomServer(_ k: KernelHTTPServer, address: String, port: Int) async throws -> ChildProcess {
        let p = try ChildProcess(["ip", "netns", "exec", k.namespace, "/usr/bin/python3", "-c", customServer, address,
                                  String(port), k.directory.path])
        do { try await k.waitListening(address: address, port: port) } catch {
            p.signal(SIGKILL); throw error
        }
        return p
    }

    @Test func fetchSavesAChunkedBodyExactlyAndReportsRedirectsAndShortBodies() async throws {
        guard Self.ready("tcpip fetch chunked test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tap", device: "tapfetch3")
        let server = try await Self.startCustomServer(k, address: "192.0.2.1", port: 8081)
        defer { server.signal(SIGKILL) }

        let out = k.directory.appendingPathComponent("chunked.out").path
        let chunked = try await k.fetch("--tap", ["http://192.0.2.1:8081/chunked", "-o", out], seconds: 20)
        #expect(chunked.status == 0, "\(chunked.stderr)")
        #expect(chunked.stderr.hasPrefix("HTTP 200 OK, length unknown\n"), "\(chunked.stderr)")
        #expect(chunked.stderr.contains("done: 293.0 KiB in "), "\(chunked.stderr)")
        let expected = try Data(contentsOf: k.directory.appendingPathComponent("chunked.expected"))
        #expect(expected.count == 300000)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected)

        let redirect = try await k.fetch("--tap", ["http://192.0.2.1:8081/redirect"], seconds: 20)
        #expect(redirect.status == 1, "\(redirect.stderr)")
        #expect(redirect.stderr == "tcpip: fetch: redirect 301 to /elsewhere not followed\n")
        #expect(redirect.stdout.isEmpty)

        let short = try await k.fetch("--tap", ["http://192.0.2.1:8081/short", "-o", k.directory.appendingPathComponent("short.out").path], seconds: 20)
        #expect(short.status == 1, "\(short.stderr)")
        #expect(short.stderr.hasSuffix("tcpip: fetch: connection closed after 40000 of 100000 body bytes\n"), "\(short.stderr)")
    }

    @Test func fetchThroughTheGatewayReachesAnAddressOffTheLink() async throws {
        guard Self.ready("tcpip fetch gateway test") else { return }
        let k = try await KernelHTTPServer.make(kind: "tap", device: "tapfetch4")
        // 198.51.100.1 is the kernel's, but not on the TAP's /24: only the gateway leads there.
        let lo = try await k.ns.run(["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"])
        #expect(lo.status == 0, "\(lo.output)")
        let server = try await Self.startCustomServer(k, address: "198.51.100.1", port: 8082)
        defer { server.signal(SIGKILL) }
        let noRoute = try await k.fetch("--tap", ["http://198.51.100.1:8082/hello", "--connect-timeout", "2"], seconds: 10)
        #expect(noRoute.status == 1, "without --gateway there is no route: \(noRoute.stderr)")
        #expect(noRoute.stdout.isEmpty)
        #expect(noRoute.stderr.hasPrefix("tcpip: fetch: 198.51.100.1:8082: ") && noRoute.stderr.split(separator: "\n").count == 1, "\(noRoute.stderr)")
        let r = try await k.fetch("--tap", ["http://198.51.100.1:8082/hello", "--gateway", "192.0.2.1"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(String(decoding: r.stdout, as: UTF8.self) == "hello")
    }

    @Test func fetchRejectsURLsItCannotFetchAndAMissingDeviceWithAClearError() async throws {
        guard TCPIPCommand.binaryReady() else { return }
        let binary = TCPIPCommand.path
        let https = try await runSeparately([binary, "fetch", "--tap", "tap0", "--ip", "192.0.2.2/24", "https://192.0.2.1/f"], seconds: 10)
        #expect(https.status != 0)
        #expect(https.stderr.contains("only http:// URLs are supported"), "\(https.stderr)")
        let name = try await runSeparately([binary, "fetch", "--tap", "tap0", "--ip", "192.0.2.2/24", "http://example.org/f"], seconds: 10)
        #expect(name.status != 0)
        #expect(name.stderr.contains("'example.org' is not an IPv4 address"), "\(name.stderr)")
        let none = try await runSeparately([binary, "fetch", "--ip", "192.0.2.2/24", "http://192.0.2.1/f"], seconds: 10)
        #expect(none.status != 0)
        #expect(none.stderr.contains("give one device: --tap NAME or --tun NAME"), "\(none.stderr)")
    }
}
