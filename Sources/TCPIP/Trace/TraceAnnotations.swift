/// What a segment shows about the conversation, with the meanings Wireshark's
/// `tcp.analysis.*` fields have (so counts can be compared with tshark).
public struct TraceAnnotations: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Data (or SYN/FIN) below the highest sequence already seen, not otherwise explained.
    public static let retransmission = TraceAnnotations(rawValue: 1 << 0)
    /// A retransmission of the byte two or more duplicate ACKs asked for, within 20 ms of the last.
    public static let fastRetransmission = TraceAnnotations(rawValue: 1 << 1)
    /// A retransmission of bytes the receiver had already acknowledged.
    public static let spuriousRetransmission = TraceAnnotations(rawValue: 1 << 2)
    /// Below the highest sequence, but soon after it (less than the first RTT): reordered.
    public static let outOfOrder = TraceAnnotations(rawValue: 1 << 3)
    /// Starts beyond the highest sequence seen: something was lost before the capture point.
    public static let previousSegmentNotCaptured = TraceAnnotations(rawValue: 1 << 4)
    /// Acknowledges data the capture never saw.
    public static let ackedUnseenSegment = TraceAnnotations(rawValue: 1 << 5)
    /// Same ACK, window and sequence as the previous segment, no data.
    public static let duplicateAck = TraceAnnotations(rawValue: 1 << 6)
    /// Advertises a zero receive window.
    public static let zeroWindow = TraceAnnotations(rawValue: 1 << 7)
    /// Fills the receiver's advertised window exactly.
    public static let windowFull = TraceAnnotations(rawValue: 1 << 8)
    /// No data, same ACK, new window.
    public static let windowUpdate = TraceAnnotations(rawValue: 1 << 9)
    /// One byte at the next sequence while the receiver's window is zero.
    public static let zeroWindowProbe = TraceAnnotations(rawValue: 1 << 10)
    /// The receiver's answer to a zero-window probe.
    public static let zeroWindowProbeAck = TraceAnnotations(rawValue: 1 << 11)
    /// Zero or one byte one below the next sequence: "are you still there?".
    public static let keepAlive = TraceAnnotations(rawValue: 1 << 12)
    /// The answer to a keep-alive.
    public static let keepAliveAck = TraceAnnotations(rawValue: 1 << 13)
    /// A SACK block below the cumulative ACK (RFC 2883 D-SACK): a duplicate arrived.
    public static let duplicateSACK = TraceAnnotations(rawValue: 1 << 14)

    /// A retransmission the receiver reported with a D-SACK (RFC 2883): it already had
    /// these bytes, so the retransmission was not needed.
    public static let spuriousByDSACK = TraceAnnotations(rawValue: 1 << 15)
    /// A retransmission whose first acknowledgement echoes an older timestamp than its
    /// own (RFC 3522, Eifel): the ACK was for the original transmission.
    public static let spuriousByTimestamps = TraceAnnotations(rawValue: 1 << 16)

    /// Retransmissions known to have been unnecessary, by any of the three signs.
    public var isSpurious: Bool {
        !isDisjoint(with: [.spuriousRetransmission, .spuriousByDSACK, .spuriousByTimestamps])
    }

    /// Any kind of retransmission: what tshark's `tcp.analysis.retransmission` matches.
    public var isRetransmission: Bool {
        !isDisjoint(with: [.retransmission, .fastRetransmission, .spuriousRetransmission])
    }

    /// Short names in a fixed order, for the ladder.
    public var names: [String] {
        let all: [(TraceAnnotations, String)] = [
            (.spuriousRetransmission, "spurious retransmission"), (.fastRetransmission, "fast retransmission"),
            (.retransmission, "retransmission"), (.spuriousByDSACK, "spurious: D-SACK"),
            (.spuriousByTimestamps, "spurious: timestamps"), (.outOfOrder, "out-of-order"),
            (.previousSegmentNotCaptured, "previous segment not captured"), (.ackedUnseenSegment, "ACKed unseen segment"),
            (.duplicateAck, "dup ACK"), (.duplicateSACK, "D-SACK"), (.zeroWindow, "zero window"), (.windowFull, "window full"),
            (.windowUpdate, "window update"), (.zeroWindowProbe, "window probe"), (.zeroWindowProbeAck, "window probe ACK"),
            (.keepAlive, "keep-alive"), (.keepAliveAck, "keep-alive ACK"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// Why a RST was sent, when the segments tell.
public enum TraceResetCause: Hashable, Sendable {
    /// The answer to a SYN from a side that never opened: nothing listens on the port.
    case closedPort
    /// A side with an open (or opening) connection tore it down.
    case abort
    /// The answer to a segment for a connection the sender no longer has.
    case noConnection
}
