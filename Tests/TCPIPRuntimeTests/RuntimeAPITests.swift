import Foundation
import Testing
import NetworkTestSupport
import TCPIP
import TCPIPRuntime

/// Two stacks over an AF_UNIX datagram socket pair: the runtime and the async API without
/// root or a kernel TCP. 192.0.2.1 serves, 192.0.2.2 connects.
private struct Pair {
    let server: TCPStack
    let client: TCPStack
    static let serverIP = IPv4Address(192, 0, 2, 1)
    static let clientIP = IPv4Address(192, 0, 2, 2)

    init(server serverConfig: TCPConfiguration = Pair.fast, client clientConfig: TCPConfiguration = Pair.fast,
         cutServerOutput: Bool = false) throws {
        let (a, b) = SocketPairEnd.pair(dropFromSecond: cutServerOutput)
        client = try TCPStack(interface: a, address: Pair.clientIP, configuration: clientConfig, seed: 1)
        server = try TCPStack(interface: b, address: Pair.serverIP, configuration: serverConfig, seed: 2)
    }

    /// Short TIME-WAIT so tests end with empty tables.
    static var fast: TCPConfiguration {
        var c = TCPConfiguration()
        c.maximumSegmentLifetime = .milliseconds(50)
        return c
    }

    func shutdown() async {
        await client.shutdown(gracePeriod: .milliseconds(500))
        await server.shutdown(gracePeriod: .milliseconds(500))
    }
}

private func pattern(_ n: Int, seed: UInt64) -> [UInt8] {
    var r = SeededRandom(seed: seed)
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        let v = r.next()
        for k in 0..<8 where i + k < n { out[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        i += 8
    }
    return out
}

/// Reads until the peer closes; bounded by `limit` bytes.
private func readAll(_ s: TCPStream, limit: Int) async throws -> [UInt8] {
    var got: [UInt8] = []
    while got.count <= limit {
        let b = try await s.read(maxBytes: 65536)
        if b.isEmpty { break }
        got += b
    }
    return got
}

@Suite("Runtime and async API over a socket pair", .prioritized)
struct RuntimeAPITests {
    @Test func streamRoundTripWithHalfCloseDeliversEveryByte() async throws {
        var small = Pair.fast
        small.sendBufferSize = 16 * 1024  // forces many suspended writes
        let pair = try Pair(client: small)
        let listener = try await pair.server.listen(port: 7)
        let data = pattern(300_000, seed: 11)
        try await within(60) {
            async let served: [UInt8] = {
                let s = try await listener.accept()
                let got = try await readAll(s, limit: 400_000)
                try await s.write(Array(got.reversed()))
                s.close()
                return got
            }()
            let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
            #expect(c.tuple.remotePort == 7 && c.tuple.remoteAddress == Pair.serverIP && c.tuple.localAddress == Pair.clientIP)
            try await c.write(data)
            c.shutdownWrite()
            let back = try await readAll(c, limit: 400_000)
            #expect(try await served == data)
            #expect(back == Array(data.reversed()))
            #expect(try await c.read() == [])  // still end of stream
            c.close()
        }
        await pair.shutdown()
    }

    @Test func writeSuspendsWhileSendBufferIsFullAndResumesWhenPeerReads() async throws {
        var sender = Pair.fast
        sender.sendBufferSize = 8 * 1024
        var receiver = Pair.fast
        receiver.receiveBufferSize = 16 * 1024
        let pair = try Pair(server: receiver, client: sender)
        let listener = try await pair.server.listen(port: 9)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 9, timeout: .seconds(5))
        let s = try await listener.accept()
        let data = pattern(100_000, seed: 5)
        let done = Flag()
        let writer = Task {
            try await c.write(data)
            done.set()
        }
        // 8 KB in flight + 16 KB window: 100 KB cannot be queued while nobody reads.
        try await Task.sleep(for: .milliseconds(300))
        #expect(!done.isSet)
        let got = try await within(60) { () -> [UInt8] in
            var got: [UInt8] = []
            while got.count < data.count {
                let b = try await s.read(maxBytes: 4096)
                if b.isEmpty { break }
                got += b
            }
            return got
        }
        try await writer.value
        #expect(done.isSet)
        #expect(got == data)
        c.close(); s.close()
        await pair.shutdown()
    }

    @Test func cancellingAPendingReadThrowsCancellationErrorAndTheStreamStaysUsable() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await listener.accept()
        let pending = Task { try await s.read() }
        try await Task.sleep(for: .milliseconds(100))
        pending.cancel()
        let result = await pending.result
        #expect(throws: CancellationError.self) { try result.get() }
        // The read waiter is gone: a new read works and gets the bytes.
        try await c.write([1, 2, 3])
        let got = try await within(60) { try await s.read() }
        #expect(got == [1, 2, 3])
        // A write cancelled while suspended also resumes with CancellationError.
        let blocked = Task { try await s.write(pattern(2_000_000, seed: 3)) }
        try await Task.sleep(for: .milliseconds(100))
        blocked.cancel()
        let w = await blocked.result
        #expect(throws: CancellationError.self) { try w.get() }
        c.abort(); s.abort()
        await pair.shutdown()
    }

    @Test func cancellationBeforeTheReadIsRegisteredStillResumes() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await listener.accept()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await s.read()
        }
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        c.close(); s.close()
        await pair.shutdown()
    }

    @Test func connectToAClosedPortIsRefused() async throws {
        let pair = try Pair()
        await #expect(throws: TCPStreamError.connectionRefused) {
            try await pair.client.connect(to: Pair.serverIP, port: 9, timeout: .seconds(5))
        }
        let stats = await pair.server.statistics()
        #expect(stats.host.resetsSent == 1)
        #expect(stats.host.drops.noListener == 1)
        await pair.shutdown()
    }

    @Test func connectTimesOutWhenNoAnswerComes() async throws {
        let pair = try Pair(cutServerOutput: true)
        _ = try await pair.server.listen(port: 7)
        let start = ContinuousClock.now
        await #expect(throws: TCPStreamError.timedOut) {
            try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .milliseconds(300))
        }
        let elapsed = ContinuousClock.now - start
        // The caller's 300 ms timeout fired, not TCP's own give-up after ~63 s of SYN retries;
        // the upper bound is loose because other suites can hold the cooperative threads.
        #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(50))
        #expect(await pair.client.connectionCount() == 0)
        await pair.shutdown()
    }

    @Test func peerAbortFailsPendingReadWithConnectionReset() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await listener.accept()
        let pending = Task { try await c.read() }
        try await Task.sleep(for: .milliseconds(50))
        s.abort()
        let r = await pending.result
        #expect(throws: TCPStreamError.connectionReset) { try r.get() }
        await #expect(throws: TCPStreamError.connectionReset) { try await c.write([1]) }
        await pair.shutdown()
    }

    @Test func listenerSequenceEndsWhenClosedAndPortCanBeReused() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 80)
        await #expect(throws: TCPStreamError.portInUse) { try await pair.server.listen(port: 80) }
        let consumer = Task { () -> Int in
            var n = 0
            for try await s in listener { n += 1; s.close() }
            return n
        }
        let c = try await pair.client.connect(to: Pair.serverIP, port: 80, timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        listener.close()
        #expect(try await within(60) { try await consumer.value } == 1)
        _ = try await pair.server.listen(port: 80)
        c.close()
        await pair.shutdown()
    }

    @Test func anOldListenerClosedAfterThePortIsReusedLeavesTheNewListenerServing() async throws {
        let pair = try Pair()
        let old = try await pair.server.listen(port: 81)
        old.close()
        // Wait until the close reached the loop: the port can be listened on again.
        var fresh: TCPListener? = nil
        for _ in 0..<100 where fresh == nil {
            fresh = try? await pair.server.listen(port: 81)
            if fresh == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let listener = try #require(fresh)
        old.close()  // a second close of the old binding: must not touch the new one
        await #expect(throws: TCPStreamError.closed) { try await old.accept() }
        let accepted = Task { try await listener.accept() }
        let c = try await pair.client.connect(to: Pair.serverIP, port: 81, timeout: .seconds(5))
        let s = try await within(60) { try await accepted.value }
        try await c.write([1, 2, 3])
        #expect(try await within(60) { try await s.read() } == [1, 2, 3])
        c.close()
        s.close()
        listener.close()
        await pair.shutdown()
    }

    @Test func closingAListenerResetsConnectionsNotYetAccepted() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let pending = Task { try await c.read() }
        try await Task.sleep(for: .milliseconds(50))
        listener.close()
        let r = await pending.result
        #expect(throws: TCPStreamError.connectionReset) { try r.get() }
        let s = await pair.server.statistics()
        #expect(s.host.connectionsSpawned == 1)
        #expect(s.connections == 0)
        await pair.shutdown()
    }

    @Test func chunksSequenceYieldsEveryByteAndEndsAtThePeersFIN() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let data = pattern(70_000, seed: 9)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await listener.accept()
        try await c.write(data)
        c.shutdownWrite()
        let got = try await within(60) { () -> ([UInt8], Int) in
            var all: [UInt8] = []
            var largest = 0
            for try await chunk in s.chunks(maxBytes: 1000) {
                largest = max(largest, chunk.count)
                all += chunk
            }
            return (all, largest)
        }
        #expect(got.0 == data)
        #expect(got.1 == 1000)
        c.close(); s.close()
        await pair.shutdown()
    }

    @Test func shutdownWithoutGraceResetsTheConnectionsItCouldNotClose() async throws {
        let (a, b) = SocketPairEnd.pair()
        let client = try TCPStack(interface: a, address: Pair.clientIP, configuration: Pair.fast, seed: 1)
        let server = try TCPStack(interface: b, address: Pair.serverIP, configuration: Pair.fast, seed: 2)
        let listener = try await server.listen(port: 7)
        let c = try await client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await listener.accept()
        try await s.write([1, 2, 3])  // left unread by the client: its close becomes a RST
        try await Task.sleep(for: .milliseconds(50))
        let pending = Task { try await s.read() }
        await client.shutdown(gracePeriod: .zero)
        let r = try await within(60) { await pending.result }
        #expect(throws: TCPStreamError.connectionReset) { try r.get() }
        #expect(await client.statistics().connections == 0)
        _ = c
        await server.shutdown(gracePeriod: .milliseconds(200))
    }

    @Test func stackRunsAHostTheCallerBuilt() async throws {
        let (a, b) = SocketPairEnd.pair()
        let host = IPv4Host(address: Pair.clientIP, configuration: Pair.fast, ephemeralPorts: 40000...40000, seed: 7)
        let client = try TCPStack(interface: a, processor: host)
        let server = try TCPStack(interface: b, address: Pair.serverIP, configuration: Pair.fast, seed: 2)
        let listener = try await server.listen(port: 7)
        let c = try await client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        #expect(c.tuple.localPort == 40000)
        #expect(client.address == Pair.clientIP)
        let s = try await listener.accept()
        #expect(s.tuple.remotePort == 40000)
        c.close(); s.close()
        await client.shutdown(gracePeriod: .milliseconds(300))
        await server.shutdown(gracePeriod: .milliseconds(300))
    }

    @Test func cancellingAPendingAcceptOrConnectThrowsCancellationErrorAndLeavesNothing() async throws {
        let pair = try Pair(cutServerOutput: true)
        let listener = try await pair.server.listen(port: 7)
        let accepting = Task { try await listener.accept() }
        let connecting = Task { try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await pair.client.connectionCount() == 1)  // SYN-SENT, unanswered (the link drops the server's output)
        accepting.cancel()
        connecting.cancel()
        let a = await accepting.result, c = await connecting.result
        #expect(throws: CancellationError.self) { try a.get() }
        #expect(throws: CancellationError.self) { try c.get() }
        #expect(await pair.client.connectionCount() == 0)
        #expect(await pair.client.statistics().openStreams == 0)
        await pair.shutdown()
    }

    @Test func shutdownFailsPendingOperationsWithStackStopped() async throws {
        let pair = try Pair()
        let listener = try await pair.server.listen(port: 7)
        let c = try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(5))
        let s = try await within(60) { try await listener.accept() }
        let pendingRead = Task { try await c.read() }
        try await Task.sleep(for: .milliseconds(50))
        // The server never closes: the client waits in FIN-WAIT-2 for the grace period, then resets.
        await pair.client.shutdown(gracePeriod: .milliseconds(200))
        let r = await pendingRead.result
        #expect(throws: TCPStreamError.stackStopped) { try r.get() }
        await #expect(throws: TCPStreamError.stackStopped) {
            try await pair.client.connect(to: Pair.serverIP, port: 7, timeout: .seconds(1))
        }
        // The server saw the FIN of the graceful close, then the RST once the grace ran out.
        #expect(try await within(60) { try await s.read() } == [])
        for _ in 0..<100 where await s.state() != .closed { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await s.state() == .closed)
        await #expect(throws: TCPStreamError.connectionReset) { try await s.write([1]) }
        s.close()
        await pair.server.shutdown(gracePeriod: .milliseconds(500))
    }

    @Test func pingPastTheMTUIsAnsweredWithTheSameSizeSequenceAndData() async throws {
        let pair = try Pair()
        let answer = try await within(60) { try await pair.client.ping(Pair.serverIP, sequence: 7, size: 3000, timeout: .seconds(30)) }
        guard case .reply(let r)? = answer else { Issue.record("no reply: \(String(describing: answer))"); return }
        #expect(r.from == Pair.serverIP)
        #expect(r.sequence == 7)
        #expect(r.size == 3000)
        #expect(r.timeToLive == 64)
        #expect(r.dataMatches)
        #expect(r.roundTrip > .zero && r.roundTrip < .seconds(30))
        await pair.shutdown()
    }

    @Test func unansweredPingReturnsNilAtItsTimeoutAndTheSequenceIsFreeAgain() async throws {
        let pair = try Pair(cutServerOutput: true)
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try await within(60) { try await pair.client.ping(Pair.serverIP, sequence: 1, timeout: .milliseconds(300)) }
        let waited = clock.now - start
        #expect(answer == nil)
        // Upper bound loose on purpose: the whole test bundle shares two cooperative threads, and the
        // kernel suites block them in synchronous waits for tens of seconds, so this task may resume
        // late. The bound still tells "returned nil at its timeout" from "never returned".
        #expect(waited >= .milliseconds(300) && waited < .seconds(50), "\(waited)")
        let again = try await within(60) { try await pair.client.ping(Pair.serverIP, sequence: 1, timeout: .milliseconds(50)) }
        #expect(again == nil)
        await pair.shutdown()
    }

    @Test func pingErrorsNoRouteSequenceInUseCancellationAndStackStopped() async throws {
        let pair = try Pair(cutServerOutput: true)
        await #expect(throws: InterfaceError.noRoute) {
            try await pair.client.ping(IPv4Address(198, 51, 100, 1), sequence: 1)
        }
        let pending = Task { try await pair.client.ping(Pair.serverIP, sequence: 2, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        await #expect(throws: TCPStackError.pingSequenceInUse) {
            try await pair.client.ping(Pair.serverIP, sequence: 2, timeout: .seconds(1))
        }
        pending.cancel()
        let r = await pending.result
        #expect(throws: CancellationError.self) { try r.get() }
        let stopped = Task { try await pair.client.ping(Pair.serverIP, sequence: 3, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        await pair.shutdown()
        let s = await stopped.result
        #expect(throws: TCPStreamError.stackStopped) { try s.get() }
    }

    @Test func pingOnAStackRunningABareHostNeedsAnInterface() async throws {
        let (a, _) = SocketPairEnd.pair()
        let stack = try TCPStack(interface: a, processor: IPv4Host(address: Pair.clientIP, seed: 7))
        await #expect(throws: TCPStackError.pingNeedsInterface) {
            try await stack.ping(Pair.serverIP, sequence: 1)
        }
        await stack.shutdown(gracePeriod: .zero)
    }
}
