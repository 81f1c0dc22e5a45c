import Testing
@testable import TCPIP

/// Frames and captures for the decoder tests, built with the wire values.
enum DecodeFixtures {
    static let client = IPv4Address(192, 0, 2, 1)
    static let server = IPv4Address(192, 0, 2, 2)
    static let macC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let macS = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    static let linuxSYN: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted,
                                        .timestamps(TCPTimestamps(value: 1, echoReply: 0)), .noOperation, .windowScale(7)]

    static func ipPacket(_ proto: UInt8, _ payload: [UInt8], from: IPv4Address, to: IPv4Address,
                         id: UInt16 = 0x1c46, options: [IPv4Option] = []) throws -> [UInt8] {
        try IPv4Header(identification: id, dontFragment: true, protocol: proto, source: from, destination: to,
                       options: options, payloadLength: payload.count).bytes(payload: payload)
    }

    static func tcpPacket(_ h: TCPHeader, payload: [UInt8] = [], from: IPv4Address = client, to: IPv4Address = server) throws -> [UInt8] {
        try ipPacket(IPProtocol.tcp, h.segmentBytes(payload: payload, source: from, destination: to), from: from, to: to)
    }

    static func ethernet(_ packet: [UInt8], type: UInt16 = EtherType.ipv4) throws -> [UInt8] {
        try EthernetFrameHeader(destination: macS, source: macC, etherType: type).bytes(payload: packet)
    }

    static func capture(_ frames: [[UInt8]], linkType: LinkType = .ethernet, snaplen: UInt32 = 65535,
                        stepMicroseconds: Int64 = 250) -> [UInt8] {
        var w = PcapWriter(linkType: linkType, snaplen: snaplen, resolution: .microseconds)
        for (k, f) in frames.enumerated() {
            w.append(timestamp: Instant(nanoseconds: 1_700_000_000_000_000_000 + Int64(k) * stepMicroseconds * 1000), packet: f)
        }
        return w.bytes
    }

    /// Handshake, 100 bytes of data, its ACK: ISNs 1000 (client) and 5000 (server).
    static func handshakeAndData() throws -> [[UInt8]] {
        [
            try ethernet(tcpPacket(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1000),
                                             flags: .syn, window: 65535, options: linuxSYN))),
            try ethernet(tcpPacket(TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: SequenceNumber(5000),
                                             acknowledgmentNumber: SequenceNumber(1001), flags: [.syn, .ack], window: 65535,
                                             options: linuxSYN), from: server, to: client)),
            try ethernet(tcpPacket(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1001),
                                             acknowledgmentNumber: SequenceNumber(5001), flags: [.psh, .ack], window: 502),
                                   payload: Array(repeating: 0x41, count: 100))),
            try ethernet(tcpPacket(TCPHeader(sourcePort: 80, destinationPort: 40000, sequenceNumber: SequenceNumber(5001),
                                             acknowledgmentNumber: SequenceNumber(1101), flags: .ack, window: 510),
                                   from: server, to: client)),
        ]
    }

    static func lines(_ frames: [[UInt8]], linkType: LinkType = .ethernet, options: PacketDescriber.Options = .init()) -> [String] {
        let r = PacketDescriber.describe(capture: capture(frames, linkType: linkType), options: options)
        #expect(r.error == nil)
        return r.packets
    }

    /// The text after the timestamp.
    static func body(_ line: String) -> String {
        guard let sp = line.firstIndex(of: " ") else { return line }
        return String(line[line.index(after: sp)...])
    }
}

@Suite struct DecodeTests {
    typealias F = DecodeFixtures

    @Test func handshakeAndDataPrintRelativeNumbersTcpdumpStyle() throws {
        #expect(F.lines(try F.handshakeAndData()) == [
            "0.000000 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S], seq 0, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
            "0.000250 IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [S.], seq 0, ack 1, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
            "0.000500 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [P.], seq 1:101, ack 1, win 502, length 100",
            "0.000750 IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [.], seq 1, ack 101, win 510, length 0",
        ])
    }

    @Test func absoluteOptionPrintsRawNumbers() throws {
        let lines = F.lines(try F.handshakeAndData(), options: .init(absoluteSequenceNumbers: true)).map(F.body)
        #expect(lines == [
            "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S], seq 1000, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
            "IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [S.], seq 5000, ack 1001, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
            "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [P.], seq 1001:1101, ack 5001, win 502, length 100",
            "IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [.], seq 5001, ack 1101, win 510, length 0",
        ])
    }

    @Test func verbosePrintsEveryHeaderFieldWithChecksumStatus() throws {
        let h = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1000),
                          acknowledgmentNumber: SequenceNumber(77), flags: [.syn, .urg, .ece, .cwr], window: 65535,
                          urgentPointer: 9, options: F.linuxSYN, reserved: 5)
        let packet = try F.tcpPacket(h)
        let frame = try F.ethernet(packet)
        let ipSum = UInt16(packet[10]) << 8 | UInt16(packet[11])
        let tcpSum = UInt16(packet[36]) << 8 | UInt16(packet[37])
        func hex4(_ v: UInt16) -> String { let s = String(v, radix: 16); return "0x" + String(repeating: "0", count: 4 - s.count) + s }
        let lines = F.lines([frame], options: .init(verbose: true))
        #expect(lines == ["""
            0.000000 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [SUEW], seq 0, win 65535, urg 9, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
                frame: 74 of 74 bytes captured, link type EN10MB (1), interface 0
                Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, type 0x0800
                IPv4: version 4, header length 20, dscp 0, ecn 0, total length 60, id 0x1c46 (7238), flags [DF], fragment offset 0, ttl 64, protocol 6 (tcp), checksum \(hex4(ipSum)) [correct], src 192.0.2.1, dst 192.0.2.2
                TCP: src port 40000, dst port 80, seq 1000 (relative 0), ack 77, data offset 10 (40 bytes), reserved 5, flags 0x0e2 [SUEW] (AE 0, CWR 1, ECE 1, URG 1, ACK 0, PSH 0, RST 0, SYN 1, FIN 0), window 65535, checksum \(hex4(tcpSum)) [correct], urgent pointer 9, payload 0 bytes
                TCP option: mss 1460 (kind 2, length 4)
                TCP option: sackOK (kind 4, length 2)
                TCP option: TS val 1 ecr 0 (kind 8, length 10)
                TCP option: nop (kind 1, length 1)
                TCP option: wscale 7 (kind 3, length 3)
            """])
    }

    @Test func corruptedChecksumsAreMarkedIncorrect() throws {
        let good = try F.ethernet(F.tcpPacket(TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(3),
                                                        flags: .syn, window: 4)))
        var badTCP = good
        badTCP[14 + 20 + 16] ^= 0x01
        var badIP = good
        badIP[14 + 10] ^= 0x80
        let lines = F.lines([good, badTCP, badIP], options: .init(verbose: true))
        // Lines: summary, frame, Ethernet, IPv4, TCP.
        let ip = lines.map { $0.split(separator: "\n")[3] }, tcp = lines.map { $0.split(separator: "\n")[4] }
        #expect(ip.map { $0.contains("[correct]") } == [true, true, false])
        #expect(ip.map { $0.contains("[incorrect]") } == [false, false, true])
        #expect(tcp.map { $0.contains("[correct]") } == [true, false, true])
        #expect(tcp.map { $0.contains("[incorrect]") } == [false, true, false])
    }

    @Test func malformedOptionIsPrintedAndDecodingGoesOn() throws {
        // MSS with a length byte of 5: the option runs on into the next one.
        let h = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 100,
                          options: [.unknown(kind: 2, data: [5, 0xb4, 1, 1, 1])])
        var seg = try h.segmentBytes(source: F.client, destination: F.server)
        seg[21] = 5
        TCPHeader.fillChecksumForTest(&seg)
        let bad = try F.ethernet(F.ipPacket(IPProtocol.tcp, seg, from: F.client, to: F.server))
        let next = try F.ethernet(F.tcpPacket(TCPHeader(sourcePort: 40001, destinationPort: 80, sequenceNumber: SequenceNumber(9),
                                                        flags: .syn, window: 100)))
        let lines = F.lines([bad, next]).map(F.body)
        #expect(lines == [
            "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S], seq 0, win 100, options [[malformed TCP: bad option length]], length 0",
            "IP 192.0.2.1.40001 > 192.0.2.2.80: Flags [S], seq 0, win 100, length 0",
        ])
    }

    @Test func malformedHeadersArePrintedAsSuch() throws {
        let shortTCP = try F.ethernet(F.ipPacket(IPProtocol.tcp, Array(repeating: 0, count: 10), from: F.client, to: F.server))
        var badOffset = try F.tcpPacket(TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(0), flags: .ack, window: 1))
        badOffset[20 + 12] = 0x40  // data offset 4
        var badIHL = try F.tcpPacket(TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: SequenceNumber(0), flags: .ack, window: 1))
        badIHL[0] = 0x44
        var badVersion = badIHL
        badVersion[0] = 0x55
        let shortUDP = try F.ethernet(F.ipPacket(IPProtocol.udp, [0, 1, 0, 2, 0, 9, 0, 0], from: F.client, to: F.server))
        let shortICMP = try F.ethernet(F.ipPacket(IPProtocol.icmp, [8, 0, 0], from: F.client, to: F.server))
        let lines = try F.lines([shortTCP, F.ethernet(badOffset), F.ethernet(badIHL), F.ethernet(badVersion), shortUDP, shortICMP]).map(F.body)
        #expect(lines == [
            "IP 192.0.2.1 > 192.0.2.2: [malformed TCP: truncated], length 10",
            "IP 192.0.2.1 > 192.0.2.2: [malformed TCP: bad header length], length 20",
            "IP [malformed IPv4: bad header length], length 40",
            "IP [malformed IPv4: bad version], length 40",
            "IP 192.0.2.1.1 > 192.0.2.2.2: [malformed UDP: bad total length], length 8",
            "IP 192.0.2.1 > 192.0.2.2: ICMP [malformed ICMP: truncated], length 3",
        ])
    }

    @Test func packetsCutBySnaplenPrintWhatWasCaptured() throws {
        let frames = try F.handshakeAndData()
        // 74 bytes keep the SYN's headers but not the data segment's payload; 60 cut the SYN's options.
        let r74 = PacketDescriber.describe(capture: F.capture(frames, snaplen: 74), options: .init(verbose: true))
        #expect(r74.error == nil)
        #expect(F.body(r74.packets[2].split(separator: "\n")[0].description)
                == "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [P.], seq 1:101, ack 1, win 502, length 100")
        #expect(r74.packets[2].contains("frame: 74 of 154 bytes captured"))
        #expect(r74.packets[2].contains("[unverified], urgent pointer 0, payload 100 bytes"))
        let r60 = PacketDescriber.describe(capture: F.capture(frames, snaplen: 60))
        #expect(r60.packets.map(F.body) == [
            "IP 192.0.2.1 > 192.0.2.2: [|tcp]",
            "IP 192.0.2.2 > 192.0.2.1: [|tcp]",
            "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [P.], seq 1:101, ack 1, win 502, length 100",
            "IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [.], seq 1, ack 101, win 510, length 0",
        ])
    }

    @Test func arpICMPAndUDPLines() throws {
        let request = ARPPacket.request(from: F.macC, ip: F.client, asking: F.server)
        let syn = try TCPHeader(sourcePort: 40000, destinationPort: 81, sequenceNumber: SequenceNumber(7), flags: .syn, window: 9)
            .segmentBytes(source: F.client, destination: F.server)
        let quoted = try F.ipPacket(IPProtocol.tcp, syn, from: F.client, to: F.server)
        let frames: [[UInt8]] = [
            try F.ethernet(request.bytes(), type: EtherType.arp),
            try F.ethernet(request.reply(with: F.macS).bytes(), type: EtherType.arp),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.echoRequest(identifier: 3, sequenceNumber: 1, data: Array(0..<56)).bytes(), from: F.client, to: F.server)),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.echoReply(identifier: 3, sequenceNumber: 1, data: Array(0..<56)).bytes(), from: F.server, to: F.client)),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.destinationUnreachable(code: .port, nextHopMTU: 0, quoted: Array(quoted[0..<28])).bytes(), from: F.server, to: F.client)),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.destinationUnreachable(code: .host, nextHopMTU: 0, quoted: quoted).bytes(), from: F.server, to: F.client)),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.timeExceeded(code: .reassemblyTimeExceeded, quoted: Array(quoted[0..<28])).bytes(), from: F.server, to: F.client)),
            try F.ethernet(F.ipPacket(IPProtocol.icmp, ICMPv4Message.other(type: 13, code: 0, restOfHeader: 0, body: Array(repeating: 0, count: 12)).bytes(), from: F.client, to: F.server)),
            try F.ethernet(F.ipPacket(IPProtocol.udp, UDPHeader(sourcePort: 53, destinationPort: 33000, payloadLength: 0).bytes(payload: [1, 2, 3, 4], source: F.server, destination: F.client), from: F.server, to: F.client)),
            try F.ethernet(F.ipPacket(47, [0, 0, 8, 0], from: F.client, to: F.server)),
            try F.ethernet(Array(repeating: 0x60, count: 40), type: EtherType.ipv6),
            try F.ethernet(Array(repeating: 0, count: 46), type: 0x88cc),
        ]
        #expect(F.lines(frames).map(F.body) == [
            "ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28",
            "ARP, Reply 192.0.2.2 is-at 02:00:00:00:00:02, length 28",
            "IP 192.0.2.1 > 192.0.2.2: ICMP echo request, id 3, seq 1, length 64",
            "IP 192.0.2.2 > 192.0.2.1: ICMP echo reply, id 3, seq 1, length 64",
            "IP 192.0.2.2 > 192.0.2.1: ICMP destination unreachable (port), for IP 192.0.2.1.40000 > 192.0.2.2.81 tcp, length 36",
            "IP 192.0.2.2 > 192.0.2.1: ICMP destination unreachable (host), for IP 192.0.2.1.40000 > 192.0.2.2.81 tcp, length 48",
            "IP 192.0.2.2 > 192.0.2.1: ICMP time exceeded (reassembly), for IP 192.0.2.1.40000 > 192.0.2.2.81 tcp, length 36",
            "IP 192.0.2.1 > 192.0.2.2: ICMP type 13, code 0, length 20",
            "IP 192.0.2.2.53 > 192.0.2.1.33000: UDP, length 4",
            "IP 192.0.2.1 > 192.0.2.2: ip-proto-47, length 4",
            "IP6, length 40",
            "ethertype 0x88cc, length 46",
        ])
        let verbose = F.lines(frames, options: .init(verbose: true)).map { $0.split(separator: "\n").map(String.init) }
        let sumDigits = String(UInt16(quoted[10]) << 8 | UInt16(quoted[11]), radix: 16)
        let quotedSum = String(repeating: "0", count: 4 - sumDigits.count) + sumDigits
        #expect(verbose[0][3] == "    ARP: hardware type 1, protocol type 0x0800, hardware size 6, protocol size 4, opcode 1 (request), sender 02:00:00:00:00:01 192.0.2.1, target 00:00:00:00:00:00 192.0.2.2")
        #expect(verbose[2][4].hasPrefix("    ICMP: type 8, code 0, checksum 0x"))
        #expect(verbose[2][4].hasSuffix(" [correct], identifier 3, sequence 1, data 56 bytes"))
        #expect(verbose[4][4].hasSuffix(" [correct], unused 0x0000, next-hop MTU 0"))
        #expect(verbose[4][5] == "    ICMP quoted IPv4: version 4, header length 20, dscp 0, ecn 0, total length 40, id 0x1c46, flags [DF], fragment offset 0, ttl 64, protocol 6 (tcp), checksum 0x\(quotedSum), src 192.0.2.1, dst 192.0.2.2, src port 40000, dst port 81, seq 7")
        #expect(verbose[8][4].hasPrefix("    UDP: src port 53, dst port 33000, length 12, checksum 0x"))
        #expect(verbose[8][4].hasSuffix(" [correct]"))
    }

    @Test func fragmentsAndIPv4OptionsAreShown() throws {
        let payload = Array(repeating: UInt8(0), count: 16)
        let later = try IPv4Header(identification: 77, moreFragments: true, fragmentOffset: 1480, protocol: IPProtocol.tcp,
                                   source: F.client, destination: F.server, payloadLength: 0).bytes(payload: payload)
        let last = try IPv4Header(identification: 77, fragmentOffset: 2960, protocol: IPProtocol.udp,
                                  source: F.client, destination: F.server, payloadLength: 0).bytes(payload: payload)
        let withOptions = try F.ipPacket(IPProtocol.udp, UDPHeader(sourcePort: 1, destinationPort: 2, payloadLength: 0)
            .bytes(source: F.client, destination: F.server), from: F.client, to: F.server,
            options: [.option(type: IPv4OptionType.routerAlert, data: [0, 0])])
        let lines = try F.lines([F.ethernet(later), try F.ethernet(last), try F.ethernet(withOptions)], options: .init(verbose: true))
        #expect(lines[0].hasPrefix("0.000000 IP 192.0.2.1 > 192.0.2.2: tcp (frag id 77, offset 1480, more), length 16\n"))
        #expect(lines[0].contains("flags [MF], fragment offset 1480"))
        #expect(lines[1].hasPrefix("0.000250 IP 192.0.2.1 > 192.0.2.2: udp (frag id 77, offset 2960), length 16\n"))
        #expect(lines[2].hasPrefix("0.000500 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 0\n"))
        #expect(lines[2].contains("\n    IPv4 option: router alert (type 148, length 4) 0x0000\n"))
        #expect(lines[2].contains("UDP: src port 1, dst port 2, length 8, checksum"))
    }

    @Test(arguments: [LinkType.ethernet, .linuxSLL, .linuxSLL2, .raw, .ipv4, .rawDLT12])
    func everyLinkTypeGivesTheSameLine(linkType: LinkType) throws {
        let packet = try F.tcpPacket(TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: SequenceNumber(1000),
                                               flags: .syn, window: 65535, options: F.linuxSYN))
        let frame: [UInt8]
        switch linkType {
        case .ethernet: frame = try F.ethernet(packet)
        case .linuxSLL: frame = [0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + packet
        case .linuxSLL2: frame = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0] + packet
        default: frame = packet
        }
        #expect(F.lines([frame], linkType: linkType) == [
            "0.000000 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S], seq 0, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
        ])
        let verbose = F.lines([frame], linkType: linkType, options: .init(verbose: true))[0].split(separator: "\n")
        switch linkType {
        case .linuxSLL:
            #expect(verbose[2] == "    Linux cooked: packet type 4, ARPHRD 1, address length 6, address 020000000001, protocol 0x0800")
        case .linuxSLL2:
            #expect(verbose[2] == "    Linux cooked v2: protocol 0x0800, interface index 2, ARPHRD 1, packet type 4, address length 6, address 020000000001")
        default: break
        }
    }

    @Test func unusableLinkLayersArePrintedAsSuch() {
        let lines = F.lines([[1, 2, 3]], linkType: LinkType(rawValue: 147))
        #expect(lines.map(F.body) == ["[unsupported link type 147], length 3"])
        #expect(F.lines([Array(repeating: 0, count: 10)]).map(F.body) == ["[malformed link layer: truncated EN10MB header], length 10"])
    }

    @Test func truncatedFileDescribesThePacketsBeforeTheError() throws {
        let file = F.capture(try F.handshakeAndData())
        let whole = PacketDescriber.describe(capture: file)
        let cut = PacketDescriber.describe(capture: Array(file.dropLast(5)))
        #expect(cut.packets == Array(whole.packets.prefix(3)))
        #expect(cut.error == .truncatedRecord(index: 3))
        #expect(PacketDescriber.describe(capture: [1, 2, 3, 4, 5]).error == .badMagic(0x0102_0304))
    }

    @Test func timesAreRelativeWithSixDecimals() {
        #expect(PacketDescriber.formatTime(.zero) == "0.000000")
        #expect(PacketDescriber.formatTime(.nanoseconds(1_234_567_890)) == "1.234567")
        #expect(PacketDescriber.formatTime(.seconds(3600)) == "3600.000000")
        #expect(PacketDescriber.formatTime(.nanoseconds(-1_500)) == "-0.000001")
    }
}

@Suite struct TCPStreamNumberingTests {
    typealias E = TCPStreamNumbering.Endpoint
    let a = E(address: IPv4Address(192, 0, 2, 1), port: 40000)
    let b = E(address: IPv4Address(192, 0, 2, 2), port: 80)

    @Test func synSetsTheBaseSoTheFirstDataByteIsOne() {
        var n = TCPStreamNumbering()
        let syn = n.observe(source: a, destination: b, flags: .syn, sequenceNumber: 0xFFFF_FFFF, acknowledgmentNumber: 0)
        #expect(syn == .init(stream: 0, sequence: 0xFFFF_FFFF, acknowledgment: nil))
        let synAck = n.observe(source: b, destination: a, flags: [.syn, .ack], sequenceNumber: 7, acknowledgmentNumber: 0)
        #expect(synAck == .init(stream: 0, sequence: 7, acknowledgment: 0xFFFF_FFFF))
        #expect(synAck.relativeAcknowledgment(0) == 1)
        let data = n.observe(source: a, destination: b, flags: .ack, sequenceNumber: 0, acknowledgmentNumber: 8)
        #expect(data.relativeSequence(0) == 1 && data.relativeAcknowledgment(8) == 1)
    }

    @Test func midStreamBasesComeFromTheFirstSequenceAndAcknowledgment() {
        var n = TCPStreamNumbering()
        let first = n.observe(source: a, destination: b, flags: .ack, sequenceNumber: 5000, acknowledgmentNumber: 9000)
        #expect(first == .init(stream: 0, sequence: 4999, acknowledgment: 8999))
        let reply = n.observe(source: b, destination: a, flags: .ack, sequenceNumber: 9000, acknowledgmentNumber: 5010)
        #expect(reply.relativeSequence(9000) == 1 && reply.relativeAcknowledgment(5010) == 11)
        // Without the ACK flag the other direction's base stays unset.
        var m = TCPStreamNumbering()
        #expect(m.observe(source: a, destination: b, flags: .rst, sequenceNumber: 10, acknowledgmentNumber: 99).acknowledgment == nil)
    }

    @Test func newSynWithAnotherISNStartsANewStream() {
        var n = TCPStreamNumbering()
        _ = n.observe(source: a, destination: b, flags: .syn, sequenceNumber: 100, acknowledgmentNumber: 0)
        #expect(n.observe(source: a, destination: b, flags: .syn, sequenceNumber: 100, acknowledgmentNumber: 0).stream == 0)
        let again = n.observe(source: a, destination: b, flags: .syn, sequenceNumber: 500, acknowledgmentNumber: 0)
        #expect(again == .init(stream: 1, sequence: 500, acknowledgment: nil))
        let other = n.observe(source: E(address: a.address, port: 40001), destination: b, flags: .syn, sequenceNumber: 1, acknowledgmentNumber: 0)
        #expect(other.stream == 2)
        #expect(n.streamCount == 3)
    }
}

extension TCPHeader {
    /// Recomputes the checksum of a segment from 192.0.2.1 to 192.0.2.2 after a test edited it.
    static func fillChecksumForTest(_ seg: inout [UInt8]) {
        seg.withUnsafeMutableBytes { fillChecksum(segment: $0, source: DecodeFixtures.client, destination: DecodeFixtures.server) }
    }
}

@Suite struct CaptureRobustnessTests {
    /// Seeded random damage (flipped bytes, cut lengths, spliced garbage) to captures of
    /// every frame kind, in pcap and pcapng, must give text or typed errors, never a trap.
    @Test func randomlyDamagedCapturesNeverTrap() throws {
        var frames = try CrossCheckFrames.all().map(\.frame)
        frames += try DecodeFixtures.handshakeAndData()
        var rng = SeededRandom(seed: 0xCAB1E)
        var described = 0
        for round in 0..<3000 {
            var f = frames[round % frames.count]
            for _ in 0..<rng.int(1...6) {
                switch rng.int(0...3) {
                case 0: if !f.isEmpty { f[rng.int(0...(f.count - 1))] = rng.u8() }
                case 1: f = Array(f.prefix(rng.int(0...f.count)))
                case 2: if f.count > 14 { f[14 + rng.int(0...min(f.count - 15, 60))] ^= 1 << UInt8(rng.int(0...7)) }
                default: f += rng.bytes(rng.int(0...8))
                }
            }
            let linkType: LinkType = [.ethernet, .linuxSLL, .linuxSLL2, .raw, .ipv4][rng.int(0...4)]
            var w = PcapWriter(linkType: linkType, snaplen: UInt32(rng.int(0...1) == 0 ? 65535 : rng.int(1...80)))
            w.append(timestamp: Instant(nanoseconds: Int64(round)), packet: f, originalLength: f.count + rng.int(0...3))
            let r = PacketDescriber.describe(capture: w.bytes, options: .init(absoluteSequenceNumbers: rng.bool(), verbose: rng.bool()))
            #expect(r.error == nil)
            described += r.packets.count
            // The file itself damaged: a typed error or packets, never a trap.
            var file = w.bytes
            if !file.isEmpty { file[rng.int(0...(file.count - 1))] = rng.u8() }
            _ = PacketDescriber.describe(capture: Array(file.prefix(rng.int(0...file.count))))
        }
        #expect(described == 3000)

        // pcapng: random bytes in a valid two-section file.
        let ng = PcapNGTests.twoSectionFile(firstBigEndian: false)
        for _ in 0..<3000 {
            var b = ng
            for _ in 0..<rng.int(1...4) { b[rng.int(0...(b.count - 1))] = rng.u8() }
            let r = CaptureReader.readAll(b)
            #expect(r.records.count <= 6)  // never more packets than the file has blocks
        }
    }
}
