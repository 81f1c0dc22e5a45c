/// Why a captured frame's network layer cannot be located.
public enum LinkLayerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The capture's link type is not one this reader knows.
    case unsupportedLinkType(LinkType)
    /// The frame is shorter than its link-layer header.
    case truncated(LinkType)
    /// A raw-IP frame whose version nibble is neither 4 nor 6 (or not 4 for LINKTYPE_IPV4).
    case badIPVersion(UInt8)

    public var description: String {
        switch self {
        case .unsupportedLinkType(let t): return "unsupported link type \(t.rawValue)"
        case .truncated(let t): return "truncated \(t) header"
        case .badIPVersion(let v): return "bad IP version \(v)"
        }
    }
}

/// Where the network layer of a captured frame starts and which protocol it is.
public struct NetworkLayerLocation: Hashable, Sendable {
    /// EtherType of the network-layer protocol (0x0800 IPv4, 0x0806 ARP, 0x86DD IPv6, ...).
    public var etherType: UInt16
    /// Byte offset of the network-layer header in the frame.
    public var offset: Int
    /// How many 802.1Q / 802.1ad tags were passed over (Ethernet only).
    public var vlanTags: Int

    public init(etherType: UInt16, offset: Int, vlanTags: Int = 0) {
        self.etherType = etherType
        self.offset = offset
        self.vlanTags = vlanTags
    }
}

/// IEEE 802.1ad (QinQ) service tag protocol identifier.
let qinqTagProtocol: UInt16 = 0x88A8

/// Finds the network layer in a frame of the given link type: Ethernet (with any
/// number of VLAN tags), raw IP (101, 12, 14, 228), Linux cooked SLL (113) and SLL2 (276).
public func locateNetworkLayer(linkType: LinkType, frame: UnsafeRawBufferPointer) throws(LinkLayerError) -> NetworkLayerLocation {
    switch linkType {
    case .ethernet:
        guard frame.count >= 14 else { throw .truncated(linkType) }
        var type = frame.be16(12)
        var offset = 14
        var tags = 0
        while type == EtherType.vlan || type == qinqTagProtocol {
            guard frame.count >= offset + 4 else { throw .truncated(linkType) }
            type = frame.be16(offset + 2)
            offset += 4
            tags += 1
        }
        return NetworkLayerLocation(etherType: type, offset: offset, vlanTags: tags)
    case .raw, .rawDLT12, .rawDLT14, .ipv4:
        guard frame.count >= 1 else { throw .truncated(linkType) }
        let version = frame[0] >> 4
        switch version {
        case 4: return NetworkLayerLocation(etherType: EtherType.ipv4, offset: 0)
        case 6 where linkType != .ipv4: return NetworkLayerLocation(etherType: EtherType.ipv6, offset: 0)
        default: throw .badIPVersion(version)
        }
    case .linuxSLL:
        // packet type, ARPHRD type, address length, address (8), protocol.
        guard frame.count >= 16 else { throw .truncated(linkType) }
        return NetworkLayerLocation(etherType: frame.be16(14), offset: 16)
    case .linuxSLL2:
        // protocol, reserved, interface index, ARPHRD type, packet type, address length, address (8).
        guard frame.count >= 20 else { throw .truncated(linkType) }
        return NetworkLayerLocation(etherType: frame.be16(0), offset: 20)
    default:
        throw .unsupportedLinkType(linkType)
    }
}

public func locateNetworkLayer(linkType: LinkType, frame: [UInt8]) throws(LinkLayerError) -> NetworkLayerLocation {
    let r: Result<NetworkLayerLocation, LinkLayerError> = frame.withUnsafeBytes { b in
        do throws(LinkLayerError) { return .success(try locateNetworkLayer(linkType: linkType, frame: b)) }
        catch { return .failure(error) }
    }
    return try r.get()
}
