import TCPIP

/// What the loop knows of one stream the application holds (loop thread only).
final class StreamState {
    let handle: ConnectionHandle
    let connection: TCPConnection
    /// The peer's FIN arrived: reads return [] once the buffer is empty.
    var peerClosed = false
    /// The connection reached CLOSED; `endError` says why (nil: normally).
    var ended = false
    var endError: TCPError? = nil
    /// `shutdownWrite()` was called.
    var writeShut = false
    /// In the loop's `waiting` list (serviced every round).
    var isListedWaiting = false

    var hasWaiter: Bool { reader != nil || writer != nil || connectWaiter != nil || closeWaiter != nil }

    var connectWaiter: (waiter: Waiter, continuation: CheckedContinuation<(ConnectionHandle, FourTuple), any Error>, deadline: Instant)?
    var reader: (waiter: Waiter, maxBytes: Int, continuation: CheckedContinuation<[UInt8], any Error>)?
    var writer: (waiter: Waiter, bytes: [UInt8], offset: Int, continuation: CheckedContinuation<Void, any Error>)?
    /// `closeAndWait()`: resumed once our FIN is acknowledged (or the connection ends).
    var closeWaiter: (waiter: Waiter, continuation: CheckedContinuation<Void, any Error>)?

    init(handle: ConnectionHandle, connection: TCPConnection) {
        self.handle = handle
        self.connection = connection
    }

    /// The error an operation on an ended stream reports.
    var terminalError: TCPStreamError { endError.map(TCPStreamError.init) ?? .closed }
}

/// A listening port and the `accept` calls waiting on it (loop thread only).
final class ListenerState {
    let port: UInt16
    /// Tells this binding of the port from a later one: a `TCPListener` closed (or
    /// dropped) after its port was listened on again must not stop the new listener.
    let token: UInt64
    var waiters: [(waiter: Waiter, continuation: CheckedContinuation<(ConnectionHandle, FourTuple), any Error>)] = []
    init(port: UInt16, token: UInt64) {
        self.port = port
        self.token = token
    }
}

/// Everything the loop thread owns: the host, the interface, the streams and listeners
/// with their waiting continuations. Never touched from another thread.
final class LoopCore {
    static let readBatch = 256
    static let writeBatch = 1024

    let host: IPv4Host
    let processor: any PacketProcessor
    let interface: any PacketInterface
    let inBuffer: UnsafeMutableRawBufferPointer
    let outBuffer: UnsafeMutableRawBufferPointer

    var streams: [ConnectionHandle: StreamState] = [:]
    /// Streams with a pending connect, read or write: the only ones each round looks at,
    /// so idle streams cost nothing per packet. (Their events wait in the connection's
    /// bounded queue until an operation registers.)
    var waiting: [ConnectionHandle] = []
    var listeners: [UInt16: ListenerState] = [:]
    /// The last `ListenerState.token` given out.
    var lastListenerToken: UInt64 = 0
    /// Connections the application let go of that have not finished yet (counted once finished).
    var draining: [(handle: ConnectionHandle, connection: TCPConnection)] = []
    /// Set when a dispatch step read or wrote a connection (a flush must follow).
    var touched = false

    // Statistics.
    var rounds = 0
    var deviceWriteDrops = 0
    /// Packets read whose virtio-net header was short or whose partial checksum did not fit.
    var offloadDrops = 0
    var retiredRetransmits = 0
    var retiredTimeouts = 0
    var failure: String? = nil

    // Shutdown.
    var stopping = false
    var stopDeadline: Instant? = nil
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
    var earliestConnectDeadline: Instant? = nil

    // Ping (only when the processor is an `Interface`).
    let pingInterface: Interface?
    /// `TCPStack.ping` calls waiting for their answer, by sequence number.
    var pingWaiters: [UInt16: (waiter: Waiter, continuation: CheckedContinuation<PingEvent?, any Error>, deadline: Instant)] = [:]

    // UDP sockets (only when the processor is an `Interface`; UDPSocket.swift).
    var udpSockets: [UInt16: UDPWaiters] = [:]
    /// Set by `dispatchUDP`: sends still wait for room that the next flush makes.
    var udpSendsWaitForAnotherRound = false

    init(processor: any PacketProcessor, interface: any PacketInterface) {
        self.host = processor.tcpHost
        self.processor = processor
        self.interface = interface
        self.pingInterface = processor.pingInterface
        // The largest IPv4 packet, a link header and a virtio-net header.
        inBuffer = .allocate(byteCount: 65536 + 64, alignment: 16)
        outBuffer = .allocate(byteCount: max(processor.maximumPacketSize, 68) + VirtioNetHeader.length, alignment: 16)
    }

    deinit {
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    // MARK: device I/O

    /// Reads packets until EAGAIN or the batch bound; true when the bound stopped it.
    func receive<D: PacketInterface, P: PacketProcessor>(from d: D, into p: P, now: Instant) throws -> Bool {
        if d.virtioNetHeader { return try receiveWithHeader(from: d, into: p, now: now) }
        for _ in 0..<LoopCore.readBatch {
            guard let n = try d.read(into: inBuffer) else { return false }
            p.receive(packet: UnsafeRawBufferPointer(rebasing: inBuffer[0..<n]), now: now)
        }
        return true
    }

    /// `receive` on a device with virtio-net headers: each packet's header is stripped and
    /// a partial checksum completed, so the processor sees ordinary (if large) packets.
    func receiveWithHeader<D: PacketInterface, P: PacketProcessor>(from d: D, into p: P, now: Instant) throws -> Bool {
        let h = VirtioNetHeader.length
        for _ in 0..<LoopCore.readBatch {
            guard let n = try d.read(into: inBuffer) else { return false }
            guard n >= h, let header = try? VirtioNetHeader(UnsafeRawBufferPointer(inBuffer)) else {
                offloadDrops += 1; continue
            }
            let packet = UnsafeMutableRawBufferPointer(rebasing: inBuffer[h..<n])
            guard header.completeChecksum(in: packet) else { offloadDrops += 1; continue }
            p.receive(packet: UnsafeRawBufferPointer(packet), now: now)
        }
        return true
    }

    /// Writes what the host has to send; true when the batch bound stopped it.
    func flush<D: PacketInterface, P: PacketProcessor>(to d: D, from p: P, now: Instant) throws -> Bool {
        touched = false
        if d.virtioNetHeader { return try flushWithHeader(to: d, from: p, now: now) }
        for _ in 0..<LoopCore.writeBatch {
            let n = p.poll(now: now, into: outBuffer)
            if n == 0 { return false }
            if try !d.write(UnsafeRawBufferPointer(rebasing: outBuffer[0..<n])) { deviceWriteDrops += 1 }
        }
        return true
    }

    /// `flush` on a device with virtio-net headers: each packet goes with the header the
    /// processor gives for it (segmentation of a super-segment, or none).
    func flushWithHeader<D: PacketInterface, P: PacketProcessor>(to d: D, from p: P, now: Instant) throws -> Bool {
        let h = VirtioNetHeader.length
        let body = UnsafeMutableRawBufferPointer(rebasing: outBuffer[h...])
        for _ in 0..<LoopCore.writeBatch {
            let n = p.poll(now: now, into: body)
            if n == 0 { return false }
            p.lastPacketOffload.write(into: outBuffer)
            if try !d.write(UnsafeRawBufferPointer(rebasing: outBuffer[0..<(h + n)])) { deviceWriteDrops += 1 }
        }
        return true
    }

    // MARK: events to continuations

    /// Hands accepted connections to waiting `accept` calls, and each stream's events and
    /// buffer levels to its waiting connect/read/write.
    func dispatch(now: Instant) {
        for l in listeners.values where !l.waiters.isEmpty {
            while !l.waiters.isEmpty, let h = host.accept(port: l.port), let c = host.connection(h) {
                streams[h] = StreamState(handle: h, connection: c)
                l.waiters.removeFirst().continuation.resume(returning: (h, c.tuple))
            }
        }
        earliestConnectDeadline = nil
        if let iface = pingInterface {
            dispatchPings(iface, now: now)
            if !udpSockets.isEmpty { dispatchUDP(iface, now: now) }
        }
        var keep = 0
        for i in waiting.indices {
            let h = waiting[i]
            guard let s = streams[h] else { continue }
            service(s, now: now)
            if s.hasWaiter && streams[h] != nil {
                waiting[keep] = h
                keep += 1
            } else {
                s.isListedWaiting = false
            }
        }
        waiting.removeLast(waiting.count - keep)
        if !draining.isEmpty {
            draining.removeAll { d in
                let c = d.connection
                while c.nextEvent() != nil {}
                guard c.state == .closed else { return false }
                retire(c)
                return true
            }
        }
    }

    /// Hands ping answers to their waiting `ping` calls; a call past its deadline gets nil.
    func dispatchPings(_ iface: Interface, now: Instant) {
        while let e = iface.nextPingEvent() {
            let seq: UInt16
            switch e {
            case .reply(let r): seq = r.sequence
            case .error(let sequence, _, _, _): seq = sequence
            }
            pingWaiters.removeValue(forKey: seq)?.continuation.resume(returning: e)
        }
        guard !pingWaiters.isEmpty else { return }
        for (seq, w) in pingWaiters {
            if now >= w.deadline {
                pingWaiters[seq] = nil
                w.continuation.resume(returning: nil)
            } else if earliestConnectDeadline.map({ w.deadline < $0 }) ?? true {
                earliestConnectDeadline = w.deadline
            }
        }
    }

    /// Lists a stream whose operation is still pending after its first try.
    func noteWaiting(_ s: StreamState) {
        guard s.hasWaiter, !s.isListedWaiting else { return }
        s.isListedWaiting = true
        waiting.append(s.handle)
    }

    func retire(_ c: TCPConnection) {
        let k = c.counters
        retiredRetransmits += k.retransmittedSegments
        retiredTimeouts += k.timeouts
    }

    /// Takes the connection's events and state into the stream's flags.
    func refresh(_ s: StreamState) {
        let c = s.connection
        while let e = c.nextEvent() {
            switch e {
            case .peerClosed: s.peerClosed = true
            case .closed(let error): s.ended = true; s.endError = error
            default: break
            }
        }
        // Levels, in case an event was coalesced away.
        switch c.state {
        case .closeWait, .lastAck, .closing, .timeWait: s.peerClosed = true
        case .closed: s.ended = true
        default: break
        }
    }

    func service(_ s: StreamState, now: Instant) {
        let c = s.connection
        refresh(s)
        if let w = s.connectWaiter {
            if c.state.isSynchronized && c.state != .synReceived {
                s.connectWaiter = nil
                w.continuation.resume(returning: (s.handle, c.tuple))
            } else if s.ended {
                s.connectWaiter = nil
                streams[s.handle] = nil
                retire(c)
                w.continuation.resume(throwing: s.terminalError)
            } else if now >= w.deadline {
                s.connectWaiter = nil
                streams[s.handle] = nil
                host.abort(s.handle)
                touched = true
                retire(c)
                w.continuation.resume(throwing: TCPStreamError.timedOut)
            } else if earliestConnectDeadline.map({ w.deadline < $0 }) ?? true {
                earliestConnectDeadline = w.deadline
            }
            return
        }
        if s.closeWaiter != nil { serviceClose(s); return }
        if s.reader != nil { serviceRead(s) }
        if s.writer != nil { serviceWrite(s) }
    }

    func serviceRead(_ s: StreamState) {
        guard let r = s.reader else { return }
        refresh(s)
        let c = s.connection
        let available = c.readableBytes
        if available > 0 {
            s.reader = nil
            let n = min(available, max(1, r.maxBytes))
            let bytes = [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
                count = c.read(into: UnsafeMutableRawBufferPointer(buffer))
            }
            host.wake(s.handle)
            touched = true
            r.continuation.resume(returning: bytes)
        } else if s.peerClosed || (s.ended && s.endError == nil) {
            s.reader = nil
            r.continuation.resume(returning: [])
        } else if s.ended {
            s.reader = nil
            r.continuation.resume(throwing: s.terminalError)
        }
    }

    func serviceWrite(_ s: StreamState) {
        guard var w = s.writer else { return }
        refresh(s)
        let c = s.connection
        if s.ended || s.writeShut {
            s.writer = nil
            w.continuation.resume(throwing: s.ended ? s.terminalError : TCPStreamError.closed)
            return
        }
        let n = w.bytes.withUnsafeBytes { all in
            c.write(UnsafeRawBufferPointer(rebasing: all[w.offset...]))
        }
        if n > 0 {
            host.wake(s.handle)
            touched = true
        }
        w.offset += n
        if w.offset == w.bytes.count {
            s.writer = nil
            w.continuation.resume()
            return
        }
        switch c.state {
        case .synSent, .synReceived, .established, .closeWait:
            s.writer = w  // waits for room
        default:
            s.writer = nil
            w.continuation.resume(throwing: TCPStreamError.closed)
        }
    }

    /// Resumes `closeAndWait` once our FIN is acknowledged or the connection has ended,
    /// then lets go of the stream (the connection finishes in `draining`).
    func serviceClose(_ s: StreamState) {
        guard let w = s.closeWaiter else { return }
        refresh(s)
        let c = s.connection
        let result: TCPStreamError?
        switch c.state {
        case .finWait2, .timeWait: result = nil
        case .closed: result = s.endError.map(TCPStreamError.init)
        default: return
        }
        s.closeWaiter = nil
        release(s.handle, abort: false)
        if let result { w.continuation.resume(throwing: result) } else { w.continuation.resume() }
    }

    // MARK: commands from the API

    func cancel(_ waiter: Waiter) {
        if cancelUDP(waiter) { return }
        if let (seq, w) = pingWaiters.first(where: { $0.value.waiter === waiter }) {
            pingWaiters[seq] = nil
            w.continuation.resume(throwing: CancellationError())
            return
        }
        for l in listeners.values {
            if let i = l.waiters.firstIndex(where: { $0.waiter === waiter }) {
                l.waiters.remove(at: i).continuation.resume(throwing: CancellationError())
                return
            }
        }
        for s in streams.values {
            if let w = s.connectWaiter, w.waiter === waiter {
                s.connectWaiter = nil
                streams[s.handle] = nil
                host.abort(s.handle)
                retire(s.connection)
                w.continuation.resume(throwing: CancellationError())
                return
            }
            if let r = s.reader, r.waiter === waiter {
                s.reader = nil
                r.continuation.resume(throwing: CancellationError())
                return
            }
            if let w = s.writer, w.waiter === waiter {
                s.writer = nil
                w.continuation.resume(throwing: CancellationError())
                return
            }
            if let w = s.closeWaiter, w.waiter === waiter {
                s.closeWaiter = nil
                release(s.handle, abort: false)  // the close goes on without the caller
                w.continuation.resume(throwing: CancellationError())
                return
            }
        }
        // Not registered: either already resumed, or its registration comes later and
        // will see the flag.
    }

    /// The application let go of a stream: graceful close if still open, then forget it.
    func release(_ h: ConnectionHandle, abort: Bool) {
        guard let s = streams.removeValue(forKey: h) else { return }
        let c = s.connection
        if abort { host.abort(h) } else { c.close(fully: true); host.wake(h) }
        failPending(s, with: .closed)
        if c.state == .closed { retire(c) } else { draining.append((h, c)) }
    }

    func failPending(_ s: StreamState, with error: TCPStreamError) {
        if let r = s.reader { s.reader = nil; r.continuation.resume(throwing: error) }
        if let w = s.writer { s.writer = nil; w.continuation.resume(throwing: error) }
        if let w = s.connectWaiter { s.connectWaiter = nil; w.continuation.resume(throwing: error) }
        if let w = s.closeWaiter { s.closeWaiter = nil; w.continuation.resume(throwing: error) }
    }

    /// Stops listening on `port`; with `token`, only if the port is still that binding.
    func stopListening(port: UInt16, token: UInt64? = nil) {
        if let token, listeners[port]?.token != token { return }
        guard let l = listeners.removeValue(forKey: port) else { return }
        for w in l.waiters { w.continuation.resume(throwing: TCPStreamError.closed) }
        // Connections spawned and never accepted are reset: the established ones now,
        // half-open ones (SYN-RECEIVED, no handle to wake the host with) when the host
        // next polls them.
        while let h = host.accept(port: port) {
            if let c = host.connection(h) { draining.append((h, c)) }
            host.abort(h)
        }
        for c in host.connections where c.tuple.localPort == port && c.state == .synReceived {
            c.abort()
        }
        host.stopListening(port: port)
    }

    // MARK: shutdown

    /// Closes everything gracefully; the loop exits once no connection has anything left
    /// to exchange, or at `now + grace` (then the rest is reset).
    func beginShutdown(grace: Duration, now: Instant) {
        if !stopping {
            stopping = true
            stopDeadline = now + grace
        } else if let d = stopDeadline, now + grace < d {
            stopDeadline = now + grace
        }
        for port in Array(listeners.keys) { stopListening(port: port) }
        for h in Array(streams.keys) {
            if let s = streams[h] { failPending(s, with: .stackStopped) }
            release(h, abort: false)
        }
        failPings()
        closeAllUDP(with: TCPStreamError.stackStopped)
    }

    func failPings() {
        for w in pingWaiters.values { w.continuation.resume(throwing: TCPStreamError.stackStopped) }
        pingWaiters.removeAll()
    }

    func shouldExit(now: Instant) -> Bool {
        guard stopping else { return false }
        if let d = stopDeadline, now >= d { return true }
        return host.connections.allSatisfy { $0.state == .closed || $0.state == .timeWait }
    }

    /// Resets every connection still open and fails every pending operation.
    func abortEverything() {
        for l in listeners.values {
            for w in l.waiters { w.continuation.resume(throwing: TCPStreamError.stackStopped) }
        }
        listeners.removeAll()
        // Their counters are kept (retired): the table forgets them once they are reset.
        for s in streams.values {
            failPending(s, with: .stackStopped)
            host.abort(s.handle)
            retire(s.connection)
        }
        for d in draining {
            if d.connection.state != .closed { host.abort(d.handle) }
            retire(d.connection)
        }
        draining.removeAll()
        streams.removeAll()
        failPings()
        closeAllUDP(with: TCPStreamError.stackStopped)
    }

    func finishStop() {
        for w in stopWaiters { w.resume() }
        stopWaiters.removeAll()
    }

    func nextWakeup(now: Instant) -> Instant? {
        var d = processor.nextDeadline
        if let c = earliestConnectDeadline { d = d.map { min($0, c) } ?? c }
        if let s = stopDeadline { d = d.map { min($0, s) } ?? s }
        // A ping waiting for its answer must be woken at its deadline to return nil.
        for w in pingWaiters.values { d = d.map { min($0, w.deadline) } ?? w.deadline }
        // Draining connections are polled by the host's own deadlines; a bounded nap keeps
        // the level checks of `draining` and `stopping` fresh without spinning.
        if stopping || !draining.isEmpty {
            let cap = now + .milliseconds(50)
            d = d.map { min($0, cap) } ?? cap
        }
        return d
    }

    var statistics: TCPStackStatistics {
        var s = TCPStackStatistics()
        s.host = host.counters
        s.connections = host.connectionCount
        s.openStreams = streams.count
        s.retransmittedSegments = retiredRetransmits
        s.timeouts = retiredTimeouts
        // Closed connections still in the table are retired ones (counted above) or ones the
        // application never held.
        for c in host.connections where c.state != .closed {
            let k = c.counters
            s.retransmittedSegments += k.retransmittedSegments
            s.timeouts += k.timeouts
        }
        s.deviceWriteDrops = deviceWriteDrops
        s.deviceReadDrops = offloadDrops
        s.loopRounds = rounds
        s.failure = failure
        s.impairment = processor.impairmentCounters
        return s
    }
}

/// Counters of a running stack.
public struct TCPStackStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Packets in and out, drops by reason, RSTs, connections opened/spawned/removed.
    public var host = HostCounters()
    /// Connections in the host's table (TIME-WAIT included).
    public var connections = 0
    /// Streams the application holds.
    public var openStreams = 0
    /// Segments retransmitted, summed over connections (live and finished ones the runtime saw).
    public var retransmittedSegments = 0
    /// Retransmission timeouts, summed likewise.
    public var timeouts = 0
    /// Packets the interface refused (its queue was full).
    public var deviceWriteDrops = 0
    /// Packets read that the loop could not use (a malformed virtio-net header).
    public var deviceReadDrops = 0
    public var loopRounds = 0
    /// Why the loop stopped on its own (a device error), if it did.
    public var failure: String? = nil
    /// What the impairment (`--impair`) between device and stack did, when there is one.
    public var impairment: ImpairmentCounters? = nil

    public init() {}

    public var description: String {
        var lines = [
            "packets in \(host.packetsIn), out \(host.packetsOut); RSTs sent for closed ports \(host.resetsSent)",
            "connections: opened \(host.connectionsOpened), accepted-side spawned \(host.connectionsSpawned), removed \(host.connectionsRemoved), in table \(connections), streams \(openStreams)",
            "retransmitted segments \(retransmittedSegments), RTO timeouts \(timeouts), device write drops \(deviceWriteDrops)",
            "drops (\(host.drops.total)): \(host.drops)",
        ]
        if deviceReadDrops > 0 { lines.append("device read drops \(deviceReadDrops)") }
        if let impairment { lines.append(impairment.description) }
        if let failure { lines.append("loop failure: \(failure)") }
        return lines.joined(separator: "\n")
    }
}
