/// The Internet checksum (RFC 1071): the 16-bit one's-complement of the
/// one's-complement sum of the data taken as 16-bit big-endian words.
///
/// It is built up over pieces (`add`), so a TCP checksum is the pseudo-header,
/// then the header, then the payload, each summed where it lies, never copied.
/// Internally the sum is kept over little-endian (native) words in a 64-bit
/// accumulator: the one's-complement sum is byte-order independent (RFC 1071
/// §2(B)), so the result is byte-swapped once at the end. The bulk loops sum
/// 32-bit words in 32-bit SIMD lanes (see `rawSumVector`).
@frozen
public struct InternetChecksum: Sendable {
    /// Unfolded sum of little-endian words.
    @usableFromInline var sum: UInt64
    /// Whether an odd number of bytes has been added so far, so the next piece
    /// starts in the middle of a 16-bit word.
    @usableFromInline var odd: Bool

    @inlinable public init() { sum = 0; odd = false }

    /// Adds a piece of data that follows everything added so far.
    @inlinable
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        var s = UInt64(InternetChecksum.fold16(InternetChecksum.rawSum(bytes)))
        if odd { s = UInt64(UInt16(truncatingIfNeeded: s).byteSwapped) }
        sum &+= s
        if bytes.count & 1 == 1 { odd.toggle() }
    }

    @inlinable
    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    /// Adds a 16-bit value as two big-endian bytes.
    @inlinable
    public mutating func add(_ value: UInt16) {
        sum &+= UInt64(odd ? value : value.byteSwapped)
    }

    /// Adds a 32-bit value as four big-endian bytes.
    @inlinable
    public mutating func add(_ value: UInt32) {
        add(UInt16(truncatingIfNeeded: value >> 16))
        add(UInt16(truncatingIfNeeded: value))
    }

    /// Adds the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): source, destination,
    /// zero, protocol, and the TCP/UDP length (header plus data).
    @inlinable
    public mutating func addPseudoHeader(source: IPv4Address, destination: IPv4Address,
                                         protocol proto: UInt8, length: Int) {
        add(source.rawValue)
        add(destination.rawValue)
        add(UInt16(proto))
        add(UInt16(truncatingIfNeeded: length))
    }

    /// The checksum to put in the header: the one's-complement of the folded sum,
    /// as a number to be stored big-endian.
    @inlinable
    public var value: UInt16 { ~folded }

    /// The folded one's-complement sum (not complemented). Data that includes a
    /// correct checksum folds to 0xFFFF.
    @inlinable
    public var folded: UInt16 { InternetChecksum.fold16(sum).byteSwapped }

    /// True when the data added (checksum field included) verifies.
    @inlinable
    public var verifies: Bool { folded == 0xFFFF }

    /// One's-complement sum of `bytes` taken as native (little-endian) 16-bit words,
    /// unfolded. A trailing odd byte counts as the low byte of a final word.
    ///
    /// Optimised builds use `rawSumVector` (explicit 128-bit SIMD); debug builds use
    /// `rawSumScalar`, which the optimiser also vectorises but which, unlike generic
    /// SIMD code, stays fast without optimisation (tests and simulations run debug).
    /// Both are always compiled and tested against each other and a naive sum.
    @inlinable
    public static func rawSum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        #if DEBUG
        return rawSumScalar(bytes)
        #else
        return rawSumVector(bytes)
        #endif
    }

    // How both bulk loops sum 16-bit words four bytes at a time without a 64-bit add
    // per word: over a block of 32-bit words w = lo + 65536·hi they keep two 32-bit
    // sums, X = Σw (wrapping) and H = Σhi. Then Σlo ≡ X − 65536·H (mod 2^32), and
    // while a block has at most 65536 words Σlo < 2^32, so that difference is Σlo
    // exactly; the block's sum of 16-bit words is Σlo + H. Per four bytes that is one
    // add, one shift and one add, with no widening inside the loop.

    /// `rawSum` with SIMD4<UInt32> lanes: 64 bytes an iteration into four (X, H)
    /// accumulator pairs, in blocks of at most 256 KiB; then 16-byte pieces into one
    /// pair (at most three, or all of an input under 128 bytes), and a scalar tail of
    /// at most 15 bytes.
    @inlinable
    public static func rawSumVector(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return 0 }
        var total: UInt64 = 0
        var off = 0
        // Below 128 bytes the 16-byte loop alone does less work than a block's setup.
        while n >= 128 && n &- off >= 64 {
            var x0 = SIMD4<UInt32>(), x1 = SIMD4<UInt32>(), x2 = SIMD4<UInt32>(), x3 = SIMD4<UInt32>()
            var h0 = SIMD4<UInt32>(), h1 = SIMD4<UInt32>(), h2 = SIMD4<UInt32>(), h3 = SIMD4<UInt32>()
            // At most 4096 iterations: each lane of the four accumulators together sums
            // 4 × 4096 words, so Σlo + H per lane stays below 2 × 16384 × 65535 < 2^31.
            let blockEnd = off &+ Swift.min((n &- off) & ~63, 4096 &* 64)
            while off < blockEnd {
                let w0 = base.loadUnaligned(fromByteOffset: off, as: SIMD4<UInt32>.self)
                let w1 = base.loadUnaligned(fromByteOffset: off &+ 16, as: SIMD4<UInt32>.self)
                let w2 = base.loadUnaligned(fromByteOffset: off &+ 32, as: SIMD4<UInt32>.self)
                let w3 = base.loadUnaligned(fromByteOffset: off &+ 48, as: SIMD4<UInt32>.self)
                x0 &+= w0; h0 &+= w0 &>> 16
                x1 &+= w1; h1 &+= w1 &>> 16
                x2 &+= w2; h2 &+= w2 &>> 16
                x3 &+= w3; h3 &+= w3 &>> 16
                off &+= 64
            }
            let x = (x0 &+ x1) &+ (x2 &+ x3)
            let h = (h0 &+ h1) &+ (h2 &+ h3)
            total &+= SIMD4<UInt64>(truncatingIfNeeded: x &- (h &<< 16) &+ h).wrappedSum()
        }
        if n &- off >= 16 {
            var x = SIMD4<UInt32>(), h = SIMD4<UInt32>()
            repeat {
                let w = base.loadUnaligned(fromByteOffset: off, as: SIMD4<UInt32>.self)
                x &+= w; h &+= w &>> 16
                off &+= 16
            } while n &- off >= 16
            total &+= SIMD4<UInt64>(truncatingIfNeeded: x &- (h &<< 16) &+ h).wrappedSum()
        }
        if n &- off >= 8 {
            let w = base.loadUnaligned(fromByteOffset: off, as: UInt64.self)
            total &+= (w & 0xFFFF_FFFF) &+ (w &>> 32)
            off &+= 8
        }
        return rawSumTail(base, from: off, count: n, total)
    }

    /// `rawSum` over scalar 32-bit words, in blocks of at most 65536 words (the
    /// optimiser turns the inner loop into 128-bit SIMD on its own).
    @inlinable
    public static func rawSumScalar(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return 0 }
        var total: UInt64 = 0
        var off = 0
        while n &- off >= 4 {
            let words = Swift.min((n &- off) &>> 2, 65536)
            var x: UInt32 = 0, h: UInt32 = 0
            var i = 0
            while i < words {
                let w = base.loadUnaligned(fromByteOffset: off &+ i &* 4, as: UInt32.self)
                x &+= w
                h &+= w &>> 16
                i &+= 1
            }
            off &+= words &* 4
            total &+= UInt64(x &- (h &<< 16)) &+ UInt64(h)
        }
        return rawSumTail(base, from: off, count: n, total)
    }

    /// Adds the last 0...7 bytes from `off` to `n`: 4, 2, then 1 byte (the low byte of a word).
    @inlinable @inline(__always)
    static func rawSumTail(_ base: UnsafeRawPointer, from start: Int, count n: Int, _ sum: UInt64) -> UInt64 {
        var total = sum
        var off = start
        if n &- off >= 4 {
            total &+= UInt64(base.loadUnaligned(fromByteOffset: off, as: UInt32.self))
            off &+= 4
        }
        if n &- off >= 2 {
            total &+= UInt64(base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            off &+= 2
        }
        if off < n {
            total &+= UInt64(base.load(fromByteOffset: off, as: UInt8.self))
        }
        return total
    }

    /// Folds a 64-bit one's-complement sum to 16 bits with end-around carry.
    @inlinable @inline(__always)
    public static func fold16(_ s: UInt64) -> UInt16 {
        var x = (s & 0xFFFF_FFFF) &+ (s >> 32)
        x = (x & 0xFFFF_FFFF) &+ (x >> 32)
        var y = UInt32(truncatingIfNeeded: x)
        y = (y & 0xFFFF) &+ (y >> 16)
        y = (y & 0xFFFF) &+ (y >> 16)
        return UInt16(truncatingIfNeeded: y)
    }

    /// The checksum of one buffer.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes)
        return c.value
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// RFC 1624 eqn. 3: the new checksum after a 16-bit field changed from `old`
    /// to `new`, without summing the data again: HC' = ~(~HC + ~m + m').
    @inlinable
    public static func updated(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var s = UInt32(~checksum) &+ UInt32(~old) &+ UInt32(new)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// RFC 1624 for a 32-bit field (an address, a sequence number).
    @inlinable
    public static func updated(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let hi = updated(checksum, old: UInt16(truncatingIfNeeded: old >> 16), new: UInt16(truncatingIfNeeded: new >> 16))
        return updated(hi, old: UInt16(truncatingIfNeeded: old), new: UInt16(truncatingIfNeeded: new))
    }
}
