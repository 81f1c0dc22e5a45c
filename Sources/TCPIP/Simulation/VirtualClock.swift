/// Simulated time for tests and simulations: it moves only when told to.
///
/// Every sans-IO call takes `now`; a simulation reads it from here, so a run is
/// deterministic and as fast as the CPU allows, however long the virtual time.
public struct VirtualClock: Sendable, Hashable {
    public var now: Instant

    public init(now: Instant = .zero) { self.now = now }

    /// Moves the clock forward to `instant`; an instant in the past leaves it where it is
    /// (time never runs backwards).
    public mutating func advance(to instant: Instant) {
        if now < instant { now = instant }
    }

    /// Moves the clock forward by `duration` (a negative duration does nothing).
    public mutating func advance(by duration: Duration) {
        advance(to: now + duration)
    }
}
