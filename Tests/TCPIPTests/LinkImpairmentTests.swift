import Testing
@testable import TCPIP

/// `LinkImpairment`: the fault injector between a real device and the stack, both ways.
@Suite("Link impairment (userspace netem between device and stack)")
struct LinkImpairmentTests {
    static func ms(_ n: Double) -> Instant { Instant(nanoseconds: Int64(n * 1_000_000)) }

    /// A 100-byte packet whose first byte is `tag`.
    static func packet(_ tag: UInt8, length: Int = 100) -> [UInt8] {
        var p = [UInt8](repeating: 0xA5, count: length)
        p[0] = tag
        return p
    }

    static func faults(_ text: String) throws -> FaultConfiguration { try FaultConfiguration(parsing: text) }

    func receive(_ l: LinkImpairment, _ p: [UInt8], at t: Instant) {
        p.withUnsafeBytes { l.receive(fromDevice: $0, now: t) }
    }
    func send(_ l: LinkImpairment, _ p: [UInt8], at t: Instant) {
        p.withUnsafeBytes { l.send(toDevice: $0, now: t) }
    }
    func inbound(_ l: LinkImpairment, at t: Instant) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let p = l.nextInbound(now: t) { out.append(Array(p)) }
        return out
    }
    func outbound(_ l: LinkImpairment, at t: Instant) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let p = l.nextOutbound(now: t) { out.append(Array(p)) }
        return out
    }

    @Test func delayHoldsEachInboundPacketExactlyTheDelay() throws {
        let l = LinkImpairment(faults: try Self.faults("delay=10ms"), seed: 1, maximumPacketSize: 1500)
        receive(l, Self.packet(1), at: Self.ms(0))
        receive(l, Self.packet(2), at: Self.ms(3))
        #expect(l.nextDeadline == Self.ms(10))
        #expect(inbound(l, at: Self.ms(9.999)).isEmpty)
        #expect(inbound(l, at: Self.ms(10)) == [Self.packet(1)])
        #expect(l.nextDeadline == Self.ms(13))
        #expect(inbound(l, at: Self.ms(13)) == [Self.packet(2)])
        #expect(l.nextDeadline == nil)
        #expect(l.counters.inbound.offered == 2)
        #expect(l.counters.outbound.offered == 0)
    }

    @Test func outboundDelayIsIndependentOfInbound() throws {
        let l = LinkImpairment(inbound: .none, outbound: try Self.faults("delay=5ms"), seed: 1, maximumPacketSize: 1500)
        receive(l, Self.packet(1), at: Self.ms(0))
        send(l, Self.packet(2), at: Self.ms(0))
        #expect(inbound(l, at: Self.ms(0)) == [Self.packet(1)])
        #expect(outbound(l, at: Self.ms(0)).isEmpty)
        #expect(l.nextDeadline == Self.ms(5))
        #expect(outbound(l, at: Self.ms(5)) == [Self.packet(2)])
    }

    /// The seed of the injector deciding one direction, as `LinkImpairment` documents it.
    static func injectorSeed(_ seed: UInt64, outbound: Bool) -> UInt64 {
        var mix = SeededRandom(seed: seed)
        let s = outbound ? (mix.next(), mix.next()).1 : mix.next()
        var link = SeededRandom(seed: s)
        return link.next()
    }

    /// The documented seeding: each direction's decisions are those of a `FaultInjector`
    /// seeded from `seed` (see `injectorSeed`).
    @Test func jitterGivesTheSeededArrivalTimesAndTheSameSeedReplaysThem() throws {
        let f = try Self.faults("delay=10ms,jitter=5ms")
        var reference = FaultInjector(configuration: f, seed: Self.injectorSeed(42, outbound: false))
        let expected = (0..<20).map { i in reference.arrival(departure: Self.ms(Double(i))) }

        func arrivals(seed: UInt64) -> [Instant] {
            let l = LinkImpairment(faults: f, seed: seed, maximumPacketSize: 1500)
            for i in 0..<20 { receive(l, Self.packet(UInt8(i)), at: Self.ms(Double(i))) }
            var times: [(Instant, UInt8)] = []
            while let t = l.nextDeadline {
                for p in inbound(l, at: t) { times.append((t, p[0])) }
            }
            return times.sorted { $0.1 < $1.1 }.map(\.0)
        }
        let a = arrivals(seed: 42)
        #expect(a == expected)
        #expect(arrivals(seed: 42) == a)
        #expect(arrivals(seed: 43) != a)
        for (i, t) in a.enumerated() {
            #expect(t >= Self.ms(Double(i) + 5) && t <= Self.ms(Double(i) + 15))
        }
    }

    @Test func lossDropsTheSeededPacketsAndCountsThem() throws {
        let f = try Self.faults("loss=50%")
        let l = LinkImpairment(faults: f, seed: 7, maximumPacketSize: 1500)
        for i in 0..<200 { receive(l, Self.packet(UInt8(i)), at: Self.ms(0)) }
        let got = inbound(l, at: Self.ms(0)).map { $0[0] }
        // Replay the same decisions.
        var reference = FaultInjector(configuration: l.inboundFaults, seed: Self.injectorSeed(7, outbound: false))
        var kept: [UInt8] = []
        for i in 0..<200 {
            _ = reference.admits(held: 0)
            if !reference.dropsPacket() { kept.append(UInt8(i)) }
        }
        #expect(got == kept)
        #expect(l.counters.inbound.lost == 200 - kept.count)
        #expect(l.counters.inbound.offered == 200)
        #expect((60...140).contains(kept.count))
    }

    @Test func reorderHoldsAPacketBehindTheNextOne() throws {
        let l = LinkImpairment(faults: try Self.faults("reorder=100%"), seed: 3, maximumPacketSize: 1500)
        for i in 1...4 { receive(l, Self.packet(UInt8(i)), at: Self.ms(0)) }
        // 1 is held, 2 goes first and releases it; 3 is held, 4 releases it.
        #expect(inbound(l, at: Self.ms(0)).map { $0[0] } == [2, 1, 4, 3])
        #expect(l.counters.inbound.reordered == 2)
        // A held packet with nothing behind it waits reorder-hold (10 ms), then goes.
        receive(l, Self.packet(5), at: Self.ms(100))
        #expect(inbound(l, at: Self.ms(109.999)).isEmpty)
        #expect(l.nextDeadline == Self.ms(110))
        #expect(inbound(l, at: Self.ms(110)).map { $0[0] } == [5])
    }

    @Test func duplicateDeliversTwoCopies() throws {
        let l = LinkImpairment(faults: try Self.faults("duplicate=100%"), seed: 3, maximumPacketSize: 1500)
        send(l, Self.packet(1), at: Self.ms(0))
        send(l, Self.packet(2), at: Self.ms(0))
        #expect(outbound(l, at: Self.ms(0)).map { $0[0] } == [1, 1, 2, 2])
        #expect(l.counters.outbound.duplicated == 2)
    }

    @Test func corruptFlipsExactlyOneBitPerCopy() throws {
        let l = LinkImpairment(faults: try Self.faults("corrupt=100%"), seed: 9, maximumPacketSize: 1500)
        let original = Self.packet(0x11)
        for _ in 0..<10 { receive(l, original, at: Self.ms(0)) }
        let got = inbound(l, at: Self.ms(0))
        #expect(got.count == 10)
        for p in got {
            let flipped = zip(p, original).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
            #expect(flipped == 1)
        }
        #expect(l.counters.inbound.corrupted == 10)
    }

    @Test func rateSerialisesPacketsOneAfterAnother() throws {
        // 8 kbit/s: a 100-byte packet takes 100 ms on the line.
        let l = LinkImpairment(faults: try Self.faults("rate=8kbit"), seed: 1, maximumPacketSize: 1500)
        for i in 1...3 { send(l, Self.packet(UInt8(i)), at: Self.ms(0)) }
        var times: [Instant] = []
        while let t = l.nextDeadline { for _ in outbound(l, at: t) { times.append(t) } }
        #expect(times == [Self.ms(100), Self.ms(200), Self.ms(300)])
    }

    @Test func queueLimitTailDropsAndCounts() throws {
        let l = LinkImpairment(faults: try Self.faults("delay=1s,queue=3"), seed: 1, maximumPacketSize: 1500)
        for i in 1...5 { receive(l, Self.packet(UInt8(i)), at: Self.ms(0)) }
        #expect(l.packetsHeld.inbound == 3)
        #expect(l.counters.inbound.queueDropped == 2)
        #expect(inbound(l, at: Self.ms(1000)).map { $0[0] } == [1, 2, 3])
    }

    @Test func withoutAQueueLimitEachDirectionHoldsAtMostTheDefault() throws {
        let l = LinkImpairment(faults: try Self.faults("delay=1s"), seed: 1, maximumPacketSize: 1500)
        #expect(l.inboundFaults.queueLimit == LinkImpairment.defaultQueueLimit)
        #expect(LinkImpairment.defaultQueueLimit == 1000)
        for i in 0..<1005 { send(l, Self.packet(UInt8(truncatingIfNeeded: i)), at: Self.ms(0)) }
        #expect(l.packetsHeld.outbound == 1000)
        #expect(l.counters.outbound.queueDropped == 5)
    }

    @Test func oversizePacketsAreDroppedAndCounted() throws {
        let l = LinkImpairment(faults: try Self.faults("delay=1ms"), seed: 1, maximumPacketSize: 200)
        receive(l, Self.packet(1, length: 201), at: Self.ms(0))
        receive(l, Self.packet(2, length: 200), at: Self.ms(0))
        #expect(inbound(l, at: Self.ms(1)).map(\.count) == [200])
        #expect(l.counters.inboundOversize == 1)
        #expect(l.counters.description.contains("impairment in: offered=1 lost=0"))
        #expect(l.counters.description.contains("oversize=1"))
    }

    @Test func aPerfectLinkPassesPacketsInPlaceAtOnce() throws {
        let l = LinkImpairment(faults: .none, seed: 1, maximumPacketSize: 1500)
        #expect(l.sendsInPlace)
        let n = l.send(now: Self.ms(0)) { buffer in
            for i in 0..<64 { buffer[i] = UInt8(i) }
            return 64
        }
        #expect(n == 64)
        #expect(outbound(l, at: Self.ms(0)) == [(0..<64).map { UInt8($0) }])
        #expect(l.nextDeadline == nil)
    }
}
