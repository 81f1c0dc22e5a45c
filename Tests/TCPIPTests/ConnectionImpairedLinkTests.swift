import Testing
@testable import TCPIP

/// Two connections over a link with delay, jitter (reordering), loss and duplication,
/// driven by a virtual clock: every byte arrives once and in order, both ends close.
final class ImpairedLink {
    struct InFlight { var at: Instant; var order: Int; var bytes: [UInt8]; var toB: Bool }
    var rng: SeededRandom
    let loss: Double, duplicate: Double
    let delay: Duration, jitter: Duration
    let a: TCPConnection, b: TCPConnection
    var now = Instant.zero
    var queue: [InFlight] = []
    var order = 0
    var sent = 0

    init(seed: UInt64, loss: Double, duplicate: Double, delay: Duration, jitter: Duration,
         configuration: TCPConfiguration) {
        rng = SeededRandom(seed: seed)
        self.loss = loss; self.duplicate = duplicate; self.delay = delay; self.jitter = jitter
        a = TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(UInt32(truncatingIfNeeded: seed &* 7919)), configuration: configuration, now: .zero)
        b = TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(UInt32(truncatingIfNeeded: seed &* 104_729)), configuration: configuration, now: .zero)
    }

    func collect(from c: TCPConnection, toB: Bool) {
        var buf = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<10_000 {
            let n = buf.withUnsafeMutableBytes { c.poll(now: now, into: $0) }
            if n == 0 { break }
            sent += 1
            if rng.chance(loss) { continue }
            let copies = rng.chance(duplicate) ? 2 : 1
            for _ in 0..<copies {
                let j = jitter > .zero ? Duration.nanoseconds(Int64(rng.next() % UInt64(jitter.nanosecondsClamped))) : .zero
                order += 1
                queue.append(InFlight(at: now + delay + j, order: order, bytes: Array(buf.prefix(n)), toB: toB))
            }
        }
    }

    /// Runs until `done` or the time limit; returns false on the limit.
    func run(limit: Duration, step: () -> Void, done: () -> Bool) -> Bool {
        let end = Instant.zero + limit
        for _ in 0..<1_000_000 {
            step()
            collect(from: a, toB: true)
            collect(from: b, toB: false)
            if done() { return true }
            let nextPacket = queue.min { ($0.at, $0.order) < ($1.at, $1.order) }
            var next = [a.nextDeadline, b.nextDeadline].compactMap { $0 }.min()
            if let p = nextPacket, next == nil || p.at < next! { next = p.at }
            guard let t = next, t <= end else { return false }
            if t > now { now = t }
            // Deliver everything due, in arrival order.
            let due = queue.filter { $0.at <= now }.sorted { ($0.at, $0.order) < ($1.at, $1.order) }
            queue.removeAll { $0.at <= now }
            for p in due {
                let to = p.toB ? b : a
                p.bytes.withUnsafeBytes { to.handle(segment: try! TCPHeaderView($0), now: now) }
            }
        }
        return false
    }
}

@Suite struct ConnectionImpairedLinkTests {
    static let cases: [(UInt64, Bool)] = (1...8).map { (UInt64($0), $0 % 2 == 0) }

    @Test(arguments: cases)
    func reorderingLossAndDuplicationStillDeliverEveryByteOnce(seed: UInt64, options: Bool) {
        impairedTransfer(seed: seed, options: options, cubic: false)
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func cubicOverAnImpairedLinkDeliversEveryByteOnce(seed: UInt64) {
        impairedTransfer(seed: seed, options: true, cubic: true)
    }

    func impairedTransfer(seed: UInt64, options: Bool, cubic: Bool) {
        var cfg = options ? TCPConfiguration() : plainConfiguration()
        if cubic { cfg.congestionAlgorithm = .cubic }
        let link = ImpairedLink(seed: seed, loss: 0.03, duplicate: 0.03, delay: .milliseconds(20),
                                jitter: .milliseconds(15), configuration: cfg)
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        let back = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var sa = 0, sb = 0, ca = false, cb = false
        var gotA: [UInt8] = [], gotB: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let finished = link.run(limit: .seconds(600), step: {
            if sa < data.count, link.a.state == .established { sa += data[sa...].withUnsafeBytes { link.a.write($0) } }
            if sb < back.count, link.b.state == .established || link.b.state == .closeWait {
                sb += back[sb...].withUnsafeBytes { link.b.write($0) }
            }
            if sa == data.count, !ca, link.a.state == .established { link.a.close(); ca = true }
            if sb == back.count, !cb, link.b.state == .closeWait { link.b.close(); cb = true }
            let nb = buf.withUnsafeMutableBytes { link.b.read(into: $0) }
            gotB += buf.prefix(nb)
            let na = buf.withUnsafeMutableBytes { link.a.read(into: $0) }
            gotA += buf.prefix(na)
        }, done: { link.b.state == .closed && (link.a.state == .timeWait || link.a.state == .closed) })
        let summary = "seed \(seed) options \(options) t=\(link.now) a \(link.a.state) b \(link.b.state) gotB \(gotB.count) gotA \(gotA.count) rexmit \(link.a.counters.retransmittedSegments) RTO \(link.a.counters.timeouts) fast \(link.a.counters.fastRetransmits)"
        #expect(finished, "\(summary)")
        #expect(gotB.count == data.count && gotB == data, "\(summary)")
        #expect(gotA.count == back.count && gotA == back, "\(summary)")
    }
}
