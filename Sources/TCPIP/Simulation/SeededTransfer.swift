/// One seeded simulation run: two hosts over a faulty `MemoryLink`, each sending a
/// seeded payload to the other at the same time, then both closing. Everything —
/// faults, payloads, ISNs, ports — follows from the seed, so a failing seed replays
/// bit for bit.
public struct SeededTransfer {
    /// How one side's connection ended.
    public enum CloseReason: Equatable, Sendable, CustomStringConvertible {
        /// The connection never reported `.closed` (still open when the run stopped).
        case open
        /// `.closed(nil)`: the FIN exchange finished (TIME-WAIT expired or LAST-ACK acknowledged).
        case normal
        /// `.closed(error)`: reset, timed out, aborted, ...
        case failed(TCPError)

        public var description: String {
            switch self {
            case .open: "-"
            case .normal: "normal"
            case .failed(let e): "\(e)"
            }
        }
    }

    public struct Outcome: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var faults: FaultConfiguration
        public var bytesAToB = 0
        public var bytesBToA = 0
        /// Every received byte matched the sender's payload at its position.
        public var intact = true
        public var finalStateA: TCPState = .closed
        public var finalStateB: TCPState = .closed
        public var connectionsLeft = 0
        /// Unread plus unacknowledged bytes still held by the two connections.
        public var bufferedBytes = 0
        /// Packet slots the link still holds.
        public var linkSlotsInUse = 0
        public var duration: Duration = .zero
        public var faultsAToB = FaultCounters()
        public var faultsBToA = FaultCounters()
        public var dropsA = HostDropCounts()
        public var dropsB = HostDropCounts()
        public var retransmissions = 0
        public var completed = false
        /// How each side's connection ended ("normal", or the TCPError), "-" while open.
        public var endA = "-"
        public var endB = "-"
        /// How each side's connection ended, typed (`endA`/`endB` are its descriptions).
        public var closeReasonA = CloseReason.open
        public var closeReasonB = CloseReason.open
        /// A digest of every packet delivered, in order: equal digests mean the same run.
        public var traceDigest: UInt64 = 0

        public var description: String {
            "seed \(seed) [\(faults)]: A→B \(bytesAToB) B→A \(bytesBToA) intact \(intact) states \(finalStateA)/\(finalStateB) left \(connectionsLeft) buffered \(bufferedBytes) slots \(linkSlotsInUse) time \(Instant(nanoseconds: duration.nanosecondsClamped))s retrans \(retransmissions) completed \(completed) ends \(endA)/\(endB)"
        }
    }

    public var seed: UInt64
    public var faults: FaultConfiguration
    public var bytesEachWay: Int
    public var clientISN: UInt32?
    public var serverISN: UInt32?
    public var configuration = TCPConfiguration.default
    /// Virtual-time bound on the whole run.
    public var timeLimit: Duration = .seconds(3600)

    /// A run whose fault mix is drawn from the seed: up to 10 % loss, reordering,
    /// duplication, bit-flip corruption, and delay with jitter.
    public init(seed: UInt64, bytesEachWay: Int = 1 << 20) {
        self.seed = seed
        self.bytesEachWay = bytesEachWay
        faults = SeededTransfer.faultMix(seed: seed)
    }

    public init(seed: UInt64, faults: FaultConfiguration, bytesEachWay: Int) {
        self.seed = seed
        self.faults = faults
        self.bytesEachWay = bytesEachWay
    }

    public static func faultMix(seed: UInt64) -> FaultConfiguration {
        var r = SeededRandom(seed: seed ^ 0xFA17_5EED)
        func percent(_ max: UInt64) -> Double { Double(r.next() % (max * 10 + 1)) / 1000 }  // 0.1 % steps
        let delayMs = Int64(r.next() % 51)
        return FaultConfiguration(loss: percent(10), delay: .milliseconds(delayMs),
                                  jitter: .milliseconds(Int64(r.next() % UInt64(delayMs / 2 + 1))),
                                  reorder: percent(10), duplicate: percent(5), corrupt: percent(5))
    }

    /// The payload one side sends: `count` bytes from a generator seeded by the run's seed and side.
    public static func payload(seed: UInt64, side: LinkEnd, count: Int) -> [UInt8] {
        var r = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(side.rawValue + 1))
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { b in
            var i = 0
            while i + 8 <= count { b.storeBytes(of: r.next(), toByteOffset: i, as: UInt64.self); i += 8 }
            var x = r.next()
            while i < count { b[i] = UInt8(truncatingIfNeeded: x); x >>= 8; i += 1 }
        }
        return out
    }

    public func run() -> Outcome {
        var out = Outcome(seed: seed, faults: faults)
        var seeds = SeededRandom(seed: seed)
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), configuration: configuration, seed: seeds.next())
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), configuration: configuration, seed: seeds.next())
        if let isn = clientISN { a.initialSequenceNumber = { _, _ in SequenceNumber(isn) } }
        if let isn = serverISN { b.initialSequenceNumber = { _, _ in SequenceNumber(isn) } }
        let link = MemoryLink(mtu: 1500, faults: faults, seed: seeds.next())
        let net = SimulatedNetwork(a: a, b: b, link: link)
        var digest: UInt64 = 0xCBF2_9CE4_8422_2325
        net.observer = { t in
            guard case .delivered = t.kind else { return }
            digest = (digest ^ UInt64(t.time.nanoseconds)) &* 0x100_0000_01B3
            digest = (digest ^ UInt64(InternetChecksum.rawSum(t.packet))) &* 0x100_0000_01B3
        }

        let payloadA = SeededTransfer.payload(seed: seed, side: .a, count: bytesEachWay)
        let payloadB = SeededTransfer.payload(seed: seed, side: .b, count: bytesEachWay)
        do { try b.listen(port: 80, backlog: 4) } catch { return out }
        guard let ch = try? a.connect(to: b.address, port: 80, now: net.now), let clientConn = a.connection(ch) else { return out }
        var server: ConnectionHandle? = nil
        var serverConn: TCPConnection? = nil
        var sentA = 0, sentB = 0, gotA = 0, gotB = 0
        var closedA = false, closedB = false
        var intact = true
        var endA = CloseReason.open, endB = CloseReason.open
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { scratch.deallocate() }

        func pump(_ host: IPv4Host, _ h: ConnectionHandle, _ conn: TCPConnection, mine: [UInt8], theirs: [UInt8],
                  sent: inout Int, got: inout Int, closed: inout Bool, end: inout CloseReason) {
            if sent < mine.count {
                sent += mine.withUnsafeBytes { host.write(h, UnsafeRawBufferPointer(rebasing: $0[sent...])) }
            }
            if sent == mine.count && !closed { host.close(h); closed = true }
            while true {
                let n = host.read(h, into: scratch)
                if n == 0 { break }
                if got + n > theirs.count { intact = false } else {
                    theirs.withUnsafeBytes { t in
                        if memcmpEqual(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), UnsafeRawBufferPointer(rebasing: t[got..<(got + n)])) == false { intact = false }
                    }
                }
                got += n
            }
            while let e = conn.nextEvent() {
                if case .closed(let error) = e { end = error.map { .failed($0) } ?? .normal }
            }
        }

        let done = net.run(until: {
            if server == nil, let h = b.accept(port: 80) { server = h; serverConn = b.connection(h) }
            if clientConn.state != .synSent {
                pump(a, ch, clientConn, mine: payloadA, theirs: payloadB, sent: &sentA, got: &gotA, closed: &closedA, end: &endA)
            }
            if let s = server, let sc = serverConn {
                pump(b, s, sc, mine: payloadB, theirs: payloadA, sent: &sentB, got: &gotB, closed: &closedB, end: &endB)
            }
            guard let sc = serverConn else { return false }
            return clientConn.isFinished && sc.isFinished && a.connectionCount == 0 && b.connectionCount == 0
        }, timeLimit: timeLimit)

        out.completed = done
        out.bytesAToB = gotB
        out.bytesBToA = gotA
        out.intact = intact
        out.finalStateA = clientConn.state
        out.finalStateB = serverConn?.state ?? .listen
        out.connectionsLeft = a.connectionCount + b.connectionCount
        out.bufferedBytes = clientConn.readableBytes + clientConn.unacknowledgedBytes
            + (serverConn.map { $0.readableBytes + $0.unacknowledgedBytes } ?? 0)
        out.linkSlotsInUse = link.slotsInUse
        out.duration = net.now - .zero
        out.faultsAToB = link.faultCounters(from: .a)
        out.faultsBToA = link.faultCounters(from: .b)
        out.dropsA = a.counters.drops
        out.dropsB = b.counters.drops
        out.retransmissions = clientConn.counters.retransmittedSegments + (serverConn?.counters.retransmittedSegments ?? 0)
        out.traceDigest = digest
        out.closeReasonA = endA
        out.closeReasonB = endB
        out.endA = endA.description
        out.endB = endB.description
        net.observer = nil
        return out
    }
}

/// Byte equality of two buffers of the same length.
@inlinable
func memcmpEqual(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
    guard x.count == y.count else { return false }
    var i = 0
    let n = x.count
    while i + 8 <= n {
        if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n { if x[i] != y[i] { return false }; i += 1 }
    return true
}
