import Foundation
import Testing
import NetworkTestSupport
import TCPIP
import TCPIPDevices
import TCPIPRuntime

private let serverIP = IPv4Address(192, 0, 2, 1)
private let clientIP = IPv4Address(192, 0, 2, 2)

/// Two stacks over an AF_UNIX datagram socket pair (no root): 192.0.2.1 and 192.0.2.2.
private func udpPair() throws -> (client: TCPStack, server: TCPStack) {
    let (a, b) = SocketPairEnd.pair()
    return (try TCPStack(interface: a, address: clientIP, seed: 1), try TCPStack(interface: b, address: serverIP, seed: 2))
}

private func bytes(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

@Suite("Async UDP sockets over a socket pair", .prioritized)
struct UDPSocketTests {
    @Test func datagramsGoBothWaysByteExactWithSourceAddressAndPort() async throws {
        let (client, server) = try udpPair()
        let s = try await server.bindUDP(port: 5353)
        let c = try await client.bindUDP()  // ephemeral
        #expect(s.port == 5353)
        #expect(c.port >= 49152)
        #expect(c.address == clientIP)
        try await within(60) {
            for (i, n) in [1, 1472, 3000, 0].enumerated() {  // 3000: fragmented and reassembled
                let out = bytes(n, seed: UInt8(i))
                try await c.send(out, to: serverIP, port: 5353)
                let got = try await s.receive()
                #expect(got.bytes == out)
                #expect(got.from == clientIP)
                #expect(got.port == c.port)
                try await s.send(Array(got.bytes.reversed()), to: got.from, port: got.port)
                let back = try await c.receive()
                #expect(back.bytes == Array(out.reversed()))
                #expect(back.from == serverIP && back.port == 5353)
            }
        }
        await #expect(throws: UDPSocketError.portInUse) { try await server.bindUDP(port: 5353) }
        c.close(); s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func portUnreachableForASentDatagramFailsTheNextReceiveOnce() async throws {
        let (client, server) = try udpPair()
        let c = try await client.bindUDP(port: 4000)
        let listening = try await server.bindUDP(port: 4001)
        try await c.send([1, 2, 3], to: serverIP, port: 9)  // nobody there: the server answers ICMP
        await #expect(throws: UDPSocketError.portUnreachable(serverIP, port: 9)) {
            try await within(60) { try await c.receive() }
        }
        // Reported once: the socket keeps working.
        try await listening.send([7], to: clientIP, port: 4000)
        let got = try await within(60) { try await c.receive() }
        #expect(got.bytes == [7] && got.from == serverIP && got.port == 4001)
        c.close(); listening.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func cancellingAPendingReceiveLeavesTheNextDatagramForTheNextReceive() async throws {
        let (client, server) = try udpPair()
        let s = try await server.bindUDP(port: 6000)
        let c = try await client.bindUDP()
        let pending = Task { try await s.receive() }
        try await Task.sleep(for: .milliseconds(100))
        pending.cancel()
        let r = await pending.result
        #expect(throws: CancellationError.self) { try r.get() }
        // Cancelled before it reaches the loop: resumes too.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await s.receive()
        }
        let r_early = await early.result
        #expect(throws: CancellationError.self) { try r_early.get() }
        try await c.send([42, 43], to: serverIP, port: 6000)
        let got = try await within(60) { try await s.receive() }
        #expect(got.bytes == [42, 43])
        #expect(await s.pendingDatagrams() == 0)
        c.close(); s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func theReceiveQueueIsBoundedAndOverflowIsCounted() async throws {
        let (client, server) = try udpPair()
        let s = try await server.bindUDP(port: 6001, queueLimit: 4)
        let c = try await client.bindUDP()
        for i in 0..<10 { try await c.send([UInt8(i)], to: serverIP, port: 6001) }
        // Bounded wait until all ten have arrived (4 kept, 6 dropped).
        var dropped = 0
        for _ in 0..<200 {
            dropped = await s.droppedDatagrams()
            if dropped == 6 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(dropped == 6)
        #expect(await s.pendingDatagrams() == 4)
        for i in 0..<4 { #expect(try await within(60) { try await s.receive() }.bytes == [UInt8(i)]) }
        c.close(); s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func closeFailsAPendingReceiveAndShutdownFailsWithStackStopped() async throws {
        let (client, server) = try udpPair()
        let s = try await server.bindUDP(port: 6002)
        let pending = Task { try await s.receive() }
        try await Task.sleep(for: .milliseconds(50))
        s.close()
        let r_pending = await pending.result
        #expect(throws: UDPSocketError.closed) { try r_pending.get() }
        await #expect(throws: UDPSocketError.closed) { try await s.send([1], to: clientIP, port: 1) }
        // The port is free again.
        let again = try await server.bindUDP(port: 6002)
        let stopped = Task { try await again.receive() }
        try await Task.sleep(for: .milliseconds(50))
        await server.shutdown(gracePeriod: .zero)
        let r_stopped = await stopped.result
        #expect(throws: TCPStreamError.stackStopped) { try r_stopped.get() }
        await #expect(throws: TCPStreamError.stackStopped) { try await server.bindUDP(port: 1) }
        await client.shutdown(gracePeriod: .zero)
    }

    @Test func aClosedSocketDoesNotTouchALaterBindingOfItsPort() async throws {
        let (client, server) = try udpPair()
        var old: UDPSocket? = try await server.bindUDP(port: 6003)
        old?.close()
        let fresh = try await server.bindUDP(port: 6003)
        let c = try await client.bindUDP()
        // The old object fails; closing it again or dropping it leaves the new binding alone.
        await #expect(throws: UDPSocketError.closed) { try await old?.receive() }
        old?.close()
        old = nil
        try await c.send([5], to: serverIP, port: 6003)
        #expect(try await within(60) { try await fresh.receive() }.bytes == [5])
        c.close(); fresh.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func aBurstOfConcurrentSendsPastTheTransmitQueueLosesNothingInTheStack() async throws {
        let (client, server) = try udpPair()
        let s = try await server.bindUDP(port: 6004, queueLimit: 1000)
        let c = try await client.bindUDP()
        // 600 sends at once: more than the interface's transmit queue (256) can hold in one
        // loop round, so some wait for room instead of failing.
        try await within(60) {
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<600 { g.addTask { try await c.send([UInt8(i & 0xFF), UInt8(i >> 8)], to: serverIP, port: 6004) } }
                try await g.waitForAll()
            }
        }
        // Every datagram either arrives or was refused by the socket-pair link itself (its
        // queue is bounded too: a device write drop, counted); none is lost in the stack.
        var seen = Set<Int>()
        var linkDrops = 0
        let deadline = Date().addingTimeInterval(30)
        while seen.count + linkDrops < 600 && Date() < deadline {
            if await s.pendingDatagrams() > 0 {
                let d = try await within(60) { try await s.receive() }
                seen.insert(Int(d.bytes[0]) | Int(d.bytes[1]) << 8)
            } else {
                linkDrops = await client.statistics().deviceWriteDrops
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(seen.count + linkDrops == 600, "received \(seen.count), link drops \(linkDrops)")
        #expect(seen.isSubset(of: Set(0..<600)))
        #expect(await s.droppedDatagrams() == 0)
        c.close(); s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func sendErrorsAreTyped() async throws {
        let (client, server) = try udpPair()
        let c = try await client.bindUDP()
        await #expect(throws: UDPSocketError.noRoute) { try await c.send([1], to: IPv4Address(198, 51, 100, 9), port: 7) }
        await #expect(throws: UDPSocketError.noRoute) { try await c.send([1], to: serverIP, port: 0) }
        await #expect(throws: UDPSocketError.datagramTooLarge) {
            try await c.send([UInt8](repeating: 0, count: 65508), to: serverIP, port: 7)
        }
        c.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func aStackRunningABareHostHasNoUDP() async throws {
        let (a, _) = SocketPairEnd.pair()
        let stack = try TCPStack(interface: a, processor: IPv4Host(address: clientIP, seed: 7))
        await #expect(throws: UDPSocketError.needsInterface) { try await stack.bindUDP() }
        await stack.shutdown(gracePeriod: .zero)
    }
}

/// Our stack (192.0.2.2) on a TUN device whose kernel side (192.0.2.1/24) is in a fresh
/// namespace, torn down when the value goes away.
private final class UDPKernelBehindTUN {
    let namespace: NetworkNamespace
    let device: TunTapDevice
    let stack: TCPStack

    init() throws {
        namespace = try NetworkNamespace(prefix: "tcpipudp")
        device = try TunTapDevice(name: "tunudp\(namespace.suffix.prefix(8))", kind: .tun)
        try namespace.adopt(interface: device.name)
        _ = try? namespace.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try namespace.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", device.name])
        try namespace.exec(["ip", "link", "set", device.name, "up"])
        stack = try TCPStack(interface: device, address: clientIP)
    }
}

/// Echoes `n` datagrams on 192.0.2.1:7007, printing each one's length and sha256, then exits.
private let udpEcho = #"""
import socket, sys, hashlib
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 7007))
s.settimeout(90)  # generous: the test bundle may be slow to send on a loaded machine
print("READY", flush=True)
for _ in range(n):
    d, a = s.recvfrom(65535)
    print("GOT", len(d), hashlib.sha256(d).hexdigest()[:16], a[0], a[1], flush=True)
    s.sendto(d, a)
"""#

@Suite("Async UDP sockets against the Linux kernel over TUN", .serialized, .prioritized)
struct UDPSocketKernelTests {
    @Test func kernelEchoesDatagramsByteExactAndItsPortUnreachableSurfaces() async throws {
        guard Privilege.requireRoot("UDP TUN interop test") else { return }
        let k = try UDPKernelBehindTUN()
        let sizes = [5, 1400, 4000]  // 4000: fragmented by us, reassembled by the kernel and back
        let echo = try ChildProcess(["ip", "netns", "exec", k.namespace.name, "/usr/bin/python3", "-c", udpEcho,
                                     String(sizes.count)])
        defer { echo.stop() }
        for _ in 0..<250 where !echo.output.contains("READY") { try await Task.sleep(for: .milliseconds(20)) }
        try #require(echo.output.contains("READY"), "echo server: \(echo.output)")
        let sock = try await k.stack.bindUDP()
        try await within(30) {
            for (i, n) in sizes.enumerated() {
                let out = bytes(n, seed: UInt8(100 + i))
                try await sock.send(out, to: IPv4Address(192, 0, 2, 1), port: 7007)
                let back = try await sock.receive()
                #expect(back.bytes == out, "datagram \(i) of \(n) bytes")
                #expect(back.from == IPv4Address(192, 0, 2, 1) && back.port == 7007)
            }
        }
        _ = await echo.wait(seconds: 5)
        // The kernel saw exactly what we sent, from our address and port.
        let lines = echo.output.split(separator: "\n").filter { $0.hasPrefix("GOT") }
        #expect(lines.count == sizes.count, "\(echo.output)")
        for (line, n) in zip(lines, sizes) {
            let f = line.split(separator: " ")
            #expect(f.count == 5 && f[1] == "\(n)" && f[3] == "192.0.2.2" && f[4] == "\(sock.port)", "\(line)")
        }
        // Nothing listens on 7008 now: the kernel's ICMP port unreachable fails our next receive.
        try await sock.send([9], to: IPv4Address(192, 0, 2, 1), port: 7008)
        await #expect(throws: UDPSocketError.portUnreachable(IPv4Address(192, 0, 2, 1), port: 7008)) {
            try await within(30) { try await sock.receive() }
        }
        sock.close()
        await k.stack.shutdown(gracePeriod: .zero)
    }
}
