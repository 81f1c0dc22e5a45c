import Foundation
import NetworkTestSupport
import Testing

/// `tcpip serve http --root DIR` run inside a fresh network namespace (it creates its TAP or
/// TUN there), fetched by the kernel's TCP through `curl` in the same namespace. Root
/// required: skipped with a message otherwise, a failure when CI=true.
@Suite("tcpip serve http over TAP and TUN", .serialized, .prioritized)
struct ServeHTTPCommandTests {
    /// Root, iproute2, curl, sha256sum and the binary; records an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        TCPIPCommand.ready(what, tools: ["/usr/bin/curl", "/usr/bin/sha256sum"])
    }

    /// A temporary directory: `site/` (the root: `big.bin`, 50 MB of random bytes, and
    /// `index.html`) and, beside it, `secret.txt` that must never be served. Removed on deinit.
    private final class SiteFixture {
        static let bigSize = 50 * 1024 * 1024
        let base: URL
        var site: URL { base.appendingPathComponent("site") }
        let index = "<html><body>tcpip index page</body></html>\n"
        let secret = "SECRET-OUTSIDE-THE-ROOT\n"
        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-http-site-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: base.appendingPathComponent("site"), withIntermediateDirectories: true)
            var rng = SystemRandomNumberGenerator()
            var big = [UInt8](repeating: 0, count: Self.bigSize)
            big.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for i in words.indices { words[i] = rng.next() }
            }
            try Data(big).write(to: site.appendingPathComponent("big.bin"))
            try Data(index.utf8).write(to: site.appendingPathComponent("index.html"))
            try Data(secret.utf8).write(to: base.appendingPathComponent("secret.txt"))
        }
        deinit { try? FileManager.default.removeItem(at: base) }
    }

    /// VmHWM (peak resident set, kB) of a process. The server's pid is the one we started:
    /// `env` and `ip netns exec` exec, they do not fork.
    private static func peakRSS(_ pid: Int32) -> Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    /// The hex SHA-256 of a file, by /usr/bin/sha256sum.
    private static func sha256(_ path: String) async throws -> String {
        let r = try await runAsync(["/usr/bin/sha256sum", path], seconds: 20)
        return String(r.output.prefix(64))
    }

    /// Serves the fixture through a new TAP or TUN device and checks, with curl in the
    /// namespace: the 50 MB download is byte-identical, HEAD gives 200 and the length, a
    /// missing path 404, `..` paths 404 without the file outside the root, and two URLs in
    /// one curl reuse one connection. Returns the download rate in bytes per second.
    private static func checkSite(device: String, kind: String, what: String) async throws -> Double? {
        guard ready(what) else { return nil }
        let fixture = try SiteFixture()
        let ns = try await NetworkNamespace.make(prefix: "tcpiphttp")
        let server = try TCPIPCommand.start(in: ns, ["serve", "http", "--\(kind)", device, "--ip", "192.0.2.2/24",
                                                     "--port", "80", "--root", fixture.site.path])
        #expect(await server.waitFor(text: "serving http from", seconds: 5), "\(server.output)")
        try await ns.runChecked(["ip", "addr", "add", "192.0.2.1/24", "dev", device])
        let url = "http://192.0.2.2:80"

        // The whole file, then its digest against the original's.
        let hwmBefore = peakRSS(server.pid)
        let out = fixture.base.appendingPathComponent("download.bin").path
        let get = try await ns.run(["curl", "-sS", "--max-time", "40", "-o", out,
                               "-w", "%{http_code} %{size_download} %{speed_download}", "\(url)/big.bin"], seconds: 45)
        let fields = get.output.split(separator: " ")
        #expect(fields.first == "200", "\(get.output)\n\(server.output)")
        #expect(fields.count == 3 && fields[1] == "\(SiteFixture.bigSize)", "\(get.output)")
        let (got, want) = (try await sha256(out), try await sha256(fixture.site.appendingPathComponent("big.bin").path))
        #expect(got == want)
        let rate = fields.count == 3 ? Double(fields[2]) : nil
        // Files are streamed in chunks: the server's peak memory grew by far less than the file.
        let hwmAfter = peakRSS(server.pid)
        #expect(hwmBefore != nil && hwmAfter != nil && hwmAfter! - hwmBefore! < 16 * 1024,
                "peak RSS \(hwmBefore ?? -1) -> \(hwmAfter ?? -1) kB for a \(SiteFixture.bigSize / 1024) kB file")
        print("serve http over \(kind): server peak RSS \(hwmBefore ?? -1) kB before, \(hwmAfter ?? -1) kB after the download")

        // HEAD: status and length, no body.
        let head = try await ns.run(["curl", "-sS", "-I", "--max-time", "5", "\(url)/big.bin"])
        #expect(head.output.hasPrefix("HTTP/1.1 200"), "\(head.output)")
        #expect(head.output.lowercased().contains("content-length: \(SiteFixture.bigSize)\r\n"), "\(head.output)")

        // A missing path, and `..` that would leave the root (sent as-is by curl).
        for path in ["/missing.bin", "/../secret.txt", "/../../../../../../etc/passwd", "/%2e%2e/secret.txt"] {
            let r = try await ns.run(["curl", "-sS", "--path-as-is", "--max-time", "5", "-w", "\nSTATUS %{http_code}", url + path])
            #expect(r.output.hasSuffix("STATUS 404"), "\(path): \(r.output)")
            #expect(!r.output.contains("SECRET-OUTSIDE") && !r.output.contains("root:x:0:0"), "\(path): \(r.output)")
        }

        // Keep-alive: two URLs in one curl run go over one connection.
        let two = try await ns.run(["curl", "-sS", "-v", "--max-time", "5", "\(url)/index.html", "\(url)/"])
        #expect(two.output.components(separatedBy: fixture.index).count == 3, "both bodies: \(two.output)")
        #expect(two.output.contains("Re-using existing connection"), "\(two.output)")
        #expect(two.output.components(separatedBy: "Connected to 192.0.2.2").count == 2, "one connect: \(two.output)")

        server.signal(SIGTERM)
        #expect(await server.waitForExit(seconds: 5), "still running 5 s after SIGTERM")
        if !server.process.isRunning { #expect(server.process.terminationStatus == 0, "\(server.output)") }
        return rate
    }

    @Test func serveHTTPOverTAPSendsFiftyMegabytesIntactAndKeepsAlive() async throws {
        if let rate = try await Self.checkSite(device: "taphttp0", kind: "tap", what: "tcpip serve http TAP test") {
            print("serve http over TAP: 50 MB at \(String(format: "%.1f", rate / 1_000_000)) MB/s")
        }
    }

    @Test func serveHTTPOverTUNSendsFiftyMegabytesIntactAndKeepsAlive() async throws {
        if let rate = try await Self.checkSite(device: "tunhttp0", kind: "tun", what: "tcpip serve http TUN test") {
            print("serve http over TUN: 50 MB at \(String(format: "%.1f", rate / 1_000_000)) MB/s")
        }
    }

    @Test func serveHTTPBuiltinPagePipelinesClosesIdleConnectionsAndAnswersBadRequestsWithoutReset() async throws {
        guard Self.ready("tcpip serve http built-in page test") else { return }
        let ns = try await NetworkNamespace.make(prefix: "tcpiphttp")
        let server = try TCPIPCommand.start(in: ns, ["serve", "http", "--tun", "tunhttp1", "--ip", "192.0.2.2/24",
                                                     "--port", "80", "--idle-timeout", "1"])
        defer { withExtendedLifetime(server) {} }  // the server runs until the end of the test
        #expect(await server.waitFor(text: "serving http on 192.0.2.2:80", seconds: 5), "\(server.output)")
        try await ns.runChecked(["ip", "addr", "add", "192.0.2.1/24", "dev", "tunhttp1"])
        let page = try await ns.run(["curl", "-sS", "--max-time", "5", "-w", "\nSTATUS %{http_code} %{content_type}", "http://192.0.2.2/"])
        #expect(page.output.contains("<svg") && page.output.contains("logo.png"), "\(page.output)")
        #expect(page.output.hasSuffix("STATUS 200 text/html; charset=utf-8"), "\(page.output)")
        let png = try await ns.run(["curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code} %{content_type}", "http://192.0.2.2/logo.png"])
        #expect(png.output == "200 image/png", "\(png.output)")

        let script = #"""
        import socket, time, re
        def until_eof(s):
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b: return bytes(got)
                got.extend(b)
        # Idle keep-alive connection: one request answered, then our FIN after --idle-timeout 1.
        s = socket.create_connection(("192.0.2.2", 80), timeout=5)
        s.sendall(b"GET /logo.svg HTTP/1.1\r\nHost: t\r\n\r\n")
        t0 = time.monotonic()
        try:
            got = until_eof(s)
            dt = time.monotonic() - t0
            print("IDLE", got.split(b"\r\n")[0].decode(), "EOF within 0.9-10 s" if 0.9 <= dt < 10 else "EOF after %.2f" % dt)
        except Exception as e:
            print("IDLE", repr(e))
        # Two pipelined requests in one segment: both answered, in order, then the close asked for.
        s = socket.create_connection(("192.0.2.2", 80), timeout=5)
        s.sendall(b"GET /logo.svg HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        try:
            got = until_eof(s)
            print("PIPELINED", " ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 \d{3} [A-Za-z ]+(?=\r\n)", got)), "then EOF")
        except Exception as e:
            print("PIPELINED", repr(e))
        # A malformed request followed by more bytes: the 400 arrives, then a FIN, not a RST.
        s = socket.create_connection(("192.0.2.2", 80), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n" + b"x" * 150000)
        time.sleep(0.3)
        s.sendall(b"y" * 3000)
        try:
            got = until_eof(s)
            time.sleep(0.2)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            print("BAD", got.split(b"\r\n")[0].decode(), "then EOF", "and RST" if err else "and no RST")
        except Exception as e:
            print("BAD", repr(e))
        """#
        let r = try await ns.run(["/usr/bin/python3", "-c", script], seconds: 15)
        #expect(r.output.contains("IDLE HTTP/1.1 200 OK EOF within 0.9-10 s"), "\(r.output)")  // loose upper bound: heavy suites run beside it
        #expect(r.output.contains("PIPELINED HTTP/1.1 200 OK HTTP/1.1 404 Not Found then EOF"), "\(r.output)")
        #expect(r.output.contains("BAD HTTP/1.1 400 Bad Request then EOF and no RST"), "\(r.output)")
    }

    @Test func serveHTTPResetsTheConnectionWhenTheFileShrinksOrTheClientStopsReading() async throws {
        guard Self.ready("tcpip serve http shrinking file test") else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-http-shrink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("shrinks.bin")
        let size = 30_000_000
        try Data(count: size).write(to: file)
        let ns = try await NetworkNamespace.make(prefix: "tcpiphttp")
        let server = try TCPIPCommand.start(in: ns, ["serve", "http", "--tun", "tunhttp2", "--ip", "192.0.2.2/24",
                                                     "--port", "80", "--root", dir.path, "--idle-timeout", "1"])
        defer { withExtendedLifetime(server) {} }  // the server runs until the end of the test
        #expect(await server.waitFor(text: "serving http from", seconds: 5), "\(server.output)")
        try await ns.runChecked(["ip", "addr", "add", "192.0.2.1/24", "dev", "tunhttp2"])
        // curl reads at 2 MB/s; after 1 s the file is cut to 1 MB, below what was already sent:
        // the promised Content-Length cannot be met, so the server resets (curl exit 56).
        let shell = "(sleep 1; truncate -s 1000000 '\(file.path)') & ip netns exec \(ns.name) curl -sS --limit-rate 2M -o /dev/null "
            + "-w 'GOT %{http_code} %{size_download}\\n' http://192.0.2.2/shrinks.bin; echo \"EXIT $?\"; wait"
        let r = try await runAsync(["/bin/sh", "-c", shell], seconds: 20)
        #expect(r.output.contains("Connection reset by peer") && r.output.contains("EXIT 56"), "\(r.output)")
        let got = r.output.split(separator: "\n").first { $0.hasPrefix("GOT 200 ") }.flatMap { Int($0.split(separator: " ")[2]) }
        #expect(got != nil && got! < size, "\(r.output)")
        // The server goes on serving.
        let again = try await ns.run(["curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "http://192.0.2.2/shrinks.bin"])
        #expect(again.output == "200 1000000", "\(again.output)")

        // A client that asks for the 1 MB and reads nothing: a small receive buffer fills,
        // the window closes, our write makes no progress for --idle-timeout 1 -> RST.
        let script = #"""
        import socket, time, errno
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(5)
        s.connect(("192.0.2.2", 80))
        s.sendall(b"GET /shrinks.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        err = 0
        deadline = time.monotonic() + 15   # about 1 s expected; loose for a loaded machine
        while err == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        print("STALLED", errno.errorcode.get(err, err))
        """#
        let stalled = try await ns.run(["/usr/bin/python3", "-c", script], seconds: 25)
        #expect(stalled.output.contains("STALLED ECONNRESET"), "\(stalled.output)")
    }

    @Test func serveRejectsRootForOtherServicesAndAMissingRoot() async throws {
        guard TCPIPCommand.binaryReady() else { return }
        let binary = TCPIPCommand.path
        let echo = try await runAsync([binary, "serve", "echo", "--tun", "tun0", "--ip", "192.0.2.2/24", "--port", "7", "--root", "/tmp"], seconds: 10)
        #expect(echo.status != 0)
        #expect(echo.output.contains("--root is for http only"), "\(echo.output)")
        let missing = try await runAsync([binary, "serve", "http", "--tun", "tun0", "--ip", "192.0.2.2/24", "--port", "80",
                                          "--root", "/nonexistent-\(UUID().uuidString)"], seconds: 10)
        #expect(missing.status != 0)
        #expect(missing.output.contains("is not a readable directory"), "\(missing.output)")
    }
}
