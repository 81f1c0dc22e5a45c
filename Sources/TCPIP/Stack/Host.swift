/// Why the host dropped an arriving packet.
public struct HostDropCounts: Sendable, Hashable, CustomStringConvertible {
    /// IPv4 header too short, bad header or total length.
    public var malformed = 0
    /// Version nibble not 4.
    public var badVersion = 0
    public var badIPChecksum = 0
    /// Destination is not this host's address.
    public var notForUs = 0
    /// A fragment (reassembly comes with the full Interface).
    public var fragment = 0
    /// Not TCP (ICMP and UDP come with the full Interface).
    public var unsupportedProtocol = 0
    /// TCP header too short or a bad data offset.
    public var malformedTCP = 0
    /// The TCP checksum over the pseudo-header does not verify.
    public var badTCPChecksum = 0
    /// Source address broadcast or multicast, or a port of zero.
    public var badSource = 0
    /// No connection and no listener (answered with a RST unless it was one).
    public var noListener = 0
    /// A SYN to a listener whose backlog is full.
    public var backlogFull = 0
    /// A RST owed for a closed port found the host's RST queue full.
    public var resetQueueFull = 0

    public init() {}

    /// Drops caused by damaged bytes: what corruption on a link turns into.
    public var damaged: Int { malformed + badVersion + badIPChecksum + malformedTCP + badTCPChecksum }

    public var total: Int {
        damaged + notForUs + fragment + unsupportedProtocol + badSource + noListener + backlogFull + resetQueueFull
    }

    public var description: String {
        "malformed=\(malformed) badVersion=\(badVersion) badIPChecksum=\(badIPChecksum) notForUs=\(notForUs) fragment=\(fragment) unsupportedProtocol=\(unsupportedProtocol) malformedTCP=\(malformedTCP) badTCPChecksum=\(badTCPChecksum) badSource=\(badSource) noListener=\(noListener) backlogFull=\(backlogFull) resetQueueFull=\(resetQueueFull)"
    }
}

/// What the host did.
public struct HostCounters: Sendable, Hashable {
    public var packetsIn = 0
    public var packetsOut = 0
    public var drops = HostDropCounts()
    /// RSTs the host sent for segments that matched no connection.
    public var resetsSent = 0
    /// Active opens (`connect`).
    public var connectionsOpened = 0
    /// Connections spawned by a SYN to a listener.
    public var connectionsSpawned = 0
    /// Connections taken out of the table once finished.
    public var connectionsRemoved = 0
    /// TIME-WAIT connections retired because a new SYN for their four-tuple was acceptable
    /// (RFC 6191 / RFC 9293 §3.6.1); each is also counted in `connectionsRemoved`.
    public var timeWaitReused = 0
    public init() {}
}

/// Why a host operation was refused.
public enum HostError: Error, Equatable, Sendable {
    /// Someone already listens on that port.
    case portInUse
    /// No ephemeral port is free for that destination.
    case noEphemeralPort
    /// The address cannot be connected to (this host, any, broadcast, multicast) or port 0.
    case invalidDestination
}

/// A minimal IPv4 host (sans-IO): one address, no link layer, TCP only.
///
/// Packets come in with `receive(packet:now:)` (the IPv4 header checked: version,
/// lengths, header checksum, destination; then the TCP checksum over the
/// pseudo-header), are demultiplexed by four-tuple to a `TCPConnection`, or start one
/// on a listener, or are answered with a RST (RFC 9293 §3.10.7.1). Every drop is
/// counted by reason. `poll(now:into:)` writes one IPv4 packet at a time (DF set,
/// TTL 64, a fresh identification each); `nextDeadline` says when to poll again.
///
/// The application talks to connections through the host (`write`, `read`,
/// `close`, `abort` with a handle), so the host knows which connections may have
/// something to send; a direct call on the `TCPConnection` object must be followed
/// by `wake(_:)`. Finished connections (CLOSED, nothing left to send) leave the table
/// at once; the object stays usable by whoever holds it (state, counters, events).
///
/// The full `Interface` (Ethernet, ARP, ICMP, fragments, routing) grows from this.
public final class IPv4Host {
    public let address: IPv4Address
    public var configuration: TCPConfiguration
    /// Largest IPv4 packet `poll` writes.
    public let mtu: Int
    // A host is used from one thread and never re-entered: the dynamic exclusivity
    // checks on its class properties are off (they cost a fifth of a bulk transfer).
    @exclusivity(unchecked) public private(set) var counters = HostCounters()

    @exclusivity(unchecked) var table = ConnectionTable()
    @exclusivity(unchecked) var listeners: [UInt16: Listener] = [:]
    @exclusivity(unchecked) var ports: EphemeralPortAllocator
    @exclusivity(unchecked) var identification: UInt16
    /// The latest `now` seen: `nextDeadline` when there is work to do at once.
    @exclusivity(unchecked) var lastNow = Instant.zero

    /// The link cuts TCP super-segments (TSO/GSO, e.g. a TAP with a virtio-net header):
    /// `poll` then writes new data as packets of up to 64 KiB (given a buffer that large),
    /// and says how to cut them in `lastPacketOffload`. Off by default.
    @exclusivity(unchecked) public var segmentationOffload = false
    /// What the link must do with the packet the last `poll` wrote: `.none`, or TCPv4
    /// segmentation into `gsoSize`-byte segments with a partial checksum (the packet's TCP
    /// checksum then holds only the pseudo-header sum). Offsets count from the IP header.
    @exclusivity(unchecked) public private(set) var lastPacketOffload = VirtioNetHeader.none

    /// Connections keep their buffers' storage when the buffers drain (so
    /// request/response traffic allocates nothing); every `bufferTrimInterval` the host
    /// frees the storage of buffers that are empty and were not used during the last
    /// interval, so an idle connection holds no buffer storage one to two intervals
    /// after its last byte. Zero or less: buffers free their storage whenever they
    /// drain (an allocation per burst). Applies to connections created afterwards.
    public var bufferTrimInterval: Duration = .seconds(1)
    /// When the next trim pass runs; nil while no connection holds buffer storage.
    @exclusivity(unchecked) var trimDeadline: Instant?

    /// Chooses the ISS of every new connection (by default RFC 6528's
    /// `InitialSequenceNumberGenerator`, keyed from the seed). Tests and the demo set fixed ones.
    public var initialSequenceNumber: (FourTuple, Instant) -> SequenceNumber
    /// Chooses the timestamp-clock offset of every new connection (by default the high half
    /// of the same keyed four-tuple hash: constant per four-tuple, so TSvals keep growing
    /// across incarnations and a peer's TIME-WAIT accepts our new SYN by RFC 6191).
    public var timestampOffset: (FourTuple) -> UInt32

    // RSTs owed for segments that matched nothing: a small fixed queue.
    static let resetCapacity = 32
    static let resetSlotSize = 64
    var resetStorage: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) var resetLengths: [Int]
    @exclusivity(unchecked) var resetDestinations: [IPv4Address]
    @exclusivity(unchecked) var resetHead = 0
    @exclusivity(unchecked) var resetCount = 0

    /// - Parameters:
    ///   - seed: keys the ephemeral-port and ISN hashes, and the first IP identification.
    public init(address: IPv4Address, configuration: TCPConfiguration = .default, mtu: Int = 1500,
                ephemeralPorts: ClosedRange<UInt16> = 49152...65535, seed: UInt64) {
        self.address = address
        self.configuration = configuration
        self.mtu = max(68, min(mtu, 65535))
        var r = SeededRandom(seed: seed)
        ports = EphemeralPortAllocator(range: ephemeralPorts, key0: r.next(), key1: r.next())
        let isn = InitialSequenceNumberGenerator(key0: r.next(), key1: r.next())
        identification = UInt16(truncatingIfNeeded: r.next())
        initialSequenceNumber = { tuple, now in isn.isn(for: tuple, now: now) }
        timestampOffset = { tuple in isn.timestampOffset(for: tuple) }
        resetStorage = .allocate(byteCount: IPv4Host.resetCapacity * IPv4Host.resetSlotSize, alignment: 8)
        resetLengths = Array(repeating: 0, count: IPv4Host.resetCapacity)
        resetDestinations = Array(repeating: .any, count: IPv4Host.resetCapacity)
    }

    deinit { resetStorage.deallocate() }

    // MARK: the application's side

    /// Starts accepting connections on `port`.
    public func listen(port: UInt16, backlog: Int = 128) throws(HostError) {
        guard port != 0 else { throw .invalidDestination }
        guard listeners[port] == nil else { throw .portInUse }
        listeners[port] = Listener(port: port, backlog: backlog)
    }

    /// Stops accepting new connections on `port`. Connections already spawned and not
    /// yet accepted keep running, reachable only through `connections`.
    public func stopListening(port: UInt16) {
        guard let l = listeners.removeValue(forKey: port) else { return }
        for h in l.queue { if let s = table.slot(of: h) { table.slots[Int(s)].listenerPort = nil } }
    }

    public func listener(port: UInt16) -> Listener? { listeners[port] }

    /// Active open to `remote`:`port` from an ephemeral port (RFC 6056 Algorithm 3); the
    /// SYN goes out on the next `poll`.
    public func connect(to remote: IPv4Address, port: UInt16, now: Instant,
                        configuration: TCPConfiguration? = nil) throws(HostError) -> ConnectionHandle {
        guard port != 0, remote != address, remote != .any, remote != .broadcast, !remote.isMulticast else {
            throw .invalidDestination
        }
        let local = address
        let tableRef = table
        let listening = listeners
        guard let localPort = ports.allocate(local: local, remote: remote, remotePort: port, isFree: { p in
            listening[p] == nil && tableRef.byTuple[FourTuple(localAddress: local, localPort: p, remoteAddress: remote, remotePort: port)] == nil
        }) else { throw .noEphemeralPort }
        let tuple = FourTuple(localAddress: local, localPort: localPort, remoteAddress: remote, remotePort: port)
        let conn = TCPConnection.connect(tuple: tuple, iss: initialSequenceNumber(tuple, now),
                                         timestampOffset: timestampOffset(tuple),
                                         configuration: configuration ?? self.configuration, now: now)
        conn.releasesBuffersWhenDrained = bufferTrimInterval <= .zero
        let s = table.insert(conn)
        table.markReady(s)
        counters.connectionsOpened += 1
        noteTime(now)
        return table.handle(of: s)
    }

    /// The oldest connection spawned on `port` that has finished its handshake, taken off
    /// the listener's queue; nil when none is ready.
    public func accept(port: UInt16) -> ConnectionHandle? {
        guard var l = listeners[port] else { return nil }
        var result: ConnectionHandle? = nil
        var i = 0
        while i < l.queue.count {
            let h = l.queue[i]
            guard let c = table.connection(h) else { l.queue.remove(at: i); continue }
            if c.state.isSynchronized && c.state != .synReceived {
                l.queue.remove(at: i)
                table.slots[Int(h.slot)].listenerPort = nil
                result = h
                break
            }
            i += 1
        }
        listeners[port] = l
        return result
    }

    /// The connection object behind a handle; nil once it has left the table.
    public func connection(_ h: ConnectionHandle) -> TCPConnection? { table.connection(h) }

    /// Every connection in the table.
    public var connections: [TCPConnection] { table.slots.compactMap(\.connection) }

    public var connectionCount: Int { table.count }

    /// Queues bytes on a connection; returns how many it took.
    public func write(_ h: ConnectionHandle, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let s = table.slot(of: h), let c = table.slots[Int(s)].connection else { return 0 }
        let n = c.write(bytes)
        if n > 0 { table.markReady(s) }
        return n
    }

    public func write(_ h: ConnectionHandle, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { write(h, $0) }
    }

    /// Reads in-order bytes from a connection (a window update may follow).
    public func read(_ h: ConnectionHandle, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let s = table.slot(of: h), let c = table.slots[Int(s)].connection else { return 0 }
        let n = c.read(into: buffer)
        if n > 0 { table.markReady(s) }
        return n
    }

    public func close(_ h: ConnectionHandle) {
        guard let s = table.slot(of: h), let c = table.slots[Int(s)].connection else { return }
        c.close()
        table.markReady(s)
    }

    public func abort(_ h: ConnectionHandle) {
        guard let s = table.slot(of: h), let c = table.slots[Int(s)].connection else { return }
        c.abort()
        table.markReady(s)
    }

    /// Tells the host that a connection was used directly and may have something to send.
    public func wake(_ h: ConnectionHandle) {
        if let s = table.slot(of: h) { table.markReady(s) }
    }

    /// Bytes held in connection buffers (unread received plus unacknowledged sent).
    public var bufferedBytes: Int {
        table.slots.reduce(0) { acc, sl in
            guard let c = sl.connection else { return acc }
            return acc + c.readableBytes + c.unacknowledgedBytes
        }
    }

    // MARK: the network's side

    @inline(__always) func noteTime(_ now: Instant) { if lastNow < now { lastNow = now } }

    /// Processes one arriving IPv4 packet.
    public func receive(packet: UnsafeRawBufferPointer, now: Instant) {
        noteTime(now)
        counters.packetsIn += 1
        let ip: IPv4HeaderView
        do { ip = try IPv4HeaderView(packet) } catch {
            if error == .badVersion { counters.drops.badVersion += 1 } else { counters.drops.malformed += 1 }
            return
        }
        guard ip.checksumIsValid else { counters.drops.badIPChecksum += 1; return }
        guard ip.destination == address else { counters.drops.notForUs += 1; return }
        guard !ip.isFragment else { counters.drops.fragment += 1; return }
        guard ip.protocol == IPProtocol.tcp else { counters.drops.unsupportedProtocol += 1; return }
        let tcp: TCPHeaderView
        do { tcp = try TCPHeaderView(ip.payload) } catch { counters.drops.malformedTCP += 1; return }
        guard tcp.checksumIsValid(source: ip.source, destination: ip.destination) else {
            counters.drops.badTCPChecksum += 1; return
        }
        let source = ip.source
        guard source != .broadcast, !source.isMulticast, source != .any, tcp.sourcePort != 0, tcp.destinationPort != 0 else {
            counters.drops.badSource += 1; return
        }
        let tuple = FourTuple(localAddress: address, localPort: tcp.destinationPort,
                              remoteAddress: source, remotePort: tcp.sourcePort)
        let flags = tcp.flags
        if let s = table.lookup(tuple), let c = table.slots[Int(s)].connection {
            // RFC 9293 §3.6.1 / RFC 6191: a new SYN (ISN past RCV.NXT, or with timestamps a
            // TSval newer than TS.Recent) may reuse a four-tuple held in TIME-WAIT when a
            // listener would take it: the old incarnation ends (normally) and the SYN starts a
            // new one below. Otherwise the TIME-WAIT connection answers it (ACK / challenge ACK).
            if c.state == .timeWait, flags.contains(.syn), let l = listeners[tuple.localPort], !l.isFull,
               c.acceptsNewSYN(segment: tcp) {
                c.terminate(nil)
                retire(s)
                counters.timeWaitReused += 1
            } else {
                c.handle(segment: tcp, now: now)
                table.markReady(s)      // before a possible removal: the FIFO then frees the slot
                afterActivity(s)
                return
            }
        }
        if var l = listeners[tuple.localPort] {
            if flags.contains(.rst) { counters.drops.noListener += 1; return }
            if flags.contains(.ack) { queueReset(for: tcp, to: source); return }
            guard flags.contains(.syn) else { counters.drops.noListener += 1; return }
            guard !l.isFull else { counters.drops.backlogFull += 1; return }
            let conn = TCPConnection.listen(tuple: tuple, configuration: configuration, now: now)
            conn.releasesBuffersWhenDrained = bufferTrimInterval <= .zero
            conn.acceptSYN(segment: tcp, iss: initialSequenceNumber(tuple, now), timestampOffset: timestampOffset(tuple), now: now)
            let s = table.insert(conn)
            table.slots[Int(s)].listenerPort = tuple.localPort
            l.queue.append(table.handle(of: s))
            listeners[tuple.localPort] = l
            counters.connectionsSpawned += 1
            table.markReady(s)
            afterActivity(s)
            return
        }
        counters.drops.noListener += 1
        if !flags.contains(.rst) { queueReset(for: tcp, to: source) }
    }

    func queueReset(for segment: TCPHeaderView, to destination: IPv4Address) {
        guard resetCount < IPv4Host.resetCapacity else { counters.drops.resetQueueFull += 1; return }
        let i = (resetHead + resetCount) % IPv4Host.resetCapacity
        let slot = UnsafeMutableRawBufferPointer(rebasing: resetStorage[(i * IPv4Host.resetSlotSize)..<((i + 1) * IPv4Host.resetSlotSize)])
        let n = TCPConnection.resetFor(segment: segment, into: slot, source: address, destination: destination)
        guard n > 0 else { return }
        resetLengths[i] = n
        resetDestinations[i] = destination
        resetCount += 1
    }

    /// Removes a finished connection, refreshes the deadline of a live one.
    func afterActivity(_ s: Int32) {
        guard let c = table.slots[Int(s)].connection else { return }
        if c.isFinished {
            retire(s)
        } else {
            table.refreshDeadline(s)
            if trimDeadline == nil && c.allocatedBufferBytes > 0 && !c.releasesBuffersWhenDrained {
                trimDeadline = lastNow + bufferTrimInterval
            }
        }
    }

    /// Takes a connection out of the table (and off its listener's queue).
    func retire(_ s: Int32) {
        if let port = table.slots[Int(s)].listenerPort, var l = listeners[port] {
            let h = table.handle(of: s)
            l.queue.removeAll { $0 == h }
            listeners[port] = l
        }
        table.remove(s)
        counters.connectionsRemoved += 1
    }

    /// Frees the buffer storage of every connection whose buffers are empty and were not
    /// used since the previous pass (see `bufferTrimInterval`); `poll` runs it when due.
    /// Returns the bytes of buffer storage still held.
    @discardableResult
    public func trimIdleBuffers(now: Instant) -> Int {
        noteTime(now)
        var held = 0
        for sl in table.slots {
            guard let c = sl.connection, c.allocatedBufferBytes > 0 else { continue }
            c.releaseIdleBuffers()
            held += c.allocatedBufferBytes
        }
        trimDeadline = held > 0 && bufferTrimInterval > .zero ? now + bufferTrimInterval : nil
        return held
    }

    /// Bytes of buffer storage allocated by all connections (not what they hold: see `bufferedBytes`).
    public var allocatedBufferBytes: Int {
        table.slots.reduce(0) { acc, sl in acc + (sl.connection?.allocatedBufferBytes ?? 0) }
    }

    /// Writes the next IPv4 packet to send into `buffer` and returns its length, or 0
    /// when there is nothing to send now. Call until 0, then again by `nextDeadline`.
    /// `buffer` should hold `mtu` bytes.
    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        noteTime(now)
        lastPacketOffload = .none
        guard buffer.count >= 60 else { return 0 }
        if resetCount > 0 {
            let i = resetHead
            let n = resetLengths[i]
            let src = UnsafeRawBufferPointer(rebasing: resetStorage[(i * IPv4Host.resetSlotSize)..<(i * IPv4Host.resetSlotSize + n)])
            UnsafeMutableRawBufferPointer(rebasing: buffer[20..<(20 + n)]).copyMemory(from: src)
            resetHead = (resetHead + 1) % IPv4Host.resetCapacity
            resetCount -= 1
            counters.resetsSent += 1
            return finishPacket(buffer, segmentLength: n, destination: resetDestinations[i])
        }
        if let t = trimDeadline, t <= now { trimIdleBuffers(now: now) }
        table.expireDeadlines(now: now)
        let room = min(buffer.count, segmentationOffload ? 65535 : mtu) - 20
        let segment = UnsafeMutableRawBufferPointer(rebasing: buffer[20..<(20 + room)])
        while let s = table.firstReady {
            guard let c = table.slots[Int(s)].connection else { _ = table.popReady(); continue }
            let n = c.poll(now: now, into: segment, segmentation: segmentationOffload)
            if n > 0 {
                if segmentationOffload { noteSuperSegment(c, segment: UnsafeMutableRawBufferPointer(rebasing: segment[0..<n])) }
                // Rotate: others with work go first next time.
                _ = table.popReady()
                table.markReady(s)
                return finishPacket(buffer, segmentLength: n, destination: c.tuple.remoteAddress)
            }
            _ = table.popReady()
            afterActivity(s)
        }
        return 0
    }

    /// A segment longer than one piece goes as a super-segment: partial checksum, and the
    /// link told how to cut it.
    func noteSuperSegment(_ c: TCPConnection, segment: UnsafeMutableRawBufferPointer) {
        let headerLength = Int(segment[12] >> 4) * 4
        let piece = c.segmentationSize(optionLength: headerLength - 20)
        guard segment.count - headerLength > piece else { return }
        VirtioNetHeader.storePseudoHeaderChecksum(segment: segment, source: address, destination: c.tuple.remoteAddress)
        lastPacketOffload = .tcpSegmentation(linkHeaderLength: 0, ipHeaderLength: 20, tcpHeaderLength: headerLength,
                                             segmentSize: piece)
    }

    func finishPacket(_ buffer: UnsafeMutableRawBufferPointer, segmentLength n: Int, destination: IPv4Address) -> Int {
        let total = 20 + n
        buffer[0] = 0x45
        buffer[1] = 0
        buffer.put16(UInt16(total), at: 2)
        buffer.put16(identification, at: 4)
        identification &+= 1
        buffer.put16(0x4000, at: 6)  // DF
        buffer[8] = 64
        buffer[9] = IPProtocol.tcp
        buffer.putIPv4(address, at: 12)
        buffer.putIPv4(destination, at: 16)
        IPv4Header.fillChecksum(header: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<20]))
        counters.packetsOut += 1
        return total
    }

    /// When `poll` should be called next: the earliest timer of any connection, or the
    /// latest `now` seen when something is ready to go at once; nil when idle.
    public var nextDeadline: Instant? {
        if resetCount > 0 || table.hasReady { return lastNow }
        guard let t = trimDeadline else { return table.earliestDeadline() }
        guard let d = table.earliestDeadline() else { return t }
        return min(t, d)
    }
}
