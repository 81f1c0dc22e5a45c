/// IPv4 routing of a single interface: one on-link prefix and an optional default
/// gateway (RFC 1122 §3.3.1: a host sends to on-link destinations directly and to
/// everything else through a gateway). The result is the next hop whose link address
/// ARP resolves, or a link broadcast.
public struct IPv4Route: Sendable, Hashable, CustomStringConvertible {
    /// This interface's address.
    public var address: IPv4Address
    /// The on-link prefix length, 0...32.
    public var prefixLength: Int
    /// Where datagrams for off-link destinations go; nil: only on-link destinations are reachable.
    public var gateway: IPv4Address?

    public init(address: IPv4Address, prefixLength: Int, gateway: IPv4Address? = nil) {
        self.address = address
        self.prefixLength = max(0, min(32, prefixLength))
        self.gateway = gateway
    }

    /// The netmask as a number (prefix 24 → 0xFFFFFF00).
    @inlinable public var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength) }

    /// The prefix's network address.
    public var network: IPv4Address { IPv4Address(rawValue: address.rawValue & mask) }

    /// The prefix's directed broadcast address (none for /31 and /32, RFC 3021).
    public var subnetBroadcast: IPv4Address? {
        prefixLength >= 31 ? nil : IPv4Address(rawValue: address.rawValue | ~mask)
    }

    @inlinable public func isOnLink(_ a: IPv4Address) -> Bool { (a.rawValue ^ address.rawValue) & mask == 0 }

    /// Whether `a` is a broadcast address on this link (limited or directed).
    public func isBroadcast(_ a: IPv4Address) -> Bool { a == .broadcast || (subnetBroadcast.map { $0 == a } ?? false) }

    /// Where a datagram for `destination` goes next.
    public enum NextHop: Hashable, Sendable {
        /// To the link broadcast address (limited or directed broadcast).
        case broadcast
        /// To this neighbour (the destination itself when on-link, else the gateway).
        case neighbor(IPv4Address)
    }

    /// The next hop for `destination`; nil when it is off-link and there is no gateway,
    /// or when it is multicast or the unspecified address (neither is routed here).
    public func nextHop(for destination: IPv4Address) -> NextHop? {
        if isBroadcast(destination) { return .broadcast }
        guard destination != .any, !destination.isMulticast else { return nil }
        if isOnLink(destination) { return .neighbor(destination) }
        guard let g = gateway, isOnLink(g) else { return nil }
        return .neighbor(g)
    }

    public var description: String {
        "\(address)/\(prefixLength)" + (gateway.map { " via \($0)" } ?? "")
    }
}
