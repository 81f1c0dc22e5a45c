/// Heap storage for the byte rings of `SendBuffer` and `ReceiveBuffer`: one
/// allocation (header + bytes) holding `size` bytes. The header is the size.
@usableFromInline
final class ByteRingStorage: ManagedBuffer<Int, UInt8> {
    @usableFromInline
    static func make(size: Int) -> ByteRingStorage {
        // One allocation; the downcast only happens when a ring grows.
        unsafeDowncast(ByteRingStorage.create(minimumCapacity: size) { _ in size }, to: ByteRingStorage.self)
    }
}

/// The circular byte store shared by the send and receive buffers.
///
/// Logical offset 0 is the byte at `head`; offsets wrap modulo the allocated size.
/// Storage is allocated lazily, grows geometrically (never beyond `limit`) and can be
/// released; copies of the struct share storage until one of them writes
/// (copy-on-write through `isKnownUniquelyReferenced`), so a copy never corrupts
/// another and never crashes.
@usableFromInline
struct ByteRing: @unchecked Sendable {  // copy-on-write: shared storage is never written while shared
    /// The smallest allocation the ring makes (bytes), unless the limit is smaller.
    @usableFromInline static let minimumAllocation = 2048

    @usableFromInline var storage: ByteRingStorage?
    /// Bytes in `storage` (0 without storage); kept here so hot paths never read the
    /// class's header (a dynamically checked access).
    @usableFromInline var size: Int = 0
    /// Physical index of logical offset 0.
    @usableFromInline var head: Int = 0
    /// The size of the last released allocation: the next allocation starts there,
    /// so a connection whose buffer drains and refills (a receiver that reads
    /// everything, a sender between bursts) pays one allocation per refill, not
    /// one per doubling step.
    @usableFromInline var lastSize: Int = 0
    /// Set by `reserve` (every append or insert); cleared by `releaseIfIdle`.
    @usableFromInline var used = false

    @inlinable init() {}

    /// Bytes currently allocated (0 when released).
    @inlinable var allocated: Int { size }

    @inlinable mutating func release() {
        if storage != nil { lastSize = size }
        storage = nil
        size = 0
        head = 0
    }

    /// Frees the storage when the ring is `empty` and nothing was reserved since the
    /// previous call; returns whether storage is still held.
    @inlinable
    mutating func releaseIfIdle(empty: Bool) -> Bool {
        defer { used = false }
        guard storage != nil else { return false }
        if empty && !used { release(); return false }
        return true
    }

    /// Makes sure logical offsets `0 ..< needed` are backed by storage, growing
    /// geometrically up to `limit`; bytes in `0 ..< preserve` keep their logical
    /// offsets. Also makes the storage unique (copy-on-write). `needed <= limit`.
    @inlinable
    mutating func reserve(_ needed: Int, limit: Int, preserve: Int) {
        used = true
        let size = allocated
        if needed <= size {
            if !isKnownUniquelyReferenced(&storage) { reallocate(to: size, preserve: preserve) }
            return
        }
        var newSize = Swift.max(size * 2, ByteRing.minimumAllocation, size == 0 ? lastSize : 0)
        while newSize < needed { newSize *= 2 }
        reallocate(to: Swift.min(newSize, Swift.max(limit, needed)), preserve: preserve)
    }

    /// Moves the first `preserve` logical bytes into a fresh allocation of `newSize`
    /// bytes, linearised at physical 0.
    @usableFromInline
    mutating func reallocate(to newSize: Int, preserve: Int) {
        precondition(preserve <= newSize)
        let fresh = ByteRingStorage.make(size: newSize)
        if preserve > 0, let old = storage {
            fresh.withUnsafeMutablePointerToElements { dst in
                copyOut(from: 0, count: preserve, into: UnsafeMutableRawBufferPointer(start: dst, count: preserve), storage: old, size: size)
            }
        }
        storage = fresh
        size = newSize
        head = 0
    }

    /// Copies logical `offset ..< offset+count` into `destination` (which holds at least `count` bytes).
    @inlinable
    func copyOut(from offset: Int, count: Int, into destination: UnsafeMutableRawBufferPointer) {
        guard count > 0, let s = storage else { return }
        copyOut(from: offset, count: count, into: destination, storage: s, size: size)
    }

    @inlinable
    func copyOut(from offset: Int, count: Int, into destination: UnsafeMutableRawBufferPointer, storage s: ByteRingStorage, size: Int) {
        guard count > 0, let out = destination.baseAddress else { return }
        var start = head + offset
        if start >= size { start -= size }
        let first = Swift.min(count, size - start)
        s.withUnsafeMutablePointerToElements { base in
            out.copyMemory(from: base + start, byteCount: first)
            if first < count { (out + first).copyMemory(from: base, byteCount: count - first) }
        }
    }

    /// Copies `bytes` to logical `offset ..< offset+bytes.count`; the storage must
    /// already back that range and be unique (`reserve`).
    @inlinable
    func copyIn(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        guard let src = bytes.baseAddress, bytes.count > 0, let s = storage else { return }
        let count = bytes.count
        var start = head + offset
        if start >= size { start -= size }
        let first = Swift.min(count, size - start)
        s.withUnsafeMutablePointerToElements { base in
            (base + start).initialize(from: src.assumingMemoryBound(to: UInt8.self), count: first)
            if first < count { base.initialize(from: (src + first).assumingMemoryBound(to: UInt8.self), count: count - first) }
        }
    }

    /// The (at most two) contiguous regions holding logical `offset ..< offset+count`.
    @inlinable
    func withRegions<R>(from offset: Int, count: Int,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard count > 0, let s = storage else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
        }
        var start = head + offset
        if start >= size { start -= size }
        let first = Swift.min(count, size - start)
        return try s.withUnsafeMutablePointerToElements { base in
            try body(UnsafeRawBufferPointer(start: base + start, count: first),
                     UnsafeRawBufferPointer(start: first < count ? base : nil, count: count - first))
        }
    }

    /// Moves logical offset 0 forward by `n` bytes.
    @inlinable
    mutating func advance(_ n: Int) {
        let size = allocated
        guard size > 0 else { return }
        head += n
        if head >= size { head -= size }
    }
}
