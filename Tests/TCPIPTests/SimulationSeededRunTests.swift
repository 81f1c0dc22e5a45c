import Testing
@testable import TCPIP

/// Whole conversations between two hosts over a faulty link, one per seed.
/// `SEEDS` (environment) sets how many seeds run (default 100); `SEED` runs just one.
@Suite struct SimulationSeededRunTests {
    static var seeds: [UInt64] {
        if let one = ProcessEnvironment["SEED"], let s = UInt64(one) { return [s] }
        let n = ProcessEnvironment["SEEDS"].flatMap { Int($0) } ?? 100
        return (0..<UInt64(max(0, n))).map { $0 + 1 }
    }

    static func check(_ o: SeededTransfer.Outcome, bytes: Int) {
        let replay = "replay: SEED=\(o.seed) swift test --filter SimulationSeededRunTests"
        #expect(o.completed, "\(o) — \(replay)")
        #expect(o.intact, "\(o) — \(replay)")
        #expect(o.bytesAToB == bytes, "\(o) — \(replay)")
        #expect(o.bytesBToA == bytes, "\(o) — \(replay)")
        #expect(o.finalStateA == .closed && o.finalStateB == .closed, "\(o) — \(replay)")
        #expect(o.connectionsLeft == 0, "\(o) — \(replay)")
        #expect(o.bufferedBytes == 0, "\(o) — \(replay)")
        #expect(o.linkSlotsInUse == 0, "\(o) — \(replay)")
        // Both sides finished the FIN exchange: not reset, not timed out, not still open.
        #expect(o.closeReasonA == .normal, "\(o) — \(replay)")
        #expect(o.closeReasonB == .normal, "\(o) — \(replay)")
    }

    @Test func seededFaultyRunsDeliverEveryByteInOrderAndClose() {
        let bytes = 1 << 20
        var failures: [UInt64] = []
        for seed in Self.seeds {
            let o = SeededTransfer(seed: seed, bytesEachWay: bytes).run()
            Self.check(o, bytes: bytes)
            let ok = o.completed && o.intact && o.bytesAToB == bytes && o.bytesBToA == bytes
                && o.connectionsLeft == 0 && o.bufferedBytes == 0 && o.linkSlotsInUse == 0
                && o.closeReasonA == .normal && o.closeReasonB == .normal
            if !ok { failures.append(seed) }
        }
        #expect(failures.isEmpty, "failing seeds: \(failures)")
    }

    @Test func aSeedReplaysBitForBit() {
        let first = SeededTransfer(seed: 7, bytesEachWay: 200_000).run()
        let again = SeededTransfer(seed: 7, bytesEachWay: 200_000).run()
        #expect(first.traceDigest == again.traceDigest)
        #expect(first.duration == again.duration)
        #expect(first.faultsAToB == again.faultsAToB && first.faultsBToA == again.faultsBToA)
        let other = SeededTransfer(seed: 8, bytesEachWay: 200_000).run()
        #expect(other.traceDigest != first.traceDigest)
    }

    @Test func faultMixStaysWithinTheAdvertisedBounds() {
        for seed in UInt64(0)..<500 {
            let f = SeededTransfer.faultMix(seed: seed)
            #expect(f.loss <= 0.1 && f.reorder <= 0.1 && f.duplicate <= 0.05 && f.corrupt <= 0.05)
            #expect(f.delay <= .milliseconds(50) && f.jitter <= f.delay)
        }
    }

    @Test func randomByteCorruptionIsAlwaysCaughtAsADrop() {
        for seed in UInt64(1)...4 {
            let faults = FaultConfiguration(loss: 0.01, delay: .milliseconds(5), corruptBytes: 0.05)
            let o = SeededTransfer(seed: seed, faults: faults, bytesEachWay: 300_000).run()
            Self.check(o, bytes: 300_000)
            let corrupted = o.faultsAToB.corruptedBytes + o.faultsBToA.corruptedBytes
            #expect(corrupted > 0)
            #expect(o.dropsA.damaged + o.dropsB.damaged == corrupted, "\(o) dropsA \(o.dropsA) dropsB \(o.dropsB)")
        }
    }

    @Test func bitFlipCorruptionIsAlwaysCaughtAsADrop() {
        let faults = FaultConfiguration(corrupt: 0.1)
        let o = SeededTransfer(seed: 3, faults: faults, bytesEachWay: 300_000).run()
        Self.check(o, bytes: 300_000)
        let corrupted = o.faultsAToB.corrupted + o.faultsBToA.corrupted
        #expect(corrupted > 0)
        #expect(o.dropsA.damaged + o.dropsB.damaged == corrupted)
    }

    @Test func transferAcrossSequenceNumberWrapMovesTenMegabytesExactly() {
        var t = SeededTransfer(seed: 99, faults: .none, bytesEachWay: 10 << 20)
        t.clientISN = UInt32.max - 999
        t.serverISN = UInt32.max - 999
        let o = t.run()
        Self.check(o, bytes: 10 << 20)
    }
}

/// Environment variables for the test. The C library's getenv is declared here rather
/// than imported: importing Glibc in one file makes its overloads visible to every
/// file of the target and tips other files' expressions past the type checker's limits.
@_silgen_name("getenv")
private func cGetenv(_ name: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>?

enum ProcessEnvironment {
    static subscript(_ name: String) -> String? {
        guard let v = cGetenv(name) else { return nil }
        return String(cString: v)
    }
}
