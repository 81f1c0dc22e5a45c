/// Bytes the user has written and the peer has not yet acknowledged, in a ring.
///
/// Offset 0 is the oldest unacknowledged byte (the byte at SND.UNA); offsets
/// `0 ..< count` are valid. The engine copies segment payloads out with
/// `copy(from:count:into:)` (or reads them in place with `withRegions`), and drops
/// acknowledged bytes with `removeFirst`.
///
/// Memory: nothing is allocated until the first `append`; the ring then grows
/// geometrically (doubling from 2 KiB) up to `capacity`, and is released as soon as
/// the buffer becomes empty (`releasesStorageWhenEmpty`, on by default), so an idle
/// connection holds no buffer memory. An owner that turns that off (a connection in an
/// `IPv4Host`, so request/response traffic does not allocate per message) frees the
/// storage of idle buffers with `releaseStorageIfIdle()` from a periodic timer. Once
/// grown, appends, copies and removals never allocate. Copying the struct is safe: copies share storage until one of them
/// writes, which then copies (copy-on-write), so each copy behaves as a value.
public struct SendBuffer: Sendable {
    @usableFromInline var ring = ByteRing()
    @usableFromInline var _capacity: Int
    @usableFromInline var _count: Int = 0

    /// When true (the default), the storage is freed whenever `count` drops to 0.
    /// A caller that prefers to keep the memory across bursts sets this to false and
    /// calls `releaseStorage()` itself (for example when the connection goes idle).
    public var releasesStorageWhenEmpty: Bool = true

    /// A buffer holding at most `capacity` bytes (the send buffer size).
    public init(capacity: Int) {
        precondition(capacity >= 0, "negative capacity")
        _capacity = capacity
    }

    /// The most bytes the buffer holds. Setting it never drops data: it is raised to
    /// at least `count`; storage larger than the new capacity is shrunk.
    public var capacity: Int {
        get { _capacity }
        set {
            _capacity = Swift.max(newValue, _count)
            if ring.allocated > _capacity {
                if _count == 0 { ring.release() } else { ring.reallocate(to: _capacity, preserve: _count) }
            }
        }
    }

    /// Bytes held (written, not yet acknowledged).
    @inlinable public var count: Int { _count }

    /// Bytes `append` can still take.
    @inlinable public var freeSpace: Int { _capacity - _count }

    @inlinable public var isEmpty: Bool { _count == 0 }

    /// Bytes of heap storage currently allocated for the ring (0 when idle).
    public var allocatedBytes: Int { ring.allocated }

    /// Copies as many of `bytes` as fit; returns how many were taken.
    @discardableResult
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = Swift.min(bytes.count, freeSpace)
        guard n > 0 else { return 0 }
        ring.reserve(_count + n, limit: _capacity, preserve: _count)
        ring.copyIn(UnsafeRawBufferPointer(rebasing: bytes[bytes.startIndex ..< bytes.startIndex + n]), at: _count)
        _count += n
        return n
    }

    /// Copies as many of `bytes` as fit; returns how many were taken.
    @discardableResult
    public mutating func append(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Drops the first `n` bytes (they have been acknowledged). `0 <= n <= count`.
    public mutating func removeFirst(_ n: Int) {
        precondition(n >= 0 && n <= _count, "removeFirst beyond the buffered bytes")
        guard n > 0 else { return }
        _count -= n
        if _count == 0 {
            if releasesStorageWhenEmpty { ring.release() } else { ring.head = 0 }
        } else {
            ring.advance(n)
        }
    }

    /// Drops everything (e.g. on abort) and releases the storage.
    public mutating func removeAll() {
        _count = 0
        ring.release()
    }

    /// Frees the storage if the buffer is empty (for callers that turned
    /// `releasesStorageWhenEmpty` off).
    public mutating func releaseStorage() {
        if _count == 0 { ring.release() }
    }

    /// For callers that turned `releasesStorageWhenEmpty` off, called periodically:
    /// frees the storage when the buffer is empty and nothing was appended since the
    /// previous call (so storage outlives a drain by one to two calling periods).
    /// Returns whether storage is still held.
    @discardableResult
    public mutating func releaseStorageIfIdle() -> Bool {
        ring.releaseIfIdle(empty: _count == 0)
    }

    /// Copies bytes `offset ..< offset+count` into `destination`, across the wrap.
    /// Requires `offset + count <= self.count` and `destination.count >= count`.
    public func copy(from offset: Int, count: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(offset >= 0 && count >= 0 && offset + count <= _count, "copy beyond the buffered bytes")
        precondition(destination.count >= count, "destination too small")
        ring.copyOut(from: offset, count: count, into: destination)
    }

    /// Calls `body` with the one or two contiguous regions holding bytes
    /// `offset ..< offset+count` (the second is empty unless the range wraps), for
    /// zero-copy checksumming or emission. The pointers are valid only inside `body`.
    public func withRegions<R>(from offset: Int, count: Int,
                               _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(offset >= 0 && count >= 0 && offset + count <= _count, "range beyond the buffered bytes")
        return try ring.withRegions(from: offset, count: count, body)
    }
}
