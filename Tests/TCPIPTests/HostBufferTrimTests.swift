import Testing
@testable import TCPIP

/// IPv4Host keeps a connection's buffer storage across request/response messages and
/// frees it once the buffers stayed empty and unused for a `bufferTrimInterval`.
@Suite struct HostBufferTrimTests {
    func pair(trim: Duration) -> SimulatedNetwork {
        var c = TCPConfiguration()
        c.noDelay = true
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), configuration: c, seed: 1)
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), configuration: c, seed: 2)
        a.bufferTrimInterval = trim
        b.bufferTrimInterval = trim
        return SimulatedNetwork(a: a, b: b, link: MemoryLink(mtu: 1500))
    }

    func establish(_ net: SimulatedNetwork) throws -> (ConnectionHandle, ConnectionHandle) {
        try net.b.listen(port: 7)
        let c = try net.a.connect(to: net.b.address, port: 7, now: net.now)
        var s: ConnectionHandle?
        let ok = net.run(until: { s = s ?? net.b.accept(port: 7); return s != nil && net.a.connection(c)?.state == .established },
                         timeLimit: .seconds(5))
        try #require(ok)
        return (c, try #require(s))
    }

    /// One 1-byte request and its 1-byte echo; returns the byte the client read.
    func transaction(_ net: SimulatedNetwork, _ c: ConnectionHandle, _ s: ConnectionHandle, _ byte: UInt8) -> UInt8 {
        var one: [UInt8] = [byte]
        _ = net.a.write(c, one)
        net.settle()
        let got = one.withUnsafeMutableBytes { net.b.read(s, into: $0) }
        #expect(got == 1 && one[0] == byte)
        _ = net.b.write(s, one)
        net.settle()
        one[0] = 0
        #expect(one.withUnsafeMutableBytes { net.a.read(c, into: $0) } == 1)
        return one[0]
    }

    @Test func drainedBuffersKeepTheirStorageBetweenMessages() throws {
        let net = pair(trim: .seconds(1))
        let (c, s) = try establish(net)
        #expect(net.a.allocatedBufferBytes == 0 && net.b.allocatedBufferBytes == 0)  // no byte moved yet
        #expect(transaction(net, c, s, 42) == 42)
        // Both rings of both ends drained and kept their first 2 KiB allocation.
        net.run(for: .milliseconds(300))   // the client's delayed ACK of the echo
        #expect(net.a.bufferedBytes == 0 && net.b.bufferedBytes == 0)
        // Both rings of both ends drained and kept their first 2 KiB allocation.
        #expect(net.a.connection(c)?.allocatedBufferBytes == 4096)
        #expect(net.b.connection(s)?.allocatedBufferBytes == 4096)
        #expect(transaction(net, c, s, 43) == 43)
        #expect(net.a.allocatedBufferBytes == 4096 && net.b.allocatedBufferBytes == 4096)
    }

    @Test func idleConnectionsLoseTheirBufferStorageWithinTwoIntervals() throws {
        let net = pair(trim: .seconds(1))
        let (c, s) = try establish(net)
        let start = net.now
        #expect(transaction(net, c, s, 1) == 1)
        // The first pass (1 s after the use) sees a buffer used in its interval and keeps it.
        net.run(for: .milliseconds(1100))
        #expect(net.a.allocatedBufferBytes == 4096 && net.b.allocatedBufferBytes == 4096)
        net.run(for: .milliseconds(1000))
        #expect(net.a.allocatedBufferBytes == 0 && net.b.allocatedBufferBytes == 0)
        #expect(net.now - start <= .milliseconds(2200))
        #expect(net.a.connection(c)?.state == .established && net.b.connection(s)?.state == .established)
        // Nothing left to trim and no other timer: the hosts are quiet.
        #expect(net.a.nextDeadline == nil && net.b.nextDeadline == nil)
        // The connection still works and allocates again.
        #expect(transaction(net, c, s, 2) == 2)
        #expect(net.a.allocatedBufferBytes == 4096)
    }

    @Test func zeroTrimIntervalFreesStorageWheneverABufferDrains() throws {
        let net = pair(trim: .zero)
        let (c, s) = try establish(net)
        #expect(transaction(net, c, s, 9) == 9)
        #expect(net.a.allocatedBufferBytes == 0)          // both client rings drained
        #expect(net.b.allocatedBufferBytes == 2048)       // the echo waits for the delayed ACK
        net.run(for: .milliseconds(300))
        #expect(net.a.allocatedBufferBytes == 0 && net.b.allocatedBufferBytes == 0)
        #expect(net.a.nextDeadline == nil && net.b.nextDeadline == nil)
    }
}
