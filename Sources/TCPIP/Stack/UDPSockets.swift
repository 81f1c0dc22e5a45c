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

/// An ICMP destination unreachable about a datagram a bound socket sent.
public struct UDPUnreachable: Sendable, Hashable, CustomStringConvertible {
    /// Where the datagram went.
    public var destination: IPv4Address
    public var destinationPort: UInt16
    /// The ICMP code (`.port`: nothing listens there; `.host`, `.network`, ...).
    public var code: ICMPv4UnreachableCode
    /// Who sent the ICMP error (the destination itself, or a router).
    public var reporter: IPv4Address

    public var description: String { "\(code) unreachable for \(destination):\(destinationPort) (from \(reporter))" }
}

struct UDPSocketState {
    var queue: [UDPDatagram] = []
    var head = 0
    let limit: Int
    var count: Int { queue.count - head }
    /// Arrivals dropped because the queue was full.
    var dropped = 0
    /// The latest ICMP unreachable about a datagram this socket sent, until taken.
    var error: UDPUnreachable? = nil
    /// The last few destinations this socket sent to: an ICMP error must quote one of them.
    var recent: [(address: IPv4Address, port: UInt16)] = []
    var recentNext = 0

    static let recentCapacity = 8

    mutating func noteSent(to address: IPv4Address, port: UInt16) {
        if recent.contains(where: { $0.address == address && $0.port == port }) { return }
        if recent.count < UDPSocketState.recentCapacity {
            recent.append((address, port))
        } else {
            recent[recentNext] = (address, port)
            recentNext = (recentNext + 1) % UDPSocketState.recentCapacity
        }
    }
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
        udpSockets[port]?.noteSent(to: destination, port: destinationPort)
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

    /// Datagrams dropped on arrival at `port` because its queue was full (also counted,
    /// for all ports together, in `counters.drops.udpQueueFull`).
    public func droppedUDP(port: UInt16) -> Int { udpSockets[port]?.dropped ?? 0 }

    /// The ICMP destination unreachable last received about a datagram sent from `port`,
    /// cleared by taking it (Linux reports one so, as a socket error, on a connected
    /// socket or with IP_RECVERR). Accepted only when it quotes our address, a bound
    /// source port and a destination the socket sent to among its last eight; the
    /// quote's 8 bytes leave nothing else to check (RFC 5927 §4.1 asks for no more of UDP).
    public func takeUDPError(port: UInt16) -> UDPUnreachable? {
        guard let e = udpSockets[port]?.error else { return nil }
        udpSockets[port]!.error = nil
        return e
    }

    /// Files an ICMP error (sent by `reporter`) quoting a UDP datagram (`quoted`, from our
    /// address) with the socket that sent it; false when it names no bound socket or no
    /// recent destination of it.
    func recordUDPError(_ msg: ICMPv4MessageView, quoted q: IPv4HeaderView, reporter: IPv4Address) -> Bool {
        guard msg.type == ICMPv4Type.destinationUnreachable, let ports = q.quotedPorts,
              var s = udpSockets[ports.source] else { return false }
        let code = ICMPv4UnreachableCode(rawValue: msg.code)
        let to = q.destination
        guard s.recent.contains(where: { $0.address == to && $0.port == ports.destination }) else { return false }
        // Fragmentation needed: our datagrams are sent without DF and fragmented, so this
        // is not for us to act on beyond what the TCP path does; not an error for the socket.
        guard code != .fragmentationNeeded else { return false }
        s.error = UDPUnreachable(destination: to, destinationPort: ports.destination, code: code, reporter: reporter)
        udpSockets[ports.source] = s
        return true
    }

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
        guard s.count < s.limit else {
            counters.drops.udpQueueFull += 1
            udpSockets[port]!.dropped += 1
            return
        }
        udpSockets[port] = nil   // keep the queue uniquely referenced while appending
        s.queue.append(UDPDatagram(source: ip.source, sourcePort: udp.sourcePort, destination: ip.destination,
                                   destinationPort: port, payload: Array(udp.payload)))
        udpSockets[port] = s
        counters.udpDatagramsIn += 1
    }
}
