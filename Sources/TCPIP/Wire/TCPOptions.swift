/// One SACK block (RFC 2018 §3): the left edge is the first sequence number of a
/// block of received data, the right edge the one just past its end.
@frozen
public struct SACKBlock: Hashable, Sendable, CustomStringConvertible {
    public var start: SequenceNumber
    public var end: SequenceNumber
    @inlinable public init(start: SequenceNumber, end: SequenceNumber) { self.start = start; self.end = end }
    public var description: String { "\(start.rawValue)-\(end.rawValue)" }
}

/// Up to four SACK blocks held inline (no allocation): the most a 40-byte option
/// space can carry (2 + 4 × 8 = 34 bytes).
@frozen
public struct SACKBlocks: RandomAccessCollection, Hashable, Sendable, CustomStringConvertible {
    public static let capacity = 4
    @usableFromInline var storage: (SACKBlock, SACKBlock, SACKBlock, SACKBlock)
    @usableFromInline var _count: Int
    @inlinable public var count: Int { _count }

    @inlinable public init() {
        let z = SACKBlock(start: SequenceNumber(0), end: SequenceNumber(0))
        storage = (z, z, z, z)
        _count = 0
    }

    public init(_ blocks: some Sequence<SACKBlock>) {
        self.init()
        for b in blocks { append(b) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(i: Int) -> SACKBlock {
        get {
            precondition(i >= 0 && i < count, "SACK block index out of range")
            switch i {
            case 0: return storage.0
            case 1: return storage.1
            case 2: return storage.2
            default: return storage.3
            }
        }
        set {
            precondition(i >= 0 && i < count, "SACK block index out of range")
            switch i {
            case 0: storage.0 = newValue
            case 1: storage.1 = newValue
            case 2: storage.2 = newValue
            default: storage.3 = newValue
            }
        }
    }

    /// Appends a block; returns false (and drops it) when four are held already.
    @discardableResult
    public mutating func append(_ block: SACKBlock) -> Bool {
        guard count < SACKBlocks.capacity else { return false }
        _count += 1
        self[_count - 1] = block
        return true
    }

    public mutating func removeAll() { _count = 0 }

    public static func == (a: SACKBlocks, b: SACKBlocks) -> Bool { a.elementsEqual(b) }
    public func hash(into h: inout Hasher) { for b in self { h.combine(b) } }
    public var description: String { "[" + map(\.description).joined(separator: ", ") + "]" }
}

/// TCP timestamps option (RFC 7323 §3): TSval and TSecr.
@frozen
public struct TCPTimestamps: Hashable, Sendable {
    public var value: UInt32
    public var echoReply: UInt32
    @inlinable public init(value: UInt32, echoReply: UInt32) { self.value = value; self.echoReply = echoReply }
}

/// TCP option kinds (IANA "TCP Option Kind Numbers").
public enum TCPOptionKind {
    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamps: UInt8 = 8
}

/// One TCP option exactly as it appears on the wire, in order. `TCPHeader` keeps a
/// list of these so that any layout (Linux's SYN, padding NOPs, unknown kinds)
/// parses and emits byte for byte.
public enum TCPOption: Hashable, Sendable, CustomStringConvertible {
    case endOfList
    case noOperation
    case maximumSegmentSize(UInt16)
    case windowScale(UInt8)
    case sackPermitted
    case sack(SACKBlocks)
    case timestamps(TCPTimestamps)
    /// Any other kind, with the bytes after its length byte.
    case unknown(kind: UInt8, data: [UInt8])

    /// Bytes this option occupies on the wire.
    public var length: Int {
        switch self {
        case .endOfList, .noOperation: return 1
        case .maximumSegmentSize: return 4
        case .windowScale: return 3
        case .sackPermitted: return 2
        case .sack(let b): return 2 + 8 * b.count
        case .timestamps: return 10
        case .unknown(_, let data): return 2 + data.count
        }
    }

    public var description: String {
        switch self {
        case .endOfList: return "eol"
        case .noOperation: return "nop"
        case .maximumSegmentSize(let m): return "mss \(m)"
        case .windowScale(let s): return "wscale \(s)"
        case .sackPermitted: return "sackOK"
        case .sack(let b): return "sack \(b.count) {" + b.map { "\($0.start.rawValue):\($0.end.rawValue)" }.joined(separator: "}{") + "}"
        case .timestamps(let t): return "TS val \(t.value) ecr \(t.echoReply)"
        case .unknown(let k, let d): return "unknown-\(k) len \(d.count + 2)"
        }
    }

    /// Writes the option at `offset`; returns the offset past it.
    @inlinable
    func write(into b: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        switch self {
        case .endOfList:
            b[offset] = 0
            return offset + 1
        case .noOperation:
            b[offset] = 1
            return offset + 1
        case .maximumSegmentSize(let m):
            b[offset] = TCPOptionKind.maximumSegmentSize; b[offset + 1] = 4
            b.put16(m, at: offset + 2)
            return offset + 4
        case .windowScale(let s):
            b[offset] = TCPOptionKind.windowScale; b[offset + 1] = 3; b[offset + 2] = s
            return offset + 3
        case .sackPermitted:
            b[offset] = TCPOptionKind.sackPermitted; b[offset + 1] = 2
            return offset + 2
        case .sack(let blocks):
            b[offset] = TCPOptionKind.sack; b[offset + 1] = UInt8(2 + 8 * blocks.count)
            var o = offset + 2
            for blk in blocks {
                b.put32(blk.start.rawValue, at: o); b.put32(blk.end.rawValue, at: o + 4)
                o += 8
            }
            return o
        case .timestamps(let t):
            b[offset] = TCPOptionKind.timestamps; b[offset + 1] = 10
            b.put32(t.value, at: offset + 2); b.put32(t.echoReply, at: offset + 6)
            return offset + 10
        case .unknown(let kind, let data):
            b[offset] = kind; b[offset + 1] = UInt8(truncatingIfNeeded: 2 + data.count)
            for (i, x) in data.enumerated() { b[offset + 2 + i] = x }
            return offset + 2 + data.count
        }
    }
}

/// Walks the option bytes of a TCP header (RFC 9293 §3.2) without allocating.
/// Each step yields the kind, the offset of the option and its total length;
/// a malformed length is `WireError.badOptionLength`.
@usableFromInline
struct TCPOptionWalker {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset: Int = 0

    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Next (kind, offset, length), or nil after EOL or at the end.
    @inlinable
    mutating func next() throws(WireError) -> (kind: UInt8, offset: Int, length: Int)? {
        guard offset < bytes.count else { return nil }
        let kind = bytes[offset]
        let start = offset
        switch kind {
        case TCPOptionKind.endOfList:
            offset = bytes.count
            return (kind, start, 1)
        case TCPOptionKind.noOperation:
            offset += 1
            return (kind, start, 1)
        default:
            guard offset + 1 < bytes.count else { throw .badOptionLength }
            let len = Int(bytes[offset + 1])
            guard len >= 2, offset + len <= bytes.count else { throw .badOptionLength }
            switch kind {
            case TCPOptionKind.maximumSegmentSize: guard len == 4 else { throw .badOptionLength }
            case TCPOptionKind.windowScale: guard len == 3 else { throw .badOptionLength }
            case TCPOptionKind.sackPermitted: guard len == 2 else { throw .badOptionLength }
            case TCPOptionKind.timestamps: guard len == 10 else { throw .badOptionLength }
            case TCPOptionKind.sack:
                guard len >= 10, (len - 2) % 8 == 0, (len - 2) / 8 <= SACKBlocks.capacity else { throw .badOptionLength }
            default: break
            }
            offset += len
            return (kind, start, len)
        }
    }
}

/// The options a connection acts on, gathered from a header: what the engine
/// reads on receive and writes on send. No allocation.
@frozen
public struct TCPOptionSet: Hashable, Sendable {
    public var maximumSegmentSize: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted: Bool
    public var timestamps: TCPTimestamps?
    public var sackBlocks: SACKBlocks

    @inlinable public init(maximumSegmentSize: UInt16? = nil, windowScale: UInt8? = nil,
                           sackPermitted: Bool = false, timestamps: TCPTimestamps? = nil,
                           sackBlocks: SACKBlocks = SACKBlocks()) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
        self.sackPermitted = sackPermitted
        self.timestamps = timestamps
        self.sackBlocks = sackBlocks
    }

    /// Reads the options from a header's option bytes. Unknown kinds are skipped by length.
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        self.init()
        var w = TCPOptionWalker(bytes)
        while let (kind, o, len) = try w.next() {
            switch kind {
            case TCPOptionKind.maximumSegmentSize: maximumSegmentSize = bytes.be16(o + 2)
            case TCPOptionKind.windowScale: windowScale = bytes[o + 2]
            case TCPOptionKind.sackPermitted: sackPermitted = true
            case TCPOptionKind.timestamps: timestamps = TCPTimestamps(value: bytes.be32(o + 2), echoReply: bytes.be32(o + 6))
            case TCPOptionKind.sack:
                sackBlocks.removeAll()
                var p = o + 2
                while p < o + len {
                    sackBlocks.append(SACKBlock(start: SequenceNumber(bytes.be32(p)), end: SequenceNumber(bytes.be32(p + 4))))
                    p += 8
                }
            default: break
            }
        }
    }

    /// SACK blocks that fit beside the other options in 40 bytes.
    @inlinable
    var sackBlocksThatFit: Int {
        var used = 0
        if maximumSegmentSize != nil { used += 4 }
        if timestamps != nil || sackPermitted { used += timestamps != nil ? 12 : 4 }
        if windowScale != nil { used += 4 }
        let room = (40 - used - 4) / 8  // NOP NOP kind len, then 8 per block
        return Swift.max(0, Swift.min(room, sackBlocks.count))
    }

    /// Bytes `write(into:at:)` will produce (a multiple of 4).
    @inlinable
    public var encodedLength: Int {
        var n = 0
        if maximumSegmentSize != nil { n += 4 }
        if timestamps != nil { n += 12 } else if sackPermitted { n += 4 }
        if windowScale != nil { n += 4 }
        let k = sackBlocksThatFit
        if k > 0 { n += 4 + 8 * k }
        return n
    }

    /// Writes the options in the layout Linux uses (MSS; SACK-permitted folded into
    /// the timestamps' padding; NOP + window scale; NOP NOP + SACK), always a
    /// multiple of four bytes. Returns the offset past them.
    @inlinable
    public func write(into b: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var o = offset
        if let m = maximumSegmentSize { o = TCPOption.maximumSegmentSize(m).write(into: b, at: o) }
        if let t = timestamps {
            if sackPermitted {
                o = TCPOption.sackPermitted.write(into: b, at: o)
            } else {
                b[o] = 1; b[o + 1] = 1; o += 2
            }
            o = TCPOption.timestamps(t).write(into: b, at: o)
        } else if sackPermitted {
            b[o] = 1; b[o + 1] = 1; o += 2
            o = TCPOption.sackPermitted.write(into: b, at: o)
        }
        if let s = windowScale {
            b[o] = 1; o += 1
            o = TCPOption.windowScale(s).write(into: b, at: o)
        }
        let k = sackBlocksThatFit
        if k > 0 {
            b[o] = 1; b[o + 1] = 1
            b[o + 2] = TCPOptionKind.sack; b[o + 3] = UInt8(2 + 8 * k)
            o += 4
            for i in 0..<k {
                b.put32(sackBlocks[i].start.rawValue, at: o); b.put32(sackBlocks[i].end.rawValue, at: o + 4)
                o += 8
            }
        }
        return o
    }

    /// The same options as an ordered list, in the layout `write` uses.
    public var options: [TCPOption] {
        var out: [TCPOption] = []
        if let m = maximumSegmentSize { out.append(.maximumSegmentSize(m)) }
        if let t = timestamps {
            if sackPermitted { out.append(.sackPermitted) } else { out += [.noOperation, .noOperation] }
            out.append(.timestamps(t))
        } else if sackPermitted {
            out += [.noOperation, .noOperation, .sackPermitted]
        }
        if let s = windowScale { out += [.noOperation, .windowScale(s)] }
        let k = sackBlocksThatFit
        if k > 0 { out += [.noOperation, .noOperation, .sack(SACKBlocks(sackBlocks.prefix(k)))] }
        return out
    }
}
