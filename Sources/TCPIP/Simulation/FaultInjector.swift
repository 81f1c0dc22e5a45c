/// What a simulated link does to the packets crossing it, in one direction.
///
/// Text form (the shared CLI syntax, also `description`): comma-separated
/// `key=value` items, any order, each key at most once:
///
///     loss=2%,delay=10ms,jitter=5ms,reorder=25%,duplicate=1%,corrupt=0.1%,rate=100mbit
///
/// | key | value | meaning |
/// |---|---|---|
/// | `loss` | percent | packet dropped |
/// | `delay` | duration | added to every packet (after serialisation) |
/// | `jitter` | duration | uniform extra delay in −jitter…+jitter (never before departure); reorders |
/// | `reorder` | percent | packet held back and delivered right behind the next one |
/// | `reorder-hold` | duration | how long a held packet waits for a next one (default 10ms) |
/// | `duplicate` | percent | packet delivered twice |
/// | `corrupt` | percent | ONE random bit flipped (always caught by the Internet checksum) |
/// | `corrupt-bytes` | percent | 1–4 random bytes overwritten with different values |
/// | `rate` | bit/s (`bit`, `kbit`, `mbit`, `gbit`) | serialisation delay; packets queue behind each other |
/// | `queue` (or `limit`) | packets | most packets held by the direction at once; more are tail-dropped |
///
/// Percents are `N%` (0…100) or a bare fraction 0…1; durations take `ns`, `us`,
/// `ms` or `s` (a bare `0` is zero). Numbers may have a fractional part.
public struct FaultConfiguration: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Probability (0…1) that a packet is lost.
    public var loss: Double
    public var delay: Duration
    public var jitter: Duration
    /// Probability (0…1) that a packet is held back behind the next one.
    public var reorder: Double
    /// How long a held-back packet waits for a next packet before it goes anyway.
    public var reorderHold: Duration
    /// Probability (0…1) that a packet is delivered twice.
    public var duplicate: Double
    /// Probability (0…1) that one bit of a delivered copy is flipped.
    public var corrupt: Double
    /// Probability (0…1) that 1–4 bytes of a delivered copy are overwritten.
    public var corruptBytes: Double
    /// Line rate in bit/s; 0 means no serialisation delay.
    public var rate: Int64
    /// Most packets the direction holds at once (queued, in flight or held back); 0 means no limit.
    public var queueLimit: Int

    public static let defaultReorderHold: Duration = .milliseconds(10)

    public init(loss: Double = 0, delay: Duration = .zero, jitter: Duration = .zero, reorder: Double = 0,
                reorderHold: Duration = FaultConfiguration.defaultReorderHold, duplicate: Double = 0,
                corrupt: Double = 0, corruptBytes: Double = 0, rate: Int64 = 0, queueLimit: Int = 0) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.reorder = reorder
        self.reorderHold = reorderHold
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.corruptBytes = corruptBytes
        self.rate = rate
        self.queueLimit = queueLimit
    }

    /// A perfect link: no loss, no delay, no limit.
    public static let none = FaultConfiguration()

    public var isNone: Bool { self == .none }

    /// Parses the text form; the empty string (or "none") is a perfect link.
    public init(parsing text: some StringProtocol) throws(FaultSyntaxError) {
        self.init()
        let trimmed = text.trimmingSpaces
        if trimmed.isEmpty || trimmed == "none" { return }
        var seen: Set<String> = []
        for rawItem in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let item = rawItem.trimmingSpaces
            guard !item.isEmpty else { throw .emptyItem }
            guard let eq = item.firstIndex(of: "=") else { throw .missingValue(key: String(item)) }
            var key = item[..<eq].trimmingSpaces.lowercased()
            let value = item[item.index(after: eq)...].trimmingSpaces
            if key == "limit" { key = "queue" }
            guard !value.isEmpty else { throw .missingValue(key: key) }
            guard seen.insert(key).inserted else { throw .duplicateKey(key) }
            switch key {
            case "loss": loss = try Self.parseProbability(key, value)
            case "delay": delay = try Self.parseDuration(key, value)
            case "jitter": jitter = try Self.parseDuration(key, value)
            case "reorder": reorder = try Self.parseProbability(key, value)
            case "reorder-hold": reorderHold = try Self.parseDuration(key, value)
            case "duplicate": duplicate = try Self.parseProbability(key, value)
            case "corrupt": corrupt = try Self.parseProbability(key, value)
            case "corrupt-bytes": corruptBytes = try Self.parseProbability(key, value)
            case "rate": rate = try Self.parseRate(key, value)
            case "queue":
                guard let n = Int(value), n >= 0 else { throw .badCount(key: key, value: String(value)) }
                queueLimit = n
            default: throw .unknownKey(String(key))
            }
        }
    }

    /// The text form, only the items that differ from a perfect link, in a fixed
    /// order; "none" for a perfect link. `FaultConfiguration(parsing: c.description) == c`.
    public var description: String {
        var items: [String] = []
        if loss != 0 { items.append("loss=" + Self.formatProbability(loss)) }
        if delay != .zero { items.append("delay=" + Self.formatDuration(delay)) }
        if jitter != .zero { items.append("jitter=" + Self.formatDuration(jitter)) }
        if reorder != 0 { items.append("reorder=" + Self.formatProbability(reorder)) }
        if reorderHold != Self.defaultReorderHold { items.append("reorder-hold=" + Self.formatDuration(reorderHold)) }
        if duplicate != 0 { items.append("duplicate=" + Self.formatProbability(duplicate)) }
        if corrupt != 0 { items.append("corrupt=" + Self.formatProbability(corrupt)) }
        if corruptBytes != 0 { items.append("corrupt-bytes=" + Self.formatProbability(corruptBytes)) }
        if rate != 0 { items.append("rate=" + Self.formatRate(rate)) }
        if queueLimit != 0 { items.append("queue=\(queueLimit)") }
        return items.isEmpty ? "none" : items.joined(separator: ",")
    }

    // MARK: value syntax

    static func parseNumber(_ text: Substring) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let v = Double(text), v.isFinite else { return nil }
        return v
    }

    static func parseProbability(_ key: String, _ value: Substring) throws(FaultSyntaxError) -> Double {
        if value.hasSuffix("%") {
            guard parseNumber(value.dropLast()) != nil, let fraction = shiftDecimal(value.dropLast(), by: -2),
                  let v = Double(fraction) else { throw .badPercent(key: key, value: String(value)) }
            guard v <= 1 else { throw .outOfRange(key: key, value: String(value)) }
            return v
        }
        guard let v = parseNumber(value) else { throw .badPercent(key: key, value: String(value)) }
        guard v <= 1 else { throw .outOfRange(key: key, value: String(value)) }
        return v
    }

    static func parseDuration(_ key: String, _ value: Substring) throws(FaultSyntaxError) -> Duration {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9)]
        let lower = value.lowercased()
        if lower == "0" { return .zero }
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            let digits = Substring(lower.dropLast(suffix.count))
            guard let v = parseNumber(digits) else { break }
            let ns = v * scale + 0.5
            guard ns <= 1e15 else { throw .outOfRange(key: key, value: String(value)) }
            return .nanoseconds(Int64(ns))
        }
        throw .badDuration(key: key, value: String(value))
    }

    static func parseRate(_ key: String, _ value: Substring) throws(FaultSyntaxError) -> Int64 {
        let units: [(String, Double)] = [("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("bit", 1)]
        let lower = value.lowercased()
        if lower == "0" { return 0 }
        for (suffix, scale) in units where lower.hasSuffix(suffix) {
            let digits = Substring(lower.dropLast(suffix.count))
            guard let v = parseNumber(digits) else { break }
            let bits = v * scale + 0.5
            guard bits <= 1e15 else { throw .outOfRange(key: key, value: String(value)) }
            return Int64(bits)
        }
        throw .badRate(key: key, value: String(value))
    }

    static func shortest(_ v: Double) -> String {
        var s = "\(v)"
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    /// `p` as a percent: the shortest decimal that reads back as `p`, with the point moved
    /// two places (text, not arithmetic, so the round trip is exact).
    static func formatProbability(_ p: Double) -> String {
        guard let shifted = shiftDecimal(shortest(p), by: 2) else { return shortest(p) }
        return shifted + "%"
    }

    /// Moves the decimal point of a plain or exponent-form decimal (`"0.036"`,
    /// `"7.9e-05"`) by `places` (positive: right) and writes it without exponent;
    /// nil for anything else.
    static func shiftDecimal(_ text: some StringProtocol, by places: Int) -> String? {
        var mantissa = Substring(text)
        var exponent = 0
        if let e = mantissa.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let x = Int(mantissa[mantissa.index(after: e)...]) else { return nil }
            exponent = x
            mantissa = mantissa[..<e]
        }
        guard !mantissa.isEmpty, mantissa.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              mantissa.filter({ $0 == "." }).count <= 1 else { return nil }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0]), frac = parts.count > 1 ? String(parts[1]) : ""
        var digits = Array(whole + frac)
        var point = whole.count + exponent + places   // digits before the point
        if point < 0 { digits = Array(repeating: "0", count: -point) + digits; point = 0 }
        if point > digits.count { digits += Array(repeating: "0", count: point - digits.count) }
        var intPart = String(digits[0..<point])
        var fracPart = String(digits[point...])
        while intPart.count > 1 && intPart.first == "0" { intPart.removeFirst() }
        if intPart.isEmpty { intPart = "0" }
        while fracPart.last == "0" { fracPart.removeLast() }
        return fracPart.isEmpty ? intPart : intPart + "." + fracPart
    }

    static func formatDuration(_ d: Duration) -> String {
        let ns = d.nanosecondsClamped
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1000 == 0 { return "\(ns / 1000)us" }
        return "\(ns)ns"
    }

    static func formatRate(_ r: Int64) -> String {
        if r % 1_000_000_000 == 0 { return "\(r / 1_000_000_000)gbit" }
        if r % 1_000_000 == 0 { return "\(r / 1_000_000)mbit" }
        if r % 1000 == 0 { return "\(r / 1000)kbit" }
        return "\(r)bit"
    }
}

/// Why a fault specification does not parse.
public enum FaultSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two commas in a row, or a trailing comma.
    case emptyItem
    /// An item without `=value`.
    case missingValue(key: String)
    case unknownKey(String)
    case duplicateKey(String)
    /// Not `N%` or a fraction.
    case badPercent(key: String, value: String)
    /// Not a number followed by ns, us, ms or s.
    case badDuration(key: String, value: String)
    /// Not a number followed by bit, kbit, mbit or gbit.
    case badRate(key: String, value: String)
    /// Not a non-negative integer.
    case badCount(key: String, value: String)
    /// A percent above 100 (a fraction above 1), or an absurdly large duration or rate.
    case outOfRange(key: String, value: String)

    public var description: String {
        switch self {
        case .emptyItem: return "empty item in fault list"
        case .missingValue(let k): return "'\(k)' needs a value (key=value)"
        case .unknownKey(let k):
            return "unknown fault '\(k)' (known: loss, delay, jitter, reorder, reorder-hold, duplicate, corrupt, corrupt-bytes, rate, queue)"
        case .duplicateKey(let k): return "'\(k)' given twice"
        case .badPercent(let k, let v): return "\(k)=\(v): expected a percent like 2% or 0.5%"
        case .badDuration(let k, let v): return "\(k)=\(v): expected a duration like 10ms, 500us, 1s"
        case .badRate(let k, let v): return "\(k)=\(v): expected a rate like 100mbit, 1gbit, 64kbit"
        case .badCount(let k, let v): return "\(k)=\(v): expected a packet count"
        case .outOfRange(let k, let v): return "\(k)=\(v): out of range"
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// What a fault injector did, packet by packet.
public struct FaultCounters: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Packets handed to the link.
    public var offered = 0
    public var lost = 0
    /// Extra copies made.
    public var duplicated = 0
    /// Packets held back behind a later one.
    public var reordered = 0
    /// Copies with one bit flipped.
    public var corrupted = 0
    /// Copies with bytes overwritten.
    public var corruptedBytes = 0
    /// Packets refused because the queue was full.
    public var queueDropped = 0

    public init() {}

    public var description: String {
        "offered=\(offered) lost=\(lost) duplicated=\(duplicated) reordered=\(reordered) corrupted=\(corrupted) corrupted-bytes=\(corruptedBytes) queue-dropped=\(queueDropped)"
    }
}

/// Makes the random decisions of one link direction from a `FaultConfiguration`
/// and a `SeededRandom`, and counts them. The same seed and the same packets give
/// the same decisions: a probability of zero draws nothing, so enabling one fault
/// does not disturb another's stream... except through draws it adds itself.
///
/// `MemoryLink` asks, per packet, in this order: `admits(held:)` (queue limit),
/// `dropsPacket()`, `departure(length:now:)` (line rate), `duplicatesPacket()`, then
/// per copy `corrupt(_:)`, `arrival(departure:)` and `holdsBack()`.
public struct FaultInjector: Sendable {
    public var configuration: FaultConfiguration {
        didSet { isPerfect = configuration.isNone }
    }
    /// No fault configured: `MemoryLink` skips the per-packet decisions entirely.
    public private(set) var isPerfect: Bool
    public var random: SeededRandom
    public private(set) var counters = FaultCounters()
    /// When the line finishes serialising the packets accepted so far.
    public private(set) var lineFreeAt: Instant = .zero

    public init(configuration: FaultConfiguration, seed: UInt64) {
        self.configuration = configuration
        self.isPerfect = configuration.isNone
        self.random = SeededRandom(seed: seed)
    }

    /// Counts a packet offered to a perfect link (no decision to make).
    mutating func countOffered() { counters.offered += 1 }

    /// A packet is offered while the direction holds `held` packets: false (and counted)
    /// when the queue limit refuses it.
    public mutating func admits(held: Int) -> Bool {
        counters.offered += 1
        if configuration.queueLimit > 0 && held >= configuration.queueLimit {
            counters.queueDropped += 1
            return false
        }
        return true
    }

    public mutating func dropsPacket() -> Bool {
        if random.chance(configuration.loss) { counters.lost += 1; return true }
        return false
    }

    /// When the last bit of a `length`-byte packet offered at `now` leaves: packets
    /// serialise one after another at the configured rate.
    public mutating func departure(length: Int, now: Instant) -> Instant {
        guard configuration.rate > 0 else { return now }
        let start = max(now, lineFreeAt)
        // ceil(bits * 1e9 / rate) nanoseconds, in 128-bit to stay exact.
        let bits = UInt64(length) * 8
        let (hi, lo) = bits.multipliedFullWidth(by: 1_000_000_000)
        let rate = UInt64(configuration.rate)
        let (q, r) = rate.dividingFullWidth((hi, lo))
        let ns = Int64(truncatingIfNeeded: q) + (r > 0 ? 1 : 0)
        lineFreeAt = start + .nanoseconds(ns)
        return lineFreeAt
    }

    public mutating func duplicatesPacket() -> Bool {
        if random.chance(configuration.duplicate) { counters.duplicated += 1; return true }
        return false
    }

    /// Applies corruption to one copy: a single bit flip (`corrupt`), or 1–4 bytes
    /// overwritten with different values (`corrupt-bytes`). Returns whether it changed.
    public mutating func corrupt(_ packet: UnsafeMutableRawBufferPointer) -> Bool {
        guard packet.count > 0 else { return false }
        var changed = false
        if random.chance(configuration.corrupt) {
            let bit = Int(random.next() % UInt64(packet.count * 8))
            packet[bit >> 3] ^= UInt8(1) << UInt8(bit & 7)
            counters.corrupted += 1
            changed = true
        }
        if random.chance(configuration.corruptBytes) {
            let n = 1 + Int(random.next() % 4)
            for _ in 0..<n {
                let at = Int(random.next() % UInt64(packet.count))
                let x = UInt8(truncatingIfNeeded: 1 + random.next() % 255)  // never zero: the byte changes
                packet[at] ^= x
            }
            counters.corruptedBytes += 1
            changed = true
        }
        return changed
    }

    /// When a copy that left at `departure` arrives: plus the delay, plus a uniform
    /// jitter in −jitter…+jitter, never before it left.
    public mutating func arrival(departure: Instant) -> Instant {
        if configuration.delay == .zero && configuration.jitter == .zero { return departure }
        var t = departure + configuration.delay
        let j = configuration.jitter.nanosecondsClamped
        if j > 0 {
            let span = UInt64(j) * 2 + 1
            let offset = Int64(random.next() % span) - j
            t = Instant(nanoseconds: t.nanoseconds &+ offset)
        }
        return max(t, departure)
    }

    /// Whether this copy is held back behind the next packet.
    public mutating func holdsBack() -> Bool {
        if random.chance(configuration.reorder) { counters.reordered += 1; return true }
        return false
    }
}
