import Testing
@testable import TCPIP

/// `LiveLadder`: the `--trace` line for each TCP segment crossing a device.
@Suite("Live ladder lines (--trace)")
struct LiveLadderTests {
    static let us = IPv4Address(192, 0, 2, 2)
    static let peer = IPv4Address(192, 0, 2, 1)

    /// A raw IPv4 packet holding `header` and `payload` bytes, with valid checksums
    /// unless `breakChecksum`.
    static func packet(from src: IPv4Address, to dst: IPv4Address, _ header: TCPHeader, payload: Int = 0,
                       breakChecksum: Bool = false) throws -> [UInt8] {
        var tcp = [UInt8](repeating: 0, count: header.headerLength + payload)
        let n = try tcp.withUnsafeMutableBytes { b throws(WireError) in try header.emit(into: b) }
        #expect(n == header.headerLength)
        for i in 0..<payload { tcp[n + i] = UInt8(truncatingIfNeeded: i) }
        var sum = referenceChecksum(pseudoHeader(source: src, destination: dst, protocol: 6, length: tcp.count) + tcp)
        if breakChecksum { sum ^= 0x0101 }
        tcp[16] = UInt8(sum >> 8); tcp[17] = UInt8(sum & 0xFF)
        let total = 20 + tcp.count
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0x40, 0, 64, 6, 0, 0]
        ip += Self.octets(src) + Self.octets(dst)
        let ipSum = referenceChecksum(ip)
        ip[10] = UInt8(ipSum >> 8); ip[11] = UInt8(ipSum & 0xFF)
        return ip + tcp
    }

    static func octets(_ a: IPv4Address) -> [UInt8] { let o = a.octets; return [o.0, o.1, o.2, o.3] }

    static func line(_ l: inout LiveLadder, ms: Int64, _ d: LiveLadder.Direction, _ p: [UInt8]) -> String? {
        p.withUnsafeBytes { l.line(time: Instant(nanoseconds: ms * 1_000_000), direction: d, packet: $0) }
    }

    @Test func handshakeAndDataAreOneLineEachWithRelativeNumbers() throws {
        var l = LiveLadder(linkType: .raw)
        let syn = try Self.packet(from: Self.peer, to: Self.us, TCPHeader(
            sourcePort: 41000, destinationPort: 80, sequenceNumber: SequenceNumber(1000), flags: .syn, window: 64240,
            options: [.maximumSegmentSize(1460), .sackPermitted, .windowScale(7)]))
        let synAck = try Self.packet(from: Self.us, to: Self.peer, TCPHeader(
            sourcePort: 80, destinationPort: 41000, sequenceNumber: SequenceNumber(5000),
            acknowledgmentNumber: SequenceNumber(1001), flags: [.syn, .ack], window: 65535,
            options: [.maximumSegmentSize(1460)]))
        let data = try Self.packet(from: Self.us, to: Self.peer, TCPHeader(
            sourcePort: 80, destinationPort: 41000, sequenceNumber: SequenceNumber(5001),
            acknowledgmentNumber: SequenceNumber(1001), flags: [.psh, .ack], window: 512), payload: 100)
        let a = try #require(Self.line(&l, ms: 1000, .received, syn))
        let b = try #require(Self.line(&l, ms: 1002, .sent, synAck))
        let c = try #require(Self.line(&l, ms: 1003, .sent, data))
        #expect(a.hasPrefix("  0.000000 192.0.2.2:80 "))
        #expect(a.contains("◀") && !a.contains("▶"))
        #expect(a.contains(" SYN seq=0 win=64240 MSS=1460 SACK-perm WS=7 ──"))
        #expect(a.hasSuffix(" 192.0.2.1:41000"))
        #expect(b.hasPrefix("  0.002000 192.0.2.2:80 "))
        #expect(b.contains("── SYN+ACK seq=0 ack=1 win=65535 MSS=1460 ─"))
        #expect(b.contains("▶ 192.0.2.1:41000"))
        #expect(c.contains("── PSH+ACK seq=1 ack=1 len=100 win=512 ─"))
    }

    @Test func aConnectionFirstSeenMidStreamCountsFromTheSegmentBeforeIt() throws {
        var l = LiveLadder(linkType: .raw)
        let ack = try Self.packet(from: Self.peer, to: Self.us, TCPHeader(
            sourcePort: 41000, destinationPort: 80, sequenceNumber: SequenceNumber(777),
            acknowledgmentNumber: SequenceNumber(9), flags: .ack, window: 100), payload: 10)
        let line = try #require(Self.line(&l, ms: 0, .received, ack))
        #expect(line.contains(" ACK seq=1 ack=9 len=10 win=100 ──"))
    }

    @Test func aBadChecksumIsMarkedAndNonTCPGivesNoLine() throws {
        var l = LiveLadder(linkType: .raw)
        let bad = try Self.packet(from: Self.peer, to: Self.us, TCPHeader(
            sourcePort: 41000, destinationPort: 80, sequenceNumber: SequenceNumber(1), flags: .syn, window: 1),
            breakChecksum: true)
        #expect(Self.line(&l, ms: 0, .received, bad)?.contains("[bad checksum]") == true)
        var udp = bad
        udp[9] = 17
        #expect(Self.line(&l, ms: 0, .received, udp) == nil)
        #expect(Self.line(&l, ms: 0, .received, [0x45, 0, 0]) == nil)
    }

    @Test func ethernetFramesAreDecodedToo() throws {
        var l = LiveLadder(linkType: .ethernet)
        let ip = try Self.packet(from: Self.us, to: Self.peer, TCPHeader(
            sourcePort: 80, destinationPort: 41000, sequenceNumber: SequenceNumber(1),
            acknowledgmentNumber: SequenceNumber(2), flags: [.rst, .ack], window: 0))
        let frame = [UInt8](repeating: 0x02, count: 12) + [0x08, 0x00] + ip
        let line = try #require(Self.line(&l, ms: 0, .sent, frame))
        #expect(line.contains("── RST+ACK seq=1 ack=2 win=0 ─"))  // first seen: base is seq - 1
    }

    @Test func theConnectionMemoryIsBounded() throws {
        var l = LiveLadder(linkType: .raw, maximumConnections: 4)
        for port in 1...10 {
            let p = try Self.packet(from: Self.peer, to: Self.us, TCPHeader(
                sourcePort: UInt16(port), destinationPort: 80, sequenceNumber: SequenceNumber(100), flags: .syn, window: 1))
            _ = Self.line(&l, ms: 0, .received, p)
            #expect(l.bases.count <= 4)
        }
    }
}
