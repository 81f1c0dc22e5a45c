import Testing
import TCPIP

/// Mutated and random bytes through every view: each either parses (and then every
/// accessor, option walk and value conversion runs without trapping) or throws.
@Suite struct WireRobustnessTests {
    static let seeds: [String] = [
        "ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 c0000201 000000000000 c0000202",
        "0200000000aa 020000000001 8100 b123 0800 46b9 0020 abcd 20b9 0111 d385 c0000201 c0000202 94040000 0102030405060708",
        "4500 0040 0001 0000 4006 0000 c0000201 c0000202 a3f2 0050 8a1b2c3d 00000000 b002 faf0 0000 0000 020405b4 0402080a 0012d687 00000000 01030307 0101050a 00000001 00000002",
        "0304 332d 0000 0578 4500 05dc 1234 4000 4006 9ee4 c0000201 c0000202 c000 0050 01020304",
        "04d2 0035 000c 49d1 61626364",
    ]

    /// Runs every view over `b`; returns how many of them accepted it.
    static func exercise(_ b: [UInt8]) -> Int {
        var accepted = 0
        b.withUnsafeBytes { p in
            if let e = try? EthernetFrameView(p) {
                accepted += 1
                _ = (e.destination, e.source, e.vlan, e.etherType, e.payload.count, e.value())
            }
            if let a = try? ARPPacketView(p) {
                accepted += 1
                _ = a.value()
            }
            if let v = try? IPv4HeaderView(p) {
                accepted += 1
                _ = (v.dscp, v.ecn, v.fragmentOffset, v.isFragment, v.checksumIsValid, v.payload.count, v.quotedPorts, v.quotedTCPSequenceNumber)
                _ = try? v.options()
                _ = try? v.value()
                _ = try? v.validateOptions()
            }
            if let v = try? IPv4HeaderView(quoted: p) {
                _ = (v.payload.count, v.quotedPorts, v.quotedTCPSequenceNumber, try? v.options())
            }
            if let m = try? ICMPv4MessageView(p) {
                accepted += 1
                _ = (m.value(), m.checksumIsValid, m.nextHopMTU, m.pointer, m.gateway, m.body.count)
                if let q = try? m.quotedDatagram() { _ = (q.source, q.quotedPorts, try? q.value()) }
            }
            if let u = try? UDPHeaderView(p) {
                accepted += 1
                _ = (u.value(), u.payload.count, u.checksumIsValid(source: .any, destination: .broadcast))
            }
            if let t = try? TCPHeaderView(p) {
                accepted += 1
                _ = (t.flags, t.reserved, t.sequenceLength, t.payload.count, t.checksumIsValid(source: .any, destination: .any))
                _ = try? t.options()
                _ = try? t.optionSet()
                _ = try? t.value()
            }
        }
        return accepted
    }

    @Test func mutatedFramesNeverTrap() {
        var rng = SeededRandom(seed: 0xF0)
        var accepted = 0, rejectedAll = 0
        for i in 0..<20_000 {
            var b = hex(Self.seeds[i % Self.seeds.count])
            for _ in 0..<rng.int(1...4) {
                switch rng.int(0...3) {
                case 0: if !b.isEmpty { b[rng.int(0...(b.count - 1))] = rng.u8() }
                case 1: b = Array(b.prefix(rng.int(0...b.count)))
                case 2: b += rng.bytes(rng.int(1...8))
                default: if b.count > 20 { b[rng.int(0...1) == 0 ? 0 : 12] = rng.u8() }  // version/IHL or TCP offset
                }
            }
            let n = Self.exercise(b)
            accepted += n
            if n == 0 { rejectedAll += 1 }
        }
        // Both outcomes occur, so the loop really exercised parse and reject paths.
        #expect(accepted > 10_000)
        #expect(rejectedAll > 100)
    }

    @Test func randomBytesNeverTrap() {
        var rng = SeededRandom(seed: 0xF1)
        for _ in 0..<10_000 {
            _ = Self.exercise(rng.bytes(rng.int(0...80)))
        }
    }
}
