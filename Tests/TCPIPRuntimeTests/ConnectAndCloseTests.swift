import Foundation
import Testing
import TCPIP
import TCPIPRuntime

private let peerIP = IPv4Address(192, 0, 2, 1)
private let ourIP = IPv4Address(192, 0, 2, 2)

/// A stack on one end of a socket pair whose other end the test reads and writes raw IPv4.
private struct RawPeer {
    let stack: TCPStack
    let raw: SocketPairEnd

    init(configuration: TCPConfiguration = .default) throws {
        let (a, b) = SocketPairEnd.pair()
        stack = try TCPStack(interface: a, address: ourIP, configuration: configuration, seed: 5)
        raw = b
    }

    /// The next packet the stack sent, waiting (without blocking a thread) up to `seconds`.
    func nextPacket(seconds: Double = 20) async throws -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(raw.fileDescriptor, $0.baseAddress, $0.count, 0) }
            if n > 0 { return Array(buf[0..<n]) }
            try await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    func send(_ packet: [UInt8]) {
        _ = packet.withUnsafeBytes { Foundation.send(raw.fileDescriptor, $0.baseAddress, $0.count, 0) }
    }

    /// An ICMP destination unreachable from the peer quoting `packet`'s header and 8 bytes.
    func unreachable(_ code: ICMPv4UnreachableCode, quoting packet: [UInt8]) throws -> [UInt8] {
        let m = ICMPv4Message.destinationUnreachable(code: code, nextHopMTU: 0, quoted: Array(packet.prefix(28))).bytes()
        return try IPv4Header(identification: 9, protocol: IPProtocol.icmp, source: peerIP, destination: ourIP,
                              payloadLength: m.count).bytes(payload: m)
    }
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

@Suite("Connect errors and lingering close through the runtime")
struct ConnectAndCloseTests {
    @Test func connectWithoutARouteFailsAtOnceWithNoRoute() async throws {
        let p = try RawPeer()  // 192.0.2.2/24, no gateway
        let start = ContinuousClock.now
        await #expect(throws: TCPStreamError.noRoute) {
            try await p.stack.connect(to: IPv4Address(198, 51, 100, 9), port: 80, timeout: .seconds(30))
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(1), "took \(seconds(elapsed)) s")
        #expect(await p.stack.connectionCount() == 0)
        #expect(await p.stack.statistics().host.connectionsOpened == 0)
        #expect(try await p.nextPacket(seconds: 0.2) == nil)  // nothing was sent
        await p.stack.shutdown(gracePeriod: .zero)
    }

    @Test func icmpUnreachableForTheSYNFailsTheConnectWithTheMatchingError() async throws {
        let p = try RawPeer()
        for (code, expected) in [(ICMPv4UnreachableCode.port, TCPStreamError.connectionRefused),
                                 (.host, .hostUnreachable), (.network, .hostUnreachable)] {
            let connecting = Task { try await p.stack.connect(to: peerIP, port: 80, timeout: .seconds(30)) }
            let syn = try #require(try await p.nextPacket(), "no SYN")
            try syn.withUnsafeBytes { b in
                let ip = try IPv4HeaderView(b)
                #expect(ip.dontFragment)
                #expect(try TCPHeaderView(ip.payload).flags == .syn)
            }
            // A forged one first (another sequence number): ignored, the connect goes on.
            var forged = syn
            forged[24] ^= 0x01
            p.send(try p.unreachable(code, quoting: forged))
            try await Task.sleep(for: .milliseconds(50))
            #expect(await p.stack.connectionCount() == 1)
            p.send(try p.unreachable(code, quoting: syn))
            let r = try await within(60) { await connecting.result }
            #expect(throws: expected) { try r.get() }
            #expect(await p.stack.connectionCount() == 0)
        }
        await p.stack.shutdown(gracePeriod: .zero)
    }

    @Test func lingerZeroCloseResetsAndLeavesNoConnectionBehind() async throws {
        var lingerZero = TCPConfiguration()
        lingerZero.linger = .zero
        let (a, b) = SocketPairEnd.pair()
        let client = try TCPStack(interface: a, address: ourIP, configuration: lingerZero, seed: 1)
        let server = try TCPStack(interface: b, address: peerIP, seed: 2)
        let listener = try await server.listen(port: 7)
        let c = try await client.connect(to: peerIP, port: 7, timeout: .seconds(5))
        let s = try await within(60) { try await listener.accept() }
        try await c.write([1, 2, 3])
        #expect(try await within(60) { try await s.read() } == [1, 2, 3])
        await #expect(throws: TCPStreamError.aborted) { try await c.closeAndWait() }
        #expect(await client.connectionCount() == 0)  // no FIN handshake, no TIME-WAIT
        await #expect(throws: TCPStreamError.connectionReset) { try await within(60) { try await s.read() } }
        s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func lingeringCloseResetsWhenThePeerDoesNotTakeTheDataInTime() async throws {
        var lingering = TCPConfiguration()
        lingering.linger = .milliseconds(300)
        var small = TCPConfiguration()
        small.receiveBufferSize = 16 * 1024
        let (a, b) = SocketPairEnd.pair()
        let client = try TCPStack(interface: a, address: ourIP, configuration: lingering, seed: 1)
        let server = try TCPStack(interface: b, address: peerIP, configuration: small, seed: 2)
        let listener = try await server.listen(port: 7)
        let c = try await client.connect(to: peerIP, port: 7, timeout: .seconds(5))
        let s = try await within(60) { try await listener.accept() }
        // 100 KB into a 16 KB window nobody reads: the FIN cannot go, let alone be acknowledged.
        try await c.write([UInt8](repeating: 0xAB, count: 100_000))
        let start = ContinuousClock.now
        await #expect(throws: TCPStreamError.aborted) { try await within(60) { try await c.closeAndWait() } }
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(290), "returned after \(seconds(waited)) s")
        #expect(await client.connectionCount() == 0)
        // The server gets the bytes that made it, then the reset.
        let (got, end) = try await within(60) { () -> (Int, (any Error)?) in
            var got = 0
            do {
                while true {
                    let chunk = try await s.read()
                    if chunk.isEmpty { return (got, nil) }
                    got += chunk.count
                }
            } catch { return (got, error) }
        }
        #expect(end as? TCPStreamError == .connectionReset)
        #expect(got > 0 && got <= 16 * 1024)
        s.close()
        await client.shutdown(gracePeriod: .zero)
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func closeAndWaitReturnsOnceEverythingIsAcknowledged() async throws {
        let (a, b) = SocketPairEnd.pair()
        var fast = TCPConfiguration()
        fast.maximumSegmentLifetime = .milliseconds(50)
        let client = try TCPStack(interface: a, address: ourIP, configuration: fast, seed: 1)
        let server = try TCPStack(interface: b, address: peerIP, configuration: fast, seed: 2)
        let listener = try await server.listen(port: 7)
        let c = try await client.connect(to: peerIP, port: 7, timeout: .seconds(5))
        let s = try await within(60) { try await listener.accept() }
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try await c.write(data)
        try await within(60) { try await c.closeAndWait() }
        // Acknowledged means in the server's buffers: all of it is there to read, then EOF.
        #expect(await s.counters()?.bytesReceived == data.count)
        let got = try await within(60) { () -> [UInt8] in
            var got: [UInt8] = []
            while true {
                let chunk = try await s.read()
                if chunk.isEmpty { return got }
                got += chunk
            }
        }
        #expect(got == data)
        await #expect(throws: TCPStreamError.closed) { try await c.read() }  // the stream is released
        s.close()
        await client.shutdown(gracePeriod: .milliseconds(300))
        await server.shutdown(gracePeriod: .milliseconds(300))
    }
}
