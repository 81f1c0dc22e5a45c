/// EtherType values (IEEE 802.3 / IANA "ETHER TYPES") used here.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    /// IEEE 802.1Q VLAN tag protocol identifier (TPID).
    public static let vlan: UInt16 = 0x8100
    public static let ipv6: UInt16 = 0x86DD
}

/// An IEEE 802.1Q tag's control information: priority code point (3 bits),
/// drop eligible indicator (1 bit) and VLAN identifier (12 bits).
@frozen
public struct VLANTag: Hashable, Sendable, CustomStringConvertible {
    /// Priority code point, 0...7.
    public var priority: UInt8
    /// Drop eligible indicator.
    public var dropEligible: Bool
    /// VLAN identifier, 0...4095.
    public var identifier: UInt16

    @inlinable
    public init(priority: UInt8 = 0, dropEligible: Bool = false, identifier: UInt16) {
        self.priority = priority & 0x7
        self.dropEligible = dropEligible
        self.identifier = identifier & 0xFFF
    }

    /// Decodes a tag control information (TCI) field.
    @inlinable
    public init(controlInformation tci: UInt16) {
        priority = UInt8(truncatingIfNeeded: tci >> 13)
        dropEligible = tci & 0x1000 != 0
        identifier = tci & 0xFFF
    }

    /// The 16-bit TCI field as sent.
    @inlinable
    public var controlInformation: UInt16 {
        UInt16(priority & 0x7) << 13 | (dropEligible ? 0x1000 : 0) | (identifier & 0xFFF)
    }

    public var description: String { "vlan \(identifier) p \(priority)" + (dropEligible ? " DEI" : "") }
}

/// A zero-copy view of an Ethernet II frame with at most one 802.1Q tag.
///
/// Construction checks that the header (14 bytes, 18 with a tag) fits; a second
/// (stacked) tag is `unsupported`. The payload is the rest of the buffer (it may
/// include link-layer padding; the IPv4 view bounds itself by its total length).
/// The frame check sequence is not expected in the buffer.
@frozen
public struct EthernetFrameView {
    public let bytes: UnsafeRawBufferPointer

    public static let minimumLength = 14
    public static let taggedLength = 18

    @inlinable
    public init(_ frame: UnsafeRawBufferPointer) throws(WireError) {
        guard frame.count >= EthernetFrameView.minimumLength else { throw .truncated }
        if frame.be16(12) == EtherType.vlan {
            guard frame.count >= EthernetFrameView.taggedLength else { throw .truncated }
            guard frame.be16(16) != EtherType.vlan else { throw .unsupported("stacked VLAN tags") }
        }
        bytes = frame
    }

    @inlinable public var destination: MACAddress { bytes.mac(0) }
    @inlinable public var source: MACAddress { bytes.mac(6) }
    @inlinable public var isTagged: Bool { bytes.be16(12) == EtherType.vlan }

    /// The 802.1Q tag, if the frame carries one.
    @inlinable public var vlan: VLANTag? {
        isTagged ? VLANTag(controlInformation: bytes.be16(14)) : nil
    }

    /// The EtherType of the payload (after the tag, if any).
    @inlinable public var etherType: UInt16 { bytes.be16(isTagged ? 16 : 12) }

    /// 14, or 18 with a tag.
    @inlinable public var headerLength: Int {
        isTagged ? EthernetFrameView.taggedLength : EthernetFrameView.minimumLength
    }

    @inlinable public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
    }

    public func value() -> EthernetFrameHeader {
        EthernetFrameHeader(destination: destination, source: source, etherType: etherType, vlan: vlan)
    }
}

/// An Ethernet II header as a value.
public struct EthernetFrameHeader: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    /// The payload's EtherType (never 0x8100: the tag is `vlan`).
    public var etherType: UInt16
    public var vlan: VLANTag?

    public init(destination: MACAddress, source: MACAddress, etherType: UInt16, vlan: VLANTag? = nil) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
        self.vlan = vlan
    }

    @inlinable public var headerLength: Int {
        vlan == nil ? EthernetFrameView.minimumLength : EthernetFrameView.taggedLength
    }

    /// Writes the header at the start of `buffer`; returns its length. An EtherType of
    /// 0x8100 (a second tag) is `unsupported`; a short buffer is `truncated`.
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard etherType != EtherType.vlan else { throw .unsupported("stacked VLAN tags") }
        let len = headerLength
        guard buffer.count >= len else { throw .truncated }
        buffer.putMAC(destination, at: 0)
        buffer.putMAC(source, at: 6)
        if let tag = vlan {
            buffer.put16(EtherType.vlan, at: 12)
            buffer.put16(tag.controlInformation, at: 14)
            buffer.put16(etherType, at: 16)
        } else {
            buffer.put16(etherType, at: 12)
        }
        return len
    }

    /// The header followed by `payload` (for tests and tools).
    public func bytes(payload: [UInt8] = []) throws(WireError) -> [UInt8] {
        try emittedBytes(count: headerLength + payload.count) { b throws(WireError) in
            let h = try emit(into: b)
            b.copy(payload, to: h)
        }
    }
}
