/// The TCP control bits (RFC 9293 §3.1), plus ECE/CWR (RFC 3168) and AE
/// (Accurate ECN; the bit just before CWR, once the NS bit). Any combination is
/// representable; the raw value is the 9 low bits of header bytes 12–13.
@frozen
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue & 0x1FF }

    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    public static let ae  = TCPFlags(rawValue: 0x100)

    /// tcpdump's compact form: S F P R U E W e (AE), and '.' for ACK; "none" when empty.
    public var description: String {
        var s = ""
        if contains(.syn) { s += "S" }
        if contains(.fin) { s += "F" }
        if contains(.psh) { s += "P" }
        if contains(.rst) { s += "R" }
        if contains(.urg) { s += "U" }
        if contains(.ece) { s += "E" }
        if contains(.cwr) { s += "W" }
        if contains(.ae) { s += "e" }
        if contains(.ack) { s += "." }
        return s.isEmpty ? "none" : s
    }

    /// Names joined with '+', in header order: "SYN+ACK".
    public var names: String {
        let all: [(TCPFlags, String)] = [(.ae, "AE"), (.cwr, "CWR"), (.ece, "ECE"), (.urg, "URG"), (.ack, "ACK"),
                                         (.psh, "PSH"), (.rst, "RST"), (.syn, "SYN"), (.fin, "FIN")]
        let n = all.filter { contains($0.0) }.map(\.1)
        return n.isEmpty ? "none" : n.joined(separator: "+")
    }
}

/// A zero-copy view of a TCP segment (header, options and payload) in a buffer.
///
/// Construction checks the fixed header, the data offset (5...15) and that the
/// header fits; after that every field is read in place. The payload is a slice of
/// the same memory. The view lives no longer than the buffer it was made from.
@frozen
public struct TCPHeaderView {
    public let bytes: UnsafeRawBufferPointer

    public static let minimumLength = 20

    /// Checks `segment` (the IP payload: TCP header + data) and wraps it.
    @inlinable
    public init(_ segment: UnsafeRawBufferPointer) throws(WireError) {
        guard segment.count >= TCPHeaderView.minimumLength else { throw .truncated }
        let offset = Int(segment[12] >> 4)
        guard offset >= 5 else { throw .badHeaderLength }
        guard offset * 4 <= segment.count else { throw .truncated }
        bytes = segment
    }

    @inlinable public var sourcePort: UInt16 { bytes.be16(0) }
    @inlinable public var destinationPort: UInt16 { bytes.be16(2) }
    @inlinable public var sequenceNumber: SequenceNumber { SequenceNumber(bytes.be32(4)) }
    @inlinable public var acknowledgmentNumber: SequenceNumber { SequenceNumber(bytes.be32(8)) }
    /// Data offset in 32-bit words (5...15).
    @inlinable public var dataOffset: Int { Int(bytes[12] >> 4) }
    @inlinable public var headerLength: Int { dataOffset * 4 }
    /// The three reserved bits (header byte 12, bits 1–3).
    @inlinable public var reserved: UInt8 { (bytes[12] >> 1) & 0x7 }
    @inlinable public var flags: TCPFlags { TCPFlags(rawValue: bytes.be16(12) & 0x1FF) }
    @inlinable public var window: UInt16 { bytes.be16(14) }
    @inlinable public var checksum: UInt16 { bytes.be16(16) }
    @inlinable public var urgentPointer: UInt16 { bytes.be16(18) }

    /// The option bytes (data offset × 4 − 20 of them).
    @inlinable public var optionBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[20..<headerLength])
    }

    /// The data after the header.
    @inlinable public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
    }

    /// Sequence space the segment occupies: data plus one for each of SYN and FIN.
    @inlinable public var sequenceLength: Int {
        let f = flags
        return payload.count + (f.contains(.syn) ? 1 : 0) + (f.contains(.fin) ? 1 : 0)
    }

    /// The options the engine acts on; throws on a malformed option length.
    @inlinable
    public func optionSet() throws(WireError) -> TCPOptionSet { try TCPOptionSet(parsing: optionBytes) }

    /// Every option in order, as on the wire.
    public func options() throws(WireError) -> [TCPOption] {
        let ob = optionBytes
        var w = TCPOptionWalker(ob)
        var out: [TCPOption] = []
        while let (kind, o, len) = try w.next() {
            switch kind {
            case TCPOptionKind.endOfList: out.append(.endOfList)
            case TCPOptionKind.noOperation: out.append(.noOperation)
            case TCPOptionKind.maximumSegmentSize: out.append(.maximumSegmentSize(ob.be16(o + 2)))
            case TCPOptionKind.windowScale: out.append(.windowScale(ob[o + 2]))
            case TCPOptionKind.sackPermitted: out.append(.sackPermitted)
            case TCPOptionKind.timestamps:
                out.append(.timestamps(TCPTimestamps(value: ob.be32(o + 2), echoReply: ob.be32(o + 6))))
            case TCPOptionKind.sack:
                var blocks = SACKBlocks()
                var p = o + 2
                while p < o + len {
                    blocks.append(SACKBlock(start: SequenceNumber(ob.be32(p)), end: SequenceNumber(ob.be32(p + 4))))
                    p += 8
                }
                out.append(.sack(blocks))
            default:
                out.append(.unknown(kind: kind, data: Array(ob[(o + 2)..<(o + len)])))
            }
        }
        return out
    }

    /// Whether the checksum verifies over the IPv4 pseudo-header and the whole segment.
    @inlinable
    public func checksumIsValid(source: IPv4Address, destination: IPv4Address) -> Bool {
        var c = InternetChecksum()
        c.addPseudoHeader(source: source, destination: destination, protocol: IPProtocol.tcp, length: bytes.count)
        c.add(bytes)
        return c.verifies
    }

    /// The header as a value (options parsed; payload not included).
    public func value() throws(WireError) -> TCPHeader {
        TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort,
                  sequenceNumber: sequenceNumber, acknowledgmentNumber: acknowledgmentNumber,
                  flags: flags, window: window, urgentPointer: urgentPointer,
                  options: try options(), reserved: reserved)
    }
}

/// IP protocol numbers used here.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

/// A TCP header as a plain value: every field, options in wire order.
/// The data offset follows from the options (padded with zero bytes to a
/// multiple of four); the checksum is computed when emitted.
/// Padding zero bytes read back as `.endOfList`, so a list whose length is not a
/// multiple of four compares equal after a round trip only if it ends with
/// `.endOfList` (the bytes of `[a, b]` and `[a, b, .endOfList]` are the same).
public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: SequenceNumber
    public var acknowledgmentNumber: SequenceNumber
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: [TCPOption]
    /// The three reserved bits; zero on send per RFC 9293.
    public var reserved: UInt8

    public init(sourcePort: UInt16, destinationPort: UInt16,
                sequenceNumber: SequenceNumber, acknowledgmentNumber: SequenceNumber = SequenceNumber(0),
                flags: TCPFlags, window: UInt16, urgentPointer: UInt16 = 0,
                options: [TCPOption] = [], reserved: UInt8 = 0) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
        self.options = options
        self.reserved = reserved & 0x7
    }

    /// Option bytes before padding.
    public var optionsLength: Int { options.reduce(0) { $0 + $1.length } }

    /// Header length in bytes: 20 plus the options padded to a multiple of 4.
    public var headerLength: Int { 20 + (optionsLength + 3) / 4 * 4 }

    /// Writes the header (checksum field zero) at the start of `buffer`; returns its length.
    /// Options beyond 40 bytes, or an unknown option longer than 255, are `badOptionLength`.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let len = headerLength
        guard len <= 60 else { throw .badOptionLength }
        for case .unknown(_, let data) in options where data.count > 253 { throw .badOptionLength }
        guard buffer.count >= len else { throw .truncated }
        buffer.put16(sourcePort, at: 0)
        buffer.put16(destinationPort, at: 2)
        buffer.put32(sequenceNumber.rawValue, at: 4)
        buffer.put32(acknowledgmentNumber.rawValue, at: 8)
        buffer.put16(UInt16(len / 4) << 12 | UInt16(reserved & 0x7) << 9 | flags.rawValue, at: 12)
        buffer.put16(window, at: 14)
        buffer.put16(0, at: 16)
        buffer.put16(urgentPointer, at: 18)
        var o = 20
        for opt in options { o = opt.write(into: buffer, at: o) }
        while o < len { buffer[o] = 0; o += 1 }
        return len
    }

    /// The whole segment (header, then `payload`) with its checksum over the IPv4 pseudo-header.
    public func segmentBytes(payload: [UInt8] = [], source: IPv4Address, destination: IPv4Address) throws(WireError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: headerLength + payload.count)
        let r: Result<Void, WireError> = out.withUnsafeMutableBytes { b in
            do throws(WireError) {
                let h = try emit(into: b)
                for (i, x) in payload.enumerated() { b[h + i] = x }
                TCPHeader.fillChecksum(segment: b, source: source, destination: destination)
                return .success(())
            } catch { return .failure(error) }
        }
        try r.get()
        return out
    }

    /// Computes and stores the checksum of a complete segment (header with checksum
    /// field zero, then data) over the IPv4 pseudo-header.
    @inlinable
    public static func fillChecksum(segment: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address) {
        segment.put16(0, at: 16)
        var c = InternetChecksum()
        c.addPseudoHeader(source: source, destination: destination, protocol: IPProtocol.tcp, length: segment.count)
        c.add(UnsafeRawBufferPointer(segment))
        segment.put16(c.value, at: 16)
    }
}
