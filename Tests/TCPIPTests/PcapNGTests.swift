import Testing
@testable import TCPIP

/// Builds pcapng blocks by hand, in either byte order, independently of the reader.
struct PcapNGBuilder {
    var bigEndian: Bool
    var bytes: [UInt8] = []

    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] {
        let b = [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        return bigEndian ? b : b.reversed()
    }
    func padded(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (4 - b.count % 4) % 4) }
    func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] { u16(code) + u16(UInt16(value.count)) + padded(value) }

    mutating func block(_ type: UInt32, _ body: [UInt8]) {
        let length = UInt32(12 + body.count)
        bytes += u32(type) + u32(length) + body + u32(length)
    }

    mutating func sectionHeader(options: [UInt8] = []) {
        block(0x0A0D0D0A, u32(0x1A2B3C4D) + u16(1) + u16(0) + [UInt8](repeating: 0xff, count: 8) + options)
    }

    mutating func interface(_ linkType: UInt16, snaplen: UInt32 = 0, tsresol: UInt8? = nil, name: String? = nil) {
        var opts: [UInt8] = []
        if let name { opts += option(2, Array(name.utf8)) }
        if let tsresol { opts += option(9, [tsresol]) }
        if !opts.isEmpty { opts += option(0, []) }
        block(1, u16(linkType) + u16(0) + u32(snaplen) + opts)
    }

    mutating func enhancedPacket(interface: UInt32, timestamp: UInt64, data: [UInt8], originalLength: UInt32? = nil) {
        block(6, u32(interface) + u32(UInt32(timestamp >> 32)) + u32(UInt32(timestamp & 0xffff_ffff))
              + u32(UInt32(data.count)) + u32(originalLength ?? UInt32(data.count)) + padded(data)
              + option(1, Array("comment".utf8)) + option(0, []))
    }

    mutating func simplePacket(originalLength: UInt32, data: [UInt8]) {
        block(3, u32(originalLength) + padded(data))
    }

    mutating func obsoletePacket(data: [UInt8]) {
        block(2, u16(0) + u16(0) + u32(0) + u32(1) + u32(UInt32(data.count)) + u32(UInt32(data.count)) + padded(data))
    }
}

@Suite struct PcapNGTests {
    static let frameA: [UInt8] = Array(0..<61)
    static let frameB: [UInt8] = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]

    /// Two sections (first in `firstBigEndian` order, second in the other); the first has an
    /// Ethernet interface (default microseconds) and a raw-IPv4 one with if_tsresol 9.
    static func twoSectionFile(firstBigEndian: Bool) -> [UInt8] {
        var b = PcapNGBuilder(bigEndian: firstBigEndian)
        b.sectionHeader(options: b.option(4, Array("swift-tcpip".utf8)) + b.option(0, []))
        b.interface(1, snaplen: 65535, name: "veth0")
        b.interface(228, tsresol: 9)
        b.enhancedPacket(interface: 0, timestamp: 1_700_000_000_123_456, data: frameA, originalLength: 100)
        b.block(0xBAD0_0001, [1, 2, 3, 4, 5, 6, 7, 8])  // unknown block type: skipped
        b.obsoletePacket(data: frameA)                    // obsolete packet block: skipped
        b.enhancedPacket(interface: 1, timestamp: 1_700_000_000_123_456_789, data: frameB)
        b.simplePacket(originalLength: 20, data: frameB)
        var c = PcapNGBuilder(bigEndian: !firstBigEndian)
        c.sectionHeader()
        c.interface(113, snaplen: 8, tsresol: 0x80 | 10)  // 1/1024 s
        c.enhancedPacket(interface: 0, timestamp: 1024 * 5 + 512, data: Array(frameB[0..<8]), originalLength: 20)
        return b.bytes + c.bytes
    }

    static let expected: [CaptureRecord] = [
        CaptureRecord(timestamp: Instant(nanoseconds: 1_700_000_000_123_456_000), originalLength: 100, bytes: frameA, linkType: .ethernet, interfaceIndex: 0),
        CaptureRecord(timestamp: Instant(nanoseconds: 1_700_000_000_123_456_789), originalLength: 20, bytes: frameB, linkType: .ipv4, interfaceIndex: 1),
        // A Simple Packet Block belongs to interface 0 and has no timestamp: the previous packet's.
        CaptureRecord(timestamp: Instant(nanoseconds: 1_700_000_000_123_456_789), originalLength: 20, bytes: frameB, linkType: .ethernet, interfaceIndex: 0),
        CaptureRecord(timestamp: Instant(nanoseconds: 5_500_000_000), originalLength: 20, bytes: Array(frameB[0..<8]), linkType: .linuxSLL, interfaceIndex: 0),
    ]

    @Test(arguments: [false, true])
    func twoSectionsTwoInterfacesParseExactly(firstBigEndian: Bool) throws {
        let file = PcapNGTests.twoSectionFile(firstBigEndian: firstBigEndian)
        var r = try PcapNGReader(bytes: file)
        var got: [CaptureRecord] = []
        while let rec = try r.next() {
            got.append(rec)
            if got.count == 3 {
                #expect(r.bigEndian == firstBigEndian)
                #expect(r.interfaces == [PcapNGInterface(linkType: .ethernet, snaplen: 65535, name: "veth0"),
                                         PcapNGInterface(linkType: .ipv4, timestampUnitsPerSecond: 1_000_000_000)])
            }
        }
        #expect(got == PcapNGTests.expected)
        #expect(r.skippedBlocks == 2)
        #expect(r.sectionCount == 2)
        #expect(r.bigEndian == !firstBigEndian)
        #expect(r.interfaces == [PcapNGInterface(linkType: .linuxSLL, snaplen: 8, timestampUnitsPerSecond: 1024)])
        #expect(try CaptureReader(bytes: file).format == .pcapng)
        #expect(CaptureReader.readAll(file) == CaptureReadResult(records: PcapNGTests.expected, error: nil))
    }

    @Test func timestampsPastTheYear2262ClampInsteadOfWrapping() {
        // if_tsresol 10^-1 s: 2^63 tenths of a second is far past what Int64 nanoseconds hold.
        let tenths = PcapNGInterface(linkType: .ethernet, timestampUnitsPerSecond: 10)
        #expect(tenths.instant(rawTimestamp: 1 << 63).nanoseconds == .max)
        #expect(tenths.instant(rawTimestamp: 15).nanoseconds == 1_500_000_000)
        // A large negative if_tsoffset pushes the time below the smallest Instant.
        let early = PcapNGInterface(linkType: .ethernet, timestampOffsetSeconds: .min + 1)
        #expect(early.instant(rawTimestamp: 0).nanoseconds == .min)
        // An offset of one second is still exact.
        let shifted = PcapNGInterface(linkType: .ethernet, timestampOffsetSeconds: 1)
        #expect(shifted.instant(rawTimestamp: 2_000_001).nanoseconds == 3_000_001_000)
    }

    @Test func tsresolUnits() {
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 6) == 1_000_000)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 9) == 1_000_000_000)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 0) == 1)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 0x80 | 20) == 1 << 20)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 19) == 10_000_000_000_000_000_000)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 20) == nil)
        #expect(PcapNGInterface.unitsPerSecond(tsresol: 0x80 | 64) == nil)
        let i = PcapNGInterface(linkType: .ethernet, timestampUnitsPerSecond: 1 << 20)
        #expect(i.instant(rawTimestamp: 3 << 20 | 1 << 19) == Instant(nanoseconds: 3_500_000_000))
    }

    @Test(arguments: [false, true])
    func everyTruncationIsATypedErrorAfterThePacketsBeforeIt(bigEndian: Bool) {
        let full = PcapNGTests.twoSectionFile(firstBigEndian: bigEndian)
        // Block boundaries, and how many packets are complete by each.
        var boundaries: [Int: Int] = [:]
        var o = 0, packets = 0
        var big = bigEndian
        while o < full.count {
            let type = Array(full[o..<(o + 4)])
            if type == [0x0A, 0x0D, 0x0D, 0x0A] { big = full[o + 8] == 0x1A }
            let lb = Array(full[(o + 4)..<(o + 8)])
            let length = Int(big ? UInt32(lb[0]) << 24 | UInt32(lb[1]) << 16 | UInt32(lb[2]) << 8 | UInt32(lb[3])
                                 : UInt32(lb[3]) << 24 | UInt32(lb[2]) << 16 | UInt32(lb[1]) << 8 | UInt32(lb[0]))
            let t = big ? type[3] : type[0]
            if t == 6 || t == 3 { packets += 1 }
            boundaries[o] = packets - (t == 6 || t == 3 ? 1 : 0)
            o += length
            boundaries[o] = packets
        }
        for n in 0..<full.count {
            let r = CaptureReader.readAll(Array(full[0..<n]))
            if n < 4 {
                #expect(r.error == .truncatedFileHeader && r.records.isEmpty, "length \(n)")
                continue
            }
            let blockStart = boundaries.keys.filter { $0 <= n }.max()!
            let complete = boundaries[blockStart]!
            #expect(r.records == Array(PcapNGTests.expected.prefix(complete)), "length \(n)")
            if n == blockStart {
                #expect(r.error == nil, "length \(n)")
            } else {
                #expect(r.error == .truncatedBlock(offset: blockStart), "length \(n)")
            }
        }
    }

    @Test func inconsistentBlocksAreTypedErrors() {
        var good = PcapNGBuilder(bigEndian: false)
        good.sectionHeader()
        good.interface(1)
        let prefix = good.bytes
        good.enhancedPacket(interface: 0, timestamp: 1, data: [1, 2, 3])
        let epbOffset = prefix.count

        // Trailing length disagrees with the leading one.
        var mismatch = good.bytes
        mismatch[mismatch.count - 4] ^= 4
        #expect(CaptureReader.readAll(mismatch).error == .badBlockLength(offset: epbOffset))

        // Length not a multiple of four.
        var odd = good.bytes
        odd[epbOffset + 4] += 1
        #expect(CaptureReader.readAll(odd).error == .badBlockLength(offset: epbOffset))

        // Length below the 12-byte minimum.
        var tiny = good.bytes
        tiny[epbOffset + 4] = 8
        tiny[epbOffset + 5] = 0
        #expect(CaptureReader.readAll(tiny).error == .badBlockLength(offset: epbOffset))

        // Captured length larger than the block.
        var b = PcapNGBuilder(bigEndian: false)
        b.block(6, b.u32(0) + b.u32(0) + b.u32(0) + b.u32(100) + b.u32(100) + [1, 2, 3, 4])
        #expect(CaptureReader.readAll(prefix + b.bytes).error == .badBlockLength(offset: epbOffset))

        // A packet on an interface nobody described.
        var u = PcapNGBuilder(bigEndian: false)
        u.enhancedPacket(interface: 1, timestamp: 0, data: [])
        #expect(CaptureReader.readAll(prefix + u.bytes).error == .unknownInterface(id: 1, offset: epbOffset))

        // A Simple Packet Block before any interface.
        var s = PcapNGBuilder(bigEndian: false)
        s.sectionHeader()
        let shbOnly = s.bytes
        s.simplePacket(originalLength: 1, data: [9])
        #expect(CaptureReader.readAll(s.bytes).error == .unknownInterface(id: 0, offset: shbOnly.count))

        // Bad byte-order magic, version 2, a file that does not start with an SHB.
        var bom = shbOnly
        bom[8] = 0x11
        #expect(CaptureReader.readAll(bom).error == .badByteOrderMagic(offset: 0))
        var version = shbOnly
        version[12] = 2
        #expect(CaptureReader.readAll(version).error == .unsupportedVersion(major: 2, minor: 0))
        #expect(CaptureReader.readAll(Array(good.bytes[prefix.count...])).error == .badMagic(0x0600_0000))
    }

    @Test func oversizedEnhancedPacketLengthsNeverTrap() {
        // Header fields at their maximum: captured length 0xFFFFFFFF, interface 0xFFFFFFFF.
        var b = PcapNGBuilder(bigEndian: true)
        b.sectionHeader()
        b.interface(1)
        let at = b.bytes.count
        b.block(6, b.u32(0) + b.u32(0xFFFF_FFFF) + b.u32(0xFFFF_FFFF) + b.u32(0xFFFF_FFFF) + b.u32(0xFFFF_FFFF))
        #expect(CaptureReader.readAll(b.bytes).error == .badBlockLength(offset: at))
        var huge = b.bytes
        huge[at + 4] = 0xFF  // total length ~4 GiB
        #expect(CaptureReader.readAll(huge).error == .truncatedBlock(offset: at))
    }
}
