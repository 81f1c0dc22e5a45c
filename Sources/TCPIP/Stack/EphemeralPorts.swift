/// A keyed 64-bit mixing function (SipHash-2-4 over up to four 64-bit words) for
/// values an off-path attacker must not guess: ephemeral port offsets (RFC 6056) and,
/// until the stack uses a dedicated generator, initial sequence numbers (RFC 6528).
/// The keys come from the host's owner (sans-IO: no randomness of its own).
@usableFromInline
struct KeyedHash: Sendable {
    var k0: UInt64, k1: UInt64

    init(key0: UInt64, key1: UInt64) { k0 = key0; k1 = key1 }

    @inline(__always) static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    func hash(_ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1
        @inline(__always) func round() {
            v0 &+= v1; v1 = KeyedHash.rotl(v1, 13); v1 ^= v0; v0 = KeyedHash.rotl(v0, 32)
            v2 &+= v3; v3 = KeyedHash.rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = KeyedHash.rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = KeyedHash.rotl(v1, 17); v1 ^= v2; v2 = KeyedHash.rotl(v2, 32)
        }
        let last: UInt64 = 24 << 56
        for m in [a, b, c, last] {
            v3 ^= m; round(); round(); v0 ^= m
        }
        v2 ^= 0xFF
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

/// Ephemeral port selection, RFC 6056 §3.3.3 (Algorithm 3, "Simple Hash-Based"):
/// the search for a free port starts at an offset keyed by the connection's
/// addresses and remote port, and a global counter moves on after every try, so
/// consecutive connections to one peer get different, hard-to-guess ports.
public struct EphemeralPortAllocator: Sendable {
    public let range: ClosedRange<UInt16>
    var hash: KeyedHash
    var nextEphemeral: UInt32 = 0

    public init(range: ClosedRange<UInt16> = 49152...65535, key0: UInt64, key1: UInt64) {
        self.range = range
        hash = KeyedHash(key0: key0, key1: key1)
    }

    /// A port for a connection from `local` to `remote`:`remotePort` that `isFree`
    /// accepts, or nil when every port in the range is taken.
    public mutating func allocate(local: IPv4Address, remote: IPv4Address, remotePort: UInt16,
                                  isFree: (UInt16) -> Bool) -> UInt16? {
        let count = UInt32(range.count)
        let offset = UInt32(truncatingIfNeeded: hash.hash(UInt64(local.rawValue) << 32 | UInt64(remote.rawValue), UInt64(remotePort)))
        for _ in 0..<count {
            let port = UInt16(UInt32(range.lowerBound) + (offset &+ nextEphemeral) % count)
            nextEphemeral &+= 1
            if isFree(port) { return port }
        }
        return nil
    }
}
