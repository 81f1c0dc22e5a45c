/// Classic libpcap files (the "pcap" format of draft-ietf-opsawg-pcap).
///
/// A 24-byte file header (magic, version 2.4, snaplen, link type) and then
/// records: a 16-byte header (seconds, fraction, captured length, original
/// length) followed by the captured bytes. The magic tells both the byte order
/// of every field and the timestamp unit: 0xA1B2C3D4 microseconds,
/// 0xA1B23C4D nanoseconds, as written by the capturing host.
public enum PcapFormat {
    public static let microsecondMagic: UInt32 = 0xA1B2_C3D4
    public static let nanosecondMagic: UInt32 = 0xA1B2_3C4D
    public static let fileHeaderLength = 24
    public static let recordHeaderLength = 16
    /// libpcap's default snapshot length.
    public static let defaultSnaplen: UInt32 = 262_144
}

/// The unit of the sub-second field of a pcap record.
public enum PcapTimestampResolution: Hashable, Sendable {
    case microseconds
    case nanoseconds

    @inlinable var nanosecondsPerUnit: Int64 { self == .microseconds ? 1000 : 1 }
}

/// Reads a classic pcap file held in memory, one record at a time.
///
/// Nothing traps on malformed input: a cut record is
/// `CaptureError.truncatedRecord(index:)` and the records before it stay valid.
public struct PcapReader: Sendable {
    public let bytes: [UInt8]
    public let bigEndian: Bool
    public let resolution: PcapTimestampResolution
    public let versionMajor: UInt16
    public let versionMinor: UInt16
    public let snaplen: UInt32
    public let linkType: LinkType
    /// Byte offset of the next record header.
    public private(set) var offset: Int
    /// Records returned so far.
    public private(set) var recordsRead: Int

    /// Reads the file header; throws `.badMagic`, `.truncatedFileHeader` or `.unsupportedVersion`.
    public init(bytes: [UInt8]) throws(CaptureError) {
        guard bytes.count >= 4 else { throw .truncatedFileHeader }
        let le = EndianBytes(bytes, bigEndian: false)
        let magic = le.u32(0)
        switch magic {
        case PcapFormat.microsecondMagic: bigEndian = false; resolution = .microseconds
        case PcapFormat.nanosecondMagic: bigEndian = false; resolution = .nanoseconds
        case PcapFormat.microsecondMagic.byteSwapped: bigEndian = true; resolution = .microseconds
        case PcapFormat.nanosecondMagic.byteSwapped: bigEndian = true; resolution = .nanoseconds
        default: throw .badMagic(EndianBytes(bytes, bigEndian: true).u32(0))
        }
        guard bytes.count >= PcapFormat.fileHeaderLength else { throw .truncatedFileHeader }
        let r = EndianBytes(bytes, bigEndian: bigEndian)
        versionMajor = r.u16(4)
        versionMinor = r.u16(6)
        guard versionMajor == 2 else { throw .unsupportedVersion(major: versionMajor, minor: versionMinor) }
        snaplen = r.u32(16)
        // The upper bits may carry FCS information; the link type is the low 16 bits.
        linkType = LinkType(rawValue: r.u32(20) & 0xFFFF)
        self.bytes = bytes
        offset = PcapFormat.fileHeaderLength
        recordsRead = 0
    }

    /// The next record, nil at a clean end of file.
    public mutating func next() throws(CaptureError) -> CaptureRecord? {
        let o = offset
        guard o < bytes.count else { return nil }
        guard bytes.count - o >= PcapFormat.recordHeaderLength else { throw .truncatedRecord(index: recordsRead) }
        let r = EndianBytes(bytes, bigEndian: bigEndian)
        let seconds = Int64(r.u32(o))
        let fraction = Int64(r.u32(o + 4))
        let included = Int(r.u32(o + 8))
        let original = Int(r.u32(o + 12))
        let start = o + PcapFormat.recordHeaderLength
        guard included <= bytes.count - start else { throw .truncatedRecord(index: recordsRead) }
        let ns = seconds &* 1_000_000_000 &+ fraction &* resolution.nanosecondsPerUnit
        let record = CaptureRecord(timestamp: Instant(nanoseconds: ns), originalLength: original,
                                   bytes: Array(bytes[start..<(start + included)]),
                                   linkType: linkType, interfaceIndex: 0)
        offset = start + included
        recordsRead += 1
        return record
    }
}

/// Appends pcap records into a growable byte buffer: what a simulation uses to
/// capture a link, and what `CaptureFile` writes to disk.
///
/// Packets longer than `snaplen` are cut to it; the record keeps the original length.
public struct PcapWriter: Sendable {
    /// The file so far: header, then every record appended.
    public private(set) var bytes: [UInt8]
    public let linkType: LinkType
    public let snaplen: UInt32
    public let resolution: PcapTimestampResolution
    public let bigEndian: Bool
    public private(set) var recordCount: Int = 0

    public init(linkType: LinkType, snaplen: UInt32 = PcapFormat.defaultSnaplen,
                resolution: PcapTimestampResolution = .nanoseconds, bigEndian: Bool = false,
                reservingCapacity: Int = 64 * 1024) {
        self.linkType = linkType
        self.snaplen = snaplen
        self.resolution = resolution
        self.bigEndian = bigEndian
        bytes = []
        bytes.reserveCapacity(max(reservingCapacity, PcapFormat.fileHeaderLength))
        put32(resolution == .microseconds ? PcapFormat.microsecondMagic : PcapFormat.nanosecondMagic)
        put16(2)
        put16(4)
        put32(0)  // thiszone
        put32(0)  // sigfigs
        put32(snaplen)
        put32(linkType.rawValue)
    }

    /// Appends one packet captured at `timestamp` (nanoseconds since the Unix epoch;
    /// a simulation's virtual time works as is). Negative times are written as 0.
    public mutating func append(timestamp: Instant, packet: UnsafeRawBufferPointer, originalLength: Int? = nil) {
        let ns = max(0, timestamp.nanoseconds)
        let kept = min(packet.count, Int(snaplen))
        put32(UInt32(truncatingIfNeeded: ns / 1_000_000_000))
        put32(UInt32(truncatingIfNeeded: (ns % 1_000_000_000) / resolution.nanosecondsPerUnit))
        put32(UInt32(kept))
        put32(UInt32(truncatingIfNeeded: max(originalLength ?? packet.count, kept)))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: packet[0..<kept]))
        recordCount += 1
    }

    public mutating func append(timestamp: Instant, packet: [UInt8], originalLength: Int? = nil) {
        packet.withUnsafeBytes { append(timestamp: timestamp, packet: $0, originalLength: originalLength) }
    }

    public mutating func append(_ record: CaptureRecord) {
        append(timestamp: record.timestamp, packet: record.bytes, originalLength: record.originalLength)
    }

    /// Empties the buffer back to just the file header, keeping its capacity.
    public mutating func removeAllRecords() {
        bytes.removeSubrange(PcapFormat.fileHeaderLength...)
        recordCount = 0
    }

    private mutating func put16(_ v: UInt16) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }

    private mutating func put32(_ v: UInt32) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }
}
