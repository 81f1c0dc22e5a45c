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

    @Option(help: ArgumentHelp("Impair the link in both directions (userspace netem), e.g. loss=2%,delay=10ms,jitter=5ms,reorder=25%,duplicate=1%,corrupt=0.1%,rate=100mbit,queue=1000 (the syntax of `tcpip demo --impair`; queue defaults to 1000 packets a direction).", valueName: "spec"))
    var impair: String?

    @Option(help: "Seed of --impair's random decisions (default: random, printed on stderr).")
    var impairSeed: UInt64?

    @Option(help: ArgumentHelp("Record every frame (TAP) or packet (TUN) crossing the device to this pcap file: what the kernel sent and received.", valueName: "file"))
    var pcap: String?

    @Flag(help: "Print one ladder line per TCP segment crossing the device on stderr.")
    var trace = false

    func validate() throws {
        guard (tap == nil) != (tun == nil), !(tap ?? tun ?? "").isEmpty else {
            throw ValidationError("give one device: --tap NAME or --tun NAME")
        }
        if let gateway, IPv4Address(gateway) == nil { throw ValidationError("--gateway: '\(gateway)' is not an IPv4 address") }
        _ = try Serve.parseAddress(ip)
        if let mtu, !(68...65535).contains(mtu) { throw ValidationError("--mtu must be 68...65535") }
        if let impair {
            do { _ = try FaultConfiguration(parsing: impair) } catch { throw ValidationError("--impair: \(error)") }
        }
        if impairSeed != nil && impair == nil { throw ValidationError("--impair-seed needs --impair") }
        if let pcap, pcap.isEmpty { throw ValidationError("--pcap: empty file name") }
        // The impairment and the capture sit between the device and the stack and pass on
        // packets without their virtio-net header (segmentation, partial checksum).
        if offload && (impair != nil || pcap != nil || trace) {
            throw ValidationError("--offload cannot be combined with --impair, --pcap or --trace")
        }
    }

    /// The faults of `--impair` (validated), nil without it.
    var faults: FaultConfiguration? { impair.flatMap { try? FaultConfiguration(parsing: $0) } }

    /// Opens the device and starts a stack on it (see `OpenedStack.open`).
    func open(configuration: TCPConfiguration = .default) throws -> OpenedStack {
        try OpenedStack.open(tap: tap, tun: tun, ip: ip, gateway: gateway, mtu: mtu, configuration: configuration,
                             faults: faults, faultSeed: impairSeed, pcap: pcap, trace: trace, offload: offload)
    }
}

/// The pcap file of `--pcap`, written by the loop thread while the stack runs and closed
/// by the command once the stack has stopped (never both at once).
final class CaptureHandle: @unchecked Sendable {
    let writer: PcapFileWriter
    init(writer: PcapFileWriter) { self.writer = writer }

    /// Flushes and closes the file; call only after the stack has stopped. Errors go to stderr.
    func close() {
        do { try writer.close() } catch { DeviceOptions.writeStandardError("tcpip: --pcap: \(error)\n") }
    }
}

extension DeviceOptions {
    /// Writes all of `text` to standard error (unbuffered; EINTR and short writes retried).
    static func writeStandardError(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = FileOutput.writeAll(2, $0) }
    }
}

/// A stack on a TAP or TUN device, as every network command opens it.
struct OpenedStack {
    let stack: TCPStack
    let device: TunTapDevice
    /// Whether the device existed before (attached to) or was created (and brought up) here.
    let existed: Bool
    let mtu: Int
    /// The `--pcap` file (close it once the stack has stopped).
    let capture: CaptureHandle?

    /// Attaches to the device `tap ?? tun` if it exists, otherwise creates it (with `mtu`,
    /// then brings it up), and starts a stack at `ip` (ADDR/PREFIX) with `gateway`.
    /// The stack's MTU is `mtu`, else the device's, else 1500.
    ///
    /// Between the device and the stack's interface, from the device inwards: a
    /// `DeviceTap` when `pcap` or `trace` is set (it records at the device: what the
    /// kernel really sent and received), then an `ImpairedProcessor` with `faults` in both
    /// directions (seeded with `faultSeed`, else a random seed printed on stderr).
    static func open(tap: String?, tun: String?, ip: String, gateway: String?, mtu: Int?,
                     configuration: TCPConfiguration = .default,
                     faults: FaultConfiguration? = nil, faultSeed: UInt64? = nil,
                     pcap: String? = nil, trace: Bool = false, offload: Bool = false) throws -> OpenedStack {
        let name = tap ?? tun!
        let kind: TunTapDevice.Kind = tap != nil ? .tap : .tun
        let (address, prefix) = try Serve.parseAddress(ip)
        let existed = access("/sys/class/net/\(name)", F_OK) == 0
        let device = try TunTapDevice(name: name, kind: kind, offload: offload)
        if !existed {
            if let mtu { try device.setMTU(mtu) }
            try device.setUp()
        }
        let deviceMTU = try? device.mtu()
        let stackMTU = mtu ?? deviceMTU ?? 1500
        let linkType: LinkType = kind == .tap ? .ethernet : .raw
        var capture: CaptureHandle? = nil
        if let pcap { capture = CaptureHandle(writer: try PcapFileWriter(path: pcap, linkType: linkType)) }
        var seed: UInt64? = nil
        if let faults, !faults.isNone {
            seed = faultSeed ?? UInt64.random(in: 0...UInt64.max)
            DeviceOptions.writeStandardError("impairing \(name) both ways: \(faults) (seed \(seed!))\n")
        }
        let wrap: ((Interface) -> any PacketProcessor)? = seed == nil && capture == nil && !trace ? nil : { iface in
            let sink: ((String) -> Void)? = trace ? { DeviceOptions.writeStandardError($0 + "\n") } : nil
            let tracing = sink.map { (linkType: linkType, sink: $0) }
            guard let faults, let seed else { return DeviceTap(iface, pcap: capture?.writer, trace: tracing) }
            // The kernel may deliver up to the device's MTU even when the stack's is smaller.
            let inbound = max(stackMTU, deviceMTU ?? 0) + (kind == .tap ? 18 : 0)
            let impaired = ImpairedProcessor(iface, faults: faults, seed: seed, maximumInboundSize: inbound)
            guard capture != nil || trace else { return impaired }
            let tap = DeviceTap(impaired, pcap: capture?.writer, trace: tracing)
            if trace { impaired.onDrop = { [unowned tap] in tap.noteDropped($0, packet: $1, now: $2) } }
            return tap
        }
        let stack = try TCPStack(interface: device, address: address, prefixLength: prefix,
                                 gateway: gateway.flatMap { IPv4Address($0) }, configuration: configuration,
                                 mtu: stackMTU, wrap: wrap)
        waitForKernelLink(name)
        return OpenedStack(stack: stack, device: device, existed: existed, mtu: stackMTU, capture: capture)
    }

    /// Waits (at most `limit`) until the kernel treats the device's link as up. Opening a
    /// TAP/TUN turns its carrier on, but the kernel switches the device's transmit queue
    /// from "drop everything" to working only when its link-watch work runs, which may
    /// take up to a second: a first ping sent at once would get its answer dropped by the
    /// kernel. `operstate` changes in the same step. A device whose kernel side stays down
    /// (the caller did not bring it up) costs just the wait.
    static func waitForKernelLink(_ name: String, limit: Duration = .seconds(2)) {
        let path = "/sys/class/net/\(name)/operstate"
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            guard let f = fopen(path, "r") else { return }
            var buffer = [CChar](repeating: 0, count: 32)
            let line = fgets(&buffer, 32, f) != nil
                ? String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            fclose(f)
            if line != "down" && line != "lowerlayerdown" && line != "notpresent" { return }
            usleep(10_000)
        }
    }
}

