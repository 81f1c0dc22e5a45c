// The same sans-IO `Interface`/`IPv4Host` driven by a SwiftNIO event loop instead of the
// runtime's poll(2) thread. The application side mirrors TCPIPRuntime's `TCPStream`: the
// app's tasks post operations to the loop (`EventLoop.execute`) and wait on continuations
// that the loop resumes, with the same per-round logic as `LoopCore` (read the device,
// flush the host, hand events to waiters, flush again), so the two drivers differ in the
// loop and the device I/O only.
import NIOCore
import NIOPosix
import TCPIP
import TCPIPRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How the NIO driver moves packets.
enum NIODeviceIO: String, Sendable {
    /// Everything through the NIO `Channel` (`NIOPipeBootstrap` on the TUN descriptor):
    /// reads into pooled `ByteBuffer`s, one `writeAndFlush` of a fresh `ByteBuffer` per packet.
    case channel
    /// NIO's channel only for readiness (and the first read); the handler drains the device
    /// with read(2) and writes each packet with write(2) itself, as the poll thread does.
    case raw
}

/// One stream's loop-side state (as `StreamState` in the runtime).
final class NIOStreamState {
    let handle: ConnectionHandle
    let connection: TCPConnection
    var peerClosed = false
    var ended = false
    var isListedWaiting = false
    var reader: (maxBytes: Int, continuation: CheckedContinuation<[UInt8], any Error>)?
    var writer: (bytes: [UInt8], offset: Int, continuation: CheckedContinuation<Void, any Error>)?
    var hasWaiter: Bool { reader != nil || writer != nil }
    init(handle: ConnectionHandle, connection: TCPConnection) {
        self.handle = handle
        self.connection = connection
    }
}

struct NIODriverClosed: Error {}

/// The cancellation flag allocated per operation, as the runtime's `Waiter` (so both
/// drivers pay the same per-operation allocation and cancellation handler).
final class NIOWaiter: Sendable {
    let cancelled = Atomic<Bool>(false)
}

/// Owns the host; every stored property is touched on the event loop only.
final class NIODriver: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let processor: Interface
    let host: IPv4Host
    let mtu: Int
    let io: NIODeviceIO
    let fd: Int32
    var channel: (any Channel)?
    var context: ChannelHandlerContext?
    var spare: ByteBuffer?
    let inBuffer: UnsafeMutableRawBufferPointer
    let outBuffer: UnsafeMutableRawBufferPointer

    var streams: [ConnectionHandle: NIOStreamState] = [:]
    var waiting: [ConnectionHandle] = []
    var acceptWaiters: [UInt16: [CheckedContinuation<ConnectionHandle, any Error>]] = [:]
    var touched = false
    var timer: Scheduled<Void>?
    var timerAt: Instant?
    var stopped = false

    // Counters.
    var rounds = 0
    var timerFires = 0
    var channelReads = 0
    var readCompletes = 0
    var rawReads = 0
    var writes = 0
    var failure: String?

    static let readBatch = 256
    static let writeBatch = 1024

    /// `fd` is a descriptor of the device the driver takes (NIO closes it on stop).
    init(processor: Interface, mtu: Int, fd: Int32, io: NIODeviceIO) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        self.processor = processor
        self.host = processor.tcpHost
        self.mtu = mtu
        self.fd = fd
        self.io = io
        inBuffer = .allocate(byteCount: 65536, alignment: 16)
        outBuffer = .allocate(byteCount: max(mtu, 68), alignment: 16)
    }

    deinit {
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    func start() async throws {
        let driver = self
        channel = try await NIOPipeBootstrap(group: group)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: UInt(NIODriver.readBatch))
            // A TUN read returns one packet; an MTU-sized buffer never truncates one. (NIO
            // rounds it up to a power of two, 2048, and stops reading at the first read that
            // leaves room: so in practice one packet per readiness event.)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: mtu))
            .channelInitializer { ch in
                do {
                    try ch.pipeline.syncOperations.addHandler(TunHandler(driver: driver))
                    return ch.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return ch.eventLoop.makeFailedFuture(error)
                }
            }
            .takingOwnershipOfDescriptor(inputOutput: fd)
            .get()
    }

    // MARK: loop side

    func packetIn(_ buffer: ByteBuffer) {
        channelReads += 1
        let now = MonotonicClock.now()
        buffer.withUnsafeReadableBytes { processor.receive(packet: $0, now: now) }
    }

    /// After a readiness event's reads (raw: drain the rest of the device first).
    func readComplete() {
        readCompletes += 1
        if io == .raw {
            let now = MonotonicClock.now()
            for _ in 0..<NIODriver.readBatch {
                let n = Glibc.read(fd, inBuffer.baseAddress, inBuffer.count)
                if n <= 0 { break }
                rawReads += 1
                processor.receive(packet: UnsafeRawBufferPointer(rebasing: inBuffer[0..<n]), now: now)
            }
        }
        round()
    }

    /// One round as the poll thread runs it after its reads: flush, dispatch, flush, then
    /// (NIO only) re-arm the timer for the host's next deadline.
    func round() {
        guard !stopped else { return }
        rounds += 1
        let now = MonotonicClock.now()
        flush(now: now)
        dispatch(now: now)
        if touched { flush(now: now) }
        armTimer()
    }

    func flush(now: Instant) {
        touched = false
        switch io {
        case .channel:
            guard let context else { return }
            for _ in 0..<NIODriver.writeBatch {
                var b = spare ?? context.channel.allocator.buffer(capacity: mtu)
                spare = nil
                let written = b.writeWithUnsafeMutableBytes(minimumWritableBytes: mtu) { p in
                    processor.poll(now: now, into: UnsafeMutableRawBufferPointer(rebasing: p[0..<mtu]))
                }
                if written == 0 { spare = b; return }
                writes += 1
                // One packet per write and a flush per packet: NIO gathers pending writes
                // into one writev, which a TUN device would take as one (merged) packet.
                context.writeAndFlush(NIOAny(b), promise: nil)
            }
        case .raw:
            for _ in 0..<NIODriver.writeBatch {
                let n = processor.poll(now: now, into: outBuffer)
                if n == 0 { return }
                writes += 1
                _ = Glibc.write(fd, outBuffer.baseAddress, n)
            }
        }
    }

    func armTimer() {
        guard let d = processor.nextDeadline else { return }
        if let t = timerAt, t <= d { return }
        timer?.cancel()
        timerAt = d
        let ns = max(0, (d - MonotonicClock.now()).nanosecondsClamped)
        timer = loop.scheduleTask(in: .nanoseconds(ns)) { [self] in
            timerAt = nil
            timer = nil
            timerFires += 1
            round()
        }
    }

    func dispatch(now: Instant) {
        for (port, waiters) in acceptWaiters where !waiters.isEmpty {
            var ws = waiters
            while !ws.isEmpty, let h = host.accept(port: port), let c = host.connection(h) {
                streams[h] = NIOStreamState(handle: h, connection: c)
                ws.removeFirst().resume(returning: h)
            }
            acceptWaiters[port] = ws
        }
        var keep = 0
        for i in waiting.indices {
            let h = waiting[i]
            guard let s = streams[h] else { continue }
            if s.reader != nil { serviceRead(s) }
            if s.writer != nil { serviceWrite(s) }
            if s.hasWaiter && streams[h] != nil {
                waiting[keep] = h
                keep += 1
            } else {
                s.isListedWaiting = false
            }
        }
        waiting.removeLast(waiting.count - keep)
    }

    func noteWaiting(_ s: NIOStreamState) {
        guard s.hasWaiter, !s.isListedWaiting else { return }
        s.isListedWaiting = true
        waiting.append(s.handle)
    }

    func refresh(_ s: NIOStreamState) {
        let c = s.connection
        while let e = c.nextEvent() {
            switch e {
            case .peerClosed: s.peerClosed = true
            case .closed: s.ended = true
            default: break
            }
        }
        switch c.state {
        case .closeWait, .lastAck, .closing, .timeWait: s.peerClosed = true
        case .closed: s.ended = true
        default: break
        }
    }

    func serviceRead(_ s: NIOStreamState) {
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
        } else if s.peerClosed || s.ended {
            s.reader = nil
            r.continuation.resume(returning: [])
        }
    }

    func serviceWrite(_ s: NIOStreamState) {
        guard var w = s.writer else { return }
        refresh(s)
        let c = s.connection
        if s.ended {
            s.writer = nil
            w.continuation.resume(throwing: NIODriverClosed())
            return
        }
        let n = w.bytes.withUnsafeBytes { all in c.write(UnsafeRawBufferPointer(rebasing: all[w.offset...])) }
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
        case .synSent, .synReceived, .established, .closeWait: s.writer = w
        default:
            s.writer = nil
            w.continuation.resume(throwing: NIODriverClosed())
        }
    }

    func release(_ h: ConnectionHandle) {
        guard let s = streams.removeValue(forKey: h) else { return }
        s.connection.close(fully: true)
        host.wake(h)
        failPending(s)
    }

    func failPending(_ s: NIOStreamState) {
        if let r = s.reader { s.reader = nil; r.continuation.resume(throwing: NIODriverClosed()) }
        if let w = s.writer { s.writer = nil; w.continuation.resume(throwing: NIODriverClosed()) }
    }

    // MARK: application side (any task)

    /// Runs `body` on the loop with a continuation it must resume once, then a round (as a
    /// posted command is followed by a round in the poll thread).
    func perform<T: Sendable>(
        _ body: @escaping @Sendable (NIODriver, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        let waiter = NIOWaiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                loop.execute { [self] in
                    if stopped { c.resume(throwing: NIODriverClosed()); return }
                    body(self, c)
                    round()
                }
            }
        } onCancel: {
            waiter.cancelled.store(true, ordering: .releasing)
        }
    }

    func listen(port: UInt16) async throws -> NIOListener {
        try await perform { (d, c: CheckedContinuation<Void, any Error>) in
            do {
                try d.host.listen(port: port)
                d.acceptWaiters[port] = []
                c.resume()
            } catch {
                c.resume(throwing: error)
            }
        }
        return NIOListener(driver: self, port: port)
    }

    /// Resets what is open, fails pending operations, closes the channel and the loop.
    func stop() async -> String {
        let summary: String = (try? await loop.submit { [self] in
            for (_, ws) in acceptWaiters { for w in ws { w.resume(throwing: NIODriverClosed()) } }
            acceptWaiters.removeAll()
            for s in streams.values { failPending(s); host.abort(s.handle) }
            streams.removeAll()
            for c in host.connections where c.state != .closed { c.abort() }
            flush(now: MonotonicClock.now())
            stopped = true
            timer?.cancel()
            return "rounds=\(rounds) timer_fires=\(timerFires) channel_reads=\(channelReads) read_completes=\(readCompletes) raw_reads=\(rawReads) writes=\(writes)"
        }.get()) ?? "?"
        try? await channel?.close()
        try? await group.shutdownGracefully()
        return summary
    }
}

final class NIOListener: Sendable {
    let driver: NIODriver
    let port: UInt16
    init(driver: NIODriver, port: UInt16) { self.driver = driver; self.port = port }

    func accept() async throws -> NIOStream {
        let port = self.port
        let h: ConnectionHandle = try await driver.perform { d, c in
            guard d.acceptWaiters[port] != nil else { c.resume(throwing: NIODriverClosed()); return }
            d.acceptWaiters[port]!.append(c)
            d.dispatch(now: MonotonicClock.now())
        }
        return NIOStream(driver: driver, handle: h)
    }
}

final class NIOStream: AppStream, Sendable {
    let driver: NIODriver
    let handle: ConnectionHandle
    init(driver: NIODriver, handle: ConnectionHandle) { self.driver = driver; self.handle = handle }

    func read(maxBytes: Int) async throws -> [UInt8] {
        let h = handle
        return try await driver.perform { d, c in
            guard let s = d.streams[h], s.reader == nil else { c.resume(throwing: NIODriverClosed()); return }
            s.reader = (maxBytes, c)
            d.serviceRead(s)
            d.noteWaiting(s)
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        let h = handle
        try await driver.perform { (d, c: CheckedContinuation<Void, any Error>) in
            guard let s = d.streams[h], s.writer == nil else { c.resume(throwing: NIODriverClosed()); return }
            s.writer = (bytes, 0, c)
            d.serviceWrite(s)
            d.noteWaiting(s)
        }
    }

    func close() {
        let h = handle
        let d = driver
        d.loop.execute {
            d.release(h)
            d.round()
        }
    }
}

/// The pipeline's only handler: packets in, and the context for packets out.
final class TunHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let driver: NIODriver
    init(driver: NIODriver) { self.driver = driver }

    func handlerAdded(context: ChannelHandlerContext) { driver.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { driver.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        driver.packetIn(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        driver.readComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if driver.failure == nil { driver.failure = "\(error)" }
    }
}
