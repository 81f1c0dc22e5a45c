import Testing
@testable import TCPIP

@Suite struct IPv4ReassemblyTests {
    let key = IPv4FragmentKey(source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(192, 0, 2, 2),
                              protocolNumber: IPProtocol.icmp, identification: 0x1234)

    func payload(_ n: Int, seed: UInt64 = 1) -> [UInt8] {
        var r = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &r) }
    }

    func add(_ r: inout IPv4Reassembly, _ data: [UInt8], _ range: Range<Int>, more: Bool,
             key k: IPv4FragmentKey? = nil, at t: Instant = .zero) -> IPv4Reassembly.Outcome {
        Array(data[range]).withUnsafeBytes {
            r.insert(key: k ?? key, offset: range.lowerBound, moreFragments: more, payload: $0, now: t)
        }
    }

    @Test func fragmentsInOrderReassembleToTheOriginalPayload() {
        var r = IPv4Reassembly()
        let data = payload(3000)
        #expect(add(&r, data, 0..<1480, more: true) == .incomplete)
        #expect(add(&r, data, 1480..<2960, more: true) == .incomplete)
        #expect(add(&r, data, 2960..<3000, more: false) == .complete(data))
        #expect(r.datagramsInProgress == 0 && r.bytesHeld == 0 && r.completed == 1)
    }

    @Test func lastFragmentFirstAndReverseOrderStillReassemble() {
        var r = IPv4Reassembly()
        let data = payload(2000, seed: 2)
        #expect(add(&r, data, 1600..<2000, more: false) == .incomplete)
        #expect(add(&r, data, 800..<1600, more: true) == .incomplete)
        #expect(add(&r, data, 0..<800, more: true) == .complete(data))
    }

    @Test func overlapWithIdenticalBytesIsAccepted() {
        var r = IPv4Reassembly()
        let data = payload(1600, seed: 3)
        #expect(add(&r, data, 0..<1000, more: true) == .incomplete)
        #expect(add(&r, data, 800..<1600, more: false) == .complete(data))
    }

    @Test func overlapWithDifferentBytesDropsTheWholeDatagram() {
        var r = IPv4Reassembly()
        let data = payload(1600, seed: 4)
        var forged = data
        forged[900] ^= 0xFF
        #expect(add(&r, data, 0..<1000, more: true) == .incomplete)
        #expect(add(&r, forged, 800..<1600, more: false) == .dropped(.conflictingOverlap))
        #expect(r.datagramsInProgress == 0)
        #expect(r.drops[.conflictingOverlap] == 1)
        // The genuine rest no longer completes anything: the datagram is gone.
        #expect(add(&r, data, 1000..<1600, more: false) == .incomplete)
    }

    @Test func duplicateFragmentsAreHarmless() {
        var r = IPv4Reassembly()
        let data = payload(1200, seed: 5)
        #expect(add(&r, data, 0..<800, more: true) == .incomplete)
        #expect(add(&r, data, 0..<800, more: true) == .incomplete)
        #expect(add(&r, data, 800..<1200, more: false) == .complete(data))
    }

    @Test func incompleteDatagramTimesOutAfterThirtySeconds() {
        var r = IPv4Reassembly()
        let data = payload(1600, seed: 6)
        #expect(add(&r, data, 0..<800, more: true, at: .zero) == .incomplete)
        #expect(r.nextDeadline == Instant.zero + .seconds(30))
        r.expire(now: Instant.zero + .seconds(29))
        #expect(r.datagramsInProgress == 1)
        r.expire(now: Instant.zero + .seconds(30))
        #expect(r.datagramsInProgress == 0 && r.drops[.timedOut] == 1 && r.bytesHeld == 0)
    }

    @Test func fragmentEndingPast65515BytesIsDropped() {
        var r = IPv4Reassembly()
        let data = payload(1480, seed: 7)
        let out = data.withUnsafeBytes { r.insert(key: key, offset: 65528 - 1480 + 8, moreFragments: false, payload: $0, now: .zero) }
        #expect(out == .dropped(.tooLong))
    }

    @Test func nonFinalFragmentNotAMultipleOfEightIsDropped() {
        var r = IPv4Reassembly()
        #expect(add(&r, payload(100), 0..<100, more: true) == .dropped(.misalignedFragment))
    }

    @Test func contradictoryEndsDropTheDatagram() {
        var r = IPv4Reassembly()
        let data = payload(2000, seed: 8)
        #expect(add(&r, data, 1000..<1600, more: false) == .incomplete)
        #expect(add(&r, data, 1600..<2000, more: true) == .dropped(.inconsistentEnd))
        #expect(r.datagramsInProgress == 0)
    }

    @Test func limitsBoundDatagramsFragmentsAndBytes() {
        var limits = IPv4Reassembly.Limits()
        limits.maximumDatagrams = 2
        limits.maximumFragmentsPerDatagram = 3
        limits.maximumBytes = 4000
        var r = IPv4Reassembly(limits: limits)
        let data = payload(8000, seed: 9)
        func k(_ id: UInt16) -> IPv4FragmentKey { var x = key; x.identification = id; return x }
        #expect(add(&r, data, 0..<8, more: true, key: k(1)) == .incomplete)
        #expect(add(&r, data, 0..<8, more: true, key: k(2)) == .incomplete)
        #expect(add(&r, data, 0..<8, more: true, key: k(3)) == .dropped(.tooManyDatagrams))
        #expect(add(&r, data, 8..<16, more: true, key: k(1)) == .incomplete)
        #expect(add(&r, data, 16..<24, more: true, key: k(1)) == .incomplete)
        #expect(add(&r, data, 24..<32, more: true, key: k(1)) == .dropped(.tooManyFragments))
        // k(1) is gone, so a new datagram fits; k(2) still holds 8 bytes of the 4000.
        #expect(add(&r, data, 0..<3984, more: true, key: k(4)) == .incomplete)
        #expect(r.bytesHeld == 3992)
        #expect(add(&r, data, 3984..<4000, more: true, key: k(4)) == .dropped(.tooManyBytes))
        #expect(r.bytesHeld <= limits.maximumBytes)
    }

    @Test func randomFragmentationsInRandomOrderReassembleExactly() {
        var rng = SeededRandom(seed: 42)
        for round in 0..<300 {
            let size = Int.random(in: 1...6000, using: &rng)
            let data = payload(size, seed: UInt64(round) + 100)
            // Cut at random multiples of 8, with some fragments repeated and some overlapping.
            var cuts = [0]
            while let last = cuts.last, last < size {
                cuts.append(min(size, last + 8 * Int.random(in: 1...200, using: &rng)))
            }
            var pieces: [(Range<Int>, Bool)] = []
            for i in 0..<(cuts.count - 1) { pieces.append((cuts[i]..<cuts[i + 1], cuts[i + 1] < size)) }
            for p in pieces where rng.chance(0.2) {
                let extendedEnd = min(size, p.0.upperBound + 8 * Int.random(in: 1...4, using: &rng))
                let more = extendedEnd < size
                pieces.append((p.0.lowerBound..<(more ? p.0.lowerBound + (extendedEnd - p.0.lowerBound) / 8 * 8 : extendedEnd), more))
            }
            pieces.shuffle(using: &rng)
            var r = IPv4Reassembly()
            var result: [UInt8]? = nil
            for (range, more) in pieces where !range.isEmpty {
                if case .complete(let d) = add(&r, data, range, more: more) { result = d; break }
            }
            #expect(result == data, "round \(round)")
        }
    }
}
