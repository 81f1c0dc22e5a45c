/// ARP operation codes (RFC 826); only request and reply are read.
public enum ARPOperation: UInt16, Hashable, Sendable {
    case request = 1
    case reply = 2
}

/// A zero-copy view of an ARP packet (RFC 826) for IPv4 over Ethernet: hardware
/// type 1, protocol type 0x0800, address lengths 6 and 4. Any other combination,
/// or an operation other than request/reply, is `unsupported`. Bytes after the
/// 28 of the packet (Ethernet padding) are ignored.
@frozen
public struct ARPPacketView {
    /// The 28 bytes of the packet.
    public let bytes: UnsafeRawBufferPointer

    public static let length = 28
    public static let hardwareTypeEthernet: UInt16 = 1

    @inlinable
    public init(_ packet: UnsafeRawBufferPointer) throws(WireError) {
        guard packet.count >= ARPPacketView.length else { throw .truncated }
        guard packet.be16(0) == ARPPacketView.hardwareTypeEthernet else { throw .unsupported("ARP hardware type \(packet.be16(0))") }
        guard packet.be16(2) == EtherType.ipv4 else { throw .unsupported("ARP protocol type \(packet.be16(2))") }
        guard packet[4] == 6, packet[5] == 4 else { throw .unsupported("ARP address lengths \(packet[4])/\(packet[5])") }
        guard ARPOperation(rawValue: packet.be16(6)) != nil else { throw .unsupported("ARP operation \(packet.be16(6))") }
        bytes = UnsafeRawBufferPointer(rebasing: packet[0..<ARPPacketView.length])
    }

    @inlinable public var operation: ARPOperation { ARPOperation(rawValue: bytes.be16(6)) ?? .request }
    @inlinable public var senderHardwareAddress: MACAddress { bytes.mac(8) }
    @inlinable public var senderProtocolAddress: IPv4Address { bytes.ipv4(14) }
    @inlinable public var targetHardwareAddress: MACAddress { bytes.mac(18) }
    @inlinable public var targetProtocolAddress: IPv4Address { bytes.ipv4(24) }

    public func value() -> ARPPacket {
        ARPPacket(operation: operation,
                  senderHardwareAddress: senderHardwareAddress, senderProtocolAddress: senderProtocolAddress,
                  targetHardwareAddress: targetHardwareAddress, targetProtocolAddress: targetProtocolAddress)
    }
}

/// An ARP packet (IPv4 over Ethernet) as a value.
public struct ARPPacket: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    public init(operation: ARPOperation,
                senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    /// A request asking who has `target` (target hardware address zero, RFC 826).
    public static func request(from mac: MACAddress, ip: IPv4Address, asking target: IPv4Address) -> ARPPacket {
        ARPPacket(operation: .request, senderHardwareAddress: mac, senderProtocolAddress: ip,
                  targetHardwareAddress: .zero, targetProtocolAddress: target)
    }

    /// The reply to `request` from the owner of its target address.
    public func reply(with mac: MACAddress) -> ARPPacket {
        ARPPacket(operation: .reply, senderHardwareAddress: mac, senderProtocolAddress: targetProtocolAddress,
                  targetHardwareAddress: senderHardwareAddress, targetProtocolAddress: senderProtocolAddress)
    }

    /// Writes the 28-byte packet at the start of `buffer`; returns 28.
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard buffer.count >= ARPPacketView.length else { throw .truncated }
        buffer.put16(ARPPacketView.hardwareTypeEthernet, at: 0)
        buffer.put16(EtherType.ipv4, at: 2)
        buffer[4] = 6
        buffer[5] = 4
        buffer.put16(operation.rawValue, at: 6)
        buffer.putMAC(senderHardwareAddress, at: 8)
        buffer.putIPv4(senderProtocolAddress, at: 14)
        buffer.putMAC(targetHardwareAddress, at: 18)
        buffer.putIPv4(targetProtocolAddress, at: 24)
        return ARPPacketView.length
    }

    public func bytes() -> [UInt8] {
        (try? emittedBytes(count: ARPPacketView.length) { b throws(WireError) in _ = try emit(into: b) }) ?? []
    }
}
