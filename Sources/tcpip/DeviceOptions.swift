import ArgumentParser
import TCPIP
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The device options every network command takes (serve, fetch, ping), in any order.
struct DeviceOptions: ParsableArguments {
    @Option(help: "TAP device name (Ethernet frames).")
    var tap: String?

    @Option(help: "TUN device name (raw IPv4 packets).")
    var tun: String?

    @Option(help: "Our address and prefix length, e.g. 192.0.2.2/24.")
    var ip: String

    @Option(help: "Default gateway (on-link next hop for other networks).")
    var gateway: String?

    @Option(help: "The stack's MTU (also the device's when this command creates it).")
    var mtu: Int?

    @Flag(help: "Open the device with the virtio-net header and let the kernel offload TCP segmentation and checksums both ways (TCP super-segments of up to 64 KiB).")
    var offload = false

    func validate() throws {
        guard (tap == nil) != (tun == nil), !(tap ?? tun ?? "").isEmpty else {
            throw ValidationError("give one device: --tap NAME or --tun NAME")
        }
        if let gateway, IPv4Address(gateway) == nil { throw ValidationError("--gateway: '\(gateway)' is not an IPv4 address") }
        _ = try Serve.parseAddress(ip)
        if let mtu, !(68...65535).contains(mtu) { throw ValidationError("--mtu must be 68...65535") }
    }

    /// Opens the device and starts a stack on it (see `OpenedStack.open`).
    func open() throws -> OpenedStack {
        try OpenedStack.open(tap: tap, tun: tun, ip: ip, gateway: gateway, mtu: mtu, offload: offload)
    }
}

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
    static func open(tap: String?, tun: String?, ip: String, gateway: String?, mtu: Int?,
                     offload: Bool = false) throws -> OpenedStack {
        let name = tap ?? tun!
        let kind: TunTapDevice.Kind = tap != nil ? .tap : .tun
        let (address, prefix) = try Serve.parseAddress(ip)
        let existed = access("/sys/class/net/\(name)", F_OK) == 0
        let device = try TunTapDevice(name: name, kind: kind, offload: offload)
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
