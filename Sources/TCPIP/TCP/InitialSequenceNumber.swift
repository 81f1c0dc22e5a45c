/// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012):
/// a keyed 64-bit PRF. Key words are the key's bytes 0–7 and 8–15, little-endian.
public enum SipHash {
    @inline(__always)
    static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    @inline(__always)
    static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
        v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
        v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    }

    /// SipHash-2-4 of `bytes` under the key (key0, key1).
    public static func hash24(_ bytes: UnsafeRawBufferPointer, key0: UInt64, key1: UInt64) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ key0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ key1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ key0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ key1
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            let m = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            v3 ^= m
            round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
            v0 ^= m
            i += 8
        }
        var last = UInt64(truncatingIfNeeded: n) << 56
        for j in 0 ..< (n - i) { last |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
        v3 ^= last
        round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
        v0 ^= last
        v2 ^= 0xff
        round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
        round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
        return v0 ^ v1 ^ v2 ^ v3
    }

    /// SipHash-2-4 of a byte array (convenience).
    public static func hash24(_ bytes: [UInt8], key0: UInt64, key1: UInt64) -> UInt64 {
        bytes.withUnsafeBytes { hash24($0, key0: key0, key1: key1) }
    }
}

/// Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip,
/// remoteport, secretkey), where M is a timer ticking every 4 microseconds (taken
/// from `now`) and F is SipHash-2-4 keyed with a secret the caller supplies (from a
/// real random source in production, a seeded one in simulations).
///
/// F's input is 12 bytes in network byte order: local address, local port, remote
/// address, remote port; the ISN uses the low 32 bits of the hash.
public struct InitialSequenceNumberGenerator: Sendable {
    @usableFromInline let key0: UInt64
    @usableFromInline let key1: UInt64

    public init(key0: UInt64, key1: UInt64) {
        self.key0 = key0
        self.key1 = key1
    }

    /// M: `now` in 4 µs ticks, wrapping at 2^32 (about every 4.77 hours).
    @inlinable
    public static func timer(_ now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / 4000)
    }

    /// F: the keyed hash of the connection's four-tuple.
    public func offset(for tuple: FourTuple) -> UInt32 {
        let l = tuple.localAddress.rawValue, r = tuple.remoteAddress.rawValue
        let lp = tuple.localPort, rp = tuple.remotePort
        let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            UInt8(l >> 24), UInt8(truncatingIfNeeded: l >> 16), UInt8(truncatingIfNeeded: l >> 8), UInt8(truncatingIfNeeded: l),
            UInt8(lp >> 8), UInt8(truncatingIfNeeded: lp),
            UInt8(r >> 24), UInt8(truncatingIfNeeded: r >> 16), UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r),
            UInt8(rp >> 8), UInt8(truncatingIfNeeded: rp))
        let h = withUnsafeBytes(of: bytes) { SipHash.hash24($0, key0: key0, key1: key1) }
        return UInt32(truncatingIfNeeded: h)
    }

    /// The offset of a new connection's timestamp clock (RFC 7323 §5.4 / §7.1): the high 32
    /// bits of the same keyed hash of the four-tuple (F uses the low 32). It depends on the
    /// four-tuple only, not on time, so a later incarnation of a four-tuple sends TSvals
    /// greater than the earlier one's: the RFC 6191 test a peer in TIME-WAIT applies to
    /// our new SYN then passes, while other four-tuples see unrelated clocks.
    public func timestampOffset(for tuple: FourTuple) -> UInt32 {
        let l = tuple.localAddress.rawValue, r = tuple.remoteAddress.rawValue
        let lp = tuple.localPort, rp = tuple.remotePort
        let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            UInt8(l >> 24), UInt8(truncatingIfNeeded: l >> 16), UInt8(truncatingIfNeeded: l >> 8), UInt8(truncatingIfNeeded: l),
            UInt8(lp >> 8), UInt8(truncatingIfNeeded: lp),
            UInt8(r >> 24), UInt8(truncatingIfNeeded: r >> 16), UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r),
            UInt8(rp >> 8), UInt8(truncatingIfNeeded: rp))
        let h = withUnsafeBytes(of: bytes) { SipHash.hash24($0, key0: key0, key1: key1) }
        return UInt32(truncatingIfNeeded: h >> 32)
    }

    /// The ISN for a new connection on `tuple` at time `now`.
    public func isn(for tuple: FourTuple, now: Instant) -> SequenceNumber {
        SequenceNumber(Self.timer(now) &+ offset(for: tuple))
    }
}
