import Foundation
import Testing
import NetworkTestSupport
import TCPIP
import TCPIPDevices
import TCPIPRuntime

/// Our stack (192.0.2.2) on a TUN device whose kernel side (192.0.2.1/24) lives in a fresh
/// network namespace. Everything is torn down when the value goes away, also on failure.
private final class KernelBehindTUN {
    static let kernelIP = "192.0.2.1"
    static let ourIP = IPv4Address(192, 0, 2, 2)

    let namespace: NetworkNamespace
    let device: TunTapDevice
    let stack: TCPStack

    init(kind: TunTapDevice.Kind = .tun, configuration: TCPConfiguration = KernelBehindTUN.testConfiguration) throws {
        namespace = try NetworkNamespace(prefix: "tcpiprt")
        device = try TunTapDevice(name: "\(kind == .tun ? "tunrt" : "taprt")\(namespace.suffix.prefix(8))", kind: kind)
        try namespace.adopt(interface: device.name)
        _ = try? namespace.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try namespace.exec(["ip", "addr", "add", "\(KernelBehindTUN.kernelIP)/24", "dev", device.name])
        try namespace.exec(["ip", "link", "set", device.name, "up"])
        stack = try TCPStack(interface: device, address: KernelBehindTUN.ourIP, configuration: configuration)
    }

    /// TIME-WAIT shortened to 2 × 100 ms so tables empty quickly.
    static var testConfiguration: TCPConfiguration {
        var c = TCPConfiguration()
        c.maximumSegmentLifetime = .milliseconds(100)
        return c
    }

    /// Runs Debian's python (not a pyenv shim) inside the namespace.
    func python(_ script: String, _ arguments: [String] = [], seconds: Double) async throws -> (status: Int32?, output: String) {
        try await runAsync(["ip", "netns", "exec", namespace.name, "/usr/bin/python3", "-c", script] + arguments, seconds: seconds)
    }

    /// Waits (bounded) until `condition` holds on the stack's statistics.
    func waitForStatistics(seconds: Double, _ condition: (TCPStackStatistics) -> Bool) async -> TCPStackStatistics {
        let deadline = Date().addingTimeInterval(seconds)
        var s = await stack.statistics()
        while !condition(s) && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            s = await stack.statistics()
        }
        return s
    }
}

/// An echo service on `listener` until it is closed: each connection echoes until EOF, then closes.
private func echoService(_ listener: TCPListener) -> Task<Int, Never> {
    Task {
        await withTaskGroup(of: Void.self) { group -> Int in
            var accepted = 0
            do {
                for try await s in listener {
                    accepted += 1
                    group.addTask {
                        do {
                            while true {
                                let b = try await s.read(maxBytes: 65536)
                                if b.isEmpty { break }
                                try await s.write(b)
                            }
                        } catch {}
                        s.close()
                    }
                }
            } catch {}
            await group.waitForAll()
            return accepted
        }
    }
}

/// A client that sends N pseudo-random bytes per connection (while reading concurrently),
/// half-closes, reads to EOF and checks the echo byte for byte. Prints one line per
/// connection ("OK n sha" or "BAD ...") then "TOTAL ok elapsed".
private let echoClient = #"""
import socket, sys, threading, time, hashlib, random
n, port, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
results = [None] * conns
def one(i):
    data = random.Random(1000 + i).randbytes(n)
    try:
        s = socket.create_connection(("192.0.2.2", port), timeout=30)
        got = bytearray()
        def rx():
            while True:
                b = s.recv(65536)
                if not b: break
                got.extend(b)
        t = threading.Thread(target=rx); t.start()
        s.sendall(data); s.shutdown(socket.SHUT_WR)
        t.join(40); s.close()
        results[i] = ("OK" if bytes(got) == data else "BAD", len(got), hashlib.sha256(got).hexdigest()[:16], hashlib.sha256(data).hexdigest()[:16])
    except Exception as e:
        results[i] = ("ERR", repr(e))
t0 = time.monotonic()
threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
for t in threads: t.start()
for t in threads: t.join(60)
dt = time.monotonic() - t0
for r in results: print(*r) if r else print("NONE")
print("TOTAL", sum(1 for r in results if r and r[0] == "OK"), "%.3f" % dt)
"""#

@Suite("The stack against the Linux kernel over TUN", .serialized, .prioritized)
struct KernelInteropTests {
    @Test func kernelClientEchoesOneMegabyteThroughOurListener() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        let listener = try await k.stack.listen(port: 7)
        let service = echoService(listener)
        let r = try await k.python(echoClient, ["1048576", "7", "1"], seconds: 30)
        listener.close()
        let accepted = await value(of: service, within: 5)
        print("1 MB echo through TUN:", r.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(r.status == 0, "client: \(r.output)")
        #expect(r.output.hasPrefix("OK 1048576 "), "client: \(r.output)")
        #expect(r.output.contains("TOTAL 1 "))
        #expect(accepted == 1)
        let s = await k.waitForStatistics(seconds: 3) { $0.connections == 0 }
        #expect(s.connections == 0)
        #expect(s.host.drops.damaged == 0)
        await k.stack.shutdown(gracePeriod: .milliseconds(500))
    }

    @Test func ourStreamDownloadsFourMegabytesFromKernelHTTPServer() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpiprt-\(k.namespace.suffix)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var generator = SeededRandom(seed: 42)
        let size = 4 << 20
        let body = (0..<(size / 8)).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        try Data(body).write(to: dir.appendingPathComponent("blob"))
        let server = try ChildProcess(["ip", "netns", "exec", k.namespace.name, "/usr/bin/python3", "-m", "http.server",
                                       "--bind", KernelBehindTUN.kernelIP, "--directory", dir.path, "8080"])
        defer { server.stop() }

        // The server needs a moment to bind: retry refused connects, bounded.
        var stream: TCPStream? = nil
        for _ in 0..<100 where stream == nil {
            do {
                stream = try await k.stack.connect(to: IPv4Address(192, 0, 2, 1), port: 8080, timeout: .seconds(3))
            } catch TCPStreamError.connectionRefused {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let s = try #require(stream, "http.server never accepted: \(server.output)")
        let start = ContinuousClock.now
        let response = try await within(90) { () -> [UInt8] in
            try await s.write(Array("GET /blob HTTP/1.0\r\nHost: 192.0.2.1\r\n\r\n".utf8))
            var response: [UInt8] = []
            while response.count < size + 4096 {
                let b = try await s.read(maxBytes: 1 << 16)
                if b.isEmpty { break }
                response += b
            }
            return response
        }
        let elapsed = ContinuousClock.now - start
        s.close()
        let headerEnd = try #require(response.firstRange(of: Array("\r\n\r\n".utf8)), "no header end")
        let header = String(decoding: response[..<headerEnd.lowerBound], as: UTF8.self)
        #expect(header.hasPrefix("HTTP/1.0 200"), "\(header)")
        #expect(header.contains("Content-Length: \(size)"))
        let received = Array(response[headerEnd.upperBound...])
        #expect(received.count == size)
        #expect(received == body)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "4 MB download from the kernel over TUN: %.3f s, %.1f MB/s", seconds, Double(size) / 1_048_576 / seconds))
        let st = await k.waitForStatistics(seconds: 3) { $0.connections == 0 }
        #expect(st.connections == 0)
        await k.stack.shutdown(gracePeriod: .milliseconds(500))
    }

    @Test func synToAClosedPortGetsResetAndTheKernelSeesConnectionRefused() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        let script = #"""
        import socket
        try:
            socket.create_connection(("192.0.2.2", 9), timeout=3)
            print("CONNECTED")
        except ConnectionRefusedError:
            print("REFUSED")
        except Exception as e:
            print("OTHER", repr(e))
        """#
        let r = try await k.python(script, seconds: 10)
        #expect(r.output.trimmingCharacters(in: .whitespacesAndNewlines) == "REFUSED")
        let s = await k.stack.statistics()
        #expect(s.host.resetsSent == 1)
        #expect(s.host.drops.noListener == 1)
        #expect(s.connections == 0)
        await k.stack.shutdown(gracePeriod: .milliseconds(200))
    }

    @Test func ourConnectToAClosedKernelPortIsRefused() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        await #expect(throws: TCPStreamError.connectionRefused) {
            try await k.stack.connect(to: IPv4Address(192, 0, 2, 1), port: 9, timeout: .seconds(3))
        }
        let s = await k.stack.statistics()
        #expect(s.host.connectionsOpened == 1)
        #expect(s.connections == 0)
        await k.stack.shutdown(gracePeriod: .milliseconds(200))
    }

    @Test func kernelClientEchoesOneMegabyteThroughOurListenerOverTAP() async throws {
        guard Privilege.requireRoot("TAP interop test") else { return }
        let k = try KernelBehindTUN(kind: .tap)
        let listener = try await k.stack.listen(port: 7)
        let service = echoService(listener)
        let r = try await k.python(echoClient, ["1048576", "7", "1"], seconds: 30)
        listener.close()
        let accepted = await value(of: service, within: 5)
        print("1 MB echo through TAP:", r.output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(r.status == 0, "client: \(r.output)")
        #expect(r.output.hasPrefix("OK 1048576 "), "client: \(r.output)")
        #expect(accepted == 1)
        let s = await k.waitForStatistics(seconds: 3) { $0.connections == 0 }
        #expect(s.connections == 0)
        #expect(s.host.drops.damaged == 0)
        await k.stack.shutdown(gracePeriod: .milliseconds(500))
    }

    @Test func aBareHostOnATAPDeviceIsRefused() throws {
        guard Privilege.requireRoot("TAP device test") else { return }
        let tap = try TunTapDevice(name: "taprt\(String(UInt32.random(in: 0...UInt32.max), radix: 16))", kind: .tap)
        let host = IPv4Host(address: KernelBehindTUN.ourIP, seed: 1)
        #expect(throws: TCPStackError.tapNeedsEthernetInterface) {
            try TCPStack(interface: tap, processor: host)
        }
    }

    @Test func hundredConcurrentKernelConnectionsEachEchoHundredKilobytes() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        let listener = try await k.stack.listen(port: 7, backlog: 128)
        let service = echoService(listener)
        let r = try await k.python(echoClient, ["102400", "7", "100"], seconds: 60)
        listener.close()
        let accepted = await value(of: service, within: 5)
        if accepted == nil { print("echo service still busy after the client ended:", await k.stack.statistics()) }
        print("100 × 100 KB echo through TUN:", r.output.split(separator: "\n").last.map(String.init) ?? "")
        let lines = r.output.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("OK 102400 ") }.count == 100, "client: \(r.output.prefix(2000))")
        #expect(lines.last?.hasPrefix("TOTAL 100 ") == true)
        #expect(accepted == 100)
        // All closed, and nothing left once TIME-WAIT (200 ms here) has passed.
        let s = await k.waitForStatistics(seconds: 5) { $0.connections == 0 && $0.openStreams == 0 }
        #expect(s.connections == 0)
        #expect(s.openStreams == 0)
        #expect(s.host.connectionsSpawned == 100)
        #expect(s.host.connectionsRemoved == 100)
        await k.stack.shutdown(gracePeriod: .milliseconds(500))
    }

    @Test func segmentWithBadChecksumIsDroppedAndCounted() async throws {
        guard Privilege.requireRoot("TUN interop test") else { return }
        let k = try KernelBehindTUN()
        let listener = try await k.stack.listen(port: 7)  // kept: dropping it stops listening
        // A SYN to our listening port through a raw socket (the kernel adds the IP header,
        // not the TCP checksum): first with a wrong checksum, then with the right one.
        let script = #"""
        import socket, struct, sys
        def csum(b):
            if len(b) % 2: b += b"\0"
            s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
            while s >> 16: s = (s & 0xFFFF) + (s >> 16)
            return ~s & 0xFFFF
        src, dst = socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2")
        hdr = struct.pack("!HHIIBBHHH", 40000, 7, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
        good = csum(src + dst + struct.pack("!BBH", 0, 6, len(hdr)) + hdr)
        bad = good ^ 0x5555
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        which = sys.argv[1]
        c = bad if which == "bad" else good
        s.sendto(hdr[:16] + struct.pack("!H", c) + hdr[18:], ("192.0.2.2", 0))
        print("SENT", which)
        """#
        let before = await k.stack.statistics()
        let r1 = try await k.python(script, ["bad"], seconds: 10)
        #expect(r1.output.contains("SENT bad"), "\(r1.output)")
        let afterBad = await k.waitForStatistics(seconds: 3) { $0.host.drops.badTCPChecksum > before.host.drops.badTCPChecksum }
        #expect(afterBad.host.drops.badTCPChecksum == before.host.drops.badTCPChecksum + 1)
        #expect(afterBad.host.connectionsSpawned == before.host.connectionsSpawned)
        #expect(afterBad.host.packetsOut == before.host.packetsOut)  // nothing answered it
        // The same segment with the right checksum is taken: it spawns a connection.
        let r2 = try await k.python(script, ["good"], seconds: 10)
        #expect(r2.output.contains("SENT good"), "\(r2.output)")
        let afterGood = await k.waitForStatistics(seconds: 3) { $0.host.connectionsSpawned > before.host.connectionsSpawned }
        #expect(afterGood.host.connectionsSpawned == before.host.connectionsSpawned + 1, "\(afterGood)")
        #expect(afterGood.host.drops.badTCPChecksum == before.host.drops.badTCPChecksum + 1)
        listener.close()
        await k.stack.shutdown(gracePeriod: .milliseconds(200))
    }
}
