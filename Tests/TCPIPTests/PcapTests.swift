import Testing
@testable import TCPIP

@Suite struct PcapTests {
    static let packets: [[UInt8]] = [
        Array(0..<60),
        [0xde, 0xad, 0xbe, 0xef],
        [],
        (0..<1514).map { UInt8(truncatingIfNeeded: $0 &* 7) },
    ]
    static let times: [Int64] = [1_700_000_000_123_456_789, 1_700_000_000_123_457_000, 1_700_000_001_000_000_001, 4_294_967_295_999_999_999]

    static func file(_ resolution: PcapTimestampResolution, bigEndian: Bool, linkType: LinkType = .ethernet) -> PcapWriter {
        var w = PcapWriter(linkType: linkType, resolution: resolution, bigEndian: bigEndian)
        for (p, t) in zip(packets, times) { w.append(timestamp: Instant(nanoseconds: t), packet: p) }
        return w
    }

    @Test(arguments: [PcapTimestampResolution.microseconds, .nanoseconds], [false, true])
    func writerOutputReadsBackExactly(resolution: PcapTimestampResolution, bigEndian: Bool) throws {
        let w = PcapTests.file(resolution, bigEndian: bigEndian)
        #expect(w.recordCount == 4)
        #expect(w.bytes.count == 24 + 4 * 16 + PcapTests.packets.reduce(0) { $0 + $1.count })
        var r = try PcapReader(bytes: w.bytes)
        #expect(r.bigEndian == bigEndian)
        #expect(r.resolution == resolution)
        #expect(r.linkType == .ethernet)
        #expect(r.snaplen == 262_144)
        #expect(r.versionMajor == 2 && r.versionMinor == 4)
        for (i, p) in PcapTests.packets.enumerated() {
            let rec = try #require(try r.next())
            #expect(rec.bytes == p)
            #expect(rec.originalLength == p.count)
            #expect(rec.linkType == .ethernet)
            let t = PcapTests.times[i]
            // Microsecond files keep whole microseconds.
            #expect(rec.timestamp.nanoseconds == (resolution == .microseconds ? t / 1000 * 1000 : t))
        }
        #expect(try r.next() == nil)
        #expect(r.recordsRead == 4)
    }

    @Test(arguments: [
        (PcapTimestampResolution.microseconds, false, [0xd4, 0xc3, 0xb2, 0xa1] as [UInt8]),
        (.microseconds, true, [0xa1, 0xb2, 0xc3, 0xd4]),
        (.nanoseconds, false, [0x4d, 0x3c, 0xb2, 0xa1]),
        (.nanoseconds, true, [0xa1, 0xb2, 0x3c, 0x4d]),
    ])
    func fileHeaderBytesFollowTheMagicAndByteOrder(resolution: PcapTimestampResolution, bigEndian: Bool, magic: [UInt8]) {
        let w = PcapWriter(linkType: .linuxSLL2, snaplen: 0x0001_0203, resolution: resolution, bigEndian: bigEndian)
        let rest: [UInt8] = bigEndian
            ? [0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 1, 0x14]
            : [2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 0, 0x14, 1, 0, 0]
        #expect(w.bytes == magic + rest)
    }

    /// A file written by hand (big-endian, nanoseconds, raw IPv4), not by `PcapWriter`.
    @Test func handBuiltBigEndianNanosecondFileParses() throws {
        let file: [UInt8] = [0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 228,
                             // ts 2 s + 999_999_999 ns, incl 8, orig 40
                             0, 0, 0, 2, 0x3b, 0x9a, 0xc9, 0xff, 0, 0, 0, 8, 0, 0, 0, 40,
                             0x45, 0, 0, 40, 0, 1, 0x40, 0]
        let result = CaptureReader.readAll(file)
        #expect(result.error == nil)
        #expect(result.records == [CaptureRecord(timestamp: Instant(nanoseconds: 2_999_999_999), originalLength: 40,
                                                 bytes: [0x45, 0, 0, 40, 0, 1, 0x40, 0], linkType: .ipv4)])
        #expect(result.records[0].isTruncated)
        let reader = try CaptureReader(bytes: file)
        #expect(reader.format == .pcap(.nanoseconds, bigEndian: true))
    }

    @Test func snaplenCutsPacketsAndKeepsOriginalLength() throws {
        var w = PcapWriter(linkType: .ethernet, snaplen: 10, resolution: .microseconds)
        w.append(timestamp: Instant(nanoseconds: 5_000), packet: Array(0..<60))
        w.append(timestamp: Instant(nanoseconds: 6_000), packet: Array(0..<4), originalLength: 64)
        let r = CaptureReader.readAll(w.bytes)
        #expect(r.error == nil)
        #expect(r.records.map(\.bytes) == [Array(0..<10), Array(0..<4)])
        #expect(r.records.map(\.originalLength) == [60, 64])
        #expect(r.records.map(\.timestamp.nanoseconds) == [5_000, 6_000])
    }

    @Test func everyTruncationIsATypedErrorAfterThePacketsBeforeIt() {
        for (resolution, big) in [(PcapTimestampResolution.microseconds, false), (.nanoseconds, true)] {
            let full = PcapTests.file(resolution, bigEndian: big).bytes
            let complete = CaptureReader.readAll(full)
            #expect(complete.error == nil && complete.records.count == 4)
            // Byte offsets where each record ends.
            var ends: [Int] = []
            var o = 24
            for p in PcapTests.packets { o += 16 + p.count; ends.append(o) }
            for n in 0..<full.count {
                let r = CaptureReader.readAll(Array(full[0..<n]))
                if n < 24 {
                    #expect(r.error == .truncatedFileHeader, "length \(n)")
                    #expect(r.records.isEmpty)
                    continue
                }
                let whole = ends.filter { $0 <= n }.count
                #expect(Array(r.records) == Array(complete.records.prefix(whole)), "length \(n)")
                if n == 24 || ends.contains(n) {
                    #expect(r.error == nil, "length \(n)")
                } else {
                    #expect(r.error == .truncatedRecord(index: whole), "length \(n)")
                }
            }
        }
    }

    @Test func badMagicAndVersionAreRejected() {
        var file = PcapTests.file(.microseconds, bigEndian: false).bytes
        file[0] = 0x00
        #expect(CaptureReader.readAll(file).error == .badMagic(0x00c3b2a1))
        var v = PcapTests.file(.microseconds, bigEndian: false).bytes
        v[4] = 3
        #expect(CaptureReader.readAll(v).error == .unsupportedVersion(major: 3, minor: 4))
    }

    @Test func removeAllRecordsKeepsTheHeader() {
        var w = PcapTests.file(.nanoseconds, bigEndian: false)
        w.removeAllRecords()
        #expect(w.bytes == PcapWriter(linkType: .ethernet).bytes)
        #expect(w.recordCount == 0)
    }
}

@Suite struct LinkLayerTests {
    static let ipv4Packet: [UInt8] = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]

    @Test func ethernetFrameLocatesIPv4AfterFourteenBytes() throws {
        let frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + LinkLayerTests.ipv4Packet
        #expect(try locateNetworkLayer(linkType: .ethernet, frame: frame) == NetworkLayerLocation(etherType: 0x0800, offset: 14))
    }

    @Test func ethernetFramePassesOverStackedVLANTags() throws {
        let frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        #expect(try locateNetworkLayer(linkType: .ethernet, frame: frame) == NetworkLayerLocation(etherType: 0x0806, offset: 22, vlanTags: 2))
        #expect(throws: LinkLayerError.truncated(.ethernet)) { try locateNetworkLayer(linkType: .ethernet, frame: Array(frame[0..<20])) }
    }

    @Test func linuxCookedSLLFrameLocatesProtocolAtSixteen() throws {
        // packet type 4 (outgoing), ARPHRD_ETHER, address length 6, address, padding, protocol IPv4.
        let frame: [UInt8] = [0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + LinkLayerTests.ipv4Packet
        #expect(try locateNetworkLayer(linkType: .linuxSLL, frame: frame) == NetworkLayerLocation(etherType: 0x0800, offset: 16))
        #expect(throws: LinkLayerError.truncated(.linuxSLL)) { try locateNetworkLayer(linkType: .linuxSLL, frame: Array(frame[0..<15])) }
    }

    @Test func linuxCookedSLL2FrameLocatesProtocolAtZero() throws {
        // protocol ARP, reserved, ifindex 3, ARPHRD_ETHER, packet type 0, address length 6, address + padding.
        let frame: [UInt8] = [0x08, 0x06, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 0, count: 28)
        #expect(try locateNetworkLayer(linkType: .linuxSLL2, frame: frame) == NetworkLayerLocation(etherType: 0x0806, offset: 20))
        #expect(throws: LinkLayerError.truncated(.linuxSLL2)) { try locateNetworkLayer(linkType: .linuxSLL2, frame: Array(frame[0..<19])) }
    }

    @Test(arguments: [LinkType.raw, .rawDLT12, .rawDLT14, .ipv4])
    func rawIPFramesStartAtZero(linkType: LinkType) throws {
        #expect(try locateNetworkLayer(linkType: linkType, frame: LinkLayerTests.ipv4Packet) == NetworkLayerLocation(etherType: 0x0800, offset: 0))
        let v6: [UInt8] = [0x60] + [UInt8](repeating: 0, count: 39)
        if linkType == .ipv4 {
            #expect(throws: LinkLayerError.badIPVersion(6)) { try locateNetworkLayer(linkType: linkType, frame: v6) }
        } else {
            #expect(try locateNetworkLayer(linkType: linkType, frame: v6) == NetworkLayerLocation(etherType: 0x86DD, offset: 0))
        }
        #expect(throws: LinkLayerError.badIPVersion(5)) { try locateNetworkLayer(linkType: linkType, frame: [0x50]) }
        #expect(throws: LinkLayerError.truncated(linkType)) { try locateNetworkLayer(linkType: linkType, frame: []) }
    }

    @Test func unknownLinkTypeIsATypedError() {
        #expect(throws: LinkLayerError.unsupportedLinkType(LinkType(rawValue: 147))) {
            try locateNetworkLayer(linkType: LinkType(rawValue: 147), frame: [1, 2, 3])
        }
    }
}
