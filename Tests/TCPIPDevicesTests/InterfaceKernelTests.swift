import Foundation
import Testing
import NetworkTestSupport
import TCPIP
import TCPIPDevices

/// Our `Interface` at 192.0.2.2 behind a TAP whose kernel side, in a fresh network
/// namespace, is 192.0.2.1/24; a small bounded loop in the test moves frames.
///
/// `@unchecked Sendable`: `run` drives it from a thread of its own (off the cooperative
/// pool) while the test awaits; nothing else touches it meanwhile.
private final class InterfaceBehindTAP: @unchecked Sendable {
    let namespace: NetworkNamespace
    let device: TunTapDevice
    let interface: Interface
    let origin = DispatchTime.now().uptimeNanoseconds

    init(kind: TunTapDevice.Kind = .tap) throws {
        namespace = try NetworkNamespace(prefix: "tcpipif")
        device = try TunTapDevice(name: "\(kind == .tap ? "tap" : "tun")\(namespace.suffix)", kind: kind)
        try namespace.adopt(interface: device.name)
        _ = try? namespace.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try namespace.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", device.name])
        try namespace.exec(["ip", "link", "set", device.name, "up"])
        let config = InterfaceConfiguration(link: kind == .tap ? .ethernet(MACAddress(0x02, 0, 0, 0, 0, 0x02)) : .ip,
                                            address: IPv4Address(192, 0, 2, 2), prefixLength: 24, mtu: 1500)
        interface = try Interface(configuration: config, seed: 42)
    }

    var now: Instant { Instant(nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds - origin)) }

    /// Runs `arguments` in the namespace while driving the interface; returns its exit
    /// status and output. Bounded by `seconds` (the command is terminated past it).
    func run(_ arguments: [String], seconds: Double,
             tick: @escaping @Sendable () -> Void = {}) async throws -> (status: Int32, output: String) {
        try await offThePool { try self.runBlocking(arguments, seconds: seconds, tick: tick) }
    }

    private func runBlocking(_ arguments: [String], seconds: Double, tick: () -> Void) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", namespace.name] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let deadline = Date().addingTimeInterval(seconds)
        var rx = [UInt8](repeating: 0, count: 65536)
        var tx = [UInt8](repeating: 0, count: interface.frameCapacity)
        var iterations = 0
        while p.isRunning && Date() < deadline && iterations < 100_000 {
            iterations += 1
            tick()
            for _ in 0..<256 {
                let n = tx.withUnsafeMutableBytes { interface.poll(now: now, into: $0) }
                if n == 0 { break }
                _ = try tx.withUnsafeBytes { try device.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            guard try device.waitReadable(timeoutMilliseconds: 10) else { continue }
            for _ in 0..<64 {
                guard let n = try rx.withUnsafeMutableBytes({ try device.read(into: $0) }), n > 0 else { break }
                rx.withUnsafeBytes { interface.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
            }
        }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (p.terminationStatus, out)
    }
}

/// `ping` when installed; otherwise the same exchange from Debian's python3 over a raw
/// ICMP socket (the kernel builds, fragments and reassembles the datagrams as for ping).
private func pingCommand(_ destination: String, count: Int, size: Int) -> [String]? {
    for path in ["/usr/bin/ping", "/bin/ping"] where FileManager.default.isExecutableFile(atPath: path) {
        return [path, "-c", "\(count)", "-i", "0.2", "-W", "2", "-s", "\(size)", destination]
    }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return nil }
    let script = """
    import os, socket, struct, sys, time
    dst, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.2)
    ident = os.getpid() & 0xffff
    def csum(b):
        if len(b) % 2: b += b'\\0'
        t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
        t = (t >> 16) + (t & 0xffff); t += t >> 16
        return ~t & 0xffff
    got = 0
    for seq in range(1, count + 1):
        data = bytes(i & 0xff for i in range(size))
        c = csum(struct.pack('!BBHHH', 8, 0, 0, ident, seq) + data)
        s.sendto(struct.pack('!BBHHH', 8, 0, c, ident, seq) + data, (dst, 0))
        deadline = time.time() + 2
        while time.time() < deadline:
            try: r, a = s.recvfrom(70000)
            except socket.timeout: continue
            icmp = r[(r[0] & 15) * 4:]
            if len(icmp) >= 8 and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq):
                if icmp[8:] == data and csum(icmp) == 0:
                    got += 1
                    print('%d bytes from %s: icmp_seq=%d' % (len(icmp), a[0], seq))
                break
        time.sleep(0.05)
    print('%d packets transmitted, %d received' % (count, got))
    sys.exit(0 if got == count else 1)
    """
    return ["/usr/bin/python3", "-c", script, destination, "\(count)", "\(size)"]
}

/// An echo service on the host behind the interface: every byte read is written back;
/// once the peer has closed and everything went back, the connection is closed.
private final class EchoLoop: @unchecked Sendable {  // ticked only by the run thread while the test awaits
    let host: IPv4Host
    let port: UInt16
    var handles: [ConnectionHandle] = []
    var pending: [ConnectionHandle: [UInt8]] = [:]
    var closed: Set<ConnectionHandle> = []
    var echoed = 0
    var buffer = [UInt8](repeating: 0, count: 65536)

    init(host: IPv4Host, port: UInt16) throws {
        self.host = host
        self.port = port
        try host.listen(port: port)
    }

    func tick() {
        while let h = host.accept(port: port) { handles.append(h) }
        for h in handles where !closed.contains(h) {
            guard let c = host.connection(h) else { closed.insert(h); continue }
            var out = pending[h] ?? []
            let n = buffer.withUnsafeMutableBytes { host.read(h, into: $0) }
            out.append(contentsOf: buffer[0..<n])
            if !out.isEmpty {
                let w = host.write(h, out)
                echoed += w
                out.removeFirst(w)
            }
            pending[h] = out
            if out.isEmpty && c.readableBytes == 0 && c.state == .closeWait {
                host.close(h)
                closed.insert(h)
            }
        }
    }
}

private let tcpClientScript = """
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
s = socket.create_connection(('192.0.2.2', int(sys.argv[1])), timeout=5)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    got += b
print('echoed %d bytes %s' % (len(got), 'exact' if bytes(got) == data else 'MISMATCH'))
sys.exit(0 if bytes(got) == data else 1)
"""

private let refusedScript = """
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(('192.0.2.2', 81))
    print('connected')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
"""

@Suite("Interface against the Linux kernel over TAP", .serialized, .prioritized)
struct InterfaceKernelTests {
    @Test func kernelPingIsAnsweredByOurInterface() async throws {
        guard Privilege.requireRoot("Interface TAP test") else { return }
        let cmd = try #require(pingCommand("192.0.2.2", count: 3, size: 56), "neither ping nor /usr/bin/python3")
        let k = try InterfaceBehindTAP()
        let r = try await k.run(cmd, seconds: 15)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("3 received"), "\(r.output)")
        #expect(k.interface.counters.echoRepliesSent == 3)
        #expect(k.interface.counters.arpRequestsAnswered >= 1)
        #expect(k.interface.counters.drops.badIPChecksum == 0)
    }

    @Test func kernelPingOfThreeThousandBytesIsReassembledAndAnsweredInFragments() async throws {
        guard Privilege.requireRoot("Interface TAP test") else { return }
        let cmd = try #require(pingCommand("192.0.2.2", count: 3, size: 3000), "neither ping nor /usr/bin/python3")
        let k = try InterfaceBehindTAP()
        let r = try await k.run(cmd, seconds: 15)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("3 received"), "\(r.output)")
        // 3008 ICMP bytes in and out: reassembled here, three fragments back each time.
        #expect(k.interface.counters.datagramsReassembled == 3)
        #expect(k.interface.counters.echoRepliesSent == 3)
        #expect(k.interface.counters.fragmentsSent == 9)
    }

    @Test func ourPingOfThreeThousandBytesIsAnsweredByTheKernel() async throws {
        guard Privilege.requireRoot("Interface TAP test") else { return }
        let k = try InterfaceBehindTAP()
        let kernel = IPv4Address(192, 0, 2, 1)
        var replies: [PingReply] = []
        for seq in UInt16(1)...3 {
            try k.interface.sendPing(to: kernel, sequence: seq, size: 3000, now: k.now)
            _ = try await k.run(["sleep", "0.3"], seconds: 3)
            while let e = k.interface.nextPingEvent() { if case .reply(let p) = e { replies.append(p) } }
        }
        #expect(replies.map(\.sequence) == [1, 2, 3])
        #expect(replies.allSatisfy { $0.size == 3000 && $0.dataMatches && $0.from == kernel })
        #expect(k.interface.counters.datagramsReassembled == 3)
    }

    @Test func kernelTCPClientEchoesTwoHundredKilobytesExactly() async throws {
        guard Privilege.requireRoot("Interface TAP test") else { return }
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "no /usr/bin/python3")
        let k = try InterfaceBehindTAP()
        let echo = try EchoLoop(host: k.interface.host, port: 7)
        let r = try await k.run(["/usr/bin/python3", "-c", tcpClientScript, "7", "204800"], seconds: 20, tick: { echo.tick() })
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("echoed 204800 bytes exact"), "\(r.output)")
        #expect(echo.echoed == 204_800)
        #expect(k.interface.host.counters.drops.total == 0, "\(k.interface.host.counters.drops)")
        #expect(k.interface.counters.drops.total == 0, "\(k.interface.counters.drops)")
    }

    @Test func kernelSYNToClosedPortIsRefused() async throws {
        guard Privilege.requireRoot("Interface TAP test") else { return }
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "no /usr/bin/python3")
        let k = try InterfaceBehindTAP()
        let r = try await k.run(["/usr/bin/python3", "-c", refusedScript], seconds: 10)
        #expect(r.output.contains("refused"), "\(r.output)")
        #expect(k.interface.host.counters.resetsSent == 1)
    }

    @Test func kernelPingThroughTUNIsAnsweredInIPMode() async throws {
        guard Privilege.requireRoot("Interface TUN test") else { return }
        let cmd = try #require(pingCommand("192.0.2.2", count: 3, size: 3000), "neither ping nor /usr/bin/python3")
        let k = try InterfaceBehindTAP(kind: .tun)
        let r = try await k.run(cmd, seconds: 15)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("3 received"), "\(r.output)")
        #expect(k.interface.counters.datagramsReassembled == 3)
        #expect(k.interface.counters.fragmentsSent == 9)
        #expect(k.interface.counters.arpRequestsSent == 0)
    }
}
