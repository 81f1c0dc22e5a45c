/// CUBIC congestion control (RFC 9438).
///
/// Windows are in bytes outside and in segments (SMSS units) in the CUBIC equations.
/// - Slow start as `NewReno` (ABC, L = 2).
/// - On a congestion event (`onEnterRecovery`, `onRetransmissionTimeout`):
///   fast convergence (§4.7): W_max = cwnd·(1 + β)/2 if cwnd < the previous W_max,
///   else W_max = cwnd; ssthresh = max(FlightSize·β, 2·SMSS) with β = 0.7 (§4.6).
/// - Congestion avoidance starts an epoch at its first ACK (time from `now`):
///   K = ∛((W_max − cwnd_epoch)/C) (0 if cwnd_epoch ≥ W_max, the curve then starting
///   at cwnd_epoch), W_cubic(t) = C·(t − K)³ + W_max with C = 0.4 (§4.2).
///   Each ACK of n segments: W_est += α·n/cwnd with α = 3(1 − β)/(1 + β), or 1 once
///   W_est ≥ the cwnd before the last reduction (§4.3). If W_cubic(t) < W_est the
///   window follows W_est (Reno-friendly region), else it moves towards
///   target = W_cubic(t + SRTT) clamped to [cwnd, 1.5·cwnd] by
///   (target − cwnd)/cwnd per acknowledged segment (§4.4, §4.5). cwnd never
///   shrinks on an ACK.
/// - An idle restart (RFC 5681 §4.1) also ends the epoch, so idle time is not
///   counted in t.
public struct Cubic: CongestionControl, Hashable, Sendable {
    public static let c = 0.4
    public static let beta = 0.7
    public static let alpha = 3 * (1 - beta) / (1 + beta)

    /// cwnd in bytes, fractional so that small per-ACK increments accumulate.
    @usableFromInline var window: Double
    public private(set) var slowStartThreshold: Int
    @usableFromInline var mss: Int
    @usableFromInline var configuredInitialWindow: Int?
    @usableFromInline var atInitialWindow = true

    /// Fast convergence (§4.7), on by default.
    public var fastConvergence = true
    /// W_max, in segments (0 before the first congestion event).
    public private(set) var maximumWindow: Double = 0
    /// cwnd just before the last reduction, in segments (cwnd_prior).
    public private(set) var windowBeforeReduction: Double = 0
    /// Start of the current congestion-avoidance epoch, nil outside one.
    public private(set) var epochStart: Instant?
    /// K of the current epoch, in seconds.
    public private(set) var k: Double = 0
    /// W_max the curve of this epoch plateaus at (max(W_max, cwnd_epoch)), in segments.
    public private(set) var originPoint: Double = 0
    /// W_est, the Reno-friendly estimate, in segments.
    public private(set) var renoEstimate: Double = 0

    public init(maximumSegmentSize: Int, initialWindow: Int? = nil) {
        mss = Swift.max(1, maximumSegmentSize)
        configuredInitialWindow = initialWindow
        window = Double(initialWindow ?? CongestionWindow.initialWindow(maximumSegmentSize: mss))
        slowStartThreshold = CongestionWindow.initialSlowStartThreshold
    }

    public var congestionWindow: Int { Int(window) }

    /// SMSS. Changing it before any congestion event recomputes the initial window.
    public var maximumSegmentSize: Int {
        get { mss }
        set {
            mss = Swift.max(1, newValue)
            if atInitialWindow { window = Double(initialWindow) }
        }
    }

    public var initialWindow: Int { configuredInitialWindow ?? CongestionWindow.initialWindow(maximumSegmentSize: mss) }

    /// ∛x without Foundation: Newton's iteration from a power-of-two first guess.
    public static func cubeRoot(_ x: Double) -> Double {
        guard x.isFinite, x != 0 else { return x }
        let m = Swift.abs(x)
        var y = Double(sign: .plus, exponent: m.exponent / 3, significand: 1)
        for _ in 0 ..< 100 {
            let next = y - (y * y * y - m) / (3 * y * y)
            if Swift.abs(next - y) <= 1e-15 * next { y = next; break }
            y = next
        }
        return x < 0 ? -y : y
    }

    /// W_cubic(t) for the current epoch, in segments (RFC 9438 eq. 1).
    public func cubicWindow(at t: Duration) -> Double {
        let s = Double(t.nanosecondsClamped) / 1e9 - k
        return Cubic.c * s * s * s + originPoint
    }

    public mutating func onAck(ackedBytes: Int, flightSize: Int, now: Instant, smoothedRTT: Duration?) {
        guard ackedBytes > 0 else { return }
        atInitialWindow = false
        if congestionWindow < slowStartThreshold {
            window += Double(Swift.min(ackedBytes, 2 * mss))
            return
        }
        let smss = Double(mss)
        var cwnd = window / smss
        if epochStart == nil {
            epochStart = now
            renoEstimate = cwnd
            if cwnd < maximumWindow {
                k = Cubic.cubeRoot((maximumWindow - cwnd) / Cubic.c)
                originPoint = maximumWindow
            } else {
                k = 0
                originPoint = cwnd
            }
        }
        let acked = Double(ackedBytes) / smss
        let t = now - epochStart!
        let a = renoEstimate >= windowBeforeReduction ? 1.0 : Cubic.alpha
        renoEstimate += a * acked / cwnd
        let wCubic = cubicWindow(at: t > .zero ? t : .zero)
        if wCubic < renoEstimate {
            cwnd = Swift.max(cwnd, renoEstimate)
        } else {
            let rtt = smoothedRTT ?? .zero
            let target = Swift.min(Swift.max(cubicWindow(at: (t > .zero ? t : .zero) + rtt), cwnd), 1.5 * cwnd)
            cwnd += (target - cwnd) / cwnd * acked
        }
        window = cwnd * smss
    }

    /// The multiplicative decrease shared by loss detection and timeouts.
    mutating func reduce(flightSize: Int) {
        atInitialWindow = false
        let cwnd = window / Double(mss)
        epochStart = nil
        windowBeforeReduction = cwnd
        if fastConvergence && cwnd < maximumWindow {
            maximumWindow = cwnd * (1 + Cubic.beta) / 2
        } else {
            maximumWindow = cwnd
        }
        // FlightSize·β in integers (β = 0.7 = 7/10), so that 90 000 gives 63 000, not 62 999.
        slowStartThreshold = Swift.max(flightSize / 10 * 7 + flightSize % 10 * 7 / 10, 2 * mss)
    }

    public mutating func onEnterRecovery(flightSize: Int, now: Instant) {
        reduce(flightSize: flightSize)
        window = Double(slowStartThreshold)
    }

    public mutating func onExitRecovery(flightSize: Int, now: Instant) {
        atInitialWindow = false
        window = Double(CongestionWindow.exitRecoveryWindow(ssthresh: slowStartThreshold, flightSize: flightSize, mss: mss))
        epochStart = nil
    }

    public mutating func onRetransmissionTimeout(flightSize: Int, now: Instant) {
        reduce(flightSize: flightSize)
        window = Double(mss)
    }

    public mutating func onIdleRestart(now: Instant) {
        window = Swift.min(Double(initialWindow), window)
        epochStart = nil
    }

    public mutating func inflate(by bytes: Int) {
        guard bytes > 0 else { return }
        atInitialWindow = false
        window += Double(bytes)
    }

    public mutating func deflate(by bytes: Int) {
        guard bytes > 0 else { return }
        atInitialWindow = false
        window = Swift.max(Double(mss), window - Double(bytes))
    }
}
