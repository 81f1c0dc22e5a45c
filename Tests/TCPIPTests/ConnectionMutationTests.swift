import Testing
@testable import TCPIP

/// Real conversations whose segments are mutated on the way (random header and option
/// bytes): the engine never traps, never loops, and its invariants hold.
@Suite struct ConnectionMutationTests {
    @Test(arguments: Array(UInt64(1)...UInt64(12)))
    func mutatedSegmentsNeverBreakTheEngine(seed: UInt64) {
        var rng = SeededRandom(seed: seed &* 977)
        let cfg = seed % 2 == 0 ? TCPConfiguration() : plainConfiguration()
        let a = TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(UInt32(truncatingIfNeeded: rng.next())), configuration: cfg, now: .zero)
        let b = TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(UInt32(truncatingIfNeeded: rng.next())), configuration: cfg, now: .zero)
        var now = Instant.zero
        var buf = [UInt8](repeating: 0, count: 2048)
        var sink = [UInt8](repeating: 0, count: 65536)
        let data = [UInt8](repeating: 0x5A, count: 4096)
        for step in 0..<3000 {
            if rng.chance(0.3) { _ = data.withUnsafeBytes { a.write($0) } }
            if rng.chance(0.2) { _ = data.prefix(500).withUnsafeBytes { b.write($0) } }
            if step == 2500 { a.close(); b.close() }
            for (from, to) in [(a, b), (b, a)] {
                var emitted = 0
                while emitted < 500 {
                    let n = buf.withUnsafeMutableBytes { from.poll(now: now, into: $0) }
                    if n == 0 { break }
                    emitted += 1
                    var seg = Array(buf.prefix(n))
                    if rng.chance(0.1) { continue }
                    if rng.chance(0.15) {
                        let headerLength = Int(seg[12] >> 4) * 4
                        for _ in 0..<(1 + Int(rng.next() % 3)) {
                            let i = Int(rng.next() % UInt64(min(headerLength, seg.count)))
                            if i == 12 { continue }  // keep the data offset
                            seg[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                        }
                    }
                    seg.withUnsafeBytes { raw in
                        if let v = try? TCPHeaderView(raw) { to.handle(segment: v, now: now) }
                    }
                }
                #expect(emitted < 500, "seed \(seed): a connection kept emitting")
            }
            _ = sink.withUnsafeMutableBytes { a.read(into: $0) }
            _ = sink.withUnsafeMutableBytes { b.read(into: $0) }
            for c in [a, b] {
                #expect(c.sndUna <= c.sndNxt && c.sndNxt <= c.sndMax, "seed \(seed): \(c)")
                #expect(c.sendBuffer.count <= c.sendBuffer.capacity)
            }
            let ds = [a.nextDeadline, b.nextDeadline].compactMap { $0 }
            now = now + .milliseconds(Int64(rng.next() % 50))
            if let d = ds.min(), d > now, rng.chance(0.3) { now = d }
        }
    }
}
