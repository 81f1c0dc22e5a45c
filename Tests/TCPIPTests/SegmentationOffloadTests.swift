import Testing
@testable import TCPIP

/// The virtio-net header (IFF_VNET_HDR) and TCP super-segments (TSO/GSO through it).
@Suite struct SegmentationOffloadTests {
    // MARK: the header

    @Test func headerEncodesLittleEndianFieldsInVirtioOrder() {
        let h = VirtioNetHeader(flags: 1, gsoType: 1, headerLength: 0x0042, gsoSize: 0x05A8,
                                checksumStart: 0x0022, checksumOffset: 0x0010)
        var bytes = [UInt8](repeating: 0xEE, count: 12)
        bytes.withUnsafeMutableBytes { h.write(into: $0) }
        #expect(bytes == [0x01, 0x01, 0x42, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00, 0xEE, 0xEE])
    }

    @Test func headerDecodesWhatItEncodes() throws {
        let bytes: [UInt8] = [0x01, 0x81, 0x36, 0x00, 0x30, 0x23, 0x22, 0x00, 0x10, 0x00]
        let h = try bytes.withUnsafeBytes { try VirtioNetHeader($0) }
        #expect(h == VirtioNetHeader(flags: 1, gsoType: 0x81, headerLength: 0x36, gsoSize: 0x2330,
                                     checksumStart: 0x22, checksumOffset: 0x10))
        #expect(h.needsChecksum)
        #expect(h.isSegmentationOffload)  // TCPv4 with the ECN bit
        let plain = try [UInt8](repeating: 0, count: 10).withUnsafeBytes { try VirtioNetHeader($0) }
        #expect(plain == .none && !plain.needsChecksum && !plain.isSegmentationOffload)
    }

    @Test func shortHeaderIsTruncated() {
        #expect(throws: WireError.truncated) {
            try [UInt8](repeating: 0, count: 9).withUnsafeBytes { try VirtioNetHeader($0) }
        }
    }

    @Test func tcpSegmentationHeaderPointsAtTheTCPChecksum() {
        let h = VirtioNetHeader.tcpSegmentation(linkHeaderLength: 14, ipHeaderLength: 20, tcpHeaderLength: 32,
                                                segmentSize: 1448)
        #expect(h == VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                     headerLength: 66, gsoSize: 1448, checksumStart: 34, checksumOffset: 16))
    }

    /// A partial checksum (pseudo-header only, as Linux's CHECKSUM_PARTIAL and our
    /// super-segments carry it) completed over the segment equals the full checksum.
    @Test func partialChecksumCompletesToTheFullOne() throws {
        let src = IPv4Address(192, 0, 2, 1), dst = IPv4Address(192, 0, 2, 2)
        let payload = (0..<3001).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let full = try TCPHeader(sourcePort: 5001, destinationPort: 40000, sequenceNumber: SequenceNumber(77),
                                 flags: .ack, window: 100).segmentBytes(payload: payload, source: src, destination: dst)
        var frame = [UInt8](repeating: 0xAB, count: 14) + full   // an Ethernet header's room in front
        frame.withUnsafeMutableBytes { f in
            VirtioNetHeader.storePseudoHeaderChecksum(segment: UnsafeMutableRawBufferPointer(rebasing: f[14...]),
                                                      source: src, destination: dst)
        }
        #expect(frame[14 + 16] != full[16] || frame[14 + 17] != full[17])
        let h = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, checksumStart: 14, checksumOffset: 16)
        let ok = frame.withUnsafeMutableBytes { h.completeChecksum(in: $0) }
        #expect(ok)
        #expect(Array(frame[14...]) == full)
    }

    @Test func partialChecksumOutsideTheFrameIsRefused() {
        var frame = [UInt8](repeating: 0, count: 40)
        let past = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, checksumStart: 30, checksumOffset: 16)
        let start = VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum, checksumStart: 40, checksumOffset: 0)
        #expect(frame.withUnsafeMutableBytes { past.completeChecksum(in: $0) } == false)
        #expect(frame.withUnsafeMutableBytes { start.completeChecksum(in: $0) } == false)
        #expect(frame == [UInt8](repeating: 0, count: 40))
        // Without NEEDS_CSUM nothing is touched, whatever the offsets.
        let none = VirtioNetHeader(flags: 0, checksumStart: 999, checksumOffset: 999)
        #expect(frame.withUnsafeMutableBytes { none.completeChecksum(in: $0) })
    }

    // MARK: super-segments

    /// One packet out of `host` into a 64 KiB buffer, with what the link must do with it.
    func pollOne(_ host: IPv4Host, now: Instant) -> (packet: [UInt8], offload: VirtioNetHeader)? {
        var buf = [UInt8](repeating: 0, count: 65535)
        let n = buf.withUnsafeMutableBytes { host.poll(now: now, into: $0) }
        guard n > 0 else { return nil }
        return (Array(buf[0..<n]), host.lastPacketOffload)
    }

    /// What the kernel does with a super-segment before its TCP sees it: the checksum is
    /// completed (it stays one packet, as a GSO packet delivered locally).
    func deliver(_ p: (packet: [UInt8], offload: VirtioNetHeader), to host: IPv4Host, now: Instant) {
        var bytes = p.packet
        bytes.withUnsafeMutableBytes { b in
            #expect(p.offload.completeChecksum(in: b))
            host.receive(packet: UnsafeRawBufferPointer(b), now: now)
        }
    }

    @Test func firstSuperSegmentIsTheInitialWindowInMSSPieces() throws {
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), mtu: 1500, seed: 1)
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), mtu: 1500, seed: 2)
        a.segmentationOffload = true
        try b.listen(port: 80)
        let now = Instant.zero
        let h = try a.connect(to: b.address, port: 80, now: now)
        for _ in 0..<4 {   // SYN, SYN-ACK, ACK
            while let p = pollOne(a, now: now) { #expect(!p.offload.isSegmentationOffload); deliver(p, to: b, now: now) }
            while let p = pollOne(b, now: now) { deliver(p, to: a, now: now) }
        }
        let c = try #require(a.connection(h))
        #expect(c.state == .established)
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        #expect(data.withUnsafeBytes { a.write(h, $0) } == 100_000)

        let first = try #require(pollOne(a, now: now))
        // IP 20 + TCP 32 (timestamps) + the initial window: 10 pieces of 1460 - 12 bytes.
        #expect(first.packet.count == 20 + 32 + 14_480)
        #expect(first.offload == VirtioNetHeader(flags: VirtioNetHeader.flagNeedsChecksum,
                                                 gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 52,
                                                 gsoSize: 1448, checksumStart: 20, checksumOffset: 16))
        try first.packet.withUnsafeBytes { raw in
            let ip = try IPv4HeaderView(validating: raw)
            #expect(ip.totalLength == 14_532)
            let tcp = try TCPHeaderView(ip.payload)
            #expect(tcp.sequenceNumber == c.iss + 1)
            #expect(Array(tcp.payload) == Array(data[0..<14_480]))
            // The checksum field holds the pseudo-header sum only, until the link completes it.
            #expect(!tcp.checksumIsValid(source: ip.source, destination: ip.destination))
        }
        #expect(pollOne(a, now: now) == nil)   // the congestion window is full
    }

    /// A whole transfer through super-segments: every data packet is whole MSS pieces but
    /// the last, none is larger than an IPv4 packet allows, sequence numbers follow on, and
    /// the receiver reads exactly the bytes sent.
    @Test func transferInSuperSegmentsDeliversEveryByteInOrder() throws {
        let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), mtu: 1500, seed: 3)
        let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), mtu: 1500, seed: 4)
        a.segmentationOffload = true
        try b.listen(port: 80)
        var now = Instant.zero
        let h = try a.connect(to: b.address, port: 80, now: now)
        let total = 1_000_000
        let data = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) }
        var written = 0, received: [UInt8] = [], accepted: ConnectionHandle? = nil
        var nextSeq: SequenceNumber? = nil, superSegments = 0, largest = 0
        var readBuffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<20_000 where received.count < total {
            if let c = a.connection(h), c.state == .established, written < total {
                written += data.withUnsafeBytes { a.write(h, UnsafeRawBufferPointer(rebasing: $0[written...])) }
            }
            while let p = pollOne(a, now: now) {
                try p.packet.withUnsafeBytes { raw in
                    let ip = try IPv4HeaderView(validating: raw)
                    let tcp = try TCPHeaderView(ip.payload)
                    let len = tcp.payload.count
                    guard len > 0 else { return }
                    if let s = nextSeq { #expect(tcp.sequenceNumber == s) }
                    nextSeq = tcp.sequenceNumber + len
                    largest = max(largest, raw.count)
                    if p.offload.isSegmentationOffload {
                        superSegments += 1
                        #expect(Int(p.offload.gsoSize) == 1448)
                        #expect(len > 1448)
                        // Whole pieces, unless it carries the last queued byte.
                        if tcp.sequenceNumber + len != a.connection(h)!.iss + 1 + written {
                            #expect(len % 1448 == 0)
                        }
                    } else {
                        #expect(len <= 1448)
                    }
                }
                deliver(p, to: b, now: now)
            }
            if accepted == nil { accepted = b.accept(port: 80) }
            if let r = accepted {
                let n = readBuffer.withUnsafeMutableBytes { b.read(r, into: $0) }
                received += readBuffer[0..<n]
            }
            while let p = pollOne(b, now: now) { deliver(p, to: a, now: now) }
            now = now + .milliseconds(1)
        }
        #expect(received.count == total)
        #expect(received == data)
        #expect(superSegments > 10)
        #expect(largest <= 65535)
        #expect(largest > 60_000)   // the window opened to full-size super-segments
        #expect(a.connection(h)?.counters.retransmittedSegments == 0)
    }

    // MARK: through an Ethernet interface

    /// The interface frames a super-segment like any packet and shifts the header's offsets
    /// past the Ethernet header; a 64 KiB buffer is what `frameCapacity` asks for.
    @Test func ethernetInterfaceFramesSuperSegmentsWithOffsetsPastTheLinkHeader() throws {
        var ca = InterfaceConfiguration(link: .ethernet(IFX.macA), address: IFX.ipA, prefixLength: 24, mtu: 1500)
        ca.segmentationOffload = true
        ca.gratuitousARP = false
        var cb = InterfaceConfiguration(link: .ethernet(IFX.macB), address: IFX.ipB, prefixLength: 24, mtu: 1500)
        cb.gratuitousARP = false
        let a = try Interface(configuration: ca, seed: 5)
        let b = try Interface(configuration: cb, seed: 6)
        #expect(a.frameCapacity == 65535 + 14 && b.frameCapacity == 1514)
        try b.host.listen(port: 80)
        var now = Instant.zero
        let h = try a.connect(to: IFX.ipB, port: 80, now: now)
        let total = 300_000
        let data = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        var written = 0, received: [UInt8] = [], accepted: ConnectionHandle? = nil
        var frames: [(bytes: Int, offload: VirtioNetHeader)] = []
        var buf = [UInt8](repeating: 0, count: a.frameCapacity)
        var readBuffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<5_000 where received.count < total {
            if a.host.connection(h)?.state == .established, written < total {
                written += data.withUnsafeBytes { a.host.write(h, UnsafeRawBufferPointer(rebasing: $0[written...])) }
            }
            while true {
                let n = buf.withUnsafeMutableBytes { a.poll(now: now, into: $0) }
                if n == 0 { break }
                let o = a.lastFrameOffload
                frames.append((n, o))
                buf.withUnsafeMutableBytes { f in
                    let frame = UnsafeMutableRawBufferPointer(rebasing: f[0..<n])
                    #expect(o.completeChecksum(in: frame))
                    b.receive(UnsafeRawBufferPointer(frame), now: now)
                }
            }
            for f in IFX.drain(b, now: now) { a.receive(f, now: now) }
            if accepted == nil { accepted = b.host.accept(port: 80) }
            if let r = accepted {
                let n = readBuffer.withUnsafeMutableBytes { b.host.read(r, into: $0) }
                received += readBuffer[0..<n]
            }
            now = now + .milliseconds(1)
        }
        #expect(received == data)
        let supers = frames.filter { $0.offload.isSegmentationOffload }
        #expect(supers.count > 3)
        for f in supers {
            #expect(f.offload.checksumStart == 34 && f.offload.checksumOffset == 16)
            #expect(f.offload.headerLength == 14 + 20 + 32 && f.offload.gsoSize == 1448)
            #expect(f.bytes > 1514 && f.bytes <= 65535 + 14)
        }
        #expect(frames.filter { !$0.offload.isSegmentationOffload }.allSatisfy { $0.bytes <= 1514 && $0.offload == .none })
        #expect(a.counters.drops.total == 0 && b.counters.drops.total == 0 && b.host.counters.drops.total == 0)
    }
}
