import Foundation
import Testing

/// `tcpip fetch` run inside a fresh network namespace against the kernel: python's
/// http.server listens on 192.0.2.1 (the kernel side of a TAP or TUN made with
/// `ip tuntap add`), our binary attaches to that device as 192.0.2.2. Root required:
/// skipped with a message otherwise, a failure when CI=true.
@Suite("tcpip fetch over TAP and TUN", .serialized)
struct FetchCommandTests {
    private static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let binary: URL? = {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("tcpip"))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tcpip"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tcpip"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Root, iproute2, python3, sha256sum and the binary; records an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        let fm = FileManager.default
        let hasIP = fm.isExecutableFile(atPath: "/usr/sbin/ip") || fm.isExecutableFile(atPath: "/sbin/ip")
        let tools = fm.isExecutableFile(atPath: "/usr/bin/python3") && fm.isExecutableFile(atPath: "/usr/bin/sha256sum")
        let missing = getuid() != 0 || !hasIP ? "root and iproute2" : (!tools ? "/usr/bin/python3 and sha256sum" : (binary == nil ? "the tcpip binary" : nil))
        guard let missing else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(what): needs \(missing) — CI=true, so this is a failure")
        } else {
            print("SKIP \(what): needs \(missing)")
        }
        return false
    }

    private struct CLIError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Runs a command to completion (bounded: killed after `seconds`); stdout and stderr apart.
    private static func run(_ args: [String], seconds: Double = 10) throws -> (status: Int32, stdout: Data, stderr: String, timedOut: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let tmp = FileManager.default.temporaryDirectory
        let out = tmp.appendingPathComponent("tcpip-fetch-out-\(UUID().uuidString)")
        let err = tmp.appendingPathComponent("tcpip-fetch-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let timedOut = p.isRunning
        if timedOut { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        return (p.terminationStatus, (try? Data(contentsOf: out)) ?? Data(),
                (try? String(contentsOf: err, encoding: .utf8)) ?? "", timedOut)
    }

    private static func sha256(_ path: String) throws -> String {
        let r = try run(["/usr/bin/sha256sum", path], seconds: 20)
        guard r.status == 0, let line = String(data: r.stdout, encoding: .utf8), let hash = line.split(separator: " ").first else {
            throw CLIError("sha256sum \(path): \(r.stderr)")
        }
        return String(hash)
    }

    /// A namespace with a TAP or TUN device made by `ip tuntap add` (kernel side 192.0.2.1/24,
    /// up), a directory of files, and `python3 -m http.server` serving it on 192.0.2.1:8080.
    /// Everything is removed on deinit, also when the test fails.
    private final class KernelHTTPServer {
        let namespace = "tcpipfetch-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let device: String
        let directory: URL
        var server: Process?

        init(kind: String, device: String) throws {
            self.device = device
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-fetch-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let add = try FetchCommandTests.run(["ip", "netns", "add", namespace])
            guard add.status == 0 else { throw CLIError("ip netns add: \(add.stderr)") }
            for args in [["link", "set", "lo", "up"], ["tuntap", "add", device, "mode", kind],
                         ["addr", "add", "192.0.2.1/24", "dev", device], ["link", "set", device, "up"]] {
                let r = try FetchCommandTests.run(["ip", "-n", namespace] + args)
                guard r.status == 0 else { throw CLIError("ip \(args.joined(separator: " ")): \(r.stderr)") }
            }
        }

        deinit {
            if let server, server.isRunning { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            _ = try? FetchCommandTests.run(["ip", "netns", "del", namespace])
            try? FileManager.default.removeItem(at: directory)
        }

        /// Writes `count` random bytes to `name` in the served directory; returns its path.
        func makeFile(_ name: String, count: Int) throws -> String {
            let path = directory.appendingPathComponent(name).path
            let r = try FetchCommandTests.run(["sh", "-c", "head -c \(count) /dev/urandom > '\(path)'"], seconds: 20)
            guard r.status == 0 else { throw CLIError("random file: \(r.stderr)") }
            return path
        }

        /// Starts the kernel-side HTTP server and waits (bounded) until it listens.
        func startHTTP() throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["ip", "netns", "exec", namespace, "/usr/bin/python3", "-m", "http.server", "8080",
                           "--bind", "192.0.2.1", "--directory", directory.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            server = p
            try waitListening(port: 8080)
        }

        /// Waits (bounded, 5 s) until something listens on `address`:`port` in the namespace.
        func waitListening(address: String = "192.0.2.1", port: Int) throws {
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                let r = try FetchCommandTests.run(["ip", "netns", "exec", namespace, "ss", "-Hltn", "src", "\(address):\(port)"])
                if r.status == 0, !r.stdout.isEmpty { return }
                usleep(50_000)
            }
            throw CLIError("nothing listens on \(address):\(port) after 5 s")
        }

        /// `tcpip fetch --tap|--tun DEVICE --ip 192.0.2.2/24 ARGS...` inside the namespace.
        func fetch(_ flag: String, _ args: [String], seconds: Double = 30) throws -> (status: Int32, stdout: Data, stderr: String, timedOut: Bool) {
            try FetchCommandTests.run(["ip", "netns", "exec", namespace, FetchCommandTests.binary!.path, "fetch",
                                       flag, device, "--ip", "192.0.2.2/24"] + args, seconds: seconds)
        }
    }

    /// The 50 MB download over `kind`, checked byte for byte; prints the rate `done:` reports.
    private func downloadsFiftyMegabytes(kind: String, flag: String, device: String) throws {
        let k = try KernelHTTPServer(kind: kind, device: device)
        let size = 50 * 1024 * 1024
        let served = try k.makeFile("big.bin", count: size)
        try k.startHTTP()
        let out = k.directory.appendingPathComponent("out.bin").path
        let r = try k.fetch(flag, ["http://192.0.2.1:8080/big.bin", "-o", out], seconds: 40)
        #expect(!r.timedOut, "fetch still running after 40 s: \(r.stderr)")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "the body went to -o, nothing to stdout")
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.size] as? NSNumber)?.intValue == size)
        #expect(try Self.sha256(out) == Self.sha256(served))
        // stderr is not a terminal here: plain lines, the head first, `done:` last.
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.first == "HTTP 200 OK, \(size) bytes", "\(r.stderr)")
        #expect(lines.last?.hasPrefix("done: 50.0 MiB in ") == true, "\(r.stderr)")
        #expect(!r.stderr.contains("\r"), "no terminal control characters when stderr is not a terminal")
        print("fetch over \(kind.uppercased()): \(lines.last ?? "")")
    }

    @Test func fetchOverTAPSavesA50MBFileIdenticalToTheServedOne() throws {
        guard Self.ready("tcpip fetch TAP test") else { return }
        try downloadsFiftyMegabytes(kind: "tap", flag: "--tap", device: "tapfetch0")
    }

    @Test func fetchOverTUNSavesA50MBFileIdenticalToTheServedOne() throws {
        guard Self.ready("tcpip fetch TUN test") else { return }
        try downloadsFiftyMegabytes(kind: "tun", flag: "--tun", device: "tunfetch0")
    }

    @Test func fetchWithoutOutputWritesTheBodyToStdoutAndProgressToStderr() throws {
        guard Self.ready("tcpip fetch stdout test") else { return }
        let k = try KernelHTTPServer(kind: "tun", device: "tunfetch1")
        let served = try k.makeFile("small.bin", count: 100_000)
        try k.startHTTP()
        let r = try k.fetch("--tun", ["http://192.0.2.1:8080/small.bin"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try Data(contentsOf: URL(fileURLWithPath: served))))
        #expect(r.stderr.hasPrefix("HTTP 200 OK, 100000 bytes\n"), "\(r.stderr)")
        #expect(r.stderr.contains("done: 97.7 KiB in "), "\(r.stderr)")
    }

    @Test func fetchOnATerminalDrawsABarUpdatedInPlace() throws {
        guard Self.ready("tcpip fetch terminal test") else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("util-linux script missing — CI=true, so this is a failure") }
            else { print("SKIP tcpip fetch terminal test: needs /usr/bin/script") }
            return
        }
        let k = try KernelHTTPServer(kind: "tun", device: "tunfetch3")
        let served = try k.makeFile("five.bin", count: 5 * 1024 * 1024)
        try k.startHTTP()
        let out = k.directory.appendingPathComponent("five.out").path
        // script(1) gives the command a pseudo-terminal: stderr is a terminal.
        let command = ["ip", "netns", "exec", k.namespace, Self.binary!.path, "fetch", "--tun", "tunfetch3",
                       "--ip", "192.0.2.2/24", "http://192.0.2.1:8080/five.bin", "-o", out].joined(separator: " ")
        let r = try Self.run(["/usr/bin/script", "-qec", command, "/dev/null"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        let tty = String(decoding: r.stdout, as: UTF8.self)
        #expect(tty.contains("\r[") && tty.contains("]  ") && tty.contains("/ 5.0 MiB"), "a bar: \(tty.debugDescription)")
        #expect(tty.contains("\u{1B}[K"), "each update erases the rest of the line: \(tty.debugDescription)")
        #expect(tty.contains("\rdone: 5.0 MiB in "), "the last line replaces the bar: \(tty.debugDescription)")
        #expect(try Self.sha256(out) == Self.sha256(served))
    }

    @Test func fetchOfAMissingPathExitsNonZeroWithTheStatusInOneLineAndNoFile() throws {
        guard Self.ready("tcpip fetch 404 test") else { return }
        let k = try KernelHTTPServer(kind: "tap", device: "tapfetch1")
        try k.startHTTP()
        let out = k.directory.appendingPathComponent("missing.out").path
        let r = try k.fetch("--tap", ["http://192.0.2.1:8080/no-such-file", "-o", out], seconds: 20)
        #expect(!r.timedOut)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr == "tcpip: fetch: server answered 404 File not found\n")
        #expect(!FileManager.default.fileExists(atPath: out), "a failed request leaves no file")
    }

    @Test func fetchToAClosedPortExitsNonZeroWithConnectionRefused() throws {
        guard Self.ready("tcpip fetch refused test") else { return }
        let k = try KernelHTTPServer(kind: "tap", device: "tapfetch2")
        let r = try k.fetch("--tap", ["http://192.0.2.1:8081/f", "-o", k.directory.appendingPathComponent("f").path], seconds: 20)
        #expect(!r.timedOut)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr == "tcpip: fetch: 192.0.2.1:8081: connection refused\n")
    }

    @Test func fetchInterruptedBySIGINTExitsWith130() throws {
        guard Self.ready("tcpip fetch SIGINT test") else { return }
        let k = try KernelHTTPServer(kind: "tun", device: "tunfetch2")
        // A listener that never answers: the kernel completes the handshake, no response comes.
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        silent.arguments = ["ip", "netns", "exec", k.namespace, "/usr/bin/python3", "-c",
                            "import socket, time\ns = socket.socket()\ns.bind(('192.0.2.1', 8090))\ns.listen()\ntime.sleep(30)"]
        try silent.run()
        defer { if silent.isRunning { kill(silent.processIdentifier, SIGKILL); silent.waitUntilExit() } }
        try k.waitListening(port: 8090)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", k.namespace, Self.binary!.path, "fetch", "--tun", "tunfetch2",
                       "--ip", "192.0.2.2/24", "http://192.0.2.1:8090/slow"]
        let err = k.directory.appendingPathComponent("sigint.err")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // Connected and waiting for the response: the kernel shows the established connection.
        var established = false
        let connectDeadline = Date().addingTimeInterval(5)
        while !established && Date() < connectDeadline && p.isRunning {
            let r = try Self.run(["ip", "netns", "exec", k.namespace, "ss", "-Htn", "state", "established", "src", "192.0.2.1:8090"])
            established = !r.stdout.isEmpty
            if !established { usleep(50_000) }
        }
        #expect(established, "no established connection to the silent listener")
        #expect(p.isRunning, "fetch ended before SIGINT")
        // `ip netns exec` execs the binary: the pid is ours.
        kill(p.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(5)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!p.isRunning, "still running 5 s after SIGINT")
        if !p.isRunning {
            #expect(p.terminationReason == .exit)
            #expect(p.terminationStatus == 130)
        }
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
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
    private static func startCustomServer(_ k: KernelHTTPServer, address: String, port: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", k.namespace, "/usr/bin/python3", "-c", customServer, address, String(port), k.directory.path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        do { try k.waitListening(address: address, port: port) } catch {
            kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); throw error
        }
        return p
    }

    @Test func fetchSavesAChunkedBodyExactlyAndReportsRedirectsAndShortBodies() throws {
        guard Self.ready("tcpip fetch chunked test") else { return }
        let k = try KernelHTTPServer(kind: "tap", device: "tapfetch3")
        let server = try Self.startCustomServer(k, address: "192.0.2.1", port: 8081)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        let out = k.directory.appendingPathComponent("chunked.out").path
        let chunked = try k.fetch("--tap", ["http://192.0.2.1:8081/chunked", "-o", out], seconds: 20)
        #expect(chunked.status == 0, "\(chunked.stderr)")
        #expect(chunked.stderr.hasPrefix("HTTP 200 OK, length unknown\n"), "\(chunked.stderr)")
        #expect(chunked.stderr.contains("done: 293.0 KiB in "), "\(chunked.stderr)")
        let expected = try Data(contentsOf: k.directory.appendingPathComponent("chunked.expected"))
        #expect(expected.count == 300000)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected)

        let redirect = try k.fetch("--tap", ["http://192.0.2.1:8081/redirect"], seconds: 20)
        #expect(redirect.status == 1, "\(redirect.stderr)")
        #expect(redirect.stderr == "tcpip: fetch: redirect 301 to /elsewhere not followed\n")
        #expect(redirect.stdout.isEmpty)

        let short = try k.fetch("--tap", ["http://192.0.2.1:8081/short", "-o", k.directory.appendingPathComponent("short.out").path], seconds: 20)
        #expect(short.status == 1, "\(short.stderr)")
        #expect(short.stderr.hasSuffix("tcpip: fetch: connection closed after 40000 of 100000 body bytes\n"), "\(short.stderr)")
    }

    @Test func fetchThroughTheGatewayReachesAnAddressOffTheLink() throws {
        guard Self.ready("tcpip fetch gateway test") else { return }
        let k = try KernelHTTPServer(kind: "tap", device: "tapfetch4")
        // 198.51.100.1 is the kernel's, but not on the TAP's /24: only the gateway leads there.
        let lo = try Self.run(["ip", "-n", k.namespace, "addr", "add", "198.51.100.1/32", "dev", "lo"])
        #expect(lo.status == 0, "\(lo.stderr)")
        let server = try Self.startCustomServer(k, address: "198.51.100.1", port: 8082)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let noRoute = try k.fetch("--tap", ["http://198.51.100.1:8082/hello", "--connect-timeout", "2"], seconds: 10)
        #expect(noRoute.status == 1, "without --gateway there is no route: \(noRoute.stderr)")
        #expect(noRoute.stdout.isEmpty)
        #expect(noRoute.stderr.hasPrefix("tcpip: fetch: 198.51.100.1:8082: ") && noRoute.stderr.split(separator: "\n").count == 1, "\(noRoute.stderr)")
        let r = try k.fetch("--tap", ["http://198.51.100.1:8082/hello", "--gateway", "192.0.2.1"], seconds: 20)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(String(decoding: r.stdout, as: UTF8.self) == "hello")
    }

    @Test func fetchRejectsURLsItCannotFetchAndAMissingDeviceWithAClearError() throws {
        guard let binary = Self.binary else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("tcpip binary not found") }
            return
        }
        let https = try Self.run([binary.path, "fetch", "--tap", "tap0", "--ip", "192.0.2.2/24", "https://192.0.2.1/f"])
        #expect(https.status != 0)
        #expect(https.stderr.contains("only http:// URLs are supported"), "\(https.stderr)")
        let name = try Self.run([binary.path, "fetch", "--tap", "tap0", "--ip", "192.0.2.2/24", "http://example.org/f"])
        #expect(name.status != 0)
        #expect(name.stderr.contains("'example.org' is not an IPv4 address"), "\(name.stderr)")
        let none = try Self.run([binary.path, "fetch", "--ip", "192.0.2.2/24", "http://192.0.2.1/f"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("give one device: --tap NAME or --tun NAME"), "\(none.stderr)")
    }
}
