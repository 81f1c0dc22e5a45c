import Testing
@testable import TCPIP

@Suite struct InitialSequenceNumberTests {
    // Reference vectors of SipHash-2-4 (the paper's Appendix A / reference test.c):
    // key 00 01 … 0f, message 00 01 … (n−1), for n = 0 … 16.
    static let vectors: [UInt64] = [
        0x726f_db47_dd0e_0e31, 0x74f8_39c5_93dc_67fd, 0x0d6c_8009_d9a9_4f5a, 0x8567_6696_d7fb_7e2d,
        0xcf27_94e0_2771_87b7, 0x1876_5564_cd99_a68d, 0xcbc9_466e_58fe_e3ce, 0xab02_00f5_8b01_d137,
        0x93f5_f579_9a93_2462, 0x9e00_82df_0ba9_e4b0, 0x7a5d_bbc5_94dd_b9f3, 0xf4b3_2f46_226b_ada7,
        0x751e_8fbc_860e_e5fb, 0x14ea_5627_c084_3d90, 0xf723_ca90_8e7a_f2ee, 0xa129_ca61_49be_45e5,
        0x3f2a_cc7f_57c2_9bdb,
    ]
    static let k0: UInt64 = 0x0706_0504_0302_0100, k1: UInt64 = 0x0f0e_0d0c_0b0a_0908

    @Test func sipHashMatchesTheReferenceVectors() {
        for (n, expected) in Self.vectors.enumerated() {
            let message = (0..<n).map { UInt8($0) }
            #expect(SipHash.hash24(message, key0: Self.k0, key1: Self.k1) == expected, "length \(n)")
        }
    }

    let tuple = FourTuple(localAddress: IPv4Address(192, 0, 2, 1), localPort: 80,
                          remoteAddress: IPv4Address(198, 51, 100, 7), remotePort: 49_152)
    let gen = InitialSequenceNumberGenerator(key0: 0x0123_4567_89ab_cdef, key1: 0xfedc_ba98_7654_3210)

    @Test func isnIsTheTimerPlusTheKeyedHashOfTheTupleInNetworkOrder() {
        let bytes: [UInt8] = [192, 0, 2, 1, 0, 80, 198, 51, 100, 7, 0xc0, 0x00]
        let f = UInt32(truncatingIfNeeded: SipHash.hash24(bytes, key0: 0x0123_4567_89ab_cdef, key1: 0xfedc_ba98_7654_3210))
        let now = Instant(nanoseconds: 10_000_000_123)            // 10 s: M = 10e9 / 4000 = 2_500_000
        #expect(gen.isn(for: tuple, now: now) == SequenceNumber(2_500_000 &+ f))
    }

    @Test func isnAdvancesOneTickEveryFourMicroseconds() {
        let t = Instant(nanoseconds: 1_000_000)
        let base = gen.isn(for: tuple, now: t)
        #expect(gen.isn(for: tuple, now: t + .nanoseconds(3999)) == base)
        #expect(gen.isn(for: tuple, now: t + .microseconds(4)) == base + 1)
        #expect(gen.isn(for: tuple, now: t + .seconds(1)) == base + 250_000)
        // M wraps after 2^32 ticks (≈ 4.77 h): the ISN comes back around.
        #expect(gen.isn(for: tuple, now: t + .nanoseconds(4000 * (Int64(1) << 32))) == base)
    }

    @Test func isnChangesWithEveryFieldOfTheTupleAndTheKey() {
        let now = Instant(nanoseconds: 5_000_000_000)
        let base = gen.isn(for: tuple, now: now)
        var variants: [FourTuple] = []
        var t = tuple; t.localPort = 81; variants.append(t)
        t = tuple; t.remotePort = 49_153; variants.append(t)
        t = tuple; t.localAddress = IPv4Address(192, 0, 2, 2); variants.append(t)
        t = tuple; t.remoteAddress = IPv4Address(198, 51, 100, 8); variants.append(t)
        variants.append(tuple.reversed)
        var seen: Set<UInt32> = [base.rawValue]
        for v in variants { seen.insert(gen.isn(for: v, now: now).rawValue) }
        #expect(seen.count == 6)
        let other = InitialSequenceNumberGenerator(key0: 1, key1: 2)
        #expect(other.isn(for: tuple, now: now) != base)
    }
    @Test func timestampOffsetIsTheHighHalfOfTheSameHashAndIgnoresTime() {
        let bytes: [UInt8] = [192, 0, 2, 1, 0, 80, 198, 51, 100, 7, 0xc0, 0x00]
        let h = SipHash.hash24(bytes, key0: 0x0123_4567_89ab_cdef, key1: 0xfedc_ba98_7654_3210)
        #expect(gen.timestampOffset(for: tuple) == UInt32(truncatingIfNeeded: h >> 32))
        #expect(gen.offset(for: tuple) == UInt32(truncatingIfNeeded: h))
        var other = tuple
        other.localPort = 81
        #expect(gen.timestampOffset(for: other) != gen.timestampOffset(for: tuple))
        #expect(InitialSequenceNumberGenerator(key0: 1, key1: 2).timestampOffset(for: tuple) != gen.timestampOffset(for: tuple))
        // A connection given the offset sends TSval = milliseconds + offset, whatever its ISS.
        let offset = gen.timestampOffset(for: tuple)
        var c = TCPConfiguration()
        c.timestamps = true
        for iss in [UInt32(1), 0x8000_0000] {
            let conn = TCPConnection.connect(tuple: tuple, iss: SequenceNumber(iss), timestampOffset: offset, configuration: c, now: .zero)
            let syn = drain(conn, now: Instant(nanoseconds: 1_500_000_000))
            #expect(syn.count == 1 && syn.first?.timestamps == TCPTimestamps(value: 1500 &+ offset, echoReply: 0))
        }
    }
}
