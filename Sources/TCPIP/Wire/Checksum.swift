/// The Internet checksum (RFC 1071): the 16-bit one's-complement of the
/// one's-complement sum of the data taken as 16-bit big-endian words.
///
/// It is built up over pieces (`add`), so a TCP checksum is the pseudo-header,
/// then the header, then the payload, each summed where it lies, never copied.
/// Internally the sum is kept over little-endian (native) words in a 64-bit
/// accumulator: the one's-complement sum is byte-order independent (RFC 1071
/// §2(B)), so the result is byte-swapped once at the end. The bulk loop adds
/// 32-bit words into 64-bit lanes, which the compiler vectorises.
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
    @inlinable
    public static func rawSum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return 0 }
        let words = n >> 2
        var acc: UInt64 = 0
        var i = 0
        // 32-bit words into a 64-bit accumulator: at most 2^32 words before it could
        // overflow, far beyond any packet. Written as a plain reduction so LLVM
        // vectorises it (the same shape as the clang-built C reference).
        while i < words {
            acc &+= UInt64(base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            i &+= 1
        }
        var off = words &* 4
        if n &- off >= 2 {
            acc &+= UInt64(base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            off &+= 2
        }
        if off < n {
            acc &+= UInt64(base.load(fromByteOffset: off, as: UInt8.self))
        }
        return acc
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
