/// One segment as a ladder line shows it, read from an IPv4 packet.
public struct LadderSegment: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var flags: TCPFlags
    public var sequenceNumber: SequenceNumber
    public var acknowledgmentNumber: SequenceNumber
    /// Payload bytes.
    public var length: Int
    /// The window field as sent (unscaled, as tcpdump shows it).
    public var window: UInt16
    /// Options on a SYN, in tcpdump's words ("mss 1460,sackOK,TS,wscale 7"); empty otherwise.
    public var synOptions: String

    /// Reads the segment of an IPv4 packet carrying TCP; nil when it is not one
    /// (checksums are not checked: a damaged packet still gets a line if it parses).
    public init?(ipv4 packet: UnsafeRawBufferPointer) {
        guard let ip = try? IPv4HeaderView(packet), ip.protocol == IPProtocol.tcp, !ip.isFragment,
              let tcp = try? TCPHeaderView(ip.payload) else { return nil }
        source = ip.source
        destination = ip.destination
        sourcePort = tcp.sourcePort
        destinationPort = tcp.destinationPort
        flags = tcp.flags
        sequenceNumber = tcp.sequenceNumber
        acknowledgmentNumber = tcp.acknowledgmentNumber
        length = tcp.payload.count
        window = tcp.window
        synOptions = ""
        if flags.contains(.syn), let set = try? tcp.optionSet() {
            var parts: [String] = []
            if let m = set.maximumSegmentSize { parts.append("mss \(m)") }
            if set.sackPermitted { parts.append("sackOK") }
            if set.timestamps != nil { parts.append("TS") }
            if let w = set.windowScale { parts.append("wscale \(w)") }
            synOptions = parts.joined(separator: ",")
        }
    }
}

/// A connection's state change as a ladder shows it.
public struct LadderStateChange: Hashable, Sendable, CustomStringConvertible {
    public var end: LinkEnd
    /// nil when the connection appeared already in `to` (spawned by a SYN).
    public var from: TCPState?
    public var to: TCPState

    public init(end: LinkEnd, from: TCPState?, to: TCPState) {
        self.end = end
        self.from = from
        self.to = to
    }

    public var description: String {
        if let f = from { return "\(end): \(f) → \(to)" }
        return "\(end): → \(to)"
    }
}

/// Formats a conversation between ends A and B as a ladder: one line per segment
/// sent, with the time, the direction, the flags (tcpdump's letters), raw sequence and
/// acknowledgement numbers, payload length, window field, and the state changes on
/// either side since the previous line.
///
///     time        dir     flags  seq=…        ack=…        len=…   win=…
///     0.000000    A → B   [S]    seq=100      ack=0        len=0     win=65535  A: CLOSED → SYN-SENT
public enum Ladder {
    public static let header = "time (s)    dir     flags  sequence        acknowledgement length    window     options, state changes"

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    /// The line of one segment sent by `from`; `lost` marks a packet the link refused.
    public static func line(time: Instant, from: LinkEnd, segment s: LadderSegment,
                            changes: [LadderStateChange] = [], lost: Bool = false) -> String {
        var l = pad(time.description, 12)
        l += pad(from == .a ? "A → B" : "A ← B", 8)
        l += pad("[\(s.flags)]", 7)
        l += pad("seq=\(s.sequenceNumber.rawValue)", 16)
        l += pad("ack=\(s.acknowledgmentNumber.rawValue)", 16)
        l += pad("len=\(s.length)", 10)
        l += pad("win=\(s.window)", 11)
        var tail: [String] = []
        if !s.synOptions.isEmpty { tail.append("<\(s.synOptions)>") }
        if lost { tail.append("✗ lost") }
        tail.append(contentsOf: changes.map(\.description))
        l += tail.joined(separator: "  ")
        while l.last == " " { l.removeLast() }
        return l
    }

    /// A line with state changes and no segment.
    public static func stateLine(time: Instant, changes: [LadderStateChange]) -> String {
        pad(time.description, 12) + pad("·", 8) + changes.map(\.description).joined(separator: "  ")
    }
}

/// Watches the connections of a `SimulatedNetwork` and turns its traces into ladder
/// lines (`observe(_:)`), noticing state changes by comparing each connection's
/// state with the last one seen. Connections stay watched after they leave their
/// host's table, so the final CLOSED is seen too.
public final class LadderRecorder {
    let network: SimulatedNetwork
    var watched: [(end: LinkEnd, connection: TCPConnection, last: TCPState)] = []

    public init(network: SimulatedNetwork) { self.network = network }

    /// Starts watching a connection whose current state is already known.
    public func watch(_ c: TCPConnection, end: LinkEnd, lastState: TCPState? = nil) {
        guard !watched.contains(where: { $0.connection === c }) else { return }
        watched.append((end, c, lastState ?? c.state))
    }

    /// State changes since the last call (new connections in the hosts' tables included).
    public func changes() -> [LadderStateChange] {
        var out: [LadderStateChange] = []
        for end in [LinkEnd.a, .b] {
            for c in network.host(end).connections where !watched.contains(where: { $0.connection === c }) {
                // A connection we never saw: spawned by a SYN (from LISTEN) or opened directly (from CLOSED).
                let from: TCPState = c.state == .synReceived ? .listen : .closed
                out.append(LadderStateChange(end: end, from: from, to: c.state))
                watched.append((end, c, c.state))
            }
        }
        for i in watched.indices where watched[i].connection.state != watched[i].last {
            out.append(LadderStateChange(end: watched[i].end, from: watched[i].last, to: watched[i].connection.state))
            watched[i].last = watched[i].connection.state
        }
        return out
    }

    /// The ladder line for a trace: a line per segment sent (changes riding on it), a
    /// state-only line when a delivery is preceded by changes; nil otherwise.
    public func line(for trace: NetworkTrace) -> String? {
        let ch = changes()
        switch trace.kind {
        case .sent(let accepted):
            guard let s = LadderSegment(ipv4: trace.packet) else {
                return ch.isEmpty ? nil : Ladder.stateLine(time: trace.time, changes: ch)
            }
            return Ladder.line(time: trace.time, from: trace.from, segment: s, changes: ch, lost: !accepted)
        case .delivered:
            return ch.isEmpty ? nil : Ladder.stateLine(time: trace.time, changes: ch)
        }
    }

    /// Changes not yet reported, as a state-only line (nil when none).
    public func flush(time: Instant) -> String? {
        let ch = changes()
        return ch.isEmpty ? nil : Ladder.stateLine(time: time, changes: ch)
    }
}
