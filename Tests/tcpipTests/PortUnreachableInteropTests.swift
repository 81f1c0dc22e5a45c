import Foundation
import NetworkTestSupport
import Testing

/// UDP to a port of `tcpip serve` where nothing listens: the stack answers ICMP port
/// unreachable, which the kernel turns into ECONNREFUSED on the sender's connected socket.
/// A raw ICMP socket in the kernel's namespace shows the packet itself, and tshark decodes
/// the same packet from a tcpdump capture on the device. Root required: skipped with a
/// message otherwise, a failure when CI=true.
@Suite("tcpip serve answers UDP to a closed port with ICMP port unreachable", .serialized, .prioritized)
struct PortUnreachableInteropTests {
    /// Sends one datagram from a connected UDP socket to 192.0.2.2:9999, then prints what
    /// the next recv did ("RECV REFUSED" expected) and the ICMP destination unreachable
    /// the raw socket saw: its IP source and destination, type, code, whether its checksum
    /// holds, its length, and the quoted datagram's header fields, UDP ports (the source
    /// compared with our socket's), UDP length and checksum compared with what was sent.
    private static let probe = #"""
    import socket, struct, time
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    raw.settimeout(5)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("192.0.2.1", 0))
    u.connect(("192.0.2.2", 9999))
    u.settimeout(5)
    print("LOCAL PORT", u.getsockname()[1])
    payload = b"tcpip port unreachable probe"
    u.send(payload)
    try:
        u.recv(100)
        print("RECV DATA")
    except ConnectionRefusedError:
        print("RECV REFUSED")
    except socket.timeout:
        print("RECV TIMEOUT")
    def checksum(b):
        if len(b) % 2: b += b"\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16: s = (s & 0xFFFF) + (s >> 16)
        return s
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pkt, addr = raw.recvfrom(65535)
        ihl = (pkt[0] & 15) * 4
        icmp = pkt[ihl:]
        if icmp[0] != 3:
            continue
        q = icmp[8:]
        qihl = (q[0] & 15) * 4
        sport, dport, ulen, usum = struct.unpack("!HHHH", q[qihl:qihl + 8])
        print("ICMP", socket.inet_ntoa(pkt[12:16]), "->", socket.inet_ntoa(pkt[16:20]),
              "type", icmp[0], "code", icmp[1], "checksum", "ok" if checksum(icmp) == 0xFFFF else "bad", "length", len(icmp))
        print("QUOTED", socket.inet_ntoa(q[12:16]), "->", socket.inet_ntoa(q[16:20]), "proto", q[9],
              "total", struct.unpack("!H", q[2:4])[0], "header", qihl,
              "sport", "ours" if sport == u.getsockname()[1] else sport, "dport", dport, "ulen", ulen,
              "bytes after the UDP header", len(q) - qihl - 8)
        break
    else:
        print("ICMP none")
    """#

    @Test(arguments: ["tap", "tun"])
    func udpToAClosedPortIsRefusedWithICMPPortUnreachableQuotingTheDatagram(kind: String) async throws {
        guard TCPIPCommand.ready("tcpip serve port unreachable over \(kind)",
                                 tools: ["/usr/bin/python3", "/usr/bin/tcpdump", "/usr/bin/tshark"]) else { return }
        let device = "\(kind)unr0"
        let served = try await ServedNamespace.start(service: "echo", kind: kind, device: device, ["--port", "7"],
                                                     prefix: "tcpipunr")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-unreachable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("icmp.pcap")
        // Immediate mode: the packet is written at once, not when a buffer block fills; -c 1:
        // exit after it (children of the test process start with SIGINT and SIGTERM blocked).
        let tcpdump = try ChildProcess(["ip", "netns", "exec", served.namespace.name, "tcpdump", "-i", device, "-c", "1",
                                        "--immediate-mode", "-U", "-w", capture.path, "icmp"])
        defer { tcpdump.signal(SIGKILL) }
        #expect(await tcpdump.waitFor(text: "listening on \(device)", seconds: 10), "\(tcpdump.output)")

        let r = try await served.namespace.run(["/usr/bin/python3", "-c", Self.probe], seconds: 20)
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").map(String.init)
        #expect(lines.dropFirst().first == "RECV REFUSED", "\(r.output)")
        // Type 3 code 3 from the stack's address, 8 bytes of ICMP header and a quote of the
        // datagram's 20-byte IP header and its first 8 bytes (the UDP header), as RFC 792 asks.
        #expect(lines.contains("ICMP 192.0.2.2 -> 192.0.2.1 type 3 code 3 checksum ok length 36"), "\(r.output)")
        let payload = "tcpip port unreachable probe".utf8.count
        #expect(lines.contains("QUOTED 192.0.2.1 -> 192.0.2.2 proto 17 total \(20 + 8 + payload) header 20 sport ours dport 9999 ulen \(8 + payload) bytes after the UDP header 0"),
                "\(r.output)")
        // tshark's reading of the capture: outer and quoted addresses, type 3 code 3, a good
        // checksum, and the quoted UDP header's ports and length.
        #expect(await tcpdump.waitForExit(seconds: 10), "one ICMP packet, then tcpdump exits: \(tcpdump.output)")
        let port = try #require(lines.first.flatMap { $0.hasPrefix("LOCAL PORT ") ? Int($0.dropFirst(11)) : nil }, "\(r.output)")
        let tshark = try await runSeparately(["tshark", "-r", capture.path, "-T", "fields", "-e", "ip.src", "-e", "ip.dst",
                                              "-e", "icmp.type", "-e", "icmp.code", "-e", "icmp.checksum.status",
                                              "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length"], seconds: 30)
        #expect(tshark.status == 0, "\(tshark.stderr)")
        #expect(tshark.stdoutText == "192.0.2.2,192.0.2.1\t192.0.2.1,192.0.2.2\t3\t3\t1\t\(port)\t9999\t\(8 + payload)\n",
                "\(tshark.stdoutText.debugDescription) \(tshark.stderr)")

        let counters = try #require(await served.counters(), "no counters: \(served.server.output)")
        #expect(ServedNamespace.number(after: "RSTs sent for closed ports", in: counters) == 0, "\(counters)")
        #expect(await served.stop(), "exit 0 after SIGTERM: \(served.server.output)")
    }
}
