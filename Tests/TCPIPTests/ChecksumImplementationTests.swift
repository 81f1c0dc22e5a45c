import Testing
import TCPIP

/// The two bulk implementations behind `InternetChecksum.rawSum` (explicit SIMD for
/// optimised builds, scalar for debug builds) against a naive 16-bit big-endian sum,
/// wherever their loops change shape: odd lengths, misalignment, the 16/64-byte steps,
/// the 128-byte switch to 64-byte blocks, the 256 KiB block limits, and all-0xFF data
/// that drives every 32-bit lane to its largest value.
@Suite struct ChecksumImplementationTests {
    /// RFC 1071 the slow way: big-endian 16-bit words, a trailing odd byte as a high
    /// byte, a 64-bit sum folded with end-around carry, complemented.
    static func naiveChecksum(_ p: UnsafeRawBufferPointer) -> UInt16 {
        var s: UInt64 = 0
        var i = 0
        while i + 1 < p.count {
            s += UInt64(p[i]) << 8 | UInt64(p[i + 1])
            i += 2
        }
        if p.count % 2 == 1 { s += UInt64(p[p.count - 1]) << 8 }
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    /// The checksum (network-order value) from one of the raw little-endian sums.
    static func checksum(fromRaw raw: UInt64) -> UInt16 {
        ~InternetChecksum.fold16(raw).byteSwapped
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Checks the vector sum, the scalar sum and `InternetChecksum.checksum` on
    /// `bytes[align..<align+count]` against the naive sum; returns a description of
    /// the first disagreement, or nil.
    static func mismatch(_ bytes: [UInt8], align: Int, count: Int) -> String? {
        bytes.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[align..<(align + count)])
            let want = naiveChecksum(b)
            let vector = checksum(fromRaw: InternetChecksum.rawSumVector(b))
            let scalar = checksum(fromRaw: InternetChecksum.rawSumScalar(b))
            let used = InternetChecksum.checksum(b)
            if vector == want && scalar == want && used == want { return nil }
            return "count \(count) align \(align): naive \(want) vector \(vector) scalar \(scalar) checksum \(used)"
        }
    }

    @Test func everyShortLengthAtEveryAlignmentMatchesNaive() {
        let bytes = Self.randomBytes(700, seed: 11)
        var failures: [String] = []
        for align in 0...7 {
            for count in 0...600 {
                if let m = Self.mismatch(bytes, align: align, count: count) { failures.append(m) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    @Test func oddLengthsUpToFourKiBAtEveryAlignmentMatchNaive() {
        let bytes = Self.randomBytes(4200, seed: 12)
        var failures: [String] = []
        for align in 0...7 {
            for count in stride(from: 601, through: 4097, by: 2) {
                if let m = Self.mismatch(bytes, align: align, count: count) { failures.append(m) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    /// Lengths where the vector loop changes step (16, 64, 128) and where a block of
    /// 4096 × 64 bytes (vector) or 65536 words (scalar) ends, at odd alignments.
    @Test func blockBoundariesMatchNaive() {
        let block = 4096 * 64
        let counts = [15, 16, 17, 63, 64, 65, 127, 128, 129, 191, 192, 1500, 9000, 65535, 65536,
                      block - 1, block, block + 1, block + 15, block + 16, block + 63, block + 64,
                      2 * block - 8, 2 * block + 7, 3 * block + 100]
        let bytes = Self.randomBytes(3 * block + 200, seed: 13)
        var failures: [String] = []
        for count in counts {
            for align in [0, 1, 3, 7] {
                if let m = Self.mismatch(bytes, align: align, count: count) { failures.append(m) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    /// All-0xFF data is the worst case for the 32-bit lanes (every word 0xFFFF_FFFF):
    /// a lane that overflowed would change the sum.
    @Test func allOnesBuffersDoNotOverflowLanes() {
        let block = 4096 * 64
        let bytes = [UInt8](repeating: 0xFF, count: 4 * block + 64)
        var failures: [String] = []
        for count in [64, 1500, block - 1, block, block + 1, block + 48, 2 * block + 3, 4 * block + 63] {
            for align in [0, 1] {
                if let m = Self.mismatch(bytes, align: align, count: count) { failures.append(m) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        // The folded sum of any number of 0xFF bytes is 0xFFFF, so the checksum is 0 (one's-complement zero).
        bytes.withUnsafeBytes { b in
            let piece = UnsafeRawBufferPointer(rebasing: b[0..<(4 * block)])
            #expect(InternetChecksum.checksum(piece) == 0x0000)
        }
    }

    /// Raw sums may differ (they are unfolded), but fold to the same 16 bits.
    @Test func vectorAndScalarRawSumsFoldToTheSameValue() {
        let bytes = Self.randomBytes(70_000, seed: 14)
        bytes.withUnsafeBytes { b in
            for count in [0, 1, 2, 3, 8, 20, 40, 1460, 1500, 65_536, 70_000] {
                let piece = UnsafeRawBufferPointer(rebasing: b[0..<count])
                #expect(InternetChecksum.fold16(InternetChecksum.rawSumVector(piece))
                        == InternetChecksum.fold16(InternetChecksum.rawSumScalar(piece)), "count \(count)")
                #expect(InternetChecksum.fold16(InternetChecksum.rawSum(piece))
                        == InternetChecksum.fold16(InternetChecksum.rawSumScalar(piece)), "count \(count)")
            }
        }
    }

    /// A segment summed in pieces split at odd offsets (as header, then payload)
    /// equals the whole, including pieces that start mid-word and SIMD-sized pieces.
    @Test func piecesSplitAtOddOffsetsSumToTheWhole() {
        let bytes = Self.randomBytes(3000, seed: 15)
        bytes.withUnsafeBytes { b in
            let want = Self.naiveChecksum(b)
            for (first, second) in [(1, 2), (33, 128), (17, 1), (64, 65), (127, 1501), (0, 2999)] {
                var c = InternetChecksum()
                c.add(UnsafeRawBufferPointer(rebasing: b[0..<first]))
                c.add(UnsafeRawBufferPointer(rebasing: b[first..<(first + second)]))
                c.add(UnsafeRawBufferPointer(rebasing: b[(first + second)...]))
                #expect(c.value == want, "split \(first), \(second)")
            }
        }
    }
}
