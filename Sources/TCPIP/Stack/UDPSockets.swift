// UDP for `Interface` (RFC 768, RFC 1122 §4.1): bound ports with bounded receive
// queues, checksums verified on receive and filled on send, port unreachable for
// datagrams to a port nobody bound.

/// A datagram received on a bound port.
public struct UDPDatagram: Sendable, Hashable {
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destination: IPv4Address
    public var destinationPort: UInt16
    public var payload: [UInt8]
}

struct UDPSocketState {
    var queue: [UDPDatagram] = []
    var head = 0
    let limit: Int
    var count: Int { queue.count - head }
}

extension Interface {
    /// Binds a UDP port (0: an ephemeral port from 49152...65535); returns the port.
    @discardableResult
    public func bindUDP(port: UInt16 = 0, queueLimit: Int? = nil) throws(InterfaceError) -> UInt16 {
        let limit = max(1, queueLimit ?? configuration.udpQueueLimit)
        if port != 0 {
            guard udpSockets[port] == nil else { throw .portInUse }
            udpSockets[port] = UDPSocketState(limit: limit)
            return port
        }
        for _ in 0..<16384 {
            let p = nextEphemeralUDP
            nextEphemeralUDP = p == 65535 ? 49152 : p + 1
            if udpSockets[p] == nil {
                udpSockets[p] = UDPSocketState(limit: limit)
                return p
            }
        }
        throw .noEphemeralPort
    }

    /// Unbinds a port; datagrams still queued are discarded.
    public func closeUDP(port: UInt16) { udpSockets[port] = nil }

    public func isUDPBound(port: UInt16) -> Bool { udpSockets[port] != nil }

    /// Queues a datagram from bound `port` to `destination`:`destinationPort` (checksum
    /// filled; fragmented on send past the MTU; a broadcast destination goes to the link
    /// broadcast).
    public func sendUDP(from port: UInt16, to destination: IPv4Address, port destinationPort: UInt16,
                        payload: UnsafeRawBufferPointer, now: Instant) throws(InterfaceError) {
        noteTime(now)
        guard udpSockets[port] != nil else { throw .notBound }
        guard 20 + 8 + payload.count <= 65535 else { throw .datagramTooLarge }
        guard destinationPort != 0, route.nextHop(for: destination) != nil else { throw .noRoute }
        guard queuedDatagrams < configuration.transmitQueueLimit else { throw .queueFull }
        let source = address
        let d = makeDatagram(protocol: IPProtocol.udp, to: destination, payloadLength: 8 + payload.count) { b in
            _ = try? UDPHeader(sourcePort: port, destinationPort: destinationPort, payloadLength: payload.count).emit(into: b)
            if !payload.isEmpty { UnsafeMutableRawBufferPointer(rebasing: b[8...]).copyMemory(from: payload) }
            UDPHeader.fillChecksum(datagram: b, source: source, destination: destination)
        }
        enqueueDatagram(d, now: now)
        counters.udpDatagramsOut += 1
    }

    public func sendUDP(from port: UInt16, to destination: IPv4Address, port destinationPort: UInt16,
                        payload: [UInt8], now: Instant) throws(InterfaceError) {
        let r: Result<Void, InterfaceError> = payload.withUnsafeBytes { p in
            do throws(InterfaceError) {
                try sendUDP(from: port, to: destination, port: destinationPort, payload: p, now: now)
                return .success(())
            } catch { return .failure(error) }
        }
        try r.get()
    }

    /// The oldest datagram waiting on `port`; nil when none (or not bound).
    public func receiveUDP(port: UInt16) -> UDPDatagram? {
        guard var s = udpSockets[port], s.count > 0 else { return nil }
        let d = s.queue[s.head]
        s.head += 1
        if s.head == s.queue.count { s.queue.removeAll(keepingCapacity: true); s.head = 0 }
        udpSockets[port] = s
        return d
    }

    /// Datagrams waiting on `port`.
    public func pendingUDP(port: UInt16) -> Int { udpSockets[port]?.count ?? 0 }

    func deliverUDP(_ ip: IPv4HeaderView, toBroadcast: Bool, now: Instant) {
        let udp: UDPHeaderView
        do { udp = try UDPHeaderView(ip.payload) } catch { counters.drops.malformedUDP += 1; return }
        guard udp.checksumIsValid(source: ip.source, destination: ip.destination) else {
            counters.drops.badUDPChecksum += 1; return
        }
        let port = udp.destinationPort
        guard var s = udpSockets[port] else {
            counters.drops.udpNoSocket += 1
            sendUnreachable(.port, about: ip, now: now)
            return
        }
        guard s.count < s.limit else { counters.drops.udpQueueFull += 1; return }
        udpSockets[port] = nil   // keep the queue uniquely referenced while appending
        s.queue.append(UDPDatagram(source: ip.source, sourcePort: udp.sourcePort, destination: ip.destination,
                                   destinationPort: port, payload: Array(udp.payload)))
        udpSockets[port] = s
        counters.udpDatagramsIn += 1
    }
}
