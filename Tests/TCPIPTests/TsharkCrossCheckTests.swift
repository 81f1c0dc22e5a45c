import Foundation
import Testing
import NetworkTestSupport
@testable import TCPIP

// Cross-checks of the wire layer and of `tcpip decode` against Wireshark's tshark:
// frames built with the wire values must read back field for field in tshark with
// every checksum good, and the decoder must agree with tshark on a real kernel capture.

/// Running tshark on a capture and reading its JSON.
enum Tshark {
    static let executable: String? = ["/usr/bin/tshark", "/usr/local/bin/tshark", "/opt/homebrew/bin/tshark"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// Tests run when tshark is there, and also in CI (where its absence is a failure).
    static var enabled: Bool { executable != nil || isCI }
    static let skipMessage: Comment = "tshark is not installed: cross-check skipped (with CI=true this is a failure)"

    /// tshark's `tcp.checksum.status` etc. for a checksum that verified (PROTO_CHECKSUM_E_GOOD).
    static let checksumGood = "1"

    /// A packet as tshark dissected it: per protocol layer, every field's values (in the
    /// order tshark gives them within one object; nested subtrees flattened into their layer).
    typealias Packet = [String: [String: [String]]]

    /// Runs tshark over `pcap`; nil (and an issue recorded) when tshark is missing or fails.
    static func decode(_ pcap: [UInt8], preferences: [String] = [],
                       sourceLocation: SourceLocation = #_sourceLocation) async -> [Packet]? {
        guard let exe = executable else {
            Issue.record("CI=true but tshark is not installed", sourceLocation: sourceLocation)
            return nil
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-tshark-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let file = dir.appendingPathComponent("capture.pcap")
            try Data(pcap).write(to: file)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            var args = ["-r", file.path, "-T", "json", "--no-duplicate-keys",
                        "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                        "-o", "udp.check_checksum:TRUE"]
            for pref in preferences { args += ["-o", pref] }
            p.arguments = args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            // tshark takes seconds on a loaded machine: wait off the cooperative pool.
            let (data, errors, status) = try await offThePool { () throws -> (Data, String, Int32) in
                try p.run()
                let data = out.fileHandleForReading.readDataToEndOfFile()
                let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                return (data, errors, p.terminationStatus)
            }
            guard status == 0 else {
                Issue.record("tshark exited with \(status): \(errors)", sourceLocation: sourceLocation)
                return nil
            }
            guard let json = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                Issue.record("tshark JSON is not an array of packets", sourceLocation: sourceLocation)
                return nil
            }
            return json.map { entry in
                let layers = (entry["_source"] as? [String: Any])?["layers"] as? [String: Any] ?? [:]
                var packet: Packet = [:]
                for (name, value) in layers {
                    var fields: [String: [String]] = [:]
                    flatten(value, into: &fields)
                    packet[name] = fields
                }
                return packet
            }
        } catch {
            Issue.record("running tshark: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    private static func flatten(_ value: Any, into fields: inout [String: [String]]) {
        guard let dict = value as? [String: Any] else { return }
        for key in dict.keys.sorted() {
            let v = dict[key]!
            if let s = v as? String {
                fields[key, default: []].append(s)
            } else if let a = v as? [Any] {
                for e in a {
                    if let s = e as? String { fields[key, default: []].append(s) } else { flatten(e, into: &fields) }
                }
            } else {
                flatten(v, into: &fields)
            }
        }
    }
}

extension Tshark {
    /// A 16-bit field as tshark prints hex fields ("0x0800").
    static func hex(_ v: UInt16, digits: Int = 4) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    /// A one-bit field as tshark prints it.
    static func bit(_ b: Bool) -> String { b ? "1" : "0" }
}

/// One frame for the cross-check and what tshark must read in it.
struct CrossCheckCase {
    var name: String
    var frame: [UInt8]
    /// layer → field → values. Fields named in `unordered` compare as multisets.
    var expected: [String: [String: [String]]] = [:]
    /// With `tcp.relative_sequence_numbers:FALSE`: layer → field → values.
    var expectedAbsolute: [String: [String: [String]]] = [:]
    /// Layers tshark must not show (e.g. no `_ws.malformed`).
    static let unordered: Set<String> = ["tcp.option_kind", "tcp.option_len", "ip.opt.type", "ip.opt.len"]

    mutating func expect(_ layer: String, _ field: String, _ values: [String]) {
        expected[layer, default: [:]][field] = values
    }
    mutating func expect(_ layer: String, _ field: String, _ value: String) { expect(layer, field, [value]) }
    mutating func expect(_ layer: String, _ fields: [String: String]) {
        for (k, v) in fields { expect(layer, k, v) }
    }
}

enum CrossCheckFrames {
    static let macA = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0a)
    static let macB = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0b)
    static let ipA = IPv4Address(192, 0, 2, 1)
    static let ipB = IPv4Address(192, 0, 2, 2)
    static let router = IPv4Address(198, 51, 100, 1)

    static func ethernet(_ type: UInt16, _ payload: [UInt8], vlan: VLANTag? = nil, into c: inout CrossCheckCase) throws {
        c.frame = try EthernetFrameHeader(destination: macB, source: macA, etherType: type, vlan: vlan).bytes(payload: payload)
        c.expect("eth", ["eth.dst": macB.description, "eth.src": macA.description,
                         "eth.type": Tshark.hex(vlan == nil ? type : EtherType.vlan)])
        if let v = vlan {
            c.expect("vlan", ["vlan.priority": "\(v.priority)", "vlan.dei": Tshark.bit(v.dropEligible),
                              "vlan.id": "\(v.identifier)", "vlan.etype": Tshark.hex(type)])
        }
    }

    /// An IPv4 datagram around `payload`, framed in Ethernet, with the IP expectations.
    static func ipv4(_ proto: UInt8, _ payload: [UInt8], id: UInt16, source: IPv4Address = ipA, destination: IPv4Address = ipB,
                     options: [IPv4Option] = [], dscp: UInt8 = 0, ecn: UInt8 = 0, ttl: UInt8 = 64, vlan: VLANTag? = nil,
                     into c: inout CrossCheckCase) throws {
        let h = IPv4Header(dscp: dscp, ecn: ecn, identification: id, dontFragment: true, timeToLive: ttl,
                           protocol: proto, source: source, destination: destination, options: options,
                           payloadLength: payload.count)
        let packet = try h.bytes(payload: payload)
        try ethernet(EtherType.ipv4, packet, vlan: vlan, into: &c)
        c.expect("ip", ["ip.version": "4", "ip.hdr_len": "\(h.headerLength)",
                        "ip.dsfield.dscp": "\(dscp)", "ip.dsfield.ecn": "\(ecn)", "ip.len": "\(h.totalLength)",
                        "ip.id": Tshark.hex(id), "ip.flags.rb": "0", "ip.flags.df": "1", "ip.flags.mf": "0",
                        "ip.frag_offset": "0", "ip.ttl": "\(ttl)", "ip.proto": "\(proto)",
                        "ip.checksum.status": Tshark.checksumGood,
                        "ip.src": source.description, "ip.dst": destination.description])
    }

    /// A TCP segment from A to B with the TCP expectations (options included).
    static func tcp(_ name: String, _ h: TCPHeader, payload: [UInt8] = [], id: UInt16,
                    ipOptions: [IPv4Option] = []) throws -> CrossCheckCase {
        var c = CrossCheckCase(name: name, frame: [])
        let seg = try h.segmentBytes(payload: payload, source: ipA, destination: ipB)
        try ipv4(IPProtocol.tcp, seg, id: id, options: ipOptions, into: &c)
        let f = h.flags
        c.expect("tcp", ["tcp.srcport": "\(h.sourcePort)", "tcp.dstport": "\(h.destinationPort)",
                         "tcp.seq_raw": "\(h.sequenceNumber.rawValue)", "tcp.ack_raw": "\(h.acknowledgmentNumber.rawValue)",
                         "tcp.hdr_len": "\(h.headerLength)",
                         // tshark's tcp.flags holds the reserved bits too; tcp.flags.res is whether any is set.
                         "tcp.flags": Tshark.hex(UInt16(h.reserved) << 9 | f.rawValue),
                         "tcp.flags.res": Tshark.bit(h.reserved != 0), "tcp.flags.ae": Tshark.bit(f.contains(.ae)),
                         "tcp.flags.cwr": Tshark.bit(f.contains(.cwr)), "tcp.flags.ece": Tshark.bit(f.contains(.ece)),
                         "tcp.flags.urg": Tshark.bit(f.contains(.urg)), "tcp.flags.ack": Tshark.bit(f.contains(.ack)),
                         "tcp.flags.push": Tshark.bit(f.contains(.psh)), "tcp.flags.reset": Tshark.bit(f.contains(.rst)),
                         "tcp.flags.syn": Tshark.bit(f.contains(.syn)), "tcp.flags.fin": Tshark.bit(f.contains(.fin)),
                         "tcp.window_size_value": "\(h.window)", "tcp.urgent_pointer": "\(h.urgentPointer)",
                         "tcp.len": "\(payload.count)", "tcp.checksum.status": Tshark.checksumGood])
        c.expectedAbsolute["tcp", default: [:]]["tcp.seq"] = ["\(h.sequenceNumber.rawValue)"]
        if f.contains(.ack) { c.expectedAbsolute["tcp", default: [:]]["tcp.ack"] = ["\(h.acknowledgmentNumber.rawValue)"] }
        var kinds: [String] = [], lens: [String] = []
        var mss: [String] = [], ws: [String] = [], tsval: [String] = [], tsecr: [String] = []
        var sackLE: [String] = [], sackRE: [String] = [], sackCount: [String] = []
        var nop = 0, sackPerm = 0, eol = 0
        for o in h.options {
            switch o {
            case .endOfList: eol += 1
            case .noOperation: nop += 1; kinds.append("1")
            case .maximumSegmentSize(let m): mss.append("\(m)"); kinds.append("2"); lens.append("4")
            case .windowScale(let s): ws.append("\(s)"); kinds.append("3"); lens.append("3")
            case .sackPermitted: sackPerm += 1; kinds.append("4"); lens.append("2")
            case .timestamps(let t): tsval.append("\(t.value)"); tsecr.append("\(t.echoReply)"); kinds.append("8"); lens.append("10")
            case .sack(let b):
                kinds.append("5"); lens.append("\(o.length)"); sackCount.append("\(b.count)")
                for blk in b { sackLE.append("\(blk.start.rawValue)"); sackRE.append("\(blk.end.rawValue)") }
            case .unknown(let k, let d): kinds.append("\(k)"); lens.append("\(d.count + 2)")
            }
        }
        if !h.options.isEmpty {
            // tshark lists every zero byte (EOL and the padding after the options) as kind 0.
            let zeros = eol + (h.headerLength - 20 - h.optionsLength)
            c.expect("tcp", "tcp.option_kind", kinds + Array(repeating: "0", count: zeros))
            c.expect("tcp", "tcp.option_len", lens)
            c.expect("tcp", "tcp.options.mss_val", mss)
            c.expect("tcp", "tcp.options.wscale.shift", ws)
            c.expect("tcp", "tcp.options.timestamp.tsval", tsval)
            c.expect("tcp", "tcp.options.timestamp.tsecr", tsecr)
            c.expect("tcp", "tcp.options.sack.count", sackCount)
            c.expect("tcp", "tcp.options.nop", Array(repeating: "01", count: nop))
            c.expect("tcp", "tcp.options.sack_perm", Array(repeating: "04:02", count: sackPerm))
            c.expectedAbsolute["tcp", default: [:]]["tcp.options.sack_le"] = sackLE
            c.expectedAbsolute["tcp", default: [:]]["tcp.options.sack_re"] = sackRE
        }
        return c
    }

    /// Every frame kind the cross-check covers.
    static func all() throws -> [CrossCheckCase] {
        var cases: [CrossCheckCase] = []
        var rng = SeededRandom(seed: 0x7C9)
        var port: UInt16 = 20000
        var id: UInt16 = 0x1000
        func next() -> (UInt16, UInt16) { port += 1; id &+= 1; return (port, id) }

        // All 64 combinations of the six classic flags, alone and with ECE, CWR and AE.
        for extra in [TCPFlags(), [.ece, .cwr, .ae]] {
            for bits in 0..<64 {
                let (p, i) = next()
                let flags = TCPFlags(rawValue: UInt16(bits)).union(extra)
                let h = TCPHeader(sourcePort: p, destinationPort: 80, sequenceNumber: SequenceNumber(rng.u32()),
                                  acknowledgmentNumber: SequenceNumber(rng.u32()), flags: flags,
                                  window: rng.u16(), urgentPointer: rng.u16())
                cases.append(try tcp("flags \(flags.names)", h, id: i))
            }
        }
        // ECE, CWR and AE one at a time and in pairs, with ACK.
        for extra: TCPFlags in [.ece, .cwr, .ae, [.ece, .cwr], [.ece, .ae], [.cwr, .ae]] {
            let (p, i) = next()
            cases.append(try tcp("flags \(extra.names)+ACK", TCPHeader(sourcePort: p, destinationPort: 80,
                sequenceNumber: SequenceNumber(rng.u32()), acknowledgmentNumber: SequenceNumber(rng.u32()),
                flags: extra.union(.ack), window: 1000), id: i))
        }
        // Reserved bits.
        for r: UInt8 in [1, 2, 4, 7] {
            let (p, i) = next()
            cases.append(try tcp("reserved \(r)", TCPHeader(sourcePort: p, destinationPort: 80,
                sequenceNumber: SequenceNumber(1), acknowledgmentNumber: SequenceNumber(2), flags: .ack,
                window: 512, reserved: r), id: i))
        }
        // Each option alone.
        let single: [(String, [TCPOption])] = [
            ("mss", [.maximumSegmentSize(1460)]), ("mss max", [.maximumSegmentSize(65535)]),
            ("wscale", [.windowScale(7)]), ("wscale 14", [.windowScale(14)]),
            ("sackOK", [.sackPermitted]), ("timestamps", [.timestamps(TCPTimestamps(value: 0xDEADBEEF, echoReply: 12345))]),
            ("nop", [.noOperation]), ("eol", [.endOfList]),
            ("sack 1", [.sack(SACKBlocks([SACKBlock(start: SequenceNumber(1000), end: SequenceNumber(2000))]))]),
            ("unknown kind 99", [.unknown(kind: 99, data: [1, 2, 3, 4])]),
            ("unknown kind 200 empty", [.unknown(kind: 200, data: [])]),
        ]
        for (name, opts) in single {
            let (p, i) = next()
            cases.append(try tcp("option \(name)", TCPHeader(sourcePort: p, destinationPort: 80,
                sequenceNumber: SequenceNumber(rng.u32()), acknowledgmentNumber: SequenceNumber(5000),
                flags: .ack, window: 29200, options: opts), id: i))
        }
        // Linux's SYN layout, and the SYN-ACK answering it.
        do {
            let (p, i) = next()
            let linux: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted,
                                      .timestamps(TCPTimestamps(value: 4102237513, echoReply: 0)), .noOperation, .windowScale(7)]
            cases.append(try tcp("Linux SYN", TCPHeader(sourcePort: p, destinationPort: 80,
                sequenceNumber: SequenceNumber(3132527781), flags: .syn, window: 64240, options: linux), id: i))
            let set = TCPOptionSet(maximumSegmentSize: 1460, windowScale: 10, sackPermitted: true,
                                   timestamps: TCPTimestamps(value: 77, echoReply: 4102237513))
            let (p2, i2) = next()
            cases.append(try tcp("TCPOptionSet layout", TCPHeader(sourcePort: p2, destinationPort: 80,
                sequenceNumber: SequenceNumber(9), acknowledgmentNumber: SequenceNumber(3132527782),
                flags: [.syn, .ack], window: 65160, options: set.options), id: i2))
        }
        // SACK with 1-3 blocks plus timestamps, and 4 blocks alone.
        for n in 1...4 {
            let (p, i) = next()
            let base = rng.u32()
            var blocks = SACKBlocks()
            for k in 0..<n {
                let left: UInt32 = base &+ UInt32(3000 * k + 1000)
                blocks.append(SACKBlock(start: SequenceNumber(left), end: SequenceNumber(left &+ 1448)))
            }
            var opts: [TCPOption] = [.noOperation, .noOperation, .sack(blocks)]
            if n < 4 { opts = [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: rng.u32(), echoReply: rng.u32()))] + opts }
            cases.append(try tcp("sack \(n)", TCPHeader(sourcePort: p, destinationPort: 443,
                sequenceNumber: SequenceNumber(rng.u32()), acknowledgmentNumber: SequenceNumber(base &+ 1),
                flags: .ack, window: 501, options: opts), id: i))
        }
        // A segment with data, and IPv4 options around a segment.
        do {
            let (p, i) = next()
            cases.append(try tcp("data", TCPHeader(sourcePort: p, destinationPort: 80,
                sequenceNumber: SequenceNumber(0xFFFF_FF00), acknowledgmentNumber: SequenceNumber(77),
                flags: [.psh, .ack], window: 1024), payload: Array("GET / HTTP/1.1\r\n\r\n".utf8) + [0x01], id: i))
            let (p2, i2) = next()
            var c = try tcp("IPv4 options", TCPHeader(sourcePort: p2, destinationPort: 80,
                sequenceNumber: SequenceNumber(5), acknowledgmentNumber: SequenceNumber(6), flags: .ack, window: 100),
                id: i2, ipOptions: [.option(type: IPv4OptionType.routerAlert, data: [0, 0]), .noOperation,
                                    .option(type: IPv4OptionType.recordRoute, data: [4, 0, 0, 0, 0, 0, 0, 0, 0]),
                                    .endOfList])
            // tshark stops at EOL: the padding after it is not listed.
            c.expect("ip", "ip.opt.type", ["148", "1", "7", "0"])
            c.expect("ip", "ip.opt.len", ["4", "11"])
            c.expect("ip", "ip.opt.ra", ["0"])
            c.expect("ip", "ip.opt.ptr", ["4"])
            c.expect("ip", "ip.empty_rt", ["0.0.0.0", "0.0.0.0"])
            cases.append(c)
        }
        // ARP request and reply (Ethernet padding after the 28 bytes is the link's business).
        do {
            let req = ARPPacket.request(from: macA, ip: ipA, asking: ipB)
            for (name, a) in [("ARP request", req), ("ARP reply", req.reply(with: macB))] {
                var c = CrossCheckCase(name: name, frame: [])
                try ethernet(EtherType.arp, a.bytes(), into: &c)
                c.expect("arp", ["arp.hw.type": "1", "arp.proto.type": "0x0800", "arp.hw.size": "6", "arp.proto.size": "4",
                                 "arp.opcode": "\(a.operation.rawValue)",
                                 "arp.src.hw_mac": a.senderHardwareAddress.description,
                                 "arp.src.proto_ipv4": a.senderProtocolAddress.description,
                                 "arp.dst.hw_mac": a.targetHardwareAddress.description,
                                 "arp.dst.proto_ipv4": a.targetProtocolAddress.description])
                cases.append(c)
            }
        }
        // UDP with and without checksum, over a VLAN tag.
        do {
            let (_, i) = next()
            var c = CrossCheckCase(name: "UDP", frame: [])
            let payload = Array("hello".utf8)
            let d = try UDPHeader(sourcePort: 40001, destinationPort: 40002, payloadLength: 0).bytes(payload: payload, source: ipA, destination: ipB)
            try ipv4(IPProtocol.udp, d, id: i, dscp: 46, ecn: 1, vlan: VLANTag(priority: 5, dropEligible: true, identifier: 100), into: &c)
            c.expect("udp", ["udp.srcport": "40001", "udp.dstport": "40002", "udp.length": "13",
                             "udp.checksum.status": Tshark.checksumGood])
            cases.append(c)
            let (_, i2) = next()
            var z = CrossCheckCase(name: "UDP no checksum", frame: [])
            let d2 = try UDPHeader(sourcePort: 9, destinationPort: 7, payloadLength: 0).bytes(payload: [1, 2, 3], source: ipA, destination: ipB, checksum: false)
            try ipv4(IPProtocol.udp, d2, id: i2, into: &z)
            z.expect("udp", ["udp.srcport": "9", "udp.dstport": "7", "udp.length": "11", "udp.checksum": "0x0000",
                             "udp.checksum.status": "3"])  // 3: not present
            cases.append(z)
        }
        // ICMP: echo request and reply; unreachable quoting a TCP SYN; time exceeded quoting UDP; frag needed.
        do {
            for (name, m) in [("ICMP echo request", ICMPv4Message.echoRequest(identifier: 0x1234, sequenceNumber: 7, data: Array(0..<56))),
                              ("ICMP echo reply", .echoReply(identifier: 0x1234, sequenceNumber: 7, data: Array(0..<56)))] {
                let (_, i) = next()
                var c = CrossCheckCase(name: name, frame: [])
                try ipv4(IPProtocol.icmp, m.bytes(), id: i, into: &c)
                c.expect("icmp", ["icmp.type": "\(m.type)", "icmp.code": "0", "icmp.ident": "4660", "icmp.seq": "7",
                                  "icmp.checksum.status": Tshark.checksumGood])
                cases.append(c)
            }
            let syn = try TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(0xA1B2C3D4),
                                    flags: .syn, window: 64240).segmentBytes(source: ipA, destination: ipB)
            let quotedTCP = try IPv4Header(identification: 0x4242, dontFragment: true, protocol: IPProtocol.tcp,
                                           source: ipA, destination: ipB, payloadLength: 0).bytes(payload: syn)
            let udp = try UDPHeader(sourcePort: 33434, destinationPort: 33435, payloadLength: 0)
                .bytes(payload: [0, 0, 0, 0], source: ipA, destination: ipB)
            let quotedUDP = try IPv4Header(identification: 0x4343, timeToLive: 1, protocol: IPProtocol.udp,
                                           source: ipA, destination: ipB, payloadLength: 0).bytes(payload: udp)
            let errors: [(String, ICMPv4Message, [UInt8], [String: String])] = [
                ("ICMP port unreachable", .destinationUnreachable(code: .port, nextHopMTU: 0, quoted: Array(quotedTCP[0..<28])), quotedTCP,
                 ["tcp.srcport": "40000", "tcp.dstport": "80", "tcp.seq": "\(0xA1B2C3D4 as UInt32)", "ip.id": "0x4242"]),
                ("ICMP frag needed", .destinationUnreachable(code: .fragmentationNeeded, nextHopMTU: 1400, quoted: quotedTCP), quotedTCP,
                 ["tcp.srcport": "40000", "tcp.dstport": "80", "icmp.mtu": "1400", "ip.id": "0x4242"]),
                ("ICMP time exceeded", .timeExceeded(code: .timeToLiveExceeded, quoted: quotedUDP), quotedUDP,
                 ["udp.srcport": "33434", "udp.dstport": "33435", "ip.id": "0x4343", "ip.ttl": "1"]),
            ]
            for (name, m, quoted, fields) in errors {
                let (_, i) = next()
                var c = CrossCheckCase(name: name, frame: [])
                try ipv4(IPProtocol.icmp, m.bytes(), id: i, source: router, destination: ipA, into: &c)
                c.expect("icmp", ["icmp.type": "\(m.type)", "icmp.code": "\(m.code)", "icmp.checksum.status": Tshark.checksumGood,
                                  "ip.src": ipA.description, "ip.dst": ipB.description])
                c.expect("icmp", fields)
                _ = quoted
                cases.append(c)
            }
        }
        return cases
    }

    static func pcap(_ cases: [CrossCheckCase]) -> [UInt8] {
        var w = PcapWriter(linkType: .ethernet, resolution: .microseconds)
        for (k, c) in cases.enumerated() {
            w.append(timestamp: Instant(nanoseconds: 1_700_000_000_000_000_000 + Int64(k) * 1_000_000), packet: c.frame)
        }
        return w.bytes
    }
}

@Suite struct TsharkCrossCheckTests {
    static func compare(_ expected: [String: [String: [String]]], _ got: Tshark.Packet, _ name: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        for (layer, fields) in expected {
            guard let have = got[layer] else {
                Issue.record("\(name): tshark shows no \(layer) layer (layers: \(got.keys.sorted()))", sourceLocation: sourceLocation)
                continue
            }
            for (field, values) in fields {
                var g = have[field] ?? []
                var e = values
                if CrossCheckCase.unordered.contains(field) { g.sort(); e.sort() }
                #expect(g == e, "\(name): \(layer) \(field)", sourceLocation: sourceLocation)
            }
        }
        #expect(got["_ws.malformed"] == nil, "\(name): tshark calls it malformed", sourceLocation: sourceLocation)
        #expect(got["_ws.expert"]?["_ws.expert.severity"]?.contains("8388608") != true, "\(name): tshark reports an error", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: Tshark.enabled, Tshark.skipMessage))
    func wireValuesReadBackIdenticallyInTshark() async throws {
        let cases = try CrossCheckFrames.all()
        let pcap = CrossCheckFrames.pcap(cases)
        if let dump = ProcessInfo.processInfo.environment["TCPIP_CROSSCHECK_DUMP"] {
            try Data(pcap).write(to: URL(fileURLWithPath: dump))
        }
        guard let packets = await Tshark.decode(pcap) else { return }
        try #require(packets.count == cases.count)
        for (c, p) in zip(cases, packets) { TsharkCrossCheckTests.compare(c.expected, p, c.name) }
        guard let absolute = await Tshark.decode(pcap, preferences: ["tcp.relative_sequence_numbers:FALSE"]) else { return }
        try #require(absolute.count == cases.count)
        for (c, p) in zip(cases, absolute) { TsharkCrossCheckTests.compare(c.expectedAbsolute, p, c.name + " (absolute)") }
    }
}

/// A `tcpip decode` TCP line taken apart again, to compare with tshark.
struct DescribedTCPLine: Equatable {
    var source: String
    var sourcePort: String
    var destination: String
    var destinationPort: String
    var flags: String
    var seq: UInt32
    var seqEnd: UInt32?
    var ack: UInt32?
    var window: String
    var urgent: String?
    var options: [String]
    var length: Int

    /// Parses "T IP a.b.c.d.p > e.f.g.h.q: Flags [X], seq S[:E][, ack A], win W[, urg U][, options [..]], length L".
    init?(_ line: String) {
        guard let sp = line.firstIndex(of: " ") else { return nil }
        var rest = String(line[line.index(after: sp)...])
        guard rest.hasPrefix("IP "), let colon = rest.range(of: ": Flags [") else { return nil }
        let ends = rest[rest.index(rest.startIndex, offsetBy: 3)..<colon.lowerBound].components(separatedBy: " > ")
        guard ends.count == 2 else { return nil }
        func split(_ e: String) -> (String, String)? {
            guard let dot = e.lastIndex(of: ".") else { return nil }
            return (String(e[..<dot]), String(e[e.index(after: dot)...]))
        }
        guard let s = split(ends[0]), let d = split(ends[1]) else { return nil }
        (source, sourcePort, destination, destinationPort) = (s.0, s.1, d.0, d.1)
        rest = String(rest[colon.upperBound...])
        guard let close = rest.firstIndex(of: "]") else { return nil }
        flags = String(rest[..<close])
        rest = String(rest[rest.index(after: close)...])
        // Options may contain ", " only inside their brackets; take them out first.
        options = []
        if let o = rest.range(of: ", options ["), let e = rest.range(of: "], length ", options: .backwards) {
            options = rest[o.upperBound..<e.lowerBound].components(separatedBy: ",")
            rest = String(rest[..<o.lowerBound]) + ", length " + rest[e.upperBound...]
        }
        var seq: UInt32? = nil, seqEnd: UInt32? = nil, ack: UInt32? = nil, win: String? = nil, urg: String? = nil, len: Int? = nil
        for part in rest.components(separatedBy: ", ") where !part.isEmpty {
            let kv = part.split(separator: " ", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { return nil }
            switch kv[0] {
            case "seq":
                let se = kv[1].split(separator: ":").map { UInt32($0) }
                seq = se[0]
                if se.count == 2 { seqEnd = se[1] }
            case "ack": ack = UInt32(kv[1])
            case "win": win = kv[1]
            case "urg": urg = kv[1]
            case "length": len = Int(kv[1])
            default: return nil
            }
        }
        guard let seq, let win, let len else { return nil }
        self.seq = seq
        self.seqEnd = seqEnd
        self.ack = ack
        self.window = win
        self.urgent = urg
        self.length = len
    }
}

extension TsharkCrossCheckTests {
    /// Checks a decoded TCP line against tshark's dissection of the same packet.
    /// `relative`: the line and tshark both count relative numbers (else both raw).
    static func compare(line: String, with p: Tshark.Packet, relative: Bool, _ name: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        guard let d = DescribedTCPLine(line) else {
            Issue.record("\(name): cannot parse decoder line: \(line)", sourceLocation: sourceLocation)
            return
        }
        guard let ip = p["ip"], let tcp = p["tcp"] else {
            Issue.record("\(name): tshark sees no IP/TCP", sourceLocation: sourceLocation)
            return
        }
        func one(_ f: [String: [String]], _ k: String) -> String? { f[k]?.first }
        #expect(d.source == one(ip, "ip.src") && d.destination == one(ip, "ip.dst"), "\(name): addresses", sourceLocation: sourceLocation)
        #expect(d.sourcePort == one(tcp, "tcp.srcport") && d.destinationPort == one(tcp, "tcp.dstport"), "\(name): ports", sourceLocation: sourceLocation)
        let flagBits = UInt16(one(tcp, "tcp.flags")?.dropFirst(2) ?? "", radix: 16).map { TCPFlags(rawValue: $0) }
        #expect(d.flags == flagBits?.description, "\(name): flags", sourceLocation: sourceLocation)
        let seqField = relative ? "tcp.seq" : "tcp.seq_raw", ackField = relative ? "tcp.ack" : "tcp.ack_raw"
        #expect(one(tcp, seqField) == "\(d.seq)", "\(name): \(seqField)", sourceLocation: sourceLocation)
        let tlen = Int(one(tcp, "tcp.len") ?? "") ?? -1
        #expect(d.length == tlen, "\(name): length", sourceLocation: sourceLocation)
        #expect(d.seqEnd == (tlen > 0 ? d.seq &+ UInt32(tlen) : nil), "\(name): seq end", sourceLocation: sourceLocation)
        if flagBits?.contains(.ack) == true {
            #expect(d.ack.map { "\($0)" } == one(tcp, ackField), "\(name): \(ackField)", sourceLocation: sourceLocation)
        } else {
            #expect(d.ack == nil, "\(name): ack printed without ACK", sourceLocation: sourceLocation)
        }
        #expect(d.window == one(tcp, "tcp.window_size_value"), "\(name): window", sourceLocation: sourceLocation)
        #expect(d.urgent == (flagBits?.contains(.urg) == true ? one(tcp, "tcp.urgent_pointer") : nil), "\(name): urgent", sourceLocation: sourceLocation)

        // Options: the decoder's items against tshark's per-kind fields.
        var kinds: [String] = [], mss: [String] = [], ws: [String] = [], tsval: [String] = [], tsecr: [String] = []
        var le: [String] = [], re: [String] = [], nop = 0, sackOK = 0
        for item in d.options {
            let w = item.split(separator: " ").map(String.init)
            switch w.first ?? "" {
            case "nop": nop += 1; kinds.append("1")
            case "eol": break
            case "mss": mss.append(w[1]); kinds.append("2")
            case "wscale": ws.append(w[1]); kinds.append("3")
            case "sackOK": sackOK += 1; kinds.append("4")
            case "TS": tsval.append(w[2]); tsecr.append(w[4]); kinds.append("8")
            case "sack":
                kinds.append("5")
                for edge in w[2].split(separator: "}").map({ $0.dropFirst() }) {
                    let lr = edge.split(separator: ":")
                    le.append(String(lr[0])); re.append(String(lr[1]))
                }
            default:
                if item.hasPrefix("unknown-") { kinds.append(String(w[0].dropFirst("unknown-".count))) }
                else { Issue.record("\(name): unexpected option text \(item)", sourceLocation: sourceLocation) }
            }
        }
        let theirKinds = (tcp["tcp.option_kind"] ?? []).filter { $0 != "0" }.sorted()
        #expect(kinds.sorted() == theirKinds, "\(name): option kinds", sourceLocation: sourceLocation)
        #expect(mss == tcp["tcp.options.mss_val"] ?? [], "\(name): mss", sourceLocation: sourceLocation)
        #expect(ws == tcp["tcp.options.wscale.shift"] ?? [], "\(name): wscale", sourceLocation: sourceLocation)
        #expect(tsval == tcp["tcp.options.timestamp.tsval"] ?? [], "\(name): tsval", sourceLocation: sourceLocation)
        #expect(tsecr == tcp["tcp.options.timestamp.tsecr"] ?? [], "\(name): tsecr", sourceLocation: sourceLocation)
        #expect(le == tcp["tcp.options.sack_le"] ?? [], "\(name): sack left edges", sourceLocation: sourceLocation)
        #expect(re == tcp["tcp.options.sack_re"] ?? [], "\(name): sack right edges", sourceLocation: sourceLocation)
        #expect(nop == (tcp["tcp.options.nop"] ?? []).count, "\(name): nop count", sourceLocation: sourceLocation)
        #expect(sackOK == (tcp["tcp.options.sack_perm"] ?? []).count, "\(name): sackOK", sourceLocation: sourceLocation)
    }

    /// Decodes `pcap` with the formatter (relative and absolute) and with tshark, and
    /// compares every TCP packet; returns the relative lines and tshark's packets.
    @discardableResult
    static func compareDecoder(on pcap: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws -> ([String], [Tshark.Packet])? {
        let rel = PacketDescriber.describe(capture: pcap)
        let abs = PacketDescriber.describe(capture: pcap, options: .init(absoluteSequenceNumbers: true))
        #expect(rel.error == nil && abs.error == nil, sourceLocation: sourceLocation)
        guard let relT = await Tshark.decode(pcap, sourceLocation: sourceLocation),
              let absT = await Tshark.decode(pcap, preferences: ["tcp.relative_sequence_numbers:FALSE"], sourceLocation: sourceLocation)
        else { return nil }
        try #require(relT.count == rel.packets.count && absT.count == abs.packets.count, sourceLocation: sourceLocation)
        for k in 0..<relT.count where relT[k]["tcp"] != nil && relT[k]["icmp"] == nil {
            compare(line: rel.packets[k], with: relT[k], relative: true, "packet \(k + 1)", sourceLocation: sourceLocation)
            compare(line: abs.packets[k], with: absT[k], relative: false, "packet \(k + 1) (absolute)", sourceLocation: sourceLocation)
        }
        return (rel.packets, relT)
    }

    @Test(.enabled(if: Tshark.enabled, Tshark.skipMessage))
    func decoderReadsCrossCheckFramesAsTsharkDoes() async throws {
        let cases = try CrossCheckFrames.all()
        try await TsharkCrossCheckTests.compareDecoder(on: CrossCheckFrames.pcap(cases))
    }
}

extension TsharkCrossCheckTests {
    static var fixtureDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// One segment between A and B (either way), in an Ethernet frame.
    static func segment(from a: (IPv4Address, UInt16), to b: (IPv4Address, UInt16), seq: UInt32, ack: UInt32 = 0,
                        _ flags: TCPFlags, payload: Int = 0, options: [TCPOption] = []) throws -> [UInt8] {
        let h = TCPHeader(sourcePort: a.1, destinationPort: b.1, sequenceNumber: SequenceNumber(seq),
                          acknowledgmentNumber: SequenceNumber(ack), flags: flags, window: 4096, options: options)
        let seg = try h.segmentBytes(payload: Array(repeating: 0x61, count: payload), source: a.0, destination: b.0)
        let ip = try IPv4Header(protocol: IPProtocol.tcp, source: a.0, destination: b.0, payloadLength: 0).bytes(payload: seg)
        return try EthernetFrameHeader(destination: CrossCheckFrames.macB, source: CrossCheckFrames.macA,
                                       etherType: EtherType.ipv4).bytes(payload: ip)
    }

    /// Relative numbering across streams: an ISN just below 2^32 with data wrapping past
    /// zero, SACK edges, FIN, port reuse with a new ISN, a capture that starts mid-stream,
    /// and a retransmitted SYN.
    @Test(.enabled(if: Tshark.enabled, Tshark.skipMessage))
    func decoderCountsRelativeNumbersAsTsharkDoes() async throws {
        let c = (CrossCheckFrames.ipA, UInt16(1111)), s = (CrossCheckFrames.ipB, UInt16(80))
        let ts: [TCPOption] = [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 1, echoReply: 2))]
        let isnC: UInt32 = 0xFFFF_FFF0, isnS: UInt32 = 0x1000
        var frames: [[UInt8]] = []
        frames.append(try Self.segment(from: c, to: s, seq: isnC, .syn, options: [.maximumSegmentSize(1460), .sackPermitted]))
        frames.append(try Self.segment(from: s, to: c, seq: isnS, ack: isnC &+ 1, [.syn, .ack], options: [.maximumSegmentSize(1460), .sackPermitted]))
        frames.append(try Self.segment(from: c, to: s, seq: isnC &+ 1, ack: isnS &+ 1, .ack))
        frames.append(try Self.segment(from: c, to: s, seq: isnC &+ 1, ack: isnS &+ 1, [.psh, .ack], payload: 100))  // wraps past 0
        frames.append(try Self.segment(from: c, to: s, seq: isnC &+ 201, ack: isnS &+ 1, [.psh, .ack], payload: 100))
        frames.append(try Self.segment(from: s, to: c, seq: isnS &+ 1, ack: isnC &+ 101, .ack,
                                  options: ts + [.noOperation, .noOperation,
                                                 .sack(SACKBlocks([SACKBlock(start: SequenceNumber(isnC &+ 201), end: SequenceNumber(isnC &+ 301))]))]))
        frames.append(try Self.segment(from: s, to: c, seq: isnS &+ 1, ack: isnC &+ 101, [.fin, .ack], payload: 10))
        frames.append(try Self.segment(from: c, to: s, seq: isnC &+ 101, ack: isnS &+ 12, [.fin, .ack]))
        frames.append(try Self.segment(from: s, to: c, seq: isnS &+ 12, ack: isnC &+ 102, .ack))
        // Port reuse: a new SYN with another ISN on the same four-tuple.
        frames.append(try Self.segment(from: c, to: s, seq: 5_000_000, .syn))
        frames.append(try Self.segment(from: s, to: c, seq: 9_000_000, ack: 5_000_001, [.syn, .ack]))
        frames.append(try Self.segment(from: c, to: s, seq: 5_000_001, ack: 9_000_001, [.psh, .ack], payload: 7))
        // A stream seen from the middle: the server's data first.
        let c2 = (CrossCheckFrames.ipA, UInt16(2222))
        frames.append(try Self.segment(from: s, to: c2, seq: 777_777, ack: 333_333, [.psh, .ack], payload: 50))
        frames.append(try Self.segment(from: c2, to: s, seq: 333_333, ack: 777_827, .ack))
        frames.append(try Self.segment(from: s, to: c2, seq: 777_827, ack: 333_333, .rst))
        // A SYN retransmitted with the same ISN stays in its stream.
        let c3 = (CrossCheckFrames.ipA, UInt16(3333))
        frames.append(try Self.segment(from: c3, to: s, seq: 42, .syn))
        frames.append(try Self.segment(from: c3, to: s, seq: 42, .syn))
        frames.append(try Self.segment(from: s, to: c3, seq: 4242, ack: 43, [.syn, .ack]))

        var w = PcapWriter(linkType: .ethernet)
        for (k, f) in frames.enumerated() { w.append(timestamp: Instant(nanoseconds: Int64(k) * 1_000), packet: f) }
        guard let (lines, _) = try await TsharkCrossCheckTests.compareDecoder(on: w.bytes) else { return }
        // The numbers the decoder prints, spelled out (tshark agreed with each above).
        let fields = lines.map { l in l.split(separator: ": ", maxSplits: 1).last.map(String.init) ?? "" }
        #expect(fields == [
            // The padding after SACK-permitted is a zero byte: an end-of-list option, as tcpdump shows it.
            "Flags [S], seq 0, win 4096, options [mss 1460,sackOK,eol], length 0",
            "Flags [S.], seq 0, ack 1, win 4096, options [mss 1460,sackOK,eol], length 0",
            "Flags [.], seq 1, ack 1, win 4096, length 0",
            "Flags [P.], seq 1:101, ack 1, win 4096, length 100",
            "Flags [P.], seq 201:301, ack 1, win 4096, length 100",
            "Flags [.], seq 1, ack 101, win 4096, options [nop,nop,TS val 1 ecr 2,nop,nop,sack 1 {201:301}], length 0",
            "Flags [F.], seq 1:11, ack 101, win 4096, length 10",
            "Flags [F.], seq 101, ack 12, win 4096, length 0",
            "Flags [.], seq 12, ack 102, win 4096, length 0",
            "Flags [S], seq 0, win 4096, length 0",
            "Flags [S.], seq 0, ack 1, win 4096, length 0",
            "Flags [P.], seq 1:8, ack 1, win 4096, length 7",
            "Flags [P.], seq 1:51, ack 1, win 4096, length 50",
            "Flags [.], seq 1, ack 51, win 4096, length 0",
            "Flags [R], seq 51, win 4096, length 0",
            "Flags [S], seq 0, win 4096, length 0",
            "Flags [S], seq 0, win 4096, length 0",
            "Flags [S.], seq 0, ack 1, win 4096, length 0",
        ])
    }

    @Test(.enabled(if: Tshark.enabled, Tshark.skipMessage))
    func decoderAgreesWithTsharkOnKernelCapture() async throws {
        let url = TsharkCrossCheckTests.fixtureDirectory.appendingPathComponent("kernel-curl.pcap")
        let pcap = try [UInt8](Data(contentsOf: url))
        guard let (lines, packets) = try await TsharkCrossCheckTests.compareDecoder(on: pcap) else { return }
        #expect(lines.count == packets.count)
        var tcpCount = 0, arpCount = 0
        for (k, (line, p)) in zip(lines, packets).enumerated() {
            if let ip = p["ip"] {
                #expect(ip["ip.checksum.status"] == [Tshark.checksumGood], "packet \(k + 1): IP checksum")
            }
            if let tcp = p["tcp"] {
                tcpCount += 1
                #expect(tcp["tcp.checksum.status"] == [Tshark.checksumGood], "packet \(k + 1): TCP checksum (kernel capture with offload off)")
            } else if let arp = p["arp"] {
                arpCount += 1
                let op = arp["arp.opcode"]?.first
                let spa = arp["arp.src.proto_ipv4"]?.first ?? "", tpa = arp["arp.dst.proto_ipv4"]?.first ?? ""
                let sha = arp["arp.src.hw_mac"]?.first ?? ""
                let text = op == "1" ? "ARP, Request who-has \(tpa) tell \(spa), length 28" : "ARP, Reply \(spa) is-at \(sha), length 28"
                #expect(line.hasSuffix(" " + text), "packet \(k + 1)")
            } else {
                Issue.record("packet \(k + 1): neither TCP nor ARP in the fixture")
            }
        }
        // The fixture is one whole conversation: handshake, request, 20 KB response, close.
        #expect(tcpCount >= 20 && arpCount == 2)
        #expect(lines.filter { $0.contains("Flags [S]") }.count == 1)
        #expect(lines.filter { $0.contains("Flags [S.]") }.count == 1)
        #expect(lines.filter { $0.contains("Flags [F.]") }.count == 2)
    }
}

extension TsharkCrossCheckTests {
    /// The hand-built pcapng files (both byte orders, two sections, if_tsresol 9, 2^-10
    /// units, SPB, skipped blocks) read the same in tshark as in `PcapNGReader`.
    @Test(.enabled(if: Tshark.enabled, Tshark.skipMessage), arguments: [false, true])
    func handBuiltPcapNGReadsTheSameInTshark(firstBigEndian: Bool) async throws {
        let file = PcapNGTests.twoSectionFile(firstBigEndian: firstBigEndian)
        let ours = CaptureReader.readAll(file)
        #expect(ours.error == nil)
        guard let all = await Tshark.decode(file) else { return }
        // tshark also reads the Obsolete Packet Block (the second packet block); we skip it.
        try #require(all.count == ours.records.count + 1)
        let theirs = [all[0]] + all[2...]
        for (k, (r, p)) in zip(ours.records, theirs).enumerated() {
            let frame = p["frame"] ?? [:]
            #expect(frame["frame.len"] == ["\(r.originalLength)"], "packet \(k + 1)")
            #expect(frame["frame.cap_len"] == ["\(r.bytes.count)"], "packet \(k + 1)")
            // Simple Packet Blocks carry no time (tshark shows none; we repeat the previous one).
            if k != 2 {
                let ns = r.timestamp.nanoseconds
                let frac = String(ns % 1_000_000_000)
                let epoch = "\(ns / 1_000_000_000)." + String(repeating: "0", count: 9 - frac.count) + frac
                #expect(frame["frame.time_epoch"] == [epoch], "packet \(k + 1)")
            }
            // Wireshark's encapsulation numbers: 1 Ethernet, 129 raw IPv4, 25 Linux SLL.
            let encap = [LinkType.ethernet: "1", .ipv4: "129", .linuxSLL: "25"][r.linkType]
            #expect(frame["frame.encap_type"] == [encap ?? "?"], "packet \(k + 1)")
        }
    }
}
