/// An IPv4 address, stored in host order (`rawValue` 0xC0000201 is 192.0.2.1).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad notation ("192.0.2.1"); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        rawValue = value
    }

    public static let any = IPv4Address(rawValue: 0)
    public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
         UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue))
    }

    public var isMulticast: Bool { rawValue >> 28 == 0xE }

    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.rawValue < b.rawValue }
}

/// A 48-bit Ethernet (IEEE 802) MAC address, stored in the low 48 bits of `rawValue`.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        rawValue = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
            | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// Parses "02:00:00:00:00:01" (or with '-'); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, part.allSatisfy(\.isHexDigit), let b = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(b)
        }
        rawValue = value
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    public var isBroadcast: Bool { self == .broadcast }
    public var isMulticast: Bool { (rawValue >> 40) & 1 == 1 }

    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) } }

    public var description: String {
        bytes.map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: ":")
    }
}

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    func ipv4(_ offset: Int) -> IPv4Address { IPv4Address(rawValue: be32(offset)) }

    @inlinable @inline(__always)
    func mac(_ offset: Int) -> MACAddress {
        MACAddress(rawValue: UInt64(be16(offset)) << 32 | UInt64(be32(offset + 2)))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always)
    func putIPv4(_ a: IPv4Address, at offset: Int) { put32(a.rawValue, at: offset) }

    @inlinable @inline(__always)
    func putMAC(_ m: MACAddress, at offset: Int) {
        put16(UInt16(truncatingIfNeeded: m.rawValue >> 32), at: offset)
        put32(UInt32(truncatingIfNeeded: m.rawValue), at: offset + 2)
    }
}
