/// pcapng files (draft-ietf-opsawg-pcapng): a sequence of blocks, each
/// `type, total length, body, total length` with lengths a multiple of four.
/// A Section Header Block starts each section and fixes its byte order; the
/// Interface Description Blocks of a section number its interfaces from 0; packet
/// blocks name the interface they were captured on.
public enum PcapNGBlockType {
    public static let sectionHeader: UInt32 = 0x0A0D_0D0A
    public static let interfaceDescription: UInt32 = 0x0000_0001
    /// Obsolete Packet Block: skipped.
    public static let obsoletePacket: UInt32 = 0x0000_0002
    public static let simplePacket: UInt32 = 0x0000_0003
    public static let enhancedPacket: UInt32 = 0x0000_0006
    public static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
}

/// What an Interface Description Block says about one capture interface.
public struct PcapNGInterface: Hashable, Sendable {
    public var linkType: LinkType
    /// 0 means no limit.
    public var snaplen: UInt32
    /// Timestamp units per second: 10^6 by default, from `if_tsresol` (option 9) otherwise.
    public var timestampUnitsPerSecond: UInt64
    /// `if_tsoffset` (option 14): seconds added to every timestamp.
    public var timestampOffsetSeconds: Int64
    /// `if_name` (option 2).
    public var name: String?

    public init(linkType: LinkType, snaplen: UInt32 = 0, timestampUnitsPerSecond: UInt64 = 1_000_000,
                timestampOffsetSeconds: Int64 = 0, name: String? = nil) {
        self.linkType = linkType
        self.snaplen = snaplen
        self.timestampUnitsPerSecond = timestampUnitsPerSecond
        self.timestampOffsetSeconds = timestampOffsetSeconds
        self.name = name
    }

    /// Units per second for an `if_tsresol` byte: high bit clear 10^-n, set 2^-n;
    /// nil when the unit is finer than 64 bits can count.
    public static func unitsPerSecond(tsresol: UInt8) -> UInt64? {
        let n = Int(tsresol & 0x7F)
        if tsresol & 0x80 != 0 {
            return n <= 63 ? UInt64(1) << UInt64(n) : nil
        }
        guard n <= 19 else { return nil }
        var u: UInt64 = 1
        for _ in 0..<n { u *= 10 }
        return u
    }

    /// A raw 64-bit timestamp in this interface's units, as nanoseconds since the epoch.
    /// Times beyond what 64-bit nanoseconds hold (about year 2262) clamp to the largest
    /// (or smallest) `Instant` instead of wrapping.
    public func instant(rawTimestamp ts: UInt64) -> Instant {
        let units = timestampUnitsPerSecond == 0 ? 1_000_000 : timestampUnitsPerSecond
        let seconds = ts / units
        let fraction = ts % units
        let product = fraction.multipliedFullWidth(by: 1_000_000_000)
        let ns = units.dividingFullWidth(product).quotient  // < 10^9 because fraction < units
        guard seconds <= UInt64(Int64.max) else { return Instant(nanoseconds: .max) }
        let (s, o1) = Int64(seconds).addingReportingOverflow(timestampOffsetSeconds)
        if o1 { return Instant(nanoseconds: timestampOffsetSeconds < 0 ? .min : .max) }
        let (whole, o2) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o2 { return Instant(nanoseconds: s < 0 ? .min : .max) }
        let (total, o3) = whole.addingReportingOverflow(Int64(ns))
        return o3 ? Instant(nanoseconds: .max) : Instant(nanoseconds: total)
    }
}

/// Reads a pcapng file held in memory, one packet at a time.
///
/// Reads Enhanced and Simple Packet Blocks from any number of sections and
/// interfaces; skips every other block (Obsolete Packet Blocks, statistics,
/// name resolution, unknown types) by its length. Never traps: a cut or
/// inconsistent block is a `CaptureError` and the packets before it stay valid.
public struct PcapNGReader: Sendable {
    public let bytes: [UInt8]
    /// Byte offset of the next block.
    public private(set) var offset: Int = 0
    public private(set) var recordsRead: Int = 0
    /// Blocks passed over without producing a packet (not counting SHBs and IDBs).
    public private(set) var skippedBlocks: Int = 0
    /// Sections begun so far.
    public private(set) var sectionCount: Int = 0
    /// Byte order of the current section.
    public private(set) var bigEndian: Bool = false
    /// Interfaces of the current section, by index.
    public private(set) var interfaces: [PcapNGInterface] = []
    private var lastTimestamp = Instant.zero

    /// Checks that the file starts with a Section Header Block.
    public init(bytes: [UInt8]) throws(CaptureError) {
        guard bytes.count >= 4 else { throw .truncatedFileHeader }
        let type = EndianBytes(bytes, bigEndian: true).u32(0)
        guard type == PcapNGBlockType.sectionHeader else { throw .badMagic(type) }
        self.bytes = bytes
    }

    /// The next packet, nil at a clean end of file.
    public mutating func next() throws(CaptureError) -> CaptureRecord? {
        while offset < bytes.count {
            let o = offset
            let remaining = bytes.count - o
            guard remaining >= 8 else { throw .truncatedBlock(offset: o) }
            let type = EndianBytes(bytes, bigEndian: bigEndian).u32(o)
            if type == PcapNGBlockType.sectionHeader {
                try readSectionHeader(at: o)
                continue
            }
            let r = EndianBytes(bytes, bigEndian: bigEndian)
            let length = Int(r.u32(o + 4))
            try checkLength(length, minimum: 12, at: o, reader: r)
            offset = o + length
            switch type {
            case PcapNGBlockType.interfaceDescription:
                guard length >= 20 else { throw .badBlockLength(offset: o) }
                interfaces.append(readInterface(at: o, length: length, reader: r))
            case PcapNGBlockType.enhancedPacket:
                guard length >= 32 else { throw .badBlockLength(offset: o) }
                let id = Int(r.u32(o + 8))
                guard id < interfaces.count else { throw .unknownInterface(id: id, offset: o) }
                let ts = UInt64(r.u32(o + 12)) << 32 | UInt64(r.u32(o + 16))
                let captured = Int(r.u32(o + 20))
                let original = Int(r.u32(o + 24))
                guard captured <= length - 32 else { throw .badBlockLength(offset: o) }
                let iface = interfaces[id]
                lastTimestamp = iface.instant(rawTimestamp: ts)
                recordsRead += 1
                return CaptureRecord(timestamp: lastTimestamp, originalLength: original,
                                     bytes: Array(bytes[(o + 28)..<(o + 28 + captured)]),
                                     linkType: iface.linkType, interfaceIndex: id)
            case PcapNGBlockType.simplePacket:
                guard length >= 16 else { throw .badBlockLength(offset: o) }
                guard let iface = interfaces.first else { throw .unknownInterface(id: 0, offset: o) }
                let original = Int(r.u32(o + 8))
                var captured = min(original, length - 16)
                if iface.snaplen != 0 { captured = min(captured, Int(iface.snaplen)) }
                recordsRead += 1
                // A Simple Packet Block carries no timestamp: it gets the previous packet's.
                return CaptureRecord(timestamp: lastTimestamp, originalLength: original,
                                     bytes: Array(bytes[(o + 12)..<(o + 12 + captured)]),
                                     linkType: iface.linkType, interfaceIndex: 0)
            default:
                skippedBlocks += 1
            }
        }
        return nil
    }

    /// Validates a total length: at least `minimum`, a multiple of 4, inside the file,
    /// and equal to the trailing copy.
    private func checkLength(_ length: Int, minimum: Int, at o: Int, reader r: EndianBytes) throws(CaptureError) {
        guard length >= minimum, length % 4 == 0 else { throw .badBlockLength(offset: o) }
        guard length <= bytes.count - o else { throw .truncatedBlock(offset: o) }
        guard Int(r.u32(o + length - 4)) == length else { throw .badBlockLength(offset: o) }
    }

    private mutating func readSectionHeader(at o: Int) throws(CaptureError) {
        guard bytes.count - o >= 12 else { throw .truncatedBlock(offset: o) }
        let magic = EndianBytes(bytes, bigEndian: false).u32(o + 8)
        let big: Bool
        switch magic {
        case PcapNGBlockType.byteOrderMagic: big = false
        case PcapNGBlockType.byteOrderMagic.byteSwapped: big = true
        default: throw .badByteOrderMagic(offset: o)
        }
        let r = EndianBytes(bytes, bigEndian: big)
        let length = Int(r.u32(o + 4))
        // type, length, magic, major, minor, section length (8), trailing length.
        try checkLength(length, minimum: 28, at: o, reader: r)
        let major = r.u16(o + 12), minor = r.u16(o + 14)
        guard major == 1 else { throw .unsupportedVersion(major: major, minor: minor) }
        bigEndian = big
        interfaces.removeAll()
        sectionCount += 1
        offset = o + length
    }

    private func readInterface(at o: Int, length: Int, reader r: EndianBytes) -> PcapNGInterface {
        var iface = PcapNGInterface(linkType: LinkType(rawValue: UInt32(r.u16(o + 8))), snaplen: r.u32(o + 12))
        // Options: code, length, value padded to 4; malformed options end the list.
        var p = o + 16
        let end = o + length - 4
        while end - p >= 4 {
            let code = r.u16(p), len = Int(r.u16(p + 2))
            let value = p + 4
            guard code != 0, len <= end - value else { break }
            switch code {
            case 9 where len >= 1:
                if let u = PcapNGInterface.unitsPerSecond(tsresol: bytes[value]) { iface.timestampUnitsPerSecond = u }
            case 14 where len == 8:
                iface.timestampOffsetSeconds = Int64(bitPattern: r.u64(value))
            case 2:
                var name = Array(bytes[value..<(value + len)])
                while name.last == 0 { name.removeLast() }
                iface.name = String(decoding: name, as: UTF8.self)
            default: break
            }
            p = value + (len + 3) / 4 * 4
        }
        return iface
    }
}

/// Either capture format, chosen by the file's first bytes.
public struct CaptureReader: Sendable {
    public enum Format: Hashable, Sendable {
        case pcap(PcapTimestampResolution, bigEndian: Bool)
        case pcapng
    }

    private enum Inner: Sendable {
        case pcap(PcapReader)
        case pcapng(PcapNGReader)
    }

    private var inner: Inner
    public let format: Format

    public init(bytes: [UInt8]) throws(CaptureError) {
        if bytes.count >= 4, EndianBytes(bytes, bigEndian: true).u32(0) == PcapNGBlockType.sectionHeader {
            inner = .pcapng(try PcapNGReader(bytes: bytes))
            format = .pcapng
        } else {
            let r = try PcapReader(bytes: bytes)
            inner = .pcap(r)
            format = .pcap(r.resolution, bigEndian: r.bigEndian)
        }
    }

    public mutating func next() throws(CaptureError) -> CaptureRecord? {
        switch inner {
        case .pcap(var r):
            defer { inner = .pcap(r) }
            return try r.next()
        case .pcapng(var r):
            defer { inner = .pcapng(r) }
            return try r.next()
        }
    }

    /// Every record of a file, and the error that stopped reading early, if any.
    public static func readAll(_ bytes: [UInt8]) -> CaptureReadResult {
        var records: [CaptureRecord] = []
        do throws(CaptureError) {
            var reader = try CaptureReader(bytes: bytes)
            while let r = try reader.next() { records.append(r) }
            return CaptureReadResult(records: records, error: nil)
        } catch {
            return CaptureReadResult(records: records, error: error)
        }
    }
}

/// The packets of a capture file and, when the file ended badly, why.
public struct CaptureReadResult: Hashable, Sendable {
    public var records: [CaptureRecord]
    public var error: CaptureError?

    public init(records: [CaptureRecord], error: CaptureError?) {
        self.records = records
        self.error = error
    }
}
