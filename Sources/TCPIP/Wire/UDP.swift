/// A zero-copy view of a UDP datagram (RFC 768).
///
/// Construction checks the 8-byte header (`truncated`) and that the length field
/// is at least 8 and within the buffer (`badTotalLength`); `bytes` is bounded by
/// the length field. The checksum is checked only when asked.
@frozen
public struct UDPHeaderView {
    /// The datagram, `length` bytes.
    public let bytes: UnsafeRawBufferPointer

    public static let headerLength = 8

    /// `datagram` is the IP payload.
    @inlinable
    public init(_ datagram: UnsafeRawBufferPointer) throws(WireError) {
        guard datagram.count >= UDPHeaderView.headerLength else { throw .truncated }
        let len = Int(datagram.be16(4))
        guard len >= UDPHeaderView.headerLength, len <= datagram.count else { throw .badTotalLength }
        bytes = UnsafeRawBufferPointer(rebasing: datagram[0..<len])
    }

    @inlinable public var sourcePort: UInt16 { bytes.be16(0) }
    @inlinable public var destinationPort: UInt16 { bytes.be16(2) }
    /// Header plus data, in bytes.
    @inlinable public var length: Int { Int(bytes.be16(4)) }
    @inlinable public var checksum: UInt16 { bytes.be16(6) }
    /// False when the sender sent no checksum (field zero).
    @inlinable public var hasChecksum: Bool { checksum != 0 }

    @inlinable public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[UDPHeaderView.headerLength...])
    }

    /// True when the checksum verifies over the IPv4 pseudo-header and the datagram,
    /// or when there is none (field zero).
    @inlinable
    public func checksumIsValid(source: IPv4Address, destination: IPv4Address) -> Bool {
        guard hasChecksum else { return true }
        var c = InternetChecksum()
        c.addPseudoHeader(source: source, destination: destination, protocol: IPProtocol.udp, length: bytes.count)
        c.add(bytes)
        return c.verifies
    }

    public func value() -> UDPHeader {
        UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort, payloadLength: length - UDPHeaderView.headerLength)
    }
}

/// A UDP header as a value; the length follows from `payloadLength`, the checksum
/// is computed over the pseudo-header when the whole datagram is there.
public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var payloadLength: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payloadLength = payloadLength
    }

    public var length: Int { UDPHeaderView.headerLength + payloadLength }

    /// Writes the 8-byte header with a zero checksum; returns 8. A length over 65535
    /// or a negative payload length is `badTotalLength`.
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard payloadLength >= 0, length <= 0xFFFF else { throw .badTotalLength }
        guard buffer.count >= UDPHeaderView.headerLength else { throw .truncated }
        buffer.put16(sourcePort, at: 0)
        buffer.put16(destinationPort, at: 2)
        buffer.put16(UInt16(length), at: 4)
        buffer.put16(0, at: 6)
        return UDPHeaderView.headerLength
    }

    /// Computes and stores the checksum of a whole datagram (header then data) over
    /// the IPv4 pseudo-header; a computed zero is sent as 0xFFFF (RFC 768).
    @inlinable
    public static func fillChecksum(datagram: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address) {
        datagram.put16(0, at: 6)
        var c = InternetChecksum()
        c.addPseudoHeader(source: source, destination: destination, protocol: IPProtocol.udp, length: datagram.count)
        c.add(UnsafeRawBufferPointer(datagram))
        let v = c.value
        datagram.put16(v == 0 ? 0xFFFF : v, at: 6)
    }

    /// The datagram: this header with `payloadLength = payload.count`, then `payload`,
    /// checksummed over the pseudo-header (or with a zero checksum when `checksum` is false).
    public func bytes(payload: [UInt8] = [], source: IPv4Address, destination: IPv4Address,
                      checksum: Bool = true) throws(WireError) -> [UInt8] {
        var h = self
        h.payloadLength = payload.count
        return try emittedBytes(count: h.length) { b throws(WireError) in
            let n = try h.emit(into: b)
            b.copy(payload, to: n)
            if checksum { UDPHeader.fillChecksum(datagram: b, source: source, destination: destination) }
        }
    }
}
