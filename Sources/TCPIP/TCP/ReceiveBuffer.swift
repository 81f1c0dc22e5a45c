/// What `ReceiveBuffer.insert` did with one segment's payload.
public struct ReceiveInsertResult: Hashable, Sendable, CustomStringConvertible {
    /// In-order bytes gained: RCV.NXT moves forward by this much (this segment plus
    /// any out-of-order data it joined up with).
    public var advanced: Int
    /// Bytes of this segment newly stored (in order or out of order).
    public var stored: Int
    /// Bytes of this segment already held (or already read: below RCV.NXT).
    public var duplicate: Int
    /// Bytes of this segment discarded: beyond the window (`freeSpace` from RCV.NXT)
    /// or, for a new out-of-order range, past the range limit.
    public var dropped: Int
    /// The segment stored new bytes below the end of previously held out-of-order
    /// data, i.e. it filled all or part of a gap (RFC 5681 §4.2: ACK at once).
    public var filledGap: Bool

    public init(advanced: Int = 0, stored: Int = 0, duplicate: Int = 0, dropped: Int = 0, filledGap: Bool = false) {
        self.advanced = advanced
        self.stored = stored
        self.duplicate = duplicate
        self.dropped = dropped
        self.filledGap = filledGap
    }

    public var description: String {
        "advanced \(advanced) stored \(stored) duplicate \(duplicate) dropped \(dropped)" + (filledGap ? " filledGap" : "")
    }
}

/// One run of out-of-order bytes held in the ring, as offsets from RCV.NXT.
@usableFromInline
struct OutOfOrderRange: Hashable, Sendable {
    @usableFromInline var start: Int
    @usableFromInline var end: Int
    /// Larger is more recent: orders SACK blocks (RFC 2018 §4).
    @usableFromInline var stamp: UInt64
}

/// The receive side's bytes: in-order data waiting for `read`, and out-of-order
/// data (reassembly) stored in place in the same ring at its final position.
///
/// Layout, from the oldest unread byte: `readable` in-order bytes, then RCV.NXT,
/// then up to `freeSpace` bytes of window in which out-of-order ranges sit. At
/// most `maxOutOfOrderRanges` disjoint ranges are kept, all inside the capacity:
/// the memory never exceeds `capacity` bytes (plus the small range table).
///
/// Memory: like `SendBuffer`, the ring is allocated lazily, grows geometrically up
/// to `capacity`, and is released when nothing is readable and nothing is held out
/// of order (`releasesStorageWhenEmpty`), or, with that off, by a periodic
/// `releaseStorageIfIdle()` once it stayed empty for a period. Copies are
/// independent (copy-on-write).
public struct ReceiveBuffer: Sendable {
    @usableFromInline var ring = ByteRing()
    @usableFromInline var _capacity: Int
    public let maxOutOfOrderRanges: Int
    @usableFromInline var _readable: Int = 0
    /// Sorted by start, disjoint and never adjacent; every start > 0.
    @usableFromInline var ranges: [OutOfOrderRange] = []
    @usableFromInline var _outOfOrderBytes: Int = 0
    @usableFromInline var clock: UInt64 = 0

    /// When true (the default), the storage is freed whenever the buffer holds no
    /// bytes at all. See `SendBuffer.releasesStorageWhenEmpty`.
    public var releasesStorageWhenEmpty: Bool = true

    public init(capacity: Int, maxOutOfOrderRanges: Int = 16) {
        precondition(capacity >= 0 && maxOutOfOrderRanges >= 0)
        _capacity = capacity
        self.maxOutOfOrderRanges = maxOutOfOrderRanges
    }

    /// The most bytes held (readable plus window). Setting it never drops data: it is
    /// raised to cover what is held.
    public var capacity: Int {
        get { _capacity }
        set {
            let held = _readable + (ranges.last?.end ?? 0)
            _capacity = Swift.max(newValue, held)
            if ring.allocated > _capacity {
                if held == 0 { ring.release() } else { ring.reallocate(to: _capacity, preserve: held) }
            }
        }
    }

    /// In-order bytes waiting for `read`.
    @inlinable public var readable: Int { _readable }
    /// `capacity - readable`: the window the receiver may offer from RCV.NXT
    /// (out-of-order data lies inside it).
    @inlinable public var freeSpace: Int { _capacity - _readable }
    /// Bytes held beyond RCV.NXT.
    @inlinable public var outOfOrderBytes: Int { _outOfOrderBytes }
    /// Disjoint out-of-order ranges held.
    @inlinable public var outOfOrderRangeCount: Int { ranges.count }
    /// Bytes of heap storage currently allocated for the ring (0 when idle).
    public var allocatedBytes: Int { ring.allocated }

    /// Stores a segment's payload whose first byte lies `offset` bytes after RCV.NXT
    /// (negative: that many bytes were received already and are ignored). Bytes at or
    /// past `freeSpace` from RCV.NXT are cut; a segment that would start a new
    /// out-of-order range when `maxOutOfOrderRanges` are held is dropped whole.
    public mutating func insert(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> ReceiveInsertResult {
        var result = ReceiveInsertResult()
        var n = bytes.count
        var src = 0
        var s = offset
        if s < 0 {
            if s <= -n { result.duplicate = n; return result }
            result.duplicate = -s
            src = -s
            n += s
            s = 0
        }
        guard n > 0 else { return result }
        let window = freeSpace
        if s >= window { result.dropped += n; return result }
        if n > window - s {
            result.dropped += n - (window - s)
            n = window - s
        }
        let e = s + n

        // Ranges that overlap or touch [s, e): lo ..< hi.
        var lo = 0
        while lo < ranges.count && ranges[lo].end < s { lo += 1 }
        var hi = lo
        var held = 0
        while hi < ranges.count && ranges[hi].start <= e {
            held += Swift.max(0, Swift.min(ranges[hi].end, e) - Swift.max(ranges[hi].start, s))
            hi += 1
        }
        if s > 0 && lo == hi && ranges.count >= maxOutOfOrderRanges {
            result.dropped += n
            return result
        }
        let stored = n - held
        result.duplicate += held
        result.stored = stored
        let lastEnd = ranges.last?.end ?? 0
        result.filledGap = stored > 0 && s < lastEnd

        // Copy the parts of [s, e) not held yet into their final place.
        if stored > 0 {
            if ranges.isEmpty { ranges.reserveCapacity(maxOutOfOrderRanges) }
            ring.reserve(_readable + Swift.max(e, lastEnd), limit: _capacity, preserve: _readable + lastEnd)
            var cursor = s
            func copy(_ a: Int, _ b: Int) {
                guard b > a else { return }
                ring.copyIn(UnsafeRawBufferPointer(rebasing: bytes[(bytes.startIndex + src + a - s) ..< (bytes.startIndex + src + b - s)]),
                            at: _readable + a)
            }
            for i in lo ..< hi {
                copy(cursor, Swift.min(ranges[i].start, e))
                cursor = Swift.max(cursor, ranges[i].end)
            }
            copy(cursor, e)
        }

        // Merge [s, e) with the ranges it touches.
        var mergedStart = s, mergedEnd = e
        if lo < hi {
            mergedStart = Swift.min(s, ranges[lo].start)
            mergedEnd = Swift.max(e, ranges[hi - 1].end)
            for i in lo ..< hi { _outOfOrderBytes -= ranges[i].end - ranges[i].start }
        }
        if mergedStart == 0 {
            // In order: RCV.NXT moves past everything that is now contiguous.
            ranges.removeSubrange(lo ..< hi)
            for i in ranges.indices {
                ranges[i].start -= mergedEnd
                ranges[i].end -= mergedEnd
            }
            _readable += mergedEnd
            result.advanced = mergedEnd
        } else {
            clock &+= 1
            let merged = OutOfOrderRange(start: mergedStart, end: mergedEnd, stamp: clock)
            if lo < hi {
                ranges[lo] = merged
                ranges.removeSubrange(lo + 1 ..< hi)
            } else {
                ranges.insert(merged, at: lo)
            }
            _outOfOrderBytes += mergedEnd - mergedStart
        }
        return result
    }

    /// Stores a segment's payload given as an array (convenience for tests and tools).
    public mutating func insert(_ bytes: [UInt8], at offset: Int) -> ReceiveInsertResult {
        bytes.withUnsafeBytes { insert($0, at: offset) }
    }

    /// Moves up to `destination.count` in-order bytes out; returns how many.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let n = Swift.min(destination.count, _readable)
        guard n > 0 else { return 0 }
        ring.copyOut(from: 0, count: n, into: destination)
        discard(n)
        return n
    }

    /// Drops `n` in-order bytes without copying them (`n <= readable`).
    public mutating func discard(_ n: Int) {
        precondition(n >= 0 && n <= _readable, "discard beyond the readable bytes")
        guard n > 0 else { return }
        _readable -= n
        if _readable == 0 && ranges.isEmpty {
            if releasesStorageWhenEmpty { ring.release() } else { ring.head = 0 }
        } else {
            ring.advance(n)
        }
    }

    /// Copies readable bytes `offset ..< offset+count` without consuming them (peek).
    public func copy(from offset: Int, count: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(offset >= 0 && count >= 0 && offset + count <= _readable, "copy beyond the readable bytes")
        precondition(destination.count >= count, "destination too small")
        ring.copyOut(from: offset, count: count, into: destination)
    }

    /// Calls `body` with the one or two regions holding readable bytes
    /// `offset ..< offset+count` (zero-copy read; then `discard`).
    public func withReadableRegions<R>(from offset: Int = 0, count: Int,
                                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(offset >= 0 && count >= 0 && offset + count <= _readable, "range beyond the readable bytes")
        return try ring.withRegions(from: offset, count: count, body)
    }

    /// Forgets everything (abort) and releases the storage.
    public mutating func removeAll() {
        _readable = 0
        _outOfOrderBytes = 0
        ranges.removeAll(keepingCapacity: true)
        ring.release()
    }

    /// Frees the storage if nothing is held (for callers that turned
    /// `releasesStorageWhenEmpty` off).
    public mutating func releaseStorage() {
        if _readable == 0 && ranges.isEmpty { ring.release() }
    }

    /// For callers that turned `releasesStorageWhenEmpty` off, called periodically:
    /// frees the storage when nothing is held and nothing was stored since the previous
    /// call. Returns whether storage is still held.
    @discardableResult
    public mutating func releaseStorageIfIdle() -> Bool {
        ring.releaseIfIdle(empty: _readable == 0 && ranges.isEmpty)
    }

    /// The SACK blocks to send (RFC 2018 §4): first the range holding the most
    /// recently received segment, then the other ranges, most recent first; at most
    /// `min(limit, 4)` blocks. `rcvNxt` turns offsets into sequence numbers.
    public func sackBlocks(rcvNxt: SequenceNumber, limit: Int) -> SACKBlocks {
        sackBlocks(rcvNxt: rcvNxt, limit: limit, dsack: nil)
    }

    /// The SACK blocks with a D-SACK first (RFC 2883 §4): `dsack` names duplicate
    /// bytes just received (below RCV.NXT, or inside held out-of-order data). It is
    /// followed by the out-of-order range containing it, if any, then the other
    /// ranges most recent first; at most `min(limit, 4)` blocks in all.
    public func sackBlocks(rcvNxt: SequenceNumber, limit: Int, dsack: SACKBlock?) -> SACKBlocks {
        var out = SACKBlocks()
        let limit = Swift.min(limit, SACKBlocks.capacity)
        guard limit > 0 else { return out }
        var skip = -1
        if let d = dsack {
            out.append(d)
            if out.count < limit {
                for i in ranges.indices {
                    let r = SACKBlock(start: rcvNxt + ranges[i].start, end: rcvNxt + ranges[i].end)
                    if r.start <= d.start && d.end <= r.end {
                        out.append(r)
                        skip = i
                        break
                    }
                }
            }
        }
        var below = UInt64.max
        while out.count < limit {
            var best = -1
            for i in ranges.indices where i != skip && ranges[i].stamp < below
                && (best < 0 || ranges[i].stamp > ranges[best].stamp) {
                best = i
            }
            guard best >= 0 else { break }
            below = ranges[best].stamp
            out.append(SACKBlock(start: rcvNxt + ranges[best].start, end: rcvNxt + ranges[best].end))
        }
        return out
    }
}
