// IPv4 receive for `Interface`: validation (RFC 791, RFC 1122 §3.2.1), destination
// check, reassembly (RFC 791 §3.2, RFC 815) and demultiplexing by protocol.

extension Interface {
    /// One IPv4 packet in (the Ethernet payload, or a whole TUN packet). Link padding
    /// after the total length is ignored. `linkSource`: the frame's source MAC (Ethernet).
    func receivePacket(_ bytes: UnsafeRawBufferPointer, linkBroadcast: Bool, linkSource: MACAddress?, now: Instant) {
        guard !bytes.isEmpty else { counters.drops.malformedIP += 1; return }
        if bytes[0] >> 4 == 6, case .ip = configuration.link { counters.drops.ipv6Unsupported += 1; return }
        let ip: IPv4HeaderView
        do { ip = try IPv4HeaderView(validating: bytes) } catch {
            if error == .badChecksum { counters.drops.badIPChecksum += 1 } else { counters.drops.malformedIP += 1 }
            return
        }
        do { try ip.validateOptions() } catch { counters.drops.malformedIP += 1; return }
        let destination = ip.destination
        let toBroadcast = route.isBroadcast(destination)
        guard destination == address || toBroadcast else { counters.drops.notForUs += 1; return }
        let source = ip.source
        guard !route.isBroadcast(source), !source.isMulticast, source != address else { counters.drops.badSource += 1; return }
        if let mac = linkSource { confirmNeighbor(source: source, mac: mac, now: now) }
        if ip.isFragment {
            reassemble(ip, toBroadcast: toBroadcast, now: now)
            return
        }
        deliver(ip, toBroadcast: toBroadcast, now: now)
    }

    var reassemblyDropTotal: Int { reassembly.drops.values.reduce(0, +) }

    /// Adds a fragment; a completed datagram is rebuilt (a 20-byte header, options
    /// dropped, flags and offset cleared) in the interface's buffer and delivered.
    func reassemble(_ ip: IPv4HeaderView, toBroadcast: Bool, now: Instant) {
        let key = IPv4FragmentKey(source: ip.source, destination: ip.destination,
                                  protocolNumber: ip.protocol, identification: ip.identification)
        let before = reassemblyDropTotal
        let outcome = reassembly.insert(key: key, offset: ip.fragmentOffset, moreFragments: ip.moreFragments,
                                        payload: ip.payload, now: now)
        counters.drops.fragmentDropped += reassemblyDropTotal - before
        reassemblyDeadline = reassembly.nextDeadline
        guard case .complete(let payload) = outcome else { return }
        counters.datagramsReassembled += 1
        let total = IPv4HeaderView.minimumLength + payload.count
        guard total <= reassembled.count else { counters.drops.fragmentDropped += 1; return }
        let out = UnsafeMutableRawBufferPointer(rebasing: reassembled[0..<total])
        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: ip.bytes[0..<20]))
        out[0] = 0x45
        out.put16(UInt16(total), at: 2)
        out.put16(0, at: 6)
        payload.withUnsafeBytes { p in
            UnsafeMutableRawBufferPointer(rebasing: out[20..<total]).copyMemory(from: p)
        }
        IPv4Header.fillChecksum(header: UnsafeMutableRawBufferPointer(rebasing: out[0..<20]))
        guard let whole = try? IPv4HeaderView(UnsafeRawBufferPointer(out)) else { counters.drops.malformedIP += 1; return }
        deliver(whole, toBroadcast: toBroadcast, now: now)
    }

    /// A whole datagram for us, by protocol.
    func deliver(_ ip: IPv4HeaderView, toBroadcast: Bool, now: Instant) {
        switch ip.protocol {
        case IPProtocol.tcp:
            guard !toBroadcast else { counters.drops.tcpToBroadcast += 1; return }
            host.receive(packet: ip.bytes, now: now)
        case IPProtocol.icmp:
            deliverICMP(ip, toBroadcast: toBroadcast, now: now)
        case IPProtocol.udp:
            deliverUDP(ip, toBroadcast: toBroadcast, now: now)
        default:
            counters.drops.unknownProtocol += 1
            sendUnreachable(.protocol, about: ip, now: now)
        }
    }
}
