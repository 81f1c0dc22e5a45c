/// The virtio-net header (`struct virtio_net_hdr`, virtio 1.x §5.1.6; Linux
/// `include/uapi/linux/virtio_net.h`) that a TUN/TAP device opened with IFF_VNET_HDR puts
/// in front of every frame, both ways: 10 bytes, multi-byte fields little-endian (the
/// TUN default on a little-endian host).
///
/// With TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) the kernel may hand us a TCP segment
/// larger than the MTU (`gsoType == tcpv4`: what its TSO would have cut into `gsoSize`
/// pieces) and one whose TCP checksum holds only the pseudo-header sum
/// (`needsChecksum`: checksum from `checksumStart`, stored at `checksumStart +
/// checksumOffset`); and we may hand it the same: the kernel cuts a super-segment into
/// `gsoSize`-byte segments (sequence numbers, IP lengths and identifications, checksums).
///
/// Layout: flags (1), gso_type (1), hdr_len (2), gso_size (2), csum_start (2), csum_offset (2).
public struct VirtioNetHeader: Sendable, Hashable {
    public static let length = 10

    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `checksumStart + checksumOffset` is
    /// partial (pseudo-header only); the rest from `checksumStart` is still to be added.
    public static let flagNeedsChecksum: UInt8 = 1
    /// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified already.
    public static let flagDataValid: UInt8 = 2

    /// `VIRTIO_NET_HDR_GSO_*`.
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoUDP: UInt8 = 3
    public static let gsoTCPv6: UInt8 = 4
    /// Flag bit of `gsoType`: the segment has CWR set (ECN).
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8
    public var gsoType: UInt8
    /// Length of the headers (link + IP + TCP) in front of the payload; a hint.
    public var headerLength: UInt16
    /// Payload bytes per segment when `gsoType` is not `gsoNone`.
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public init(flags: UInt8 = 0, gsoType: UInt8 = VirtioNetHeader.gsoNone, headerLength: UInt16 = 0,
                gsoSize: UInt16 = 0, checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// A plain frame: no offload asked or done.
    public static let none = VirtioNetHeader()

    public var needsChecksum: Bool { flags & VirtioNetHeader.flagNeedsChecksum != 0 }
    public var isSegmentationOffload: Bool { gsoType & ~VirtioNetHeader.gsoECN != VirtioNetHeader.gsoNone }

    /// Reads the header at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= VirtioNetHeader.length else { throw .truncated }
        flags = bytes[0]
        gsoType = bytes[1]
        headerLength = VirtioNetHeader.le16(bytes, 2)
        gsoSize = VirtioNetHeader.le16(bytes, 4)
        checksumStart = VirtioNetHeader.le16(bytes, 6)
        checksumOffset = VirtioNetHeader.le16(bytes, 8)
    }

    /// Writes the header at the start of `buffer` (at least 10 bytes).
    public func write(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= VirtioNetHeader.length)
        buffer[0] = flags
        buffer[1] = gsoType
        VirtioNetHeader.putLE16(headerLength, buffer, 2)
        VirtioNetHeader.putLE16(gsoSize, buffer, 4)
        VirtioNetHeader.putLE16(checksumStart, buffer, 6)
        VirtioNetHeader.putLE16(checksumOffset, buffer, 8)
    }

    /// The header of a TCP/IPv4 super-segment of `frame` (link header of `linkHeaderLength`
    /// bytes, then IPv4, then TCP) to be cut into `segmentSize`-byte segments by the kernel:
    /// GSO TCPv4, partial checksum at the TCP checksum field. The frame's TCP checksum must
    /// hold the pseudo-header sum (`storePseudoHeaderChecksum`).
    public static func tcpSegmentation(linkHeaderLength: Int, ipHeaderLength: Int, tcpHeaderLength: Int,
                                       segmentSize: Int) -> VirtioNetHeader {
        VirtioNetHeader(flags: flagNeedsChecksum, gsoType: gsoTCPv4,
                        headerLength: UInt16(linkHeaderLength + ipHeaderLength + tcpHeaderLength),
                        gsoSize: UInt16(clamping: segmentSize),
                        checksumStart: UInt16(linkHeaderLength + ipHeaderLength), checksumOffset: 16)
    }

    /// Puts in the TCP checksum field of `segment` (TCP header + payload) the folded,
    /// uncomplemented pseudo-header sum for its length: what a partial checksum
    /// (`needsChecksum`) expects there, as Linux's CHECKSUM_PARTIAL.
    public static func storePseudoHeaderChecksum(segment: UnsafeMutableRawBufferPointer,
                                                 source: IPv4Address, destination: IPv4Address) {
        var c = InternetChecksum()
        c.addPseudoHeader(source: source, destination: destination, protocol: IPProtocol.tcp, length: segment.count)
        segment.put16(c.folded, at: 16)
    }

    /// Completes a partial checksum in `frame` (the bytes after this header): the
    /// one's-complement sum from `checksumStart` to the end, folded, complemented and
    /// stored big-endian at `checksumStart + checksumOffset` (whose bytes hold the partial
    /// sum and are part of the summed range). Does nothing unless `needsChecksum`.
    /// False when the offsets do not fit the frame (the frame should be dropped).
    @discardableResult
    public func completeChecksum(in frame: UnsafeMutableRawBufferPointer) -> Bool {
        guard needsChecksum else { return true }
        let start = Int(checksumStart), field = start + Int(checksumOffset)
        guard start < frame.count, field + 2 <= frame.count else { return false }
        var c = InternetChecksum()
        c.add(UnsafeRawBufferPointer(rebasing: frame[start...]))
        var v = c.value
        // RFC 768: a UDP checksum computing to zero is sent as all ones; for TCP 0 and
        // 0xFFFF verify alike, so one rule serves both.
        if v == 0 { v = 0xFFFF }
        frame.put16(v, at: field)
        return true
    }

    @inline(__always) static func le16(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(b[i]) | UInt16(b[i + 1]) << 8
    }

    @inline(__always) static func putLE16(_ v: UInt16, _ b: UnsafeMutableRawBufferPointer, _ i: Int) {
        b[i] = UInt8(truncatingIfNeeded: v)
        b[i + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
}
