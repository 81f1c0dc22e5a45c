// ARP for `Interface` (RFC 826, RFC 1122 §2.3.2, RFC 5227 announcements).

extension Interface {
    /// One ARP packet in. RFC 826's merge rule: the sender updates an entry we already
    /// hold; a new entry is made only when the packet is for our address. Packets that
    /// waited for the sender go out. Requests for our address are answered.
    func receiveARP(_ bytes: UnsafeRawBufferPointer, ourMAC: MACAddress, now: Instant) {
        let p: ARPPacketView
        do { p = try ARPPacketView(bytes) } catch { counters.drops.malformedARP += 1; return }
        let spa = p.senderProtocolAddress
        let sha = p.senderHardwareAddress
        if spa == address {
            if sha != ourMAC {
                counters.drops.arpAddressConflict += 1
                post(.addressConflict(sha))
            }
            return
        }
        let forUs = p.targetProtocolAddress == address
        let released = arp.learn(spa, is: sha, now: now, create: forUs)
        for packet in released { enqueueDatagram(packet, now: now) }
        arpDeadline = arp.nextDeadline
        if forUs && p.operation == .request {
            queueARP(ARPPacket(operation: .reply, senderHardwareAddress: ourMAC, senderProtocolAddress: address,
                               targetHardwareAddress: sha, targetProtocolAddress: spa), to: sha)
            counters.arpRequestsAnswered += 1
        }
    }

    func queueARP(_ packet: ARPPacket, to mac: MACAddress) {
        guard arpOut.count < 64 else { counters.drops.transmitQueueFull += 1; return }
        arpOut.append((packet, mac))
    }

    /// Writes an ARP frame into `buffer`; returns its length (42: no padding, TAP needs none).
    func emitARP(_ packet: ARPPacket, to mac: MACAddress, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        writeEthernetHeader(to: mac, etherType: EtherType.arp, into: buffer)
        let body = UnsafeMutableRawBufferPointer(rebasing: buffer[14...])
        let n = (try? packet.emit(into: body)) ?? 0
        counters.framesOut += 1
        if packet.operation == .request { counters.arpRequestsSent += 1 }
        return 14 + n
    }

    func arpRequest(for target: IPv4Address) -> ARPPacket {
        ARPPacket.request(from: macAddress ?? .zero, ip: address, asking: target)
    }

    /// Holds a datagram until `neighbor` resolves; the first one starts the resolution.
    func park(_ datagram: [UInt8], for neighbor: IPv4Address, now: Instant) {
        let before = arp.counters.packetsDroppedPendingFull + arp.counters.resolutionsRefused
        if arp.enqueue(datagram, for: neighbor, now: now) { queueARP(arpRequest(for: neighbor), to: .broadcast) }
        counters.drops.arpUnresolved += arp.counters.packetsDroppedPendingFull + arp.counters.resolutionsRefused - before
        arpDeadline = arp.nextDeadline
    }

    /// Request retries and resolution failures. A failure drops what waited (counted),
    /// is reported as an event, and fails TCP connects in SYN-SENT whose next hop it was
    /// (as an ICMP host unreachable would: Linux reports EHOSTUNREACH).
    func runARPTimers(now: Instant) {
        for action in arp.poll(now: now) {
            switch action {
            case .request(let a):
                queueARP(arpRequest(for: a), to: .broadcast)
            case .failed(let a, let dropped):
                counters.arpResolutionsFailed += 1
                counters.drops.arpUnresolved += dropped
                post(.resolutionFailed(a, droppedPackets: dropped))
                failConnects(throughNextHop: a, now: now)
            }
        }
        arpDeadline = arp.nextDeadline
    }

    func failConnects(throughNextHop hop: IPv4Address, now: Instant) {
        for (tuple, slot) in host.table.byTuple {
            guard let c = host.table.slots[Int(slot)].connection, c.state == .synSent,
                  route.nextHop(for: tuple.remoteAddress) == .neighbor(hop) else { continue }
            c.destinationUnreachable(now: now)
            host.wake(host.table.handle(of: slot))
        }
    }

    /// Reachability confirmation from received traffic (as Linux's NUD confirms from
    /// upper layers): a datagram from a neighbour whose frame comes from the MAC address
    /// the cache holds for it extends that entry, at most once per half lifetime, so a
    /// long transfer does not stall on the entry's expiry. An entry is never created or
    /// changed here (a frame's source MAC alone is not ARP).
    func confirmNeighbor(source: IPv4Address, mac: MACAddress, now: Instant) {
        let neighbor: IPv4Address
        if route.isOnLink(source) { neighbor = source } else if let g = route.gateway { neighbor = g } else { return }
        if let c = lastConfirmed, c.neighbor == neighbor, c.mac == mac,
           now.nanoseconds &- c.at.nanoseconds < confirmInterval { return }
        guard arp.lookup(neighbor, now: now) == mac else { return }
        _ = arp.learn(neighbor, is: mac, now: now, create: false)
        lastConfirmed = (neighbor, mac, now)
        arpDeadline = arp.nextDeadline
    }
}
