import Testing
import TCPIP

// Helpers shared by the wire-format tests.

/// Bytes from hex that must be well formed (a test typo fails the test, it does not trap).
func hex(_ s: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
    guard let b = bytes(fromHex: s) else {
        Issue.record("bad hex in test: \(s)", sourceLocation: sourceLocation)
        return []
    }
    return b
}

/// Naive RFC 1071 reference: the folded one's-complement sum of 16-bit big-endian
/// words, end-around carry after every addition, an odd last byte padded with zero.
func referenceSum(_ b: some Collection<UInt8>) -> UInt16 {
    var s: UInt32 = 0
    var it = b.makeIterator()
    while let hi = it.next() {
        let lo = it.next() ?? 0
        s += UInt32(hi) << 8 | UInt32(lo)
        s = (s & 0xFFFF) + (s >> 16)
    }
    return UInt16(s)
}

/// The checksum to store: the complement of `referenceSum`.
func referenceChecksum(_ b: some Collection<UInt8>) -> UInt16 { ~referenceSum(b) }

/// The 12-byte IPv4 pseudo-header (RFC 768 / RFC 9293 §3.1) as bytes.
func pseudoHeader(source: IPv4Address, destination: IPv4Address, protocol p: UInt8, length: Int) -> [UInt8] {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    return be32(source.rawValue) + be32(destination.rawValue) + [0, p, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
}

/// Runs `body` over the bytes and returns what it returns, or the `WireError` it threw.
func parse<T>(_ b: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> T) -> Result<T, WireError> {
    b.withUnsafeBytes { p in
        do throws(WireError) { return .success(try body(p)) } catch { return .failure(error) }
    }
}

extension Result {
    /// The error, or nil on success (for `#expect(r.failure == .truncated)`).
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var success: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}

extension SeededRandom {
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
    mutating func u8() -> UInt8 { UInt8.random(in: 0...255, using: &self) }
    mutating func u16() -> UInt16 { UInt16.random(in: 0...0xFFFF, using: &self) }
    mutating func u32() -> UInt32 { UInt32.random(in: 0...0xFFFF_FFFF, using: &self) }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
    mutating func bool() -> Bool { Bool.random(using: &self) }
    mutating func ipv4() -> IPv4Address { IPv4Address(rawValue: u32()) }
    mutating func mac() -> MACAddress { MACAddress(rawValue: next()) }
}
