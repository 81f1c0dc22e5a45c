import Testing
@testable import TCPIP

@Suite struct FaultConfigurationSyntaxTests {
    @Test func parsesTheSharedExample() throws {
        let c = try FaultConfiguration(parsing: "loss=2%,delay=10ms,jitter=5ms,reorder=25%,duplicate=1%,corrupt=0.1%,rate=100mbit")
        #expect(c.loss == 0.02)
        #expect(c.delay == .milliseconds(10))
        #expect(c.jitter == .milliseconds(5))
        #expect(c.reorder == 0.25)
        #expect(c.duplicate == 0.01)
        #expect(c.corrupt == 0.001)
        #expect(c.rate == 100_000_000)
        #expect(c.corruptBytes == 0)
        #expect(c.queueLimit == 0)
        #expect(c.description == "loss=2%,delay=10ms,jitter=5ms,reorder=25%,duplicate=1%,corrupt=0.1%,rate=100mbit")
    }

    @Test func unitsAndAliases() throws {
        let c = try FaultConfiguration(parsing: " delay=250us , jitter=1s,rate=64kbit,limit=7,corrupt-bytes=0.5,reorder-hold=3ms,loss=0")
        #expect(c.delay == .microseconds(250))
        #expect(c.jitter == .seconds(1))
        #expect(c.rate == 64_000)
        #expect(c.queueLimit == 7)
        #expect(c.corruptBytes == 0.5)
        #expect(c.reorderHold == .milliseconds(3))
        #expect(c.loss == 0)
        #expect(c.description == "delay=250us,jitter=1s,reorder-hold=3ms,corrupt-bytes=50%,rate=64kbit,queue=7")
        #expect(try FaultConfiguration(parsing: "") == .none)
        #expect(try FaultConfiguration(parsing: "none") == .none)
        #expect(FaultConfiguration.none.description == "none")
        #expect(try FaultConfiguration(parsing: "delay=1.5ms,rate=2.5gbit") == FaultConfiguration(delay: .microseconds(1500), rate: 2_500_000_000))
    }

    @Test func percentsPrintAsShortDecimals() throws {
        #expect(FaultConfiguration(reorder: 0.036).description == "reorder=3.6%")
        #expect(FaultConfiguration(loss: 0.000079).description == "loss=0.0079%")
        #expect(FaultConfiguration(loss: 1).description == "loss=100%")
        #expect(FaultConfiguration(corrupt: 0.013).description == "corrupt=1.3%")
        #expect(try FaultConfiguration(parsing: "loss=3.6%").loss == 0.036)
        #expect(try FaultConfiguration(parsing: "loss=0.0079%").loss == 0.000079)
    }

    @Test func malformedSpecificationsAreTypedErrors() {
        let cases: [(String, FaultSyntaxError)] = [
            ("loss=2", .outOfRange(key: "loss", value: "2")),
            ("loss=101%", .outOfRange(key: "loss", value: "101%")),
            ("loss=abc%", .badPercent(key: "loss", value: "abc%")),
            ("loss=-1%", .badPercent(key: "loss", value: "-1%")),
            ("delay=10", .badDuration(key: "delay", value: "10")),
            ("delay=10h", .badDuration(key: "delay", value: "10h")),
            ("rate=100mb", .badRate(key: "rate", value: "100mb")),
            ("queue=-3", .badCount(key: "queue", value: "-3")),
            ("colour=blue", .unknownKey("colour")),
            ("loss=1%,loss=2%", .duplicateKey("loss")),
            ("loss=1%,,delay=1ms", .emptyItem),
            ("loss=1%,", .emptyItem),
            ("loss", .missingValue(key: "loss")),
            ("loss=", .missingValue(key: "loss")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text)") { try FaultConfiguration(parsing: text) }
        }
    }

    @Test func randomConfigurationsRoundTripThroughText() throws {
        var r = SeededRandom(seed: 42)
        for _ in 0..<500 {
            func p() -> Double { r.chance(0.5) ? Double(r.next() % 10_001) / 1_000_000 : Double(r.next() % 1000) / 1000 }
            func d() -> Duration { .nanoseconds(Int64(r.next() % 3_000_000_000)) }
            let c = FaultConfiguration(loss: p(), delay: d(), jitter: d(), reorder: p(), reorderHold: d(),
                                       duplicate: p(), corrupt: p(), corruptBytes: p(),
                                       rate: Int64(r.next() % 10_000_000_000), queueLimit: Int(r.next() % 5000))
            let back = try FaultConfiguration(parsing: c.description)
            #expect(back == c, "\(c)")
        }
    }
}

@Suite struct FaultInjectorStatisticsTests {
    @Test func lossDuplicateAndCorruptionRatesMatchTheConfiguration() {
        var inj = FaultInjector(configuration: FaultConfiguration(loss: 0.1, duplicate: 0.05, corrupt: 0.02), seed: 7)
        var packet = [UInt8](repeating: 0, count: 100)
        let n = 100_000
        for _ in 0..<n {
            let admitted = inj.admits(held: 0)
            #expect(admitted)
            if inj.dropsPacket() { continue }
            _ = inj.duplicatesPacket()
            packet.withUnsafeMutableBytes { _ = inj.corrupt($0) }
        }
        let c = inj.counters
        #expect(c.offered == n)
        #expect(abs(Double(c.lost) / Double(n) - 0.1) < 0.005, "\(c)")
        #expect(abs(Double(c.duplicated) / Double(n - c.lost) - 0.05) < 0.005, "\(c)")
        #expect(abs(Double(c.corrupted) / Double(n - c.lost) - 0.02) < 0.003, "\(c)")
        #expect(c.reordered == 0 && c.queueDropped == 0 && c.corruptedBytes == 0)
    }

    @Test func bitCorruptionFlipsExactlyOneBit() {
        var inj = FaultInjector(configuration: FaultConfiguration(corrupt: 1), seed: 3)
        for i in 0..<1000 {
            let original = (0..<(20 + i % 60)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ i) }
            var p = original
            let changed = p.withUnsafeMutableBytes { inj.corrupt($0) }
            #expect(changed)
            let flipped = zip(original, p).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
            #expect(flipped == 1)
        }
        #expect(inj.counters.corrupted == 1000)
    }

    @Test func byteCorruptionChangesTheBytes() {
        var inj = FaultInjector(configuration: FaultConfiguration(corruptBytes: 1), seed: 5)
        for _ in 0..<1000 {
            let original = [UInt8](repeating: 0xAB, count: 1500)
            var p = original
            _ = p.withUnsafeMutableBytes { inj.corrupt($0) }
            let bytesChanged = zip(original, p).filter { $0 != $1 }.count
            #expect((1...4).contains(bytesChanged))
        }
        #expect(inj.counters.corruptedBytes == 1000)
        #expect(inj.counters.corrupted == 0)
    }

    @Test func sameSeedSameDecisions() {
        func run(_ seed: UInt64) -> [Bool] {
            var inj = FaultInjector(configuration: FaultConfiguration(loss: 0.3), seed: seed)
            return (0..<200).map { _ in inj.dropsPacket() }
        }
        #expect(run(11) == run(11))
        #expect(run(11) != run(12))
    }
}

@Suite struct MemoryLinkTests {
    func packet(_ tag: UInt8, length: Int = 40) -> [UInt8] { [UInt8](repeating: tag, count: length) }

    func send(_ link: MemoryLink, _ from: LinkEnd, _ p: [UInt8], at t: Instant) -> Bool {
        p.withUnsafeBytes { link.send(from: from, packet: $0, now: t) }
    }

    func ms(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }

    @Test func perfectLinkDeliversImmediatelyInOrder() {
        let link = MemoryLink()
        for tag in UInt8(1)...5 { #expect(send(link, .a, packet(tag), at: .zero)) }
        #expect(link.nextDelivery == .zero)
        let got = link.deliverAll(now: .zero)
        #expect(got.map(\.bytes[0]) == [1, 2, 3, 4, 5])
        #expect(got.allSatisfy { $0.to == .b && $0.at == .zero })
        #expect(link.nextDelivery == nil)
        #expect(link.slotsInUse == 0)
    }

    @Test func delayHoldsPacketsUntilDue() {
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(10)))
        _ = send(link, .a, packet(1), at: ms(0))
        _ = send(link, .b, packet(2), at: ms(3))
        #expect(link.nextDelivery == ms(10))
        #expect(link.deliverAll(now: ms(10) - .nanoseconds(1)).isEmpty)
        let first = link.deliverAll(now: ms(10))
        #expect(first.map(\.bytes[0]) == [1] && first[0].to == .b && first[0].at == ms(10))
        #expect(link.nextDelivery == ms(13))
        let second = link.deliverAll(now: ms(20))
        #expect(second.map(\.bytes[0]) == [2] && second[0].to == .a && second[0].at == ms(13))
    }

    @Test func bothDirectionsInterleaveByArrivalTime() {
        let link = MemoryLink(aToB: FaultConfiguration(delay: .milliseconds(5)), bToA: FaultConfiguration(delay: .milliseconds(1)))
        _ = send(link, .a, packet(1), at: ms(0))
        _ = send(link, .b, packet(2), at: ms(0))
        _ = send(link, .b, packet(3), at: ms(4))   // arrives 5 ms, same as 1, scheduled later
        let got = link.deliverAll(now: ms(100))
        #expect(got.map(\.bytes[0]) == [2, 1, 3])
        #expect(got.map(\.at) == [ms(1), ms(5), ms(5)])
    }

    @Test func rateSerialisesPacketsBackToBack() {
        // 1000 bytes at 8 Mbit/s = 1 ms each, plus 2 ms delay.
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(2), rate: 8_000_000))
        for tag in UInt8(1)...3 { _ = send(link, .a, packet(tag, length: 1000), at: .zero) }
        _ = send(link, .a, packet(4, length: 1000), at: ms(10))  // line idle again
        let got = link.deliverAll(now: ms(100))
        #expect(got.map(\.bytes[0]) == [1, 2, 3, 4])
        #expect(got.map(\.at) == [ms(3), ms(4), ms(5), ms(13)])
    }

    @Test func queueLimitTailDrops() {
        let link = MemoryLink(faults: FaultConfiguration(rate: 8_000_000, queueLimit: 2))
        #expect(send(link, .a, packet(1, length: 1000), at: .zero))
        #expect(send(link, .a, packet(2, length: 1000), at: .zero))
        #expect(!send(link, .a, packet(3, length: 1000), at: .zero))
        #expect(link.faultCounters(from: .a).queueDropped == 1)
        #expect(link.deliverAll(now: ms(1)).map(\.bytes[0]) == [1])
        #expect(send(link, .a, packet(4, length: 1000), at: ms(1)))
        #expect(link.deliverAll(now: ms(100)).map(\.bytes[0]) == [2, 4])
        #expect(link.faultCounters(from: .a).offered == 4)
    }

    @Test func reorderHoldsAPacketBehindTheNextOne() {
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(1), reorder: 1))
        for tag in UInt8(1)...4 { _ = send(link, .a, packet(tag), at: ms(Int64(tag))) }
        let got = link.deliverAll(now: ms(100))
        #expect(got.map(\.bytes[0]) == [2, 1, 4, 3])
        #expect(got.map(\.at) == [ms(3), ms(3), ms(5), ms(5)])
        #expect(link.faultCounters(from: .a).reordered == 2)
    }

    @Test func heldPacketGoesAloneAfterTheHoldLimit() {
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(1), reorder: 1, reorderHold: .milliseconds(4)))
        _ = send(link, .a, packet(9), at: .zero)
        #expect(link.nextDelivery == ms(5))
        #expect(link.deliverAll(now: ms(4)).isEmpty)
        let got = link.deliverAll(now: ms(5))
        #expect(got.map(\.bytes[0]) == [9] && got[0].at == ms(5))
    }

    @Test func duplicateDeliversTwice() {
        let link = MemoryLink(faults: FaultConfiguration(duplicate: 1))
        _ = send(link, .a, packet(1), at: .zero)
        _ = send(link, .a, packet(2), at: .zero)
        #expect(link.deliverAll(now: .zero).map(\.bytes[0]) == [1, 1, 2, 2])
        #expect(link.faultCounters(from: .a).duplicated == 2)
    }

    @Test func jitterStaysWithinBoundsAndReorders() {
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(10), jitter: .milliseconds(5)), seed: 9)
        for i in 0..<1000 { _ = send(link, .a, packet(UInt8(truncatingIfNeeded: i)), at: Instant(nanoseconds: Int64(i) * 10_000)) }
        let got = link.deliverAll(now: ms(1000))
        #expect(got.count == 1000)
        var outOfOrder = 0
        for (k, g) in got.enumerated() {
            if k > 0 && g.at < got[k - 1].at { Issue.record("deliveries not in time order") }
            if k > 0 && g.bytes[0] != UInt8(truncatingIfNeeded: Int(got[k - 1].bytes[0]) + 1) { outOfOrder += 1 }
        }
        #expect(got.allSatisfy { $0.at >= ms(5) && $0.at <= ms(25) })
        #expect(outOfOrder > 100)
    }

    @Test func lossDropsAndOversizeIsCounted() {
        let link = MemoryLink(mtu: 100, faults: FaultConfiguration(loss: 1))
        #expect(!send(link, .a, packet(1), at: .zero))
        #expect(!send(link, .a, packet(2, length: 101), at: .zero))
        #expect(link.faultCounters(from: .a).lost == 1)
        #expect(link.oversize(from: .a) == 1)
        #expect(link.nextDelivery == nil)
    }

    @Test func storageIsReusedInSteadyState() {
        let link = MemoryLink(faults: FaultConfiguration(delay: .milliseconds(1)))
        for round in 0..<50 {
            for i in 0..<100 { _ = send(link, .a, packet(UInt8(i)), at: ms(Int64(round))) }
            #expect(link.slotsInUse == 100)
            var n = 0
            while link.deliver(now: ms(Int64(round) + 1)) != nil { n += 1 }
            #expect(n == 100)
        }
        #expect(link.poolBytes == 128 * 1500)  // two slabs of 64, never more
    }

    @Test func captureKeepsWhatWasSent() {
        let link = MemoryLink(faults: FaultConfiguration(loss: 1), capture: true)
        _ = send(link, .b, packet(7), at: ms(2))
        #expect(link.captured == [LinkCapturedPacket(time: ms(2), from: .b, bytes: packet(7))])
    }
}
