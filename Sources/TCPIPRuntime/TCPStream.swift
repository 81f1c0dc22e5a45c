import TCPIP

/// One TCP connection, as an async byte stream. Sendable: use it from any task; one
/// read and one write may be pending at a time (a second concurrent one fails with
/// `.closed`).
///
/// Dropping the last reference closes the stream like `close()`.
public final class TCPStream: Sendable {
    let loop: EventLoop
    let handle: ConnectionHandle
    /// Local and remote address and port.
    public let tuple: FourTuple

    init(loop: EventLoop, handle: ConnectionHandle, tuple: FourTuple) {
        self.loop = loop
        self.handle = handle
        self.tuple = tuple
    }

    deinit {
        let h = handle
        loop.post { core in core?.release(h, abort: false) }
    }

    /// Active open to `address`:`port` from an ephemeral port, through the stack's
    /// `Interface` (routing, ICMP) when it runs one.
    ///
    /// Throws `.noRoute` at once when the destination has no route (off-link and no
    /// gateway), `.connectionRefused` (the peer answered RST, or an ICMP port/protocol
    /// unreachable came back), `.hostUnreachable` (any other ICMP destination unreachable,
    /// or ARP found no one), `.timedOut` (no answer within `timeout` or the SYN retries ran
    /// out), `.invalidAddress`, `.noEphemeralPort`, `.stackStopped`, or `CancellationError`
    /// (the SYN-SENT connection is dropped). ICMP errors act only when they quote our SYN's
    /// sequence number (RFC 5927).
    public static func connect(to address: IPv4Address, port: UInt16, on stack: TCPStack,
                               timeout: Duration = .seconds(75),
                               configuration: TCPConfiguration? = nil) async throws -> TCPStream {
        let loop = stack.loop
        var config = configuration
        if config != nil { config!.maximumSegmentSize = min(config!.maximumSegmentSize, max(64, stack.mtu - 40)) }
        let chosen = config
        let (handle, tuple): (ConnectionHandle, FourTuple) = try await loop.perform { core, waiter, continuation in
            guard !core.stopping else { continuation.resume(throwing: TCPStreamError.stackStopped); return }
            let now = MonotonicClock.now()
            let h: ConnectionHandle
            if let iface = core.pingInterface {
                do throws(InterfaceError) {
                    h = try iface.connect(to: address, port: port, now: now, configuration: chosen)
                } catch {
                    continuation.resume(throwing: TCPStreamError(error))
                    return
                }
            } else {
                do throws(HostError) {
                    h = try core.host.connect(to: address, port: port, now: now, configuration: chosen)
                } catch {
                    continuation.resume(throwing: TCPStreamError(error))
                    return
                }
            }
            guard let c = core.host.connection(h) else {
                continuation.resume(throwing: TCPStreamError.closed)
                return
            }
            let s = StreamState(handle: h, connection: c)
            core.streams[h] = s
            s.connectWaiter = (waiter, continuation, now + timeout)
            core.noteWaiting(s)
            core.touched = true
        }
        return TCPStream(loop: loop, handle: handle, tuple: tuple)
    }

    /// Up to `maxBytes` bytes, waiting until at least one is available. `[]` means the
    /// peer closed its side (no more bytes will come).
    ///
    /// Throws `.connectionReset`, `.timedOut`, `.closed` (after `close`/`abort`, or when
    /// another read is already pending), `.stackStopped`, or `CancellationError`.
    public func read(maxBytes: Int = 65536) async throws -> [UInt8] {
        let h = handle
        return try await loop.perform { core, waiter, continuation in
            guard let s = core.streams[h], s.reader == nil else {
                continuation.resume(throwing: TCPStreamError.closed)
                return
            }
            s.reader = (waiter, maxBytes, continuation)
            core.serviceRead(s)
            core.noteWaiting(s)
        }
    }

    /// Queues all of `bytes` for sending, suspending while the send buffer is full
    /// (backpressure). Returns once every byte is in the send buffer (not yet acknowledged).
    ///
    /// Throws `.closed` (after `shutdownWrite`/`close`, or a write already pending),
    /// `.connectionReset`, `.timedOut`, `.stackStopped`, or `CancellationError` (the bytes
    /// already queued stay queued).
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        let h = handle
        try await loop.perform { (core, waiter, continuation: CheckedContinuation<Void, any Error>) in
            guard let s = core.streams[h], s.writer == nil else {
                continuation.resume(throwing: TCPStreamError.closed)
                return
            }
            s.writer = (waiter, bytes, 0, continuation)
            core.serviceWrite(s)
            core.noteWaiting(s)
        }
    }

    /// Half-close: a FIN follows the bytes already written; reading goes on.
    public func shutdownWrite() {
        let h = handle
        loop.post { core in
            guard let core, let s = core.streams[h], !s.writeShut else { return }
            s.writeShut = true
            if let w = s.writer { s.writer = nil; w.continuation.resume(throwing: TCPStreamError.closed) }
            s.connection.close(fully: false)
            core.host.wake(h)
        }
    }

    /// Closes the stream: a FIN after the bytes already written (a RST instead when
    /// received bytes were left unread, as RFC 2525 §2.17 and Linux do). Pending reads
    /// and writes fail with `.closed`.
    public func close() {
        let h = handle
        loop.post { core in core?.release(h, abort: false) }
    }

    /// Closes like `close()`, then waits until the peer has acknowledged every byte written
    /// and our FIN (FIN-WAIT-2, TIME-WAIT, or CLOSED normally). Unread received bytes make
    /// it a RST (`.aborted`), as `close()`.
    ///
    /// With `TCPConfiguration.linger` set to N > 0, the connection is reset when that has
    /// not happened N after the call: this throws `.aborted`. Linger `.zero` resets at once
    /// (also `.aborted`). Otherwise throws what ended the connection (`.connectionReset`,
    /// `.timedOut`), `.stackStopped`, or `CancellationError` (the close goes on without the
    /// caller). Pending reads and writes fail with `.closed`.
    public func closeAndWait() async throws {
        let h = handle
        try await loop.perform { (core, waiter, continuation: CheckedContinuation<Void, any Error>) in
            guard let s = core.streams[h], s.closeWaiter == nil else {
                continuation.resume(throwing: TCPStreamError.closed)
                return
            }
            core.failPending(s, with: .closed)
            s.writeShut = true
            s.closeWaiter = (waiter, continuation)
            s.connection.close(fully: true)
            core.host.wake(h)
            core.touched = true
            core.serviceClose(s)
            core.noteWaiting(s)
        }
    }

    /// Resets the connection at once (RST); pending reads and writes fail with `.closed`.
    public func abort() {
        let h = handle
        loop.post { core in core?.release(h, abort: true) }
    }

    /// The connection's RFC 9293 state now (CLOSED once the stream is closed).
    public func state() async -> TCPState {
        let h = handle
        return await loop.query { core in core.streams[h]?.connection.state ?? .closed } ?? .closed
    }

    /// The connection's counters (nil once the stream is closed).
    public func counters() async -> TCPCounters? {
        let h = handle
        return await loop.query { core in core.streams[h]?.connection.counters } ?? nil
    }
}

extension TCPStream {
    /// The received bytes as an `AsyncSequence` of chunks (each at most `maxBytes`), ending
    /// when the peer closes its side; errors as `read`.
    public func chunks(maxBytes: Int = 65536) -> Chunks { Chunks(stream: self, maxBytes: maxBytes) }

    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let stream: TCPStream
        let maxBytes: Int

        public struct AsyncIterator: AsyncIteratorProtocol {
            let stream: TCPStream
            let maxBytes: Int
            var finished = false

            public mutating func next() async throws -> [UInt8]? {
                guard !finished else { return nil }
                let bytes = try await stream.read(maxBytes: maxBytes)
                if bytes.isEmpty { finished = true; return nil }
                return bytes
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream, maxBytes: maxBytes) }
    }
}
