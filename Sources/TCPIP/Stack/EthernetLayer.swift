// Ethernet II demultiplexing and framing for `Interface` (TAP devices).

extension Interface {
    /// One Ethernet frame in: to us (our MAC or broadcast), untagged, then by EtherType.
    func receiveFrame(_ bytes: UnsafeRawBufferPointer, ourMAC: MACAddress, now: Instant) {
        let eth: EthernetFrameView
        do { eth = try EthernetFrameView(bytes) } catch { counters.drops.malformedFrame += 1; return }
        let dst = eth.destination
        let broadcast = dst.isBroadcast
        guard dst == ourMAC || broadcast else { counters.drops.notOurMAC += 1; return }
        guard !eth.isTagged else { counters.drops.vlanTagged += 1; return }
        switch eth.etherType {
        case EtherType.ipv4: receivePacket(eth.payload, linkBroadcast: broadcast, linkSource: eth.source, now: now)
        case EtherType.arp: receiveARP(eth.payload, ourMAC: ourMAC, now: now)
        case EtherType.ipv6: counters.drops.ipv6Unsupported += 1
        default: counters.drops.unknownEtherType += 1
        }
    }

    /// Writes an Ethernet header (from our MAC) at the start of `buffer`.
    @inline(__always)
    func writeEthernetHeader(to destination: MACAddress, etherType: UInt16, into buffer: UnsafeMutableRawBufferPointer) {
        buffer.putMAC(destination, at: 0)
        buffer.putMAC(macAddress ?? .zero, at: 6)
        buffer.put16(etherType, at: 12)
    }

    /// Frames an IPv4 packet that already sits after the link header in `buffer`: the
    /// link header is written in front of it once the next hop is known. Returns the
    /// frame length, or nil when the packet was dropped (no route) or parked until ARP
    /// resolves its next hop (it is copied then, and only then).
    func frame(packet: UnsafeRawBufferPointer, in buffer: UnsafeMutableRawBufferPointer, now: Instant) -> Int? {
        guard case .ethernet = configuration.link else { return packet.count }
        let destination = packet.ipv4(16)
        guard let mac = linkDestination(for: destination, parking: packet, now: now) else { return nil }
        writeEthernetHeader(to: mac, etherType: EtherType.ipv4, into: buffer)
        return EthernetFrameView.minimumLength + packet.count
    }

    /// The MAC address a datagram for `destination` goes to; nil when there is no route
    /// (counted) or the next hop is not resolved yet (then `parking`, a whole datagram, is
    /// queued in the ARP cache, and a request is queued when this starts a resolution).
    func linkDestination(for destination: IPv4Address, parking: UnsafeRawBufferPointer?, now: Instant) -> MACAddress? {
        guard let hop = route.nextHop(for: destination) else { counters.drops.noRoute += 1; return nil }
        switch hop {
        case .broadcast:
            return .broadcast
        case .neighbor(let a):
            if let c = hopCache, c.neighbor == a, let d = arpDeadline, now < d { return c.mac }
            if let m = arp.lookup(a, now: now) {
                hopCache = (a, m)
                return m
            }
            guard let p = parking else { counters.drops.arpUnresolved += 1; return nil }
            park(Array(p), for: a, now: now)
            return nil
        }
    }
}
