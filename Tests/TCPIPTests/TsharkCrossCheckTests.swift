import Foundation
import Testing
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
                       sourceLocation: SourceLocation = #_sourceLocation) -> [Packet]? {
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
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                Issue.record("tshark exited with \(p.terminationStatus): \(errors)", sourceLocation: sourceLocation)
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

/// Field values as tshark prints them.
func tsharkHex(_ v: UInt16, digits: Int = 4) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
}

func bit(_ b: Bool) -> String { b ? "1" : "0" }

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
                         "eth.type": tsharkHex(vlan == nil ? type : EtherType.vlan)])
        if let v = vlan {
            c.expect("vlan", ["vlan.priority": "\(v.priority)", "vlan.dei": bit(v.dropEligible),
                              "vlan.id": "\(v.identifier)", "vlan.etype": tsharkHex(type)])
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
                        "ip.id": tsharkHex(id), "ip.flags.rb": "0", "ip.flags.df": "1", "ip.flags.mf": "0",
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
                         "tcp.flags": tsharkHex(UInt16(h.reserved) << 9 | f.rawValue),
                         "tcp.flags.res": bit(h.reserved != 0), "tcp.flags.ae": bit(f.contains(.ae)),
                         "tcp.flags.cwr": bit(f.contains(.cwr)), "tcp.flags.ece": bit(f.contains(.ece)),
                         "tcp.flags.urg": bit(f.contains(.urg)), "tcp.flags.ack": bit(f.contains(.ack)),
                         "tcp.flags.push": bit(f.contains(.psh)), "tcp.flags.reset": bit(f.contains(.rst)),
                         "tcp.flags.syn": bit(f.contains(.syn)), "tcp.flags.fin": bit(f.contains(.fin)),
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
    func wireValuesReadBackIdenticallyInTshark() throws {
        let cases = try CrossCheckFrames.all()
        let pcap = CrossCheckFrames.pcap(cases)
        if let dump = ProcessInfo.processInfo.environment["TCPIP_CROSSCHECK_DUMP"] {
            try Data(pcap).write(to: URL(fileURLWithPath: dump))
        }
        guard let packets = Tshark.decode(pcap) else { return }
        try #require(packets.count == cases.count)
        for (c, p) in zip(cases, packets) { TsharkCrossCheckTests.compare(c.expected, p, c.name) }
        guard let absolute = Tshark.decode(pcap, preferences: ["tcp.relative_sequence_numbers:FALSE"]) else { return }
        try #require(absolute.count == cases.count)
        for (c, p) in zip(cases, absolute) { TsharkCrossCheckTests.compare(c.expectedAbsolute, p, c.name + " (absolute)") }
    }
}
