/// The addresses and ports that name one TCP connection, from this side's view.
@frozen
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var localAddress: IPv4Address
    public var localPort: UInt16
    public var remoteAddress: IPv4Address
    public var remotePort: UInt16

    @inlinable
    public init(localAddress: IPv4Address, localPort: UInt16, remoteAddress: IPv4Address, remotePort: UInt16) {
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
    }

    /// The same connection seen from the other end.
    @inlinable public var reversed: FourTuple {
        FourTuple(localAddress: remoteAddress, localPort: remotePort, remoteAddress: localAddress, remotePort: localPort)
    }

    public var description: String { "\(localAddress):\(localPort)-\(remoteAddress):\(remotePort)" }
}
