import Testing
@testable import TCPIP

@Suite struct SimulationNetworkTests {
    func pair(faults: FaultConfiguration = .none, seed: UInt64 = 1) -> SimulatedNetwork {
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), seed: seed)
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), seed: seed + 1)
        return SimulatedNetwork(a: a, b: b, link: MemoryLink(faults: faults, seed: seed))
    }

    @Test func handshakeOverPerfectLinkTakesNoVirtualTime() throws {
        let net = pair()
        try net.b.listen(port: 80)
        let c = try net.a.connect(to: net.b.address, port: 80, now: net.now)
        var s: ConnectionHandle?
        let ok = net.run(until: {
            s = s ?? net.b.accept(port: 80)
            return s != nil && net.a.connection(c)?.state == .established
        }, timeLimit: .seconds(10))
        #expect(ok)
        #expect(net.now == .zero)
        #expect(net.b.connection(try #require(s))?.state == .established)
        #expect(net.link.faultCounters(from: .a).offered == 2)   // SYN, ACK
        #expect(net.link.faultCounters(from: .b).offered == 1)   // SYN-ACK
    }

    @Test func handshakeOverDelayedLinkTakesOneAndAHalfRoundTrips() throws {
        let net = pair(faults: FaultConfiguration(delay: .milliseconds(10)))
        try net.b.listen(port: 80)
        let c = try net.a.connect(to: net.b.address, port: 80, now: net.now)
        #expect(net.run(until: { net.a.connection(c)?.state == .established }, timeLimit: .seconds(10)))
        #expect(net.now == Instant(nanoseconds: 20_000_000))
        var s: ConnectionHandle?
        #expect(net.run(until: { s = s ?? net.b.accept(port: 80); return s != nil }, timeLimit: .seconds(10)))
        #expect(net.now == Instant(nanoseconds: 30_000_000))
    }

    @Test func connectionToClosedPortIsRefusedOverTheNetwork() throws {
        let net = pair()
        let c = try net.a.connect(to: net.b.address, port: 9, now: net.now)
        let conn = try #require(net.a.connection(c))
        #expect(net.run(until: { conn.isFinished }, timeLimit: .seconds(10)))
        var sawRefused = false
        while let e = conn.nextEvent() { if e == .closed(.refused) { sawRefused = true } }
        #expect(sawRefused)
        #expect(net.a.connectionCount == 0)
        #expect(net.b.counters.resetsSent == 1)
    }

    @Test func idleNetworkStopsStepping() {
        let net = pair()
        #expect(net.step() == false)
        #expect(net.nextEvent == nil)
    }
}

@Suite struct LadderTests {
    @Test func segmentLineShowsEveryField() throws {
        let h = TCPHeader(sourcePort: 49152, destinationPort: 80, sequenceNumber: SequenceNumber(100),
                          acknowledgmentNumber: SequenceNumber(0), flags: .syn, window: 65535,
                          options: [.maximumSegmentSize(1460), .noOperation, .windowScale(7)])
        let p = try HostFixture.packet(h, from: IPv4Address(192, 0, 2, 1), to: IPv4Address(192, 0, 2, 2))
        let seg = try #require(p.withUnsafeBytes { LadderSegment(ipv4: $0) })
        #expect(seg.synOptions == "mss 1460,wscale 7")
        let line = Ladder.line(time: Instant(nanoseconds: 1_500_000), from: .a, segment: seg,
                               changes: [LadderStateChange(end: .a, from: .closed, to: .synSent)])
        #expect(line == "0.001500    A → B   [S]    seq=100         ack=0           len=0     win=65535  <mss 1460,wscale 7>  A: CLOSED → SYN-SENT")
        let back = Ladder.line(time: .zero, from: .b, segment: seg, lost: true)
        #expect(back.hasPrefix("0.000000    A ← B   [S]"))
        #expect(back.hasSuffix("✗ lost"))
    }

    @Test func nonTCPPacketHasNoSegmentLine() {
        let junk: [UInt8] = [0x45, 0, 0, 20] + [UInt8](repeating: 0, count: 16)
        #expect(junk.withUnsafeBytes { LadderSegment(ipv4: $0) } == nil)
    }
}

@Suite struct DemoScenarioTests {
    func run(_ configure: (inout DemoScenario.Options) -> Void) -> (lines: [String], summary: DemoScenario.Summary) {
        var o = DemoScenario.Options()
        o.bulkBytes = 100_000
        configure(&o)
        var scenario = DemoScenario(options: o)
        var lines: [String] = []
        let s = scenario.run { lines.append($0) }
        return (lines, s)
    }

    @Test func textbookHandshakeWithISNs100And2000() throws {
        let (lines, summary) = run { $0.clientISN = 100; $0.serverISN = 2000 }
        #expect(summary.succeeded)
        let ladder = lines.filter { $0.hasPrefix("0.") || $0.first?.isNumber == true }
        try #require(ladder.count >= 3)
        #expect(ladder[0].hasPrefix("0.000000    A → B   [S]    seq=100         ack=0 "))
        #expect(ladder[0].hasSuffix("A: CLOSED → SYN-SENT"))
        #expect(ladder[1].hasPrefix("0.000000    A ← B   [S.]   seq=2000        ack=101 "))
        #expect(ladder[1].hasSuffix("B: LISTEN → SYN-RECEIVED"))
        #expect(ladder[2].hasPrefix("0.000000    A → B   [.]    seq=101         ack=2001 "))
        #expect(ladder[2].contains("A: SYN-SENT → ESTABLISHED"))
    }

    @Test func demoSummarisesTheBulkPartAndCloses() {
        let (lines, summary) = run { $0.bulkBytes = 300_000 }
        #expect(summary.succeeded)
        #expect(summary.bytesAToB == 300_000 + "hello from A".utf8.count + "how are you, B?".utf8.count + "bye for now".utf8.count)
        #expect(summary.bytesBToA == "hello A, B here".utf8.count + "fine, thanks".utf8.count + "see you".utf8.count)
        #expect(summary.finalStateA == .closed && summary.finalStateB == .closed)
        #expect(lines.contains { $0.contains("... ") && $0.contains(" segments ...") })
        #expect(lines.contains { $0.contains("[F") })
        #expect(lines.contains { $0.contains("TIME-WAIT → CLOSED") })
        #expect(lines.count < 120)
    }

    @Test func demoRecoversFromLoss() {
        let (lines, summary) = run { $0.faults = FaultConfiguration(loss: 0.05, delay: .milliseconds(5)); $0.seed = 3 }
        #expect(summary.succeeded, "\(lines.suffix(12).joined(separator: "\n"))")
        #expect(summary.faultsAToB.lost + summary.faultsBToA.lost > 0)
        #expect(summary.retransmissionsA + summary.retransmissionsB > 0)
    }
}
