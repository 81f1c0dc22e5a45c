import Testing
@testable import TCPIP

/// The states `trace` infers for an endpoint from a capture at that endpoint's own
/// interface equal the states its engine went through, after every segment it sent
/// or received, over seeded faulty simulation runs.
@Suite struct TraceEngineStateTests {
    struct Observation {
        var segment: TraceSegment
        var engine: TCPState
    }

    static func inferred(_ s: TCPState) -> InferredState {
        switch s {
        case .closed: .closed
        case .listen: .listen
        case .synSent: .synSent
        case .synReceived: .synReceived
        case .established: .established
        case .finWait1: .finWait1
        case .finWait2: .finWait2
        case .closing: .closing
        case .timeWait: .timeWait
        case .closeWait: .closeWait
        case .lastAck: .lastAck
        }
    }

    /// One run: A connects to B, each sends `bytes`, each closes once all its data is
    /// acknowledged (so the FIN leaves as the close happens), both read everything.
    /// Returns each endpoint's capture with its engine state after each packet.
    static func run(seed: UInt64, faults: FaultConfiguration, bytes: Int = 6000)
        -> (a: [Observation], b: [Observation], finished: Bool, finalA: TCPState, finalB: TCPState) {
        var seeds = SeededRandom(seed: seed)
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), seed: seeds.next())
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), seed: seeds.next())
        let link = MemoryLink(mtu: 1500, faults: faults, seed: seeds.next())
        var now = Instant(nanoseconds: 1_000_000_000)
        try? b.listen(port: 80, backlog: 4)
        guard let ch = try? a.connect(to: b.address, port: 80, now: now), let ca = a.connection(ch) else {
            return ([], [], false, .closed, .closed)
        }
        var cb: TCPConnection? = nil
        var hb: ConnectionHandle? = nil
        var obsA: [Observation] = [], obsB: [Observation] = []
        var frame = [0, 0]
        let data = [UInt8](repeating: 0x5A, count: bytes)
        var sent = [0, 0], closed = [false, false]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }

        func stateB() -> TCPState { cb?.state ?? b.connections.first?.state ?? .listen }
        func record(_ packet: UnsafeRawBufferPointer, at: LinkEnd) {
            frame[at.rawValue] += 1
            guard case .success(let s) = TraceSegment.decode(frame: frame[at.rawValue], time: now, linkType: .raw,
                                                             bytes: Array(packet)) else { return }
            if at == .a { obsA.append(Observation(segment: s, engine: ca.state)) }
            else {
                if cb == nil { cb = b.connections.first }
                obsB.append(Observation(segment: s, engine: stateB()))
            }
        }
        func app(_ host: IPv4Host, _ h: ConnectionHandle, _ c: TCPConnection, _ k: Int) {
            if sent[k] < bytes && c.state.isSynchronized {
                sent[k] += data.withUnsafeBytes { host.write(h, UnsafeRawBufferPointer(rebasing: $0[sent[k]...])) }
            }
            while host.read(h, into: buffer) > 0 {}
            if sent[k] == bytes && !closed[k] && c.unacknowledgedBytes == 0
                && (c.state == .established || c.state == .closeWait) {
                host.close(h)
                closed[k] = true
            }
        }
        let end = now + .seconds(900)
        while now < end {
            // Deliveries: each arrives, is recorded at its receiver, then processed.
            while let d = link.deliver(now: now) {
                let host = d.to == .a ? a : b
                host.receive(packet: d.packet, now: now)
                record(d.packet, at: d.to)
            }
            if hb == nil, let h = b.accept(port: 80) { hb = h; cb = b.connection(h) }
            app(a, ch, ca, 0)
            if let h = hb, let c = cb { app(b, h, c, 1) }
            // Transmissions: recorded at their sender after the engine produced them.
            var progress = true
            while progress {
                progress = false
                for (end, host) in [(LinkEnd.a, a), (LinkEnd.b, b)] {
                    let n = host.poll(now: now, into: buffer)
                    if n > 0 {
                        let p = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                        record(p, at: end)
                        _ = link.send(from: end, packet: p, now: now)
                        progress = true
                    }
                }
            }
            if ca.isFinished && (cb?.isFinished ?? false) && link.nextDelivery == nil {
                return (obsA, obsB, true, ca.state, stateB())
            }
            var next = link.nextDelivery
            for d in [a.nextDeadline, b.nextDeadline].compactMap({ $0 }) { next = min(next ?? d, d) }
            guard let t = next else { break }
            now = t > now ? t : now + .nanoseconds(1)
        }
        return (obsA, obsB, false, ca.state, stateB())
    }

    /// Mismatches between the engine and the inference for one endpoint's capture.
    /// Transitions that send nothing are compared at the end of the run: the last inferred
    /// state must be the engine's final one, or TIME-WAIT when the engine's timer has since closed it.
    static func endMismatch(_ obs: [Observation], isClient: Bool, final: TCPState) -> [String] {
        let streams = TraceStream.group(obs.map(\.segment))
        guard let main = streams.max(by: { $0.segments.count < $1.segments.count }) else { return [] }
        let c = TraceConversation(main)
        guard let last = c.events.last else { return [] }
        let ours = isClient ? last.clientState : last.serverState
        if ours == inferred(final) || (ours == .timeWait && final == .closed) { return [] }
        return ["end: engine \(final), inferred \(ours)"]
    }

    static func mismatches(_ obs: [Observation], isClient: Bool) -> [String] {
        guard !obs.isEmpty else { return [] }
        // The connection's stream (damage to a port puts a segment in a stream of its own).
        let streams = TraceStream.group(obs.map(\.segment))
        guard let main = streams.max(by: { $0.segments.count < $1.segments.count }) else { return ["no stream"] }
        let c = TraceConversation(main)
        let byFrame = Dictionary(uniqueKeysWithValues: obs.map { ($0.segment.frame, $0) })
        var out: [String] = []
        for (i, e) in c.events.enumerated() {
            guard let o = byFrame[e.segment.frame] else { continue }
            let ours = isClient ? e.clientState : e.serverState
            let expected = inferred(o.engine)
            if ours != expected {
                out.append("#\(i) \(LadderTextFormatter.flagNames(o.segment.header.flags)) seq=\(e.relativeSeq) ack=\(e.relativeAck) len=\(o.segment.payloadLength) \(e.direction == .clientToServer ? "→" : "←"): engine \(o.engine), inferred \(ours)")
            }
        }
        return out
    }

    @Test func inferredStatesMatchTheEngineOnACleanLink() {
        let r = Self.run(seed: 1, faults: .none)
        #expect(r.finished)
        let ma: [String] = Self.mismatches(r.a, isClient: true)
        let mb: [String] = Self.mismatches(r.b, isClient: false)
        #expect(ma.isEmpty, Comment(rawValue: ma.joined(separator: "\n")))
        #expect(mb.isEmpty, Comment(rawValue: mb.joined(separator: "\n")))
        #expect(r.a.count > 10 && r.b.count > 10)
    }

    /// Loss, delay, jitter, reordering, duplication and corruption, mixed by the seed.
    @Test func inferredStatesMatchTheEngineOverSeededFaultyRuns() {
        var failures: [String] = []
        for seed in UInt64(1)...200 {
            let f = SeededTransfer.faultMix(seed: seed)
            let r = Self.run(seed: seed, faults: f)
            var m = Self.mismatches(r.a, isClient: true).map { "A " + $0 } + Self.mismatches(r.b, isClient: false).map { "B " + $0 }
            m += Self.endMismatch(r.a, isClient: true, final: r.finalA).map { "A " + $0 }
            m += Self.endMismatch(r.b, isClient: false, final: r.finalB).map { "B " + $0 }
            if !r.finished { m.append("run did not finish") }
            if !m.isEmpty { failures.append("seed \(seed) [\(f)]: " + m.prefix(4).joined(separator: "; ")) }
        }
        let report = "\(failures.count) runs:\n" + failures.prefix(10).joined(separator: "\n")
        #expect(failures.isEmpty, Comment(rawValue: report))
    }
}


