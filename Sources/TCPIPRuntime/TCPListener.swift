import TCPIP

/// A listening port. `accept()` takes the next established connection; the listener is
/// also an `AsyncSequence` of them (ending when the listener or the stack is closed).
///
/// Dropping the last reference stops listening like `close()`.
public final class TCPListener: Sendable, AsyncSequence {
    public typealias Element = TCPStream

    let loop: EventLoop
    public let port: UInt16
    public let address: IPv4Address
    /// This binding of the port (see `ListenerState.token`).
    let token: UInt64

    init(loop: EventLoop, port: UInt16, token: UInt64, address: IPv4Address) {
        self.loop = loop
        self.port = port
        self.token = token
        self.address = address
    }

    deinit {
        let (p, t) = (port, token)
        loop.post { core in core?.stopListening(port: p, token: t) }
    }

    /// The oldest connection that finished its handshake, waiting for one if none has.
    /// Throws `.closed` once the listener is closed, `.stackStopped`, or `CancellationError`.
    public func accept() async throws -> TCPStream {
        let (port, token) = (self.port, self.token)
        let (handle, tuple): (ConnectionHandle, FourTuple) = try await loop.perform { core, waiter, continuation in
            guard let l = core.listeners[port], l.token == token else {
                continuation.resume(throwing: TCPStreamError.closed)
                return
            }
            l.waiters.append((waiter, continuation))
            core.dispatch(now: MonotonicClock.now())
        }
        return TCPStream(loop: loop, handle: handle, tuple: tuple)
    }

    /// Stops listening: pending `accept` calls fail with `.closed`; connections spawned
    /// and not yet accepted are reset. Accepted streams are not affected.
    public func close() {
        let (p, t) = (port, token)
        loop.post { core in core?.stopListening(port: p, token: t) }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listener: TCPListener

        /// The next connection; nil once the listener or the stack is closed.
        public mutating func next() async throws -> TCPStream? {
            do {
                return try await listener.accept()
            } catch let e as TCPStreamError where e == .closed || e == .stackStopped {
                return nil
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listener: self) }
}
