import TCPIP
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// A stack on a TAP or TUN device, as every network command opens it.
struct OpenedStack {
    let stack: TCPStack
    let device: TunTapDevice
    /// Whether the device existed before (attached to) or was created (and brought up) here.
    let existed: Bool
    let mtu: Int

    /// Attaches to the device `tap ?? tun` if it exists, otherwise creates it (with `mtu`,
    /// then brings it up), and starts a stack at `ip` (ADDR/PREFIX) with `gateway`.
    /// The stack's MTU is `mtu`, else the device's, else 1500.
    static func open(tap: String?, tun: String?, ip: String, gateway: String?, mtu: Int?) throws -> OpenedStack {
        let name = tap ?? tun!
        let kind: TunTapDevice.Kind = tap != nil ? .tap : .tun
        let (address, prefix) = try Serve.parseAddress(ip)
        let existed = access("/sys/class/net/\(name)", F_OK) == 0
        let device = try TunTapDevice(name: name, kind: kind)
        if !existed {
            if let mtu { try device.setMTU(mtu) }
            try device.setUp()
        }
        let stackMTU = mtu ?? ((try? device.mtu()) ?? 1500)
        let stack = try TCPStack(interface: device, address: address, prefixLength: prefix,
                                 gateway: gateway.flatMap { IPv4Address($0) }, mtu: stackMTU)
        return OpenedStack(stack: stack, device: device, existed: existed, mtu: stackMTU)
    }
}
