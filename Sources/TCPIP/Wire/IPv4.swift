/// IPv4 option types (IANA "IP Option Numbers"; the type byte is copied flag,
/// class and number). Only EOL and NOP have no length byte.
public enum IPv4OptionType {
    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let recordRoute: UInt8 = 7
    public static let timestamp: UInt8 = 68
    public static let looseSourceRoute: UInt8 = 131
    public static let strictSourceRoute: UInt8 = 137
    public static let routerAlert: UInt8 = 148
}

/// One IPv4 option as on the wire (RFC 791 §3.1). Options are carried, never
/// acted on: every kind other than EOL and NOP is kept as type + data.
public enum IPv4Option: Hashable, Sendable, CustomStringConvertible {
    case endOfList
    case noOperation
    /// Any option with a length byte: its type and the bytes after the length byte.
    case option(type: UInt8, data: [UInt8])

    /// Bytes it occupies on the wire.
    public var length: Int {
        switch self {
        case .endOfList, .noOperation: return 1
        case .option(_, let data): return 2 + data.count
        }
    }

    public var description: String {
        switch self {
        case .endOfList: return "eol"
        case .noOperation: return "nop"
        case .option(let t, let d): return "opt-\(t) len \(d.count + 2)"
        }
    }

    @inlinable
    func write(into b: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        switch self {
        case .endOfList:
            b[offset] = IPv4OptionType.endOfList
            return offset + 1
        case .noOperation:
            b[offset] = IPv4OptionType.noOperation
            return offset + 1
        case .option(let type, let data):
            b[offset] = type
            b[offset + 1] = UInt8(truncatingIfNeeded: 2 + data.count)
            b.copy(data, to: offset + 2)
            return offset + 2 + data.count
        }
    }
}

/// Walks IPv4 option bytes without allocating: yields (type, offset, length);
/// stops after EOL; a length below 2 or past the end is `badOptionLength`.
@usableFromInline
struct IPv4OptionWalker {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset: Int = 0

    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inlinable
    mutating func next() throws(WireError) -> (type: UInt8, offset: Int, length: Int)? {
        guard offset < bytes.count else { return nil }
        let type = bytes[offset]
        let start = offset
        switch type {
        case IPv4OptionType.endOfList:
            offset = bytes.count
            return (type, start, 1)
        case IPv4OptionType.noOperation:
            offset += 1
            return (type, start, 1)
        default:
            guard offset + 1 < bytes.count else { throw .badOptionLength }
            let len = Int(bytes[offset + 1])
            guard len >= 2, offset + len <= bytes.count else { throw .badOptionLength }
            offset += len
            return (type, start, len)
        }
    }
}

/// A zero-copy view of an IPv4 datagram (RFC 791).
///
/// Construction checks, in this order: at least 20 bytes (`truncated`), version 4
/// (`badVersion`), IHL ≥ 5 and the header within the buffer (`badHeaderLength`),
/// total length ≥ header length and ≤ buffer (`badTotalLength`). `bytes` is the
/// datagram bounded by its total length, so link-layer padding is not part of the
/// payload. The header checksum is *not* checked unless asked (`init(validating:)`),
/// so the caller decides what a bad one costs; options are not parsed until asked.
@frozen
public struct IPv4HeaderView {
    /// The datagram: header then payload, `totalLength` bytes (for a quoted
    /// datagram inside ICMP, as many of them as were quoted).
    public let bytes: UnsafeRawBufferPointer

    public static let minimumLength = 20

    @inlinable
    public init(_ packet: UnsafeRawBufferPointer) throws(WireError) {
        guard packet.count >= IPv4HeaderView.minimumLength else { throw .truncated }
        guard packet[0] >> 4 == 4 else { throw .badVersion }
        let hl = Int(packet[0] & 0xF) * 4
        guard hl >= IPv4HeaderView.minimumLength, hl <= packet.count else { throw .badHeaderLength }
        let total = Int(packet.be16(2))
        guard total >= hl, total <= packet.count else { throw .badTotalLength }
        bytes = UnsafeRawBufferPointer(rebasing: packet[0..<total])
    }

    /// As `init(_:)`, and the header checksum must verify (`badChecksum`).
    @inlinable
    public init(validating packet: UnsafeRawBufferPointer) throws(WireError) {
        try self.init(packet)
        guard checksumIsValid else { throw .badChecksum }
    }

    /// Reads the IP header quoted in an ICMP error (RFC 792): the header must be
    /// whole, but the datagram may be cut short after at least 8 bytes of its
    /// payload (or all of it, if it had fewer). The checksum is not checked.
    @inlinable
    public init(quoted packet: UnsafeRawBufferPointer) throws(WireError) {
        guard packet.count >= IPv4HeaderView.minimumLength else { throw .truncated }
        guard packet[0] >> 4 == 4 else { throw .badVersion }
        let hl = Int(packet[0] & 0xF) * 4
        guard hl >= IPv4HeaderView.minimumLength else { throw .badHeaderLength }
        guard hl <= packet.count else { throw .truncated }
        let total = Int(packet.be16(2))
        guard total >= hl else { throw .badTotalLength }
        let end = Swift.min(total, packet.count)
        guard end - hl >= Swift.min(8, total - hl) else { throw .truncated }
        bytes = UnsafeRawBufferPointer(rebasing: packet[0..<end])
    }

    @inlinable public var version: UInt8 { bytes[0] >> 4 }
    /// Header length in bytes (IHL × 4), 20...60.
    @inlinable public var headerLength: Int { Int(bytes[0] & 0xF) * 4 }
    /// Differentiated services code point (the high 6 bits of the old TOS byte).
    @inlinable public var dscp: UInt8 { bytes[1] >> 2 }
    /// ECN field (RFC 3168), 0...3.
    @inlinable public var ecn: UInt8 { bytes[1] & 0x3 }
    @inlinable public var totalLength: Int { Int(bytes.be16(2)) }
    @inlinable public var identification: UInt16 { bytes.be16(4) }
    /// The reserved flag bit (must be zero).
    @inlinable public var reservedFlag: Bool { bytes[6] & 0x80 != 0 }
    @inlinable public var dontFragment: Bool { bytes[6] & 0x40 != 0 }
    @inlinable public var moreFragments: Bool { bytes[6] & 0x20 != 0 }
    /// Fragment offset in bytes (the field × 8).
    @inlinable public var fragmentOffset: Int { Int(bytes.be16(6) & 0x1FFF) * 8 }
    /// True for any fragment (MF set or a nonzero offset).
    @inlinable public var isFragment: Bool { bytes.be16(6) & 0x3FFF != 0 }
    @inlinable public var timeToLive: UInt8 { bytes[8] }
    @inlinable public var `protocol`: UInt8 { bytes[9] }
    @inlinable public var headerChecksum: UInt16 { bytes.be16(10) }
    @inlinable public var source: IPv4Address { bytes.ipv4(12) }
    @inlinable public var destination: IPv4Address { bytes.ipv4(16) }

    /// The header bytes (options included).
    @inlinable public var header: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength])
    }

    /// The raw option bytes (header length − 20 of them, padding included).
    @inlinable public var optionBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[IPv4HeaderView.minimumLength..<headerLength])
    }

    /// The payload, bounded by the total length.
    @inlinable public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
    }

    /// Whether the header checksum verifies.
    @inlinable public var checksumIsValid: Bool {
        var c = InternetChecksum()
        c.add(header)
        return c.verifies
    }

    /// Checks every option's length without allocating.
    @inlinable
    public func validateOptions() throws(WireError) {
        var w = IPv4OptionWalker(optionBytes)
        while try w.next() != nil {}
    }

    /// The options in order (stops after EOL); `badOptionLength` on a malformed one.
    public func options() throws(WireError) -> [IPv4Option] {
        let ob = optionBytes
        var w = IPv4OptionWalker(ob)
        var out: [IPv4Option] = []
        while let (type, o, len) = try w.next() {
            switch type {
            case IPv4OptionType.endOfList: out.append(.endOfList)
            case IPv4OptionType.noOperation: out.append(.noOperation)
            default: out.append(.option(type: type, data: Array(ob[(o + 2)..<(o + len)])))
            }
        }
        return out
    }

    /// The header as a value (options parsed; `payloadLength` from the total length).
    public func value() throws(WireError) -> IPv4Header {
        IPv4Header(dscp: dscp, ecn: ecn, identification: identification,
                   dontFragment: dontFragment, moreFragments: moreFragments, fragmentOffset: fragmentOffset,
                   timeToLive: timeToLive, protocol: self.protocol, source: source, destination: destination,
                   options: try options(), payloadLength: totalLength - headerLength, reservedFlag: reservedFlag)
    }
}

/// An IPv4 header as a plain value. The header length follows from the options
/// (padded with zero bytes to a multiple of four), the total length from
/// `payloadLength`; the checksum is computed when emitted.
/// As with TCP, padding zeros read back as `.endOfList`: end option lists that are
/// not a multiple of four bytes with `.endOfList` to compare equal after a round trip.
public struct IPv4Header: Hashable, Sendable {
    /// 6 bits.
    public var dscp: UInt8
    /// 2 bits.
    public var ecn: UInt8
    public var identification: UInt16
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// In bytes; a multiple of 8, at most 65528.
    public var fragmentOffset: Int
    public var timeToLive: UInt8
    public var `protocol`: UInt8
    public var source: IPv4Address
    public var destination: IPv4Address
    public var options: [IPv4Option]
    /// Bytes after the header: total length − header length.
    public var payloadLength: Int
    /// The reserved flag bit; false on send.
    public var reservedFlag: Bool

    public init(dscp: UInt8 = 0, ecn: UInt8 = 0, identification: UInt16 = 0,
                dontFragment: Bool = false, moreFragments: Bool = false, fragmentOffset: Int = 0,
                timeToLive: UInt8 = 64, protocol: UInt8, source: IPv4Address, destination: IPv4Address,
                options: [IPv4Option] = [], payloadLength: Int, reservedFlag: Bool = false) {
        self.dscp = dscp & 0x3F
        self.ecn = ecn & 0x3
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
        self.timeToLive = timeToLive
        self.protocol = `protocol`
        self.source = source
        self.destination = destination
        self.options = options
        self.payloadLength = payloadLength
        self.reservedFlag = reservedFlag
    }

    /// Option bytes before padding.
    public var optionsLength: Int { options.reduce(0) { $0 + $1.length } }

    /// 20 plus the options padded to a multiple of 4.
    public var headerLength: Int { 20 + (optionsLength + 3) / 4 * 4 }

    public var totalLength: Int { headerLength + payloadLength }

    /// Writes the header, checksum included, at the start of `buffer`; returns its length.
    /// Options over 40 bytes (or one over 255) are `badOptionLength`; a total length
    /// over 65535 or a negative payload length `badTotalLength`; a fragment offset that
    /// is not a multiple of 8 in 0...65528 `unsupported`; a short buffer `truncated`.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let hl = headerLength
        guard hl <= 60 else { throw .badOptionLength }
        for case .option(_, let data) in options where data.count > 253 { throw .badOptionLength }
        guard payloadLength >= 0, hl + payloadLength <= 0xFFFF else { throw .badTotalLength }
        guard fragmentOffset >= 0, fragmentOffset % 8 == 0, fragmentOffset / 8 <= 0x1FFF else {
            throw .unsupported("fragment offset \(fragmentOffset)")
        }
        guard buffer.count >= hl else { throw .truncated }
        buffer[0] = 0x40 | UInt8(hl / 4)
        buffer[1] = (dscp & 0x3F) << 2 | (ecn & 0x3)
        buffer.put16(UInt16(hl + payloadLength), at: 2)
        buffer.put16(identification, at: 4)
        var ff = UInt16(fragmentOffset / 8)
        if reservedFlag { ff |= 0x8000 }
        if dontFragment { ff |= 0x4000 }
        if moreFragments { ff |= 0x2000 }
        buffer.put16(ff, at: 6)
        buffer[8] = timeToLive
        buffer[9] = self.protocol
        buffer.put16(0, at: 10)
        buffer.putIPv4(source, at: 12)
        buffer.putIPv4(destination, at: 16)
        var o = 20
        for opt in options { o = opt.write(into: buffer, at: o) }
        while o < hl { buffer[o] = 0; o += 1 }
        IPv4Header.fillChecksum(header: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<hl]))
        return hl
    }

    /// Computes and stores the header checksum of a header (`header` is exactly the
    /// header's bytes, IHL × 4 of them).
    @inlinable
    public static func fillChecksum(header: UnsafeMutableRawBufferPointer) {
        header.put16(0, at: 10)
        var c = InternetChecksum()
        c.add(UnsafeRawBufferPointer(header))
        header.put16(c.value, at: 10)
    }

    /// The datagram: this header with `payloadLength` set to `payload.count`, then `payload`.
    public func bytes(payload: [UInt8] = []) throws(WireError) -> [UInt8] {
        var h = self
        h.payloadLength = payload.count
        return try emittedBytes(count: h.headerLength + payload.count) { b throws(WireError) in
            let n = try h.emit(into: b)
            b.copy(payload, to: n)
        }
    }
}
