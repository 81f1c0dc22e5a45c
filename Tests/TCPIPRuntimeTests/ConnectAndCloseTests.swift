import Foundation
import Testing
import NetworkTestSupport
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
        while true {
            // Looks once more after the deadline: a sleep that overslept (a loaded
            // machine) must not turn a packet that did arrive into "none came".
            let n = buf.withUnsafeMutableBytes { recv(raw.fileDescriptor, $0.baseAddress, $0.count, 0) }
            if n > 0 { return Array(buf[0..<n]) }
            if Date() >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func send(_ packet: [UInt8]) {
        _ = packet.withUnsafeBytes { Foundation.send(raw.fileDescriptor, $0.baseAddress, $0.count, 0) }
    }

    /// A TCP packet from the peer to us.
    func packet(_ h: TCPHeader) throws -> [UInt8] {
        let seg = try h.segmentBytes(source: peerIP, destination: ourIP)
        return try IPv4Header(identification: 1, protocol: IPProtocol.tcp, source: peerIP, destination: ourIP,
                              payloadLength: seg.count).bytes(payload: seg)
    }

    /// Our stack connects to peerIP:80 and the test answers by hand: SYN+ACK (ISS 5000)
    /// with MSS 1460 and no timestamps or SACK, so segments carry 1460 bytes. Returns the
    /// stream (ESTABLISHED, its ACK read) and our ISS.
    func establish() async throws -> (TCPStream, UInt32) {
        let connecting = Task { try await stack.connect(to: peerIP, port: 80, timeout: .seconds(30)) }
        let syn = try #require(try await nextPacket(), "no SYN")
        let (iss, port) = try syn.withUnsafeBytes { b in
            let t = try TCPHeaderView(try IPv4HeaderView(b).payload)
            return (t.sequenceNumber.rawValue, t.sourcePort)
        }
        send(try packet(TCPHeader(sourcePort: 80, destinationPort: port, sequenceNumber: SequenceNumber(5000),
                                  acknowledgmentNumber: SequenceNumber(iss &+ 1), flags: [.syn, .ack], window: 65535,
                                  options: [.maximumSegmentSize(1460)])))
        let stream = try await within(60) { try await connecting.value }
        // The ACK of the SYN+ACK; SYNs retransmitted meanwhile (a slow machine) are skipped.
        while true {
            let p = try #require(try await nextPacket(), "no ACK of the SYN+ACK")
            let flags = try p.withUnsafeBytes { try TCPHeaderView(try IPv4HeaderView($0).payload).flags }
            if !flags.contains(.syn) { break }
        }
        return (stream, iss)
    }

    /// An ICMP destination unreachable from the peer quoting `packet`'s header and 8 bytes.
    func unreachable(_ code: ICMPv4UnreachableCode, mtu: UInt16 = 0, quoting packet: [UInt8]) throws -> [UInt8] {
        let m = ICMPv4Message.destinationUnreachable(code: code, nextHopMTU: mtu, quoted: Array(packet.prefix(28))).bytes()
        return try IPv4Header(identification: 9, protocol: IPProtocol.icmp, source: peerIP, destination: ourIP,
                              payloadLength: m.count).bytes(payload: m)
    }
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

@Suite("Connect errors, path MTU and lingering close through the runtime", .prioritized)
struct ConnectAndCloseTests {
    @Test func connectWithoutARouteFailsAtOnceWithNoRoute() async throws {
        let p = try RawPeer()  // 192.0.2.2/24, no gateway
        let start = ContinuousClock.now
        await #expect(throws: TCPStreamError.noRoute) {
            try await p.stack.connect(to: IPv4Address(198, 51, 100, 9), port: 80, timeout: .seconds(300))
        }
        // `.noRoute`, not `.timedOut`: it did not wait for the timeout. The bound is far
        // below the timeout and far above what a loaded test bundle may add (it is
        // typically milliseconds).
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(20), "took \(seconds(elapsed)) s")
        #expect(await p.stack.connectionCount() == 0)
        #expect(await p.stack.statistics().host.connectionsOpened == 0)
        #expect(try await p.nextPacket(seconds: 0.2) == nil)  // nothing was sent
        await p.stack.shutdown(gracePeriod: .zero)
    }

    @Test func icmpUnreachableForTheSYNFailsTheConnectWithTheMatchingError() async throws {
        let p = try RawPeer()
        for (code, expected) in [(ICMPv4UnreachableCode.port, TCPStreamError.connectionRefused),
                                 (.host, .hostUnreachable), (.network, .hostUnreachable)] {
            // A previous round's SYN retransmitted on a slow machine must not be taken
            // for this round's SYN.
            while try await p.nextPacket(seconds: 0) != nil {}
            // The timeout is long on purpose: only the ICMP error may end this connect.
            let connecting = Task { try await p.stack.connect(to: peerIP, port: 80, timeout: .seconds(300)) }
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

    @Test func fragmentationNeededMakesTheStreamResendInSmallerSegments() async throws {
        var slowRTO = TCPConfiguration()  // no retransmission timeout may fire during the test
        slowRTO.initialRTO = .seconds(30)
        slowRTO.minimumRTO = .seconds(30)
        let p = try RawPeer(configuration: slowRTO)
        let (stream, iss) = try await p.establish()
        let data = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        try await stream.write(data)
        // Two full segments in 1500-byte packets with DF, and the 80-byte tail with them
        // (Minshall's Nagle: no short segment outstanding; classic Nagle held it).
        var lost: [[UInt8]] = []
        for _ in 0..<3 { lost.append(try #require(try await p.nextPacket(), "no data")) }
        #expect(lost.map(\.count) == [1500, 1500, 120])
        #expect(lost.allSatisfy { $0[6] & 0x40 != 0 })
        // A router on the way takes 1000 at most: it drops them and says so for the first.
        p.send(try p.unreachable(.fragmentationNeeded, mtu: 1000, quoting: lost[0]))
        var resent: [[UInt8]] = []
        for _ in 0..<4 { resent.append(try #require(try await p.nextPacket(), "no retransmission")) }
        // 960-byte segments from the first unacknowledged byte; the last one carries the last
        // 40 bytes of the second segment and the 80 of the tail.
        #expect(resent.map(\.count) == [1000, 1000, 1000, 160])
        var payload: [UInt8] = []
        var seqs: [UInt32] = []
        for r in resent {
            try r.withUnsafeBytes { b in
                let ip = try IPv4HeaderView(b)
                #expect(ip.dontFragment)
                let t = try TCPHeaderView(ip.payload)
                seqs.append(t.sequenceNumber.rawValue &- iss)
                payload += t.payload
            }
        }
        #expect(seqs == [1, 961, 1921, 2881])
        #expect(payload == data)
        let counters = try #require(await stream.counters())
        #expect(counters.timeouts == 0)
        stream.abort()
        await p.stack.shutdown(gracePeriod: .zero)
    }

    @Test func cancellingCloseAndWaitLeavesTheCloseRunning() async throws {
        var slowRTO = TCPConfiguration()
        slowRTO.initialRTO = .seconds(30)
        slowRTO.minimumRTO = .seconds(30)
        let p = try RawPeer(configuration: slowRTO)
        let (stream, iss) = try await p.establish()
        let closing = Task { try await stream.closeAndWait() }
        let fin = try #require(try await p.nextPacket(), "no FIN")
        try fin.withUnsafeBytes { b in
            let t = try TCPHeaderView(try IPv4HeaderView(b).payload)
            #expect(t.flags == [.fin, .ack])
            #expect(t.sequenceNumber.rawValue == iss &+ 1)
        }
        try await Task.sleep(for: .milliseconds(50))
        closing.cancel()  // the peer never acknowledges the FIN
        let r = await closing.result
        #expect(throws: CancellationError.self) { try r.get() }
        #expect(await stream.state() == .closed)  // the stream is released...
        #expect(await p.stack.connectionCount() == 1)  // ...the connection still in FIN-WAIT-1
        #expect(await p.stack.statistics().openStreams == 0)
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
