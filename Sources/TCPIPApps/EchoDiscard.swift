// `tcpip serve echo` (RFC 862) and `tcpip serve discard` (RFC 863) as sans-IO state machines.
//
// Backpressure rule for echo: the service owns one ring buffer of `capacity` bytes, allocated
// once. `receiveWindow` says how many bytes it accepts now (capacity minus what still waits to
// be written back). The caller reads at most that many bytes from the connection; at 0 it
// stops reading until the peer has taken some output (`didWrite`). So echo never holds more
// than `capacity` bytes, and a peer that sends without reading is slowed by TCP's own flow
// control (our receive window closes) instead of growing our memory.
//
// Wiring (later, with TCPStream), one loop per connection:
//     while !echo.wantsClose {
//         if echo.receiveWindow > 0 { read at most receiveWindow bytes -> echo.receive(_:), or at EOF echo.receiveEnd() }
//         let n = echo.withPendingOutput { bytes in hand `bytes` to the stream, return how many it took }
//         echo.didWrite(n)
//     }
// `copyPendingOutput(into:)` does the same for a caller that owns a send buffer.

public final class EchoService {
    public let capacity: Int
    private let storage: UnsafeMutableRawBufferPointer
    private var head = 0
    public private(set) var buffered = 0
    public private(set) var inputEnded = false
    /// Bytes accepted from the peer / written back, in total.
    public private(set) var bytesReceived: UInt64 = 0
    public private(set) var bytesSent: UInt64 = 0

    public init(capacity: Int = 64 * 1024) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
        self.storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// How many bytes `receive` accepts now. 0 means: stop reading.
    public var receiveWindow: Int { inputEnded ? 0 : capacity - buffered }

    /// Takes up to `receiveWindow` bytes; returns how many it took (the caller keeps the rest).
    @discardableResult
    public func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, receiveWindow)
        var copied = 0
        while copied < n {
            let tail = (head + buffered) % capacity
            let run = min(n - copied, capacity - tail)
            UnsafeMutableRawBufferPointer(rebasing: storage[tail..<(tail + run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[copied..<(copied + run)]))
            buffered += run
            copied += run
        }
        bytesReceived += UInt64(n)
        return n
    }

    @discardableResult
    public func receive(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// The peer finished sending: echo what is buffered, then close.
    public func receiveEnd() { inputEnded = true }

    /// True when the input ended and everything was echoed: close the connection.
    public var wantsClose: Bool { inputEnded && buffered == 0 }

    /// The oldest contiguous run of bytes waiting to be written (empty when none).
    public func withPendingOutput<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let run = min(buffered, capacity - head)
        return try body(UnsafeRawBufferPointer(rebasing: storage[head..<(head + run)]))
    }

    /// Copies pending output into `destination` and marks it written; returns the byte count.
    public func copyPendingOutput(into destination: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < destination.count && buffered > 0 {
            let run = min(destination.count - done, buffered, capacity - head)
            UnsafeMutableRawBufferPointer(rebasing: destination[done..<(done + run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[head..<(head + run)]))
            didWrite(run)
            done += run
        }
        return done
    }

    /// `n` bytes of the pending output were written.
    public func didWrite(_ n: Int) {
        precondition(n >= 0 && n <= min(buffered, capacity - head), "wrote more than was pending")
        head = (head + n) % capacity
        buffered -= n
        if buffered == 0 { head = 0 }
        bytesSent += UInt64(n)
    }
}

/// Discard: reads everything, writes nothing, counts.
public struct DiscardService: Sendable {
    public private(set) var bytesDiscarded: UInt64 = 0
    public private(set) var inputEnded = false

    public init() {}

    /// Discard never pushes back.
    public var receiveWindow: Int { inputEnded ? 0 : Int.max }

    @discardableResult
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
        bytesDiscarded += UInt64(bytes.count)
        return bytes.count
    }

    @discardableResult
    public mutating func receive(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { receive($0) }
    }

    public mutating func receiveEnd() { inputEnded = true }

    /// True once the peer finished sending.
    public var wantsClose: Bool { inputEnded }
}
