/// One ladder line per TCP segment as it crosses a device, as it happens (`--trace` of
/// `tcpip serve|fetch|ping`), in the style of `tcpip trace`:
///
///     0.000000 192.0.2.2:80        ◀── SYN seq=0 win=64240 MSS=1460 SACK-perm WS=7 ──── 192.0.2.1:41236
///     0.000071 192.0.2.2:80        ── SYN+ACK seq=0 ack=1 win=65535 MSS=1460 WS=7 ─────▶ 192.0.2.1:41236
///
/// Our end is on the left, the peer on the right; `◀` is a segment we received, `▶` one
/// we sent. The time is seconds since the first traced segment. Sequence and
/// acknowledgment numbers are relative to each side's ISN (the SYN is 0; a connection
/// first seen mid-stream takes its first segment's number minus one, as tshark does).
/// The window is as on the wire (unscaled). A segment whose checksum fails is marked.
///
/// It remembers the ISNs of at most `maximumConnections` connections (then forgets them
/// all and starts over): bounded memory whatever the traffic.
public struct LiveLadder: Sendable {
    public enum Direction: Sendable, Hashable {
        /// From the device to the stack.
        case received
        /// From the stack to the device.
        case sent
    }

    public let linkType: LinkType
    public let maximumConnections: Int
    var start: Instant? = nil
    var frames = 0

    struct Key: Hashable {
        var local: TraceEndpoint
        var remote: TraceEndpoint
    }
    struct Bases {
        var local: SequenceNumber?
        var remote: SequenceNumber?
    }
    var bases: [Key: Bases] = [:]

    /// Width of the arrow between the two endpoints.
    static let arrowWidth = 58

    public init(linkType: LinkType, maximumConnections: Int = 4096) {
        self.linkType = linkType
        self.maximumConnections = max(1, maximumConnections)
    }

    /// The line for one packet or frame, or nil when it is not a TCP segment (ARP, ICMP,
    /// UDP, a later fragment, or too malformed to read).
    public mutating func line(time: Instant, direction: Direction, packet: UnsafeRawBufferPointer) -> String? {
        frames += 1
        guard case .success(let s) = TraceSegment.decode(frame: frames, time: time, linkType: linkType,
                                                         bytes: Array(packet)) else { return nil }
        let t0 = start ?? time
        if start == nil { start = time }
        let sent = direction == .sent
        let local = sent ? s.sourceEndpoint : s.destinationEndpoint
        let remote = sent ? s.destinationEndpoint : s.sourceEndpoint
        let key = Key(local: local, remote: remote)
        let h = s.header
        var b = bases[key] ?? Bases()
        if bases[key] == nil && bases.count >= maximumConnections { bases.removeAll(keepingCapacity: true) }
        // The sender's base: its ISN when this is a SYN, else (first sight) the number before.
        if h.flags.contains(.syn) || (sent ? b.local : b.remote) == nil {
            let base = h.flags.contains(.syn) ? h.sequenceNumber : h.sequenceNumber - 1
            if sent { b.local = base } else { b.remote = base }
        }
        bases[key] = b
        let seqBase = (sent ? b.local : b.remote)!
        let ackBase = sent ? b.remote : b.local

        var tokens = [LadderTextFormatter.flagNames(h.flags), "seq=\(h.sequenceNumber.rawValue &- seqBase.rawValue)"]
        if h.flags.contains(.ack) {
            if let ackBase { tokens.append("ack=\(h.acknowledgmentNumber.rawValue &- ackBase.rawValue)") }
            else { tokens.append("ack=\(h.acknowledgmentNumber.rawValue)") }
        }
        if s.payloadLength > 0 { tokens.append("len=\(s.payloadLength)") }
        tokens.append("win=\(h.window)")
        for opt in h.options {
            switch opt {
            case .maximumSegmentSize(let m) where h.flags.contains(.syn): tokens.append("MSS=\(m)")
            case .windowScale(let w) where h.flags.contains(.syn): tokens.append("WS=\(w)")
            case .sackPermitted where h.flags.contains(.syn): tokens.append("SACK-perm")
            case .sack(let blocks):
                let base = ackBase ?? SequenceNumber(0)
                tokens.append("SACK " + blocks.map { "\($0.start.rawValue &- base.rawValue)-\($0.end.rawValue &- base.rawValue)" }
                    .joined(separator: " "))
            default: break
            }
        }
        if s.checksumValid == false || !s.ipChecksumValid { tokens.append("[bad checksum]") }
        let label = tokens.joined(separator: " ")
        let fill = String(repeating: "─", count: max(2, LiveLadder.arrowWidth - label.count - 5))
        let arrow = sent ? "── " + label + " " + fill + "▶" : "◀" + fill + " " + label + " ──"
        let when = LadderTextFormatter.seconds(time - t0)
        let pad = String(repeating: " ", count: max(0, 10 - when.count))
        let left = local.description + String(repeating: " ", count: max(1, 22 - local.description.count))
        return pad + when + " " + left + arrow + " " + remote.description
    }
}
