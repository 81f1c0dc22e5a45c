import Foundation
import Testing
import NetworkTestSupport
import TCPIP
@testable import TCPIPDevices

/// Frames built by hand here so the device test depends on nothing but the kernel.
private enum Frames {
    static let ourMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02]
    static let ourIP: [UInt8] = [192, 0, 2, 2]
    static let kernelIP: [UInt8] = [192, 0, 2, 1]

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// ARP request or reply (RFC 826) for IPv4 over Ethernet, inside an Ethernet frame.
    static func arp(op: UInt16, senderMAC: [UInt8], senderIP: [UInt8], targetMAC: [UInt8], targetIP: [UInt8],
                    destination: [UInt8]) -> [UInt8] {
        destination + senderMAC + be16(0x0806)
            + be16(1) + be16(0x0800) + [6, 4] + be16(op)
            + senderMAC + senderIP + targetMAC + targetIP
    }

    /// Ethernet + IPv4 + ICMP echo request.
    static func echoRequest(to mac: [UInt8], id: UInt16, seq: UInt16, data: [UInt8]) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0] + be16(id) + be16(seq) + data
        let c = InternetChecksum.checksum(icmp)
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xFF)
        var ip: [UInt8] = [0x45, 0] + be16(UInt16(20 + icmp.count)) + be16(0x1234) + [0x40, 0, 64, 1, 0, 0]
            + ourIP + kernelIP
        let h = InternetChecksum.checksum(ip)
        ip[10] = UInt8(h >> 8); ip[11] = UInt8(h & 0xFF)
        return mac + ourMAC + be16(0x0800) + ip + icmp
    }
}

/// A TAP device moved into a fresh network namespace whose kernel has 192.0.2.1/24 on it.
private final class KernelBehindTAP {
    let namespace: NetworkNamespace
    let device: TunTapDevice

    init(kind: TunTapDevice.Kind) throws {
        namespace = try NetworkNamespace()
        let prefix = kind == .tap ? "tap" : "tun"
        device = try TunTapDevice(name: "\(prefix)\(namespace.suffix)", kind: kind)
        try namespace.adopt(interface: device.name)
        _ = try? namespace.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try namespace.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", device.name])
        try namespace.exec(["ip", "link", "set", device.name, "up"])
    }

    /// Reads frames for up to `seconds`, returning the first that `match` accepts.
    func receive(within seconds: Double, where match: ([UInt8]) -> Bool) throws -> [UInt8]? {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var frames = 0
        while Date() < deadline && frames < 10_000 {
            guard try device.waitReadable(timeoutMilliseconds: 50) else { continue }
            let n = try buffer.withUnsafeMutableBytes { try device.read(into: $0) }
            guard let n else { continue }
            frames += 1
            let frame = Array(buffer[0..<n])
            if match(frame) { return frame }
        }
        return nil
    }
}

@Suite("TAP and TUN devices against the Linux kernel", .serialized, .prioritized)
struct TunTapDeviceTests {
    @Test func kernelAnswersARPRequestThroughTAP() throws {
        guard Privilege.requireRoot("TAP device test") else { return }
        let k = try KernelBehindTAP(kind: .tap)
        let request = Frames.arp(op: 1, senderMAC: Frames.ourMAC, senderIP: Frames.ourIP,
                                 targetMAC: [0, 0, 0, 0, 0, 0], targetIP: Frames.kernelIP,
                                 destination: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try request.withUnsafeBytes { try k.device.write($0) })
        let reply = try k.receive(within: 3) { f in
            f.count >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2
        }
        let r = try #require(reply, "no ARP reply from the kernel within 3 s")
        #expect(Array(r[0..<6]) == Frames.ourMAC)              // sent to us
        #expect(Array(r[28..<32]) == Frames.kernelIP)         // sender protocol address
        #expect(Array(r[32..<38]) == Frames.ourMAC)           // target hardware address
        #expect(Array(r[38..<42]) == Frames.ourIP)            // target protocol address
        #expect(Array(r[22..<28]) == Array(r[6..<12]))        // sender MAC = frame source
    }

    @Test func kernelAnswersPingThroughTAP() throws {
        guard Privilege.requireRoot("TAP device test") else { return }
        let k = try KernelBehindTAP(kind: .tap)
        // Learn the kernel's MAC first.
        let request = Frames.arp(op: 1, senderMAC: Frames.ourMAC, senderIP: Frames.ourIP,
                                 targetMAC: [0, 0, 0, 0, 0, 0], targetIP: Frames.kernelIP,
                                 destination: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        try request.withUnsafeBytes { _ = try k.device.write($0) }
        let arpReply = try #require(try k.receive(within: 3) { $0.count >= 42 && $0[12] == 8 && $0[13] == 6 && $0[21] == 2 })
        let kernelMAC = Array(arpReply[6..<12])

        let data = Array("swift-tcpip ping".utf8)
        let echo = Frames.echoRequest(to: kernelMAC, id: 0x4242, seq: 7, data: data)
        try echo.withUnsafeBytes { _ = try k.device.write($0) }
        // The kernel may ask for our MAC before replying: answer it, then wait for the echo reply.
        let reply = try k.receive(within: 3) { f in
            if f.count >= 42 && f[12] == 8 && f[13] == 6 && f[21] == 1 && Array(f[38..<42]) == Frames.ourIP {
                let answer = Frames.arp(op: 2, senderMAC: Frames.ourMAC, senderIP: Frames.ourIP,
                                        targetMAC: Array(f[22..<28]), targetIP: Array(f[28..<32]),
                                        destination: Array(f[6..<12]))
                _ = try? answer.withUnsafeBytes { try k.device.write($0) }
                return false
            }
            return f.count >= 42 && f[12] == 8 && f[13] == 0 && f[23] == 1 && f[34] == 0
        }
        let r = try #require(reply, "no echo reply from the kernel within 3 s")
        let ip = Array(r[14...])
        #expect(Array(ip[12..<16]) == Frames.kernelIP)
        #expect(Array(ip[16..<20]) == Frames.ourIP)
        let icmp = Array(ip[20..<(Int(ip[2]) << 8 | Int(ip[3]))])
        #expect(icmp[0] == 0 && icmp[1] == 0)                           // echo reply
        #expect(Array(icmp[4..<8]) == [0x42, 0x42, 0, 7])               // same id and sequence
        #expect(Array(icmp[8...]) == data)                              // same data
        #expect(InternetChecksum.checksum(icmp) == 0)                   // checksum verifies
        #expect(InternetChecksum.checksum(Array(ip[0..<20])) == 0)
    }

    @Test func kernelAnswersPingThroughTUN() throws {
        guard Privilege.requireRoot("TUN device test") else { return }
        let k = try KernelBehindTAP(kind: .tun)
        let data = Array("through a TUN".utf8)
        let packet = Array(Frames.echoRequest(to: [0, 0, 0, 0, 0, 0], id: 9, seq: 1, data: data)[14...])
        try packet.withUnsafeBytes { _ = try k.device.write($0) }
        let reply = try k.receive(within: 3) { p in p.count >= 28 && p[0] >> 4 == 4 && p[9] == 1 && p[20] == 0 }
        let r = try #require(reply, "no echo reply through the TUN within 3 s")
        #expect(Array(r[12..<16]) == Frames.kernelIP)
        #expect(Array(r[24..<28]) == [0, 9, 0, 1])
        #expect(Array(r[28...]) == data)
    }

    @Test func openingAnInvalidInterfaceNameIsATypedError() throws {
        guard Privilege.requireRoot("TAP device test") else { return }
        #expect(throws: DeviceError.self) { try TunTapDevice(name: "bad/name", kind: .tap) }
    }
}
