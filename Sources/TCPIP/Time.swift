/// A point in monotonic time, in nanoseconds since an arbitrary origin.
///
/// The core never reads a clock: every call that needs the time takes an `Instant`
/// argument (a `VirtualClock` in simulations and tests, the runtime's monotonic
/// clock on real links). Durations are Swift's `Duration`.
@frozen
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.nanosecondsClamped)
    }

    @inlinable public static func - (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &- d.nanosecondsClamped)
    }

    @inlinable public static func += (a: inout Instant, d: Duration) { a = a + d }

    /// The time from `b` to `a`.
    @inlinable public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds &- b.nanoseconds)
    }

    /// Milliseconds since the origin, wrapping: the clock for TCP timestamps (RFC 7323 §5.4).
    @inlinable public var milliseconds: UInt32 { UInt32(truncatingIfNeeded: nanoseconds / 1_000_000) }

    /// Seconds since the origin, for printing.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Seconds with six decimals ("12.000345"; "-0.000002" before the origin).
    public var description: String {
        let us = nanoseconds / 1000
        let magnitude = us.magnitude
        let frac = String(magnitude % 1_000_000)
        let sign = us < 0 ? "-" : ""
        return sign + "\(magnitude / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}

extension Duration {
    /// The duration in nanoseconds, clamped to Int64.
    @inlinable public var nanosecondsClamped: Int64 {
        let (s, atto) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? .min : .max }
        let (r, o2) = ns.addingReportingOverflow(atto / 1_000_000_000)
        return o2 ? (ns < 0 ? .min : .max) : r
    }
}
