/// A TCP sequence number: a point in the 32-bit circular sequence space (RFC 9293 §3.4).
///
/// Arithmetic wraps. Comparison is modular: `a < b` means that `b` lies less than
/// 2^31 ahead of `a`, i.e. `Int32(bitPattern: a &- b) < 0`. That order is not
/// transitive over the whole circle, so the type deliberately does not conform to
/// `Comparable`; it offers the operators the RFC uses and nothing that would let a
/// sorted collection silently misbehave. Never compare `rawValue`s directly.
@frozen
public struct SequenceNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    // MARK: arithmetic

    /// Advances by `n` bytes of sequence space (negative moves back), wrapping.
    @inlinable @inline(__always)
    public static func + (a: SequenceNumber, n: Int) -> SequenceNumber {
        SequenceNumber(a.rawValue &+ UInt32(truncatingIfNeeded: n))
    }

    @inlinable @inline(__always)
    public static func - (a: SequenceNumber, n: Int) -> SequenceNumber {
        SequenceNumber(a.rawValue &- UInt32(truncatingIfNeeded: n))
    }

    @inlinable @inline(__always)
    public static func += (a: inout SequenceNumber, n: Int) { a = a + n }

    @inlinable @inline(__always)
    public static func -= (a: inout SequenceNumber, n: Int) { a = a - n }

    /// The signed distance from `b` to `a` (how far `a` is ahead of `b`), in -2^31 ..< 2^31.
    @inlinable @inline(__always)
    public static func - (a: SequenceNumber, b: SequenceNumber) -> Int {
        Int(Int32(bitPattern: a.rawValue &- b.rawValue))
    }

    /// Bytes from `self` forward to `other`, treating the space as a circle: always in 0 ..< 2^32.
    @inlinable @inline(__always)
    public func distance(forwardTo other: SequenceNumber) -> UInt32 { other.rawValue &- rawValue }

    // MARK: modular comparison (RFC 9293 §3.4)

    @inlinable @inline(__always)
    public static func < (a: SequenceNumber, b: SequenceNumber) -> Bool {
        Int32(bitPattern: a.rawValue &- b.rawValue) < 0
    }

    @inlinable @inline(__always)
    public static func <= (a: SequenceNumber, b: SequenceNumber) -> Bool {
        Int32(bitPattern: a.rawValue &- b.rawValue) <= 0
    }

    @inlinable @inline(__always)
    public static func > (a: SequenceNumber, b: SequenceNumber) -> Bool { b < a }

    @inlinable @inline(__always)
    public static func >= (a: SequenceNumber, b: SequenceNumber) -> Bool { b <= a }

    /// The later of two sequence numbers in modular order.
    @inlinable
    public static func max(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { a < b ? b : a }

    /// The earlier of two sequence numbers in modular order.
    @inlinable
    public static func min(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { a < b ? a : b }

    /// `lower <= self < upper`, the half-open window test used throughout RFC 9293 §3.10.7.
    /// An empty window (`lower == upper`) contains nothing.
    @inlinable @inline(__always)
    public func isIn(_ lower: SequenceNumber, _ upper: SequenceNumber) -> Bool {
        // Distance from lower strictly less than the window's size.
        rawValue &- lower.rawValue < upper.rawValue &- lower.rawValue
    }

    /// `lower <= self <= upper`, measured forward from `lower`.
    @inlinable @inline(__always)
    public func isInClosed(_ lower: SequenceNumber, _ upper: SequenceNumber) -> Bool {
        rawValue &- lower.rawValue <= upper.rawValue &- lower.rawValue
    }
}
