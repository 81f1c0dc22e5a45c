/// Formats captured packets as text, one line per packet in the spirit of
/// tcpdump: `0.000123 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S.], seq 0,
/// ack 1, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0`.
///
/// TCP sequence and acknowledgment numbers (and SACK edges) are relative to each
/// direction's initial sequence number as Wireshark counts them (`TCPStreamNumbering`)
/// unless `absoluteSequenceNumbers` is set. Verbose mode adds indented lines with
/// every field of every header and whether each checksum is correct. A malformed
/// header is printed as such (`[malformed TCP: bad option length]`) and the next
/// packet is described as usual. This is what `tcpip decode` prints.
public struct PacketDescriber: Sendable {
    public struct Options: Hashable, Sendable {
        public var absoluteSequenceNumbers: Bool
        public var verbose: Bool
        public init(absoluteSequenceNumbers: Bool = false, verbose: Bool = false) {
            self.absoluteSequenceNumbers = absoluteSequenceNumbers
            self.verbose = verbose
        }
    }

    public var options: Options
    private var firstTimestamp: Instant?
    private var numbering = TCPStreamNumbering()

    public init(options: Options = Options()) { self.options = options }

    /// The text for one packet: the summary line, then (verbose) indented detail lines.
    public mutating func describe(_ record: CaptureRecord) -> String {
        let first = firstTimestamp ?? record.timestamp
        firstTimestamp = first
        var lines: [String] = []
        let summary = record.bytes.withUnsafeBytes { frame in describeFrame(frame, record: record, detail: &lines) }
        var out = PacketDescriber.formatTime(record.timestamp - first) + " " + summary
        for l in lines { out += "\n    " + l }
        return out
    }

    /// Every packet of a capture file, described in order, and the error that stopped
    /// reading early, if any.
    public static func describe(capture bytes: [UInt8], options: Options = Options()) -> (packets: [String], error: CaptureError?) {
        var d = PacketDescriber(options: options)
        var out: [String] = []
        do throws(CaptureError) {
            var reader = try CaptureReader(bytes: bytes)
            while let r = try reader.next() { out.append(d.describe(r)) }
            return (out, nil)
        } catch {
            return (out, error)
        }
    }

    /// Seconds with six decimals, truncated to the microsecond ("-" before negative times).
    public static func formatTime(_ d: Duration) -> String {
        let ns = d.nanosecondsClamped
        let us = ns.magnitude / 1000
        let frac = String(us % 1_000_000)
        return (ns < 0 ? "-" : "") + "\(us / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    // MARK: link layer

    private mutating func describeFrame(_ frame: UnsafeRawBufferPointer, record: CaptureRecord, detail v: inout [String]) -> String {
        let lt = record.linkType
        if options.verbose {
            v.append("frame: \(frame.count) of \(record.originalLength) bytes captured, link type \(lt) (\(lt.rawValue)), interface \(record.interfaceIndex)")
        }
        let loc: NetworkLayerLocation
        do {
            loc = try locateNetworkLayer(linkType: lt, frame: frame)
        } catch {
            if case .unsupportedLinkType = error { return "[\(error)], length \(frame.count)" }
            return "[malformed link layer: \(error)], length \(frame.count)"
        }
        if options.verbose { describeLinkHeader(frame, linkType: lt, location: loc, detail: &v) }
        let net = UnsafeRawBufferPointer(rebasing: frame[loc.offset...])
        let partial = record.originalLength > frame.count
        switch loc.etherType {
        case EtherType.ipv4: return describeIPv4(net, partial: partial, detail: &v)
        case EtherType.arp: return describeARP(net, detail: &v)
        case EtherType.ipv6: return "IP6, length \(net.count)"
        default: return "ethertype \(hex(loc.etherType)), length \(net.count)"
        }
    }

    private func describeLinkHeader(_ f: UnsafeRawBufferPointer, linkType: LinkType, location: NetworkLayerLocation, detail v: inout [String]) {
        switch linkType {
        case .ethernet:
            v.append("Ethernet: dst \(f.mac(0)), src \(f.mac(6)), type \(hex(f.be16(12)))")
            var o = 14
            for _ in 0..<location.vlanTags {
                let tci = VLANTag(controlInformation: f.be16(o))
                let tpid = f.be16(o - 2)
                v.append("\(tpid == EtherType.vlan ? "802.1Q" : "802.1ad") tag: priority \(tci.priority), DEI \(tci.dropEligible ? 1 : 0), VLAN \(tci.identifier), type \(hex(f.be16(o + 2)))")
                o += 4
            }
        case .linuxSLL:
            let alen = Int(f.be16(4))
            v.append("Linux cooked: packet type \(f.be16(0)), ARPHRD \(f.be16(2)), address length \(alen), address \(hexString(f[6..<(6 + min(alen, 8))])), protocol \(hex(f.be16(14)))")
        case .linuxSLL2:
            let alen = Int(f[11])
            v.append("Linux cooked v2: protocol \(hex(f.be16(0))), interface index \(f.be32(4)), ARPHRD \(f.be16(8)), packet type \(f[10]), address length \(alen), address \(hexString(f[12..<(12 + min(alen, 8))]))")
        default:
            break
        }
    }

    // MARK: ARP

    private func describeARP(_ p: UnsafeRawBufferPointer, detail v: inout [String]) -> String {
        let arp: ARPPacketView
        do { arp = try ARPPacketView(p) } catch { return "ARP, [malformed ARP: \(error)], length \(p.count)" }
        if options.verbose {
            let b = arp.bytes
            v.append("ARP: hardware type \(b.be16(0)), protocol type \(hex(b.be16(2))), hardware size \(b[4]), protocol size \(b[5]), opcode \(b.be16(6)) (\(arp.operation == .request ? "request" : "reply")), sender \(arp.senderHardwareAddress) \(arp.senderProtocolAddress), target \(arp.targetHardwareAddress) \(arp.targetProtocolAddress)")
        }
        switch arp.operation {
        case .request:
            return "ARP, Request who-has \(arp.targetProtocolAddress) tell \(arp.senderProtocolAddress), length \(p.count)"
        case .reply:
            return "ARP, Reply \(arp.senderProtocolAddress) is-at \(arp.senderHardwareAddress), length \(p.count)"
        }
    }

    // MARK: IPv4

    private mutating func describeIPv4(_ p: UnsafeRawBufferPointer, partial: Bool, detail v: inout [String]) -> String {
        var view: IPv4HeaderView? = nil
        var failure: WireError = .truncated
        do { view = try IPv4HeaderView(p) } catch { failure = error }
        // A packet cut by the snapshot length: read what was captured.
        if view == nil, partial, failure == .badTotalLength { view = try? IPv4HeaderView(quoted: p) }
        guard let ip = view else { return "IP [malformed IPv4: \(failure)], length \(p.count)" }
        let whole = ip.bytes.count == ip.totalLength
        var notes = ""
        if options.verbose {
            let flags = [ip.reservedFlag ? "reserved" : nil, ip.dontFragment ? "DF" : nil, ip.moreFragments ? "MF" : nil].compactMap { $0 }
            v.append("IPv4: version \(ip.version), header length \(ip.headerLength), dscp \(ip.dscp), ecn \(ip.ecn), total length \(ip.totalLength), id \(hex(ip.identification)) (\(ip.identification)), flags [\(flags.joined(separator: ","))], fragment offset \(ip.fragmentOffset), ttl \(ip.timeToLive), protocol \(ip.protocol) (\(protocolName(ip.protocol))), checksum \(hex(ip.headerChecksum)) [\(ip.checksumIsValid ? "correct" : "incorrect")], src \(ip.source), dst \(ip.destination)")
        }
        do {
            let opts = try ip.options()
            if options.verbose {
                for o in opts { v.append("IPv4 option: " + describeIPv4Option(o)) }
            }
        } catch {
            notes += ", [malformed IPv4 options: \(error)]"
        }
        let src = ip.source, dst = ip.destination
        if ip.fragmentOffset != 0 {
            return "IP \(src) > \(dst): \(protocolName(ip.protocol)) (frag id \(ip.identification), offset \(ip.fragmentOffset)\(ip.moreFragments ? ", more" : "")), length \(ip.totalLength - ip.headerLength)\(notes)"
        }
        // A first fragment or a snapped packet: the transport header is there, its checksum cannot be checked.
        let complete = whole && !ip.moreFragments
        switch ip.protocol {
        case IPProtocol.tcp: return describeTCP(ip, complete: complete, detail: &v) + notes
        case IPProtocol.udp: return describeUDP(ip, complete: complete, detail: &v) + notes
        case IPProtocol.icmp: return describeICMP(ip, complete: complete, detail: &v) + notes
        default: return "IP \(src) > \(dst): ip-proto-\(ip.protocol), length \(ip.totalLength - ip.headerLength)\(notes)"
        }
    }

    private func describeIPv4Option(_ o: IPv4Option) -> String {
        switch o {
        case .endOfList: return "eol (type 0)"
        case .noOperation: return "nop (type 1)"
        case .option(let t, let d):
            let name: String
            switch t {
            case IPv4OptionType.recordRoute: name = "record route"
            case IPv4OptionType.timestamp: name = "timestamp"
            case IPv4OptionType.looseSourceRoute: name = "loose source route"
            case IPv4OptionType.strictSourceRoute: name = "strict source route"
            case IPv4OptionType.routerAlert: name = "router alert"
            default: name = "option"
            }
            return "\(name) (type \(t), length \(d.count + 2))" + (d.isEmpty ? "" : " 0x" + hexString(d))
        }
    }

    // MARK: TCP

    private mutating func describeTCP(_ ip: IPv4HeaderView, complete: Bool, detail v: inout [String]) -> String {
        let src = ip.source, dst = ip.destination
        let seg = ip.payload
        let tcp: TCPHeaderView
        do { tcp = try TCPHeaderView(seg) } catch {
            if !complete && error == .truncated { return "IP \(src) > \(dst): [|tcp]" }
            return "IP \(src) > \(dst): [malformed TCP: \(error)], length \(seg.count)"
        }
        let flags = tcp.flags
        let seqRaw = tcp.sequenceNumber.rawValue, ackRaw = tcp.acknowledgmentNumber.rawValue
        let bases = numbering.observe(source: .init(address: src, port: tcp.sourcePort),
                                      destination: .init(address: dst, port: tcp.destinationPort),
                                      flags: flags, sequenceNumber: seqRaw, acknowledgmentNumber: ackRaw)
        let absolute = options.absoluteSequenceNumbers
        let seq = absolute ? seqRaw : bases.relativeSequence(seqRaw)
        let ack = absolute ? ackRaw : bases.relativeAcknowledgment(ackRaw)
        let length = ip.totalLength - ip.headerLength - tcp.headerLength
        var s = "IP \(src).\(tcp.sourcePort) > \(dst).\(tcp.destinationPort): Flags [\(flags)], seq \(seq)"
        if length > 0 { s += ":\(seq &+ UInt32(truncatingIfNeeded: length))" }
        if flags.contains(.ack) { s += ", ack \(ack)" }
        s += ", win \(tcp.window)"
        if flags.contains(.urg) { s += ", urg \(tcp.urgentPointer)" }
        var parsed: [TCPOption] = []
        var optionError: WireError? = nil
        do { parsed = try tcp.options() } catch { optionError = error }
        if !parsed.isEmpty || optionError != nil {
            var items = parsed.map { describeTCPOption($0, bases: bases, verbose: false) }
            if let e = optionError { items.append("[malformed TCP: \(e)]") }
            s += ", options [" + items.joined(separator: ",") + "]"
        }
        s += ", length \(length)"
        if options.verbose {
            let checksum = complete ? (tcp.checksumIsValid(source: src, destination: dst) ? "correct" : "incorrect") : "unverified"
            // Without the ACK flag the field means nothing: shown raw, with no relative value.
            let ackText = flags.contains(.ack) ? "\(ackRaw) (relative \(bases.relativeAcknowledgment(ackRaw)))" : "\(ackRaw)"
            let bits: [(TCPFlags, String)] = [(.ae, "AE"), (.cwr, "CWR"), (.ece, "ECE"), (.urg, "URG"), (.ack, "ACK"),
                                              (.psh, "PSH"), (.rst, "RST"), (.syn, "SYN"), (.fin, "FIN")]
            let bitText = bits.map { "\($0.1) \(flags.contains($0.0) ? 1 : 0)" }.joined(separator: ", ")
            v.append("TCP: src port \(tcp.sourcePort), dst port \(tcp.destinationPort), seq \(seqRaw) (relative \(bases.relativeSequence(seqRaw))), ack \(ackText), data offset \(tcp.dataOffset) (\(tcp.headerLength) bytes), reserved \(tcp.reserved), flags \(hex3(flags.rawValue)) [\(flags)] (\(bitText)), window \(tcp.window), checksum \(hex(tcp.checksum)) [\(checksum)], urgent pointer \(tcp.urgentPointer), payload \(length) bytes")
            for o in parsed { v.append("TCP option: " + describeTCPOption(o, bases: bases, verbose: true)) }
            if let e = optionError { v.append("TCP option: [malformed TCP: \(e)]") }
        }
        return s
    }

    private func describeTCPOption(_ o: TCPOption, bases: TCPStreamNumbering.Bases, verbose: Bool) -> String {
        let text: String
        switch o {
        case .sack(let blocks):
            let edges = blocks.map { b -> String in
                let l = b.start.rawValue, r = b.end.rawValue
                return options.absoluteSequenceNumbers
                    ? "{\(l):\(r)}" : "{\(bases.relativeAcknowledgment(l)):\(bases.relativeAcknowledgment(r))}"
            }
            text = "sack \(blocks.count) " + edges.joined()
        case .unknown(let kind, let data):
            text = "unknown-\(kind)" + (data.isEmpty ? "" : " 0x" + hexString(data))
        default:
            text = o.description
        }
        guard verbose else { return text }
        let kind: UInt8
        switch o {
        case .endOfList: kind = TCPOptionKind.endOfList
        case .noOperation: kind = TCPOptionKind.noOperation
        case .maximumSegmentSize: kind = TCPOptionKind.maximumSegmentSize
        case .windowScale: kind = TCPOptionKind.windowScale
        case .sackPermitted: kind = TCPOptionKind.sackPermitted
        case .sack: kind = TCPOptionKind.sack
        case .timestamps: kind = TCPOptionKind.timestamps
        case .unknown(let k, _): kind = k
        }
        var extra = ""
        if case .sack(let blocks) = o, !options.absoluteSequenceNumbers {
            extra = ", raw " + blocks.map { "{\($0.start.rawValue):\($0.end.rawValue)}" }.joined()
        }
        return text + " (kind \(kind), length \(o.length)\(extra))"
    }

    // MARK: UDP

    private func describeUDP(_ ip: IPv4HeaderView, complete: Bool, detail v: inout [String]) -> String {
        let src = ip.source, dst = ip.destination
        let d = ip.payload
        guard d.count >= UDPHeaderView.headerLength else {
            return complete ? "IP \(src) > \(dst): [malformed UDP: truncated], length \(d.count)" : "IP \(src) > \(dst): [|udp]"
        }
        let sp = d.be16(0), dp = d.be16(2), len = Int(d.be16(4)), sum = d.be16(6)
        guard len >= UDPHeaderView.headerLength else {
            return "IP \(src).\(sp) > \(dst).\(dp): [malformed UDP: \(WireError.badTotalLength)], length \(d.count)"
        }
        var status = "unverified"
        if complete {
            let udp: UDPHeaderView
            do { udp = try UDPHeaderView(d) } catch {
                return "IP \(src).\(sp) > \(dst).\(dp): [malformed UDP: \(error)], length \(d.count)"
            }
            status = !udp.hasChecksum ? "none" : udp.checksumIsValid(source: src, destination: dst) ? "correct" : "incorrect"
        }
        if options.verbose {
            v.append("UDP: src port \(sp), dst port \(dp), length \(len), checksum \(hex(sum)) [\(status)]")
        }
        return "IP \(src).\(sp) > \(dst).\(dp): UDP, length \(len - UDPHeaderView.headerLength)"
    }

    // MARK: ICMP

    private func describeICMP(_ ip: IPv4HeaderView, complete: Bool, detail v: inout [String]) -> String {
        let prefix = "IP \(ip.source) > \(ip.destination): ICMP"
        let m: ICMPv4MessageView
        do { m = try ICMPv4MessageView(ip.payload) } catch {
            return "\(prefix) [malformed ICMP: \(error)], length \(ip.payload.count)"
        }
        let length = m.bytes.count
        var text: String
        switch m.type {
        case ICMPv4Type.echoRequest, ICMPv4Type.echoReply:
            text = "echo \(m.type == ICMPv4Type.echoRequest ? "request" : "reply"), id \(m.identifier), seq \(m.sequenceNumber)"
        case ICMPv4Type.destinationUnreachable:
            let code = ICMPv4UnreachableCode(rawValue: m.code)
            let mtu = code == .fragmentationNeeded ? ", mtu \(m.nextHopMTU)" : ""
            text = "destination unreachable (\(code)\(mtu))" + quotedSummary(m)
        case ICMPv4Type.timeExceeded:
            let what = m.code == 0 ? "ttl" : m.code == 1 ? "reassembly" : "code-\(m.code)"
            text = "time exceeded (\(what))" + quotedSummary(m)
        default:
            text = "type \(m.type), code \(m.code)" + (m.isError ? quotedSummary(m) : "")
        }
        if options.verbose {
            let status = complete ? (m.checksumIsValid ? "correct" : "incorrect") : "unverified"
            var line = "ICMP: type \(m.type), code \(m.code), checksum \(hex(m.checksum)) [\(status)]"
            switch m.type {
            case ICMPv4Type.echoRequest, ICMPv4Type.echoReply:
                line += ", identifier \(m.identifier), sequence \(m.sequenceNumber), data \(m.body.count) bytes"
            case ICMPv4Type.destinationUnreachable:
                line += ", unused \(hex(m.bytes.be16(4))), next-hop MTU \(m.nextHopMTU)"
            default:
                line += ", rest of header \(hex32(m.restOfHeader))"
            }
            v.append(line)
            if m.isError, let q = try? m.quotedDatagram() {
                let qflags = [q.reservedFlag ? "reserved" : nil, q.dontFragment ? "DF" : nil, q.moreFragments ? "MF" : nil].compactMap { $0 }
                var ql = "ICMP quoted IPv4: version \(q.version), header length \(q.headerLength), dscp \(q.dscp), ecn \(q.ecn), total length \(q.totalLength), id \(hex(q.identification)), flags [\(qflags.joined(separator: ","))], fragment offset \(q.fragmentOffset), ttl \(q.timeToLive), protocol \(q.protocol) (\(protocolName(q.protocol))), checksum \(hex(q.headerChecksum)), src \(q.source), dst \(q.destination)"
                if let ports = q.quotedPorts { ql += ", src port \(ports.source), dst port \(ports.destination)" }
                if let s = q.quotedTCPSequenceNumber { ql += ", seq \(s.rawValue)" }
                v.append(ql)
            }
        }
        return "\(prefix) \(text), length \(length)"
    }

    private func quotedSummary(_ m: ICMPv4MessageView) -> String {
        guard let q = try? m.quotedDatagram() else { return ", [malformed quoted datagram]" }
        if let p = q.quotedPorts {
            return ", for IP \(q.source).\(p.source) > \(q.destination).\(p.destination) \(protocolName(q.protocol))"
        }
        return ", for IP \(q.source) > \(q.destination) \(protocolName(q.protocol))"
    }

    // MARK: helpers

    private func protocolName(_ p: UInt8) -> String {
        switch p {
        case IPProtocol.tcp: return "tcp"
        case IPProtocol.udp: return "udp"
        case IPProtocol.icmp: return "icmp"
        default: return "ip-proto-\(p)"
        }
    }
}

private func hex(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 4 - s.count) + s
}

private func hex3(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 3 - s.count)) + s
}

private func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}
