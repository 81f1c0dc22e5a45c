import Foundation
import Testing
import NetworkTestSupport

/// `tcpip serve echo --offload` on a TAP or TUN opened with the virtio-net header, against Linux
/// TCP in a fresh network namespace: the kernel hands the stack coalesced super-segments
/// with partial checksums, and the stack hands the kernel 64 KiB super-segments to cut.
/// Root required: skipped with a message otherwise, a failure when CI=true.
@Suite("tcpip --offload over TAP and TUN", .serialized)
struct OffloadCommandTests {
    /// Root, iproute2, python3 and the binary; an issue under CI=true when one is missing.
    private static func ready(_ what: String) -> Bool {
        TCPIPCommand.ready(what, tools: ["/usr/bin/python3"])
    }

    /// 10 MB each way at once through the echo service: every byte back in order; and the
    /// counters show the offload at work — fewer packets in and out together than the
    /// 7,242 segments of 1,448 bytes 10 MB would take in one direction without it.
    @Test(arguments: ["--tap", "--tun"])
    func echoOfTenMegabytesThroughSuperSegmentsBothWays(kind: String) async throws {
        guard Self.ready("tcpip --offload test") else { return }
        let device = kind == "--tap" ? "tapoff0" : "tunoff0"
        let served = try await ServedNamespace.start(service: "echo", kind: String(kind.dropFirst(2)), device: device,
                                                     ["--port", "7", "--mtu", "1500", "--offload"], prefix: "tcpipoff")
        let server = served.server
        #expect(server.output.contains("serving echo on 192.0.2.2:7"), "\(server.output)")

        let script = #"""
        import socket, random, threading, hashlib, time
        data = random.Random(11).randbytes(10_000_000)
        s = socket.create_connection(("192.0.2.2", 7), timeout=20)
        def send():
            s.sendall(data); s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        got = bytearray()
        while True:
            b = s.recv(1 << 20)
            if not b: break
            got.extend(b)
        t.join()
        print("ECHO", "OK" if bytes(got) == data else "BAD", len(got), hashlib.sha256(got).hexdigest()[:16])
        """#
        let client = try await served.namespace.run(["/usr/bin/python3", "-c", script], seconds: 40)
        #expect(client.output.contains("ECHO OK 10000000"), "\(client.output)")

        let exitedZero = await served.stop(seconds: 10)
        #expect(exitedZero, "\(server.output)")
        let out = server.output
        // "packets in N, out M" from the counters printed on exit.
        let line = out.split(separator: "\n").first { $0.hasPrefix("packets in ") }
        let numbers = line.map { $0.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } } ?? []
        try #require(numbers.count >= 2, "\(out)")
        let (packetsIn, packetsOut) = (numbers[0], numbers[1])
        print("offload echo \(kind): \(client.output.trimmingCharacters(in: .whitespacesAndNewlines)); packets in \(packetsIn), out \(packetsOut)")
        #expect(packetsIn + packetsOut < 7_242, "in \(packetsIn) out \(packetsOut): \(out)")
        #expect(!out.contains("device read drops"), "\(out)")
    }

    /// The impairment and the capture sit between the device and the stack and would pass
    /// super-segments on without their header: the combination is refused before any device
    /// is opened (no root needed).
    @Test(arguments: [["--impair", "loss=1%"], ["--pcap", "/tmp/never-written.pcap"], ["--trace"]])
    func offloadWithImpairPcapOrTraceIsRefused(extra: [String]) async throws {
        guard TCPIPCommand.binaryReady() else { return }
        let r = try await runAsync([TCPIPCommand.path, "serve", "echo", "--tap", "tapnever0", "--ip", "192.0.2.2/24",
                                    "--port", "7", "--offload"] + extra, seconds: 10)
        #expect(r.status != 0)
        #expect(r.output.contains("--offload cannot be combined with --impair, --pcap or --trace"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.pcap"))
    }
}
