// Download progress for `tcpip fetch`: bytes, rate, ETA. Pure formatting; the caller passes
// the byte count and the elapsed time (no clock reads here).
//
// Terminal (updated in place, `\r` + line + erase-to-end-of-line `ESC[K`):
//   "\r[#########...........]  45%  22.5 MiB / 50.0 MiB  5.0 MiB/s  ETA 0:05\u{1B}[K"
//   unknown total: "\r22.5 MiB  5.0 MiB/s\u{1B}[K"
// Plain (one line each, for logs and pipes):
//   " 45% 22.5 MiB / 50.0 MiB 5.0 MiB/s ETA 0:05\n"
//   unknown total: "22.5 MiB 5.0 MiB/s\n"
// Sizes are binary (KiB = 1024 B) with one decimal; rate `--` before any time has passed;
// ETA `--:--` when the total or the rate is unknown, else m:ss (h:mm:ss past an hour).

public struct ProgressFormatter: Sendable {
    public let total: UInt64?
    public let isTerminal: Bool
    public let barWidth: Int

    public init(total: UInt64?, isTerminal: Bool, barWidth: Int = 20) {
        self.total = total
        self.isTerminal = isTerminal
        self.barWidth = barWidth
    }

    /// One progress update, ready to write (terminal: starts with `\r`; plain: ends with `\n`).
    public func line(bytes: UInt64, elapsed: Duration) -> String {
        let rate = Self.rate(bytes: bytes, elapsed: elapsed)
        let rateText = rate.map { Self.formatBytes(UInt64($0.rounded())) + "/s" } ?? "--"
        var fields: [String] = []
        if let total {
            let percent = total == 0 ? 100 : Int(min(bytes, total) * 100 / total)
            let pct = String(repeating: " ", count: 3 - String(percent).count) + "\(percent)%"
            var eta = "--:--"
            if let rate, rate > 0, bytes <= total {
                eta = Self.formatDuration(seconds: UInt64((Double(total - bytes) / rate).rounded(.up)))
            }
            if isTerminal {
                let filled = total == 0 ? barWidth : Int(min(bytes, total) * UInt64(barWidth) / total)
                fields.append("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]")
            }
            fields += [pct, "\(Self.formatBytes(bytes)) / \(Self.formatBytes(total))", rateText, "ETA \(eta)"]
        } else {
            fields += [Self.formatBytes(bytes), rateText]
        }
        if isTerminal {
            return "\r" + fields.joined(separator: "  ") + "\u{1B}[K"
        }
        return fields.joined(separator: " ") + "\n"
    }

    /// The last line: `done: 50.0 MiB in 10.0 s (5.0 MiB/s)`; on a terminal it replaces the
    /// progress line and ends it.
    public func finished(bytes: UInt64, elapsed: Duration) -> String {
        let rateText = Self.rate(bytes: bytes, elapsed: elapsed).map { Self.formatBytes(UInt64($0.rounded())) + "/s" } ?? "--"
        let text = "done: \(Self.formatBytes(bytes)) in \(Self.oneDecimal(Self.seconds(elapsed))) s (\(rateText))"
        return isTerminal ? "\r" + text + "\u{1B}[K\n" : text + "\n"
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    /// Bytes per second, nil when no time has passed.
    public static func rate(bytes: UInt64, elapsed: Duration) -> Double? {
        let s = seconds(elapsed)
        return s > 0 ? Double(bytes) / s : nil
    }

    /// `512 B`, `1.5 KiB`, `50.0 MiB`, `1.0 GiB`, `2.0 TiB`.
    public static func formatBytes(_ n: UInt64) -> String {
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(n) / 1024
        var unit = 0
        // Switch unit where one decimal would print 1024.0.
        while value >= 1023.95 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(oneDecimal(value)) \(units[unit])"
    }

    static func oneDecimal(_ v: Double) -> String {
        let tenths = UInt64((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// `m:ss`, or `h:mm:ss` from one hour.
    public static func formatDuration(seconds: UInt64) -> String {
        let h = seconds / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        let ss = s < 10 ? "0\(s)" : "\(s)"
        if h > 0 { return "\(h):\(m < 10 ? "0\(m)" : "\(m)"):\(ss)" }
        return "\(m):\(ss)"
    }
}

/// Decides when to print: at most once per `interval` (terminal: 0.1 s is smooth; plain
/// lines: 1 s keeps logs short). The first call always prints.
public struct ProgressThrottle: Sendable {
    public let interval: Duration
    private var last: Duration?

    public init(interval: Duration) { self.interval = interval }

    public mutating func shouldEmit(at elapsed: Duration) -> Bool {
        if let last, elapsed - last < interval { return false }
        last = elapsed
        return true
    }
}
