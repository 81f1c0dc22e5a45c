import Testing
@testable import TCPIP

/// Interfaces and hand-built frames for the Interface*Tests: our side "A" at 192.0.2.2,
/// a peer "K" (the kernel's role) at 192.0.2.1, on 192.0.2.0/24.
enum IFX {
    static let macA = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0A)
    static let macB = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0B)
    static let macK = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
    static let ipA = IPv4Address(192, 0, 2, 2)
    static let ipB = IPv4Address(192, 0, 2, 3)
    static let ipK = IPv4Address(192, 0, 2, 1)

    static func interface(ip: IPv4Address = ipA, mac: MACAddress? = macA, mtu: Int = 1500, gratuitous: Bool = false,
                          tcp: TCPConfiguration = .default, seed: UInt64 = 1,
                          _ configure: (inout InterfaceConfiguration) -> Void = { _ in }) throws -> Interface {
        var c = InterfaceConfiguration(link: mac.map { .ethernet($0) } ?? .ip, address: ip, prefixLength: 24, mtu: mtu)
        c.gratuitousARP = gratuitous
        configure(&c)
        return try Interface(configuration: c, tcp: tcp, seed: seed)
    }

    /// Everything the interface sends now.
    static func drain(_ i: Interface, now: Instant = .zero) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: i.mtu + 14)
        for _ in 0..<10_000 {
            let n = buf.withUnsafeMutableBytes { i.poll(now: now, into: $0) }
            if n == 0 { break }
            out.append(Array(buf[0..<n]))
        }
        return out
    }

    static func ethernet(to: MACAddress, from: MACAddress = macK, type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        (try? EthernetFrameHeader(destination: to, source: from, etherType: type).bytes(payload: payload)) ?? []
    }

    /// An IPv4 datagram from K to A (or as given).
    static func ip(_ proto: UInt8, _ payload: [UInt8], from: IPv4Address = ipK, to: IPv4Address = ipA,
                   id: UInt16 = 0x1111, ttl: UInt8 = 64) throws -> [UInt8] {
        try IPv4Header(identification: id, timeToLive: ttl, protocol: proto, source: from, destination: to,
                       payloadLength: payload.count).bytes(payload: payload)
    }

    static func echoRequest(id: UInt16 = 0x1234, seq: UInt16 = 1, data: [UInt8]) -> [UInt8] {
        ICMPv4Message.echoRequest(identifier: id, sequenceNumber: seq, data: data).bytes()
    }

    static func udp(from sport: UInt16 = 5000, to dport: UInt16, _ payload: [UInt8],
                    src: IPv4Address = ipK, dst: IPv4Address = ipA) throws -> [UInt8] {
        try UDPHeader(sourcePort: sport, destinationPort: dport, payloadLength: payload.count)
            .bytes(payload: payload, source: src, destination: dst)
    }

    /// K asks who has A; A learns K (the request is for it) and answers. Returns A's answer.
    @discardableResult
    static func introduceK(to i: Interface, now: Instant = .zero) -> [[UInt8]] {
        let req = ARPPacket.request(from: macK, ip: ipK, asking: i.address).bytes()
        i.receive(ethernet(to: .broadcast, type: EtherType.arp, req), now: now)
        return drain(i, now: now)
    }

    /// The IPv4 payload of a frame, parsed; nil when it is not IPv4.
    static func ipv4(of frame: [UInt8], link: Int = 14, _ body: (IPv4HeaderView) throws -> Void) rethrows {
        try frame.withUnsafeBytes { b in
            guard b.count > link else { Issue.record("short frame"); return }
            let p = UnsafeRawBufferPointer(rebasing: b[link...])
            guard let v = try? IPv4HeaderView(validating: p) else { Issue.record("not a valid IPv4 packet"); return }
            try body(v)
        }
    }
}

/// Two interfaces wired frame to frame in memory, with a virtual clock.
final class InterfacePair {
    let a: Interface
    let b: Interface
    var now = Instant.zero
    var framesAtoB = 0
    var framesBtoA = 0
    /// Optional tap on every frame (from A?, bytes).
    var observe: ((Bool, [UInt8]) -> Void)?

    init(a: Interface, b: Interface) { self.a = a; self.b = b }

    /// Moves every frame either side has now; returns how many moved.
    @discardableResult
    func exchange() -> Int {
        var moved = 0
        for _ in 0..<100_000 {
            let fa = IFX.drain(a, now: now)
            for f in fa { observe?(true, f); b.receive(f, now: now) }
            let fb = IFX.drain(b, now: now)
            for f in fb { observe?(false, f); a.receive(f, now: now) }
            framesAtoB += fa.count
            framesBtoA += fb.count
            moved += fa.count + fb.count
            if fa.isEmpty && fb.isEmpty { break }
        }
        return moved
    }

    /// Exchanges, jumping the clock to the next deadline when quiet, until `done` or the time limit.
    @discardableResult
    func run(until done: () -> Bool, timeLimit: Duration = .seconds(120)) -> Bool {
        let end = now + timeLimit
        for _ in 0..<1_000_000 {
            exchange()
            if done() { return true }
            let next = [a.nextDeadline, b.nextDeadline].compactMap { $0 }.min()
            guard let next, next <= end else { return done() }
            now = max(now + .microseconds(1), next)
        }
        return done()
    }
}
