/// Ephemeral port selection, RFC 6056 §3.3.3 (Algorithm 3, "Simple Hash-Based"):
/// the search for a free port starts at an offset keyed by the connection's
/// addresses and remote port, and a global counter moves on after every try, so
/// consecutive connections to one peer get different, hard-to-guess ports.
public struct EphemeralPortAllocator: Sendable {
    public let range: ClosedRange<UInt16>
    let key0: UInt64, key1: UInt64
    var nextEphemeral: UInt32 = 0

    /// The keys of F (SipHash-2-4) come from the owner: a real random source in
    /// production, a seeded one in simulations.
    public init(range: ClosedRange<UInt16> = 49152...65535, key0: UInt64, key1: UInt64) {
        self.range = range
        self.key0 = key0
        self.key1 = key1
    }

    /// F(local address, remote address, remote port): SipHash-2-4 of the 10 bytes in
    /// network order.
    func offset(local: IPv4Address, remote: IPv4Address, remotePort: UInt16) -> UInt32 {
        let l = local.rawValue, r = remote.rawValue
        let bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            UInt8(l >> 24), UInt8(truncatingIfNeeded: l >> 16), UInt8(truncatingIfNeeded: l >> 8), UInt8(truncatingIfNeeded: l),
            UInt8(r >> 24), UInt8(truncatingIfNeeded: r >> 16), UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r),
            UInt8(remotePort >> 8), UInt8(truncatingIfNeeded: remotePort))
        return UInt32(truncatingIfNeeded: withUnsafeBytes(of: bytes) { SipHash.hash24($0, key0: key0, key1: key1) })
    }

    /// A port for a connection from `local` to `remote`:`remotePort` that `isFree`
    /// accepts, or nil when every port in the range is taken.
    public mutating func allocate(local: IPv4Address, remote: IPv4Address, remotePort: UInt16,
                                  isFree: (UInt16) -> Bool) -> UInt16? {
        let count = UInt32(range.count)
        let offset = self.offset(local: local, remote: remote, remotePort: remotePort)
        for _ in 0..<count {
            let port = UInt16(UInt32(range.lowerBound) + (offset &+ nextEphemeral) % count)
            nextEphemeral &+= 1
            if isFree(port) { return port }
        }
        return nil
    }
}
