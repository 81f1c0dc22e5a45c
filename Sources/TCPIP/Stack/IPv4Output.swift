// IPv4 transmit for `Interface`: datagrams we originate (ICMP, UDP) and datagrams
// released after ARP wait in a bounded queue; `poll` frames them one at a time,
// fragmenting those over the (path) MTU when DF is clear (RFC 791 §2.3, §3.2).
// TCP segments do not pass here: the host sizes them to the MSS, sets DF and writes
// them straight into the poll buffer.

/// A datagram waiting to be sent: header and payload, how much payload has gone out in
/// earlier fragments, and the MAC address found for its first fragment.
struct OutgoingDatagram {
    var bytes: [UInt8]
    var sent = 0
    var linkDestination: MACAddress? = nil
}

extension Interface {
    /// Datagrams waiting in the transmit queue.
    public var queuedDatagrams: Int { transmitQueue.count - transmitHead }

    /// Queues a whole datagram (header included) for `poll`; false (counted) when full.
    @discardableResult
    func enqueueDatagram(_ bytes: [UInt8], now: Instant) -> Bool {
        guard queuedDatagrams < configuration.transmitQueueLimit else {
            counters.drops.transmitQueueFull += 1
            return false
        }
        transmitQueue.append(OutgoingDatagram(bytes: bytes))
        return true
    }

    /// A datagram from us to `destination`: a 20-byte header (TTL from the configuration,
    /// a fresh identification, DF as asked) and `payloadLength` bytes that `fill` writes.
    func makeDatagram(protocol proto: UInt8, to destination: IPv4Address, payloadLength: Int,
                      dontFragment: Bool = false, fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        let total = 20 + payloadLength
        var d = [UInt8](repeating: 0, count: total)
        let id = identification
        identification &+= 1
        d.withUnsafeMutableBytes { b in
            b[0] = 0x45
            b.put16(UInt16(total), at: 2)
            b.put16(id, at: 4)
            b.put16(dontFragment ? 0x4000 : 0, at: 6)
            b[8] = configuration.timeToLive
            b[9] = proto
            b.putIPv4(address, at: 12)
            b.putIPv4(destination, at: 16)
            IPv4Header.fillChecksum(header: UnsafeMutableRawBufferPointer(rebasing: b[0..<20]))
            fill(UnsafeMutableRawBufferPointer(rebasing: b[20..<total]))
        }
        return d
    }

    func popQueued() {
        transmitHead += 1
        if transmitHead == transmitQueue.count {
            transmitQueue.removeAll(keepingCapacity: true)
            transmitHead = 0
        } else if transmitHead >= 64 && transmitHead * 2 >= transmitQueue.count {
            transmitQueue.removeFirst(transmitHead)
            transmitHead = 0
        }
    }

    /// The largest packet toward `destination`: the MTU, or a lower path MTU learned by ICMP.
    public func pathMTU(to destination: IPv4Address) -> Int {
        min(mtu, pathMTUs[destination] ?? mtu)
    }

    /// Writes the head of the transmit queue (or its next fragment) as a frame; 0 when it
    /// was dropped or parked for ARP instead (the caller moves on).
    func emitQueued(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var d = transmitQueue[transmitHead]
        let link = configuration.link.headerLength
        let destination = d.bytes.withUnsafeBytes { $0.ipv4(16) }
        if case .ethernet = configuration.link, d.linkDestination == nil {
            let mac = d.bytes.withUnsafeBytes { linkDestination(for: destination, parking: d.sent == 0 ? $0 : nil, now: now) }
            guard let mac else { popQueued(); return 0 }
            d.linkDestination = mac
        } else if case .ip = configuration.link, route.nextHop(for: destination) == nil {
            counters.drops.noRoute += 1
            popQueued()
            return 0
        }
        let limit = min(pathMTU(to: destination), buffer.count - link)
        let (written, sent, done) = d.bytes.withUnsafeBytes { src in
            writeFragment(of: src, alreadySent: d.sent, limit: limit,
                          into: UnsafeMutableRawBufferPointer(rebasing: buffer[link...]))
        }
        if done { popQueued() } else {
            d.sent = sent
            transmitQueue[transmitHead] = d
        }
        guard written > 0 else { return 0 }
        if let mac = d.linkDestination { writeEthernetHeader(to: mac, etherType: EtherType.ipv4, into: buffer) }
        return link + written
    }

    /// Writes `datagram` whole when it fits in `limit`, else its next fragment after
    /// `alreadySent` payload bytes. Returns the bytes written (0: dropped, DF set and too
    /// big), the payload sent so far, and whether the datagram is finished.
    /// Later fragments carry a 20-byte header: datagrams that reach here have no options.
    func writeFragment(of datagram: UnsafeRawBufferPointer, alreadySent: Int, limit: Int,
                       into out: UnsafeMutableRawBufferPointer) -> (written: Int, sent: Int, done: Bool) {
        let hl = Int(datagram[0] & 0xF) * 4
        let payloadLength = datagram.count - hl
        if alreadySent == 0 && datagram.count <= limit {
            UnsafeMutableRawBufferPointer(rebasing: out[0..<datagram.count]).copyMemory(from: datagram)
            return (datagram.count, payloadLength, true)
        }
        if datagram[6] & 0x40 != 0 {
            counters.drops.needsFragmentation += 1
            return (0, alreadySent, true)
        }
        let headerLength = alreadySent == 0 ? hl : 20
        let room = (limit - headerLength) & ~7
        guard room > 0 else { counters.drops.needsFragmentation += 1; return (0, alreadySent, true) }
        let remaining = payloadLength - alreadySent
        let chunk = min(room, remaining)
        let last = chunk == remaining
        let originalField = datagram.be16(6)
        let originalOffset = Int(originalField & 0x1FFF) * 8
        let originalMF = originalField & 0x2000 != 0
        let total = headerLength + chunk
        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: datagram[0..<headerLength]))
        out[0] = 0x40 | UInt8(headerLength / 4)
        out.put16(UInt16(total), at: 2)
        var field = UInt16((originalOffset + alreadySent) / 8) & 0x1FFF
        if !last || originalMF { field |= 0x2000 }
        out.put16(field, at: 6)
        IPv4Header.fillChecksum(header: UnsafeMutableRawBufferPointer(rebasing: out[0..<headerLength]))
        UnsafeMutableRawBufferPointer(rebasing: out[headerLength..<total])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: datagram[(hl + alreadySent)..<(hl + alreadySent + chunk)]))
        counters.fragmentsSent += 1
        return (total, alreadySent + chunk, last)
    }
}
