/// A link-layer header type as stored in capture files (the tcpdump.org LINKTYPE_ registry).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// IEEE 802.3 Ethernet (LINKTYPE_ETHERNET).
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP, version from the first nibble (LINKTYPE_RAW).
    public static let raw = LinkType(rawValue: 101)
    /// Raw IPv4 (LINKTYPE_IPV4).
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IP as DLT_RAW is numbered on most systems (12) and on OpenBSD (14).
    public static let rawDLT12 = LinkType(rawValue: 12)
    public static let rawDLT14 = LinkType(rawValue: 14)
    /// Linux "cooked" capture, version 1 (16-byte header) and 2 (20-byte header).
    public static let linuxSLL = LinkType(rawValue: 113)
    public static let linuxSLL2 = LinkType(rawValue: 276)

    public var description: String {
        switch self {
        case .ethernet: return "EN10MB"
        case .raw, .rawDLT12, .rawDLT14: return "RAW"
        case .ipv4: return "IPV4"
        case .linuxSLL: return "LINUX_SLL"
        case .linuxSLL2: return "LINUX_SLL2"
        default: return "linktype \(rawValue)"
        }
    }
}

/// One captured packet: when, how long it was on the wire, the bytes kept, and
/// the link type of the interface it was captured on.
public struct CaptureRecord: Hashable, Sendable {
    /// Capture time; in files, nanoseconds since the Unix epoch (1970-01-01T00:00:00Z).
    public var timestamp: Instant
    /// Length of the packet on the wire (pcap `orig_len`); may exceed `bytes.count`.
    public var originalLength: Int
    /// The captured bytes (pcap `incl_len` of them).
    public var bytes: [UInt8]
    public var linkType: LinkType
    /// pcapng interface index within its section (0 for classic pcap).
    public var interfaceIndex: Int

    public init(timestamp: Instant, originalLength: Int? = nil, bytes: [UInt8],
                linkType: LinkType, interfaceIndex: Int = 0) {
        self.timestamp = timestamp
        self.originalLength = originalLength ?? bytes.count
        self.bytes = bytes
        self.linkType = linkType
        self.interfaceIndex = interfaceIndex
    }

    /// Whether the capture kept fewer bytes than were on the wire (snaplen).
    public var isTruncated: Bool { bytes.count < originalLength }
}

/// Why a capture file cannot be read (further). Readers report the packets read
/// before the error along with it.
public enum CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The first four bytes are neither a pcap magic nor a pcapng section header.
    case badMagic(UInt32)
    /// The file ends inside the 24-byte pcap file header.
    case truncatedFileHeader
    /// A pcap major version other than 2 (pcapng: other than 1).
    case unsupportedVersion(major: UInt16, minor: UInt16)
    /// Packet number `index` (0-based) is cut short: its record header or data runs past the end.
    case truncatedRecord(index: Int)
    /// The pcapng block at byte `offset` runs past the end of the file.
    case truncatedBlock(offset: Int)
    /// The pcapng block at byte `offset` has a total length below 12, not a multiple of 4,
    /// disagreeing with its trailing copy, or too small for the block's own fields.
    case badBlockLength(offset: Int)
    /// A pcapng section header at `offset` whose byte-order magic is neither 0x1A2B3C4D nor swapped.
    case badByteOrderMagic(offset: Int)
    /// A pcapng packet block at `offset` names an interface no IDB of its section described.
    case unknownInterface(id: Int, offset: Int)

    public var description: String {
        switch self {
        case .badMagic(let m): return "not a pcap or pcapng file (magic 0x\(String(m, radix: 16)))"
        case .truncatedFileHeader: return "truncated pcap file header"
        case .unsupportedVersion(let a, let b): return "unsupported capture format version \(a).\(b)"
        case .truncatedRecord(let i): return "truncated record (packet \(i + 1))"
        case .truncatedBlock(let o): return "truncated pcapng block at offset \(o)"
        case .badBlockLength(let o): return "bad pcapng block length at offset \(o)"
        case .badByteOrderMagic(let o): return "bad pcapng byte-order magic at offset \(o)"
        case .unknownInterface(let id, let o): return "pcapng block at offset \(o) names unknown interface \(id)"
        }
    }
}

/// Little-/big-endian integer reads from a byte array, bounds checked by the caller.
@usableFromInline
struct EndianBytes {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var bigEndian: Bool

    @inlinable init(_ bytes: [UInt8], bigEndian: Bool) { self.bytes = bytes; self.bigEndian = bigEndian }

    @inlinable func u16(_ o: Int) -> UInt16 {
        let a = UInt16(bytes[o]), b = UInt16(bytes[o + 1])
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    @inlinable func u32(_ o: Int) -> UInt32 {
        let a = UInt32(u16(o)), b = UInt32(u16(o + 2))
        return bigEndian ? a << 16 | b : b << 16 | a
    }

    @inlinable func u64(_ o: Int) -> UInt64 {
        let a = UInt64(u32(o)), b = UInt64(u32(o + 4))
        return bigEndian ? a << 32 | b : b << 32 | a
    }
}
