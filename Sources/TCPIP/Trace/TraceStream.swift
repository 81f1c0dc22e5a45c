/// One TCP conversation in a capture: the segments of one connection, in capture order.
public struct TraceStream: Sendable {
    /// Numbered like tshark's `tcp.stream`: by first appearance, from 0.
    public var index: Int
    /// The side that sent the first SYN (or, when no SYN was captured, the sender of
    /// the first segment; a first SYN+ACK names its receiver the client).
    public var client: TraceEndpoint
    public var server: TraceEndpoint
    public var segments: [TraceSegment]

    public init(index: Int, client: TraceEndpoint, server: TraceEndpoint, segments: [TraceSegment]) {
        self.index = index
        self.client = client
        self.server = server
        self.segments = segments
    }

    /// Groups segments into conversations by their address/port pair, in order of
    /// first appearance. A SYN (without ACK) whose sequence number differs from the
    /// first SYN of its pair's conversation starts a new conversation, as tshark does
    /// when ports are reused.
    public static func group(_ segments: [TraceSegment]) -> [TraceStream] {
        struct Key: Hashable { var a: TraceEndpoint; var b: TraceEndpoint }
        var streams: [TraceStream] = []
        var current: [Key: Int] = [:]
        // The sequence number a conversation's first segment from each end set as its base.
        var baseSet: [Int: [TraceEndpoint: SequenceNumber]] = [:]
        for s in segments {
            let src = s.sourceEndpoint, dst = s.destinationEndpoint
            let key = src < dst ? Key(a: src, b: dst) : Key(a: dst, b: src)
            let flags = s.header.flags
            let bareSYN = flags.contains(.syn) && !flags.contains(.ack)
            if let i = current[key] {
                if bareSYN, let base = baseSet[i]?[src], base != s.header.sequenceNumber {
                    // Port reuse: a new connection on the same pair.
                    let n = streams.count
                    streams.append(TraceStream(index: n, client: src, server: dst, segments: [s]))
                    current[key] = n
                    baseSet[n] = [src: s.header.sequenceNumber]
                    continue
                }
                streams[i].segments.append(s)
                if baseSet[i]?[src] == nil {
                    baseSet[i, default: [:]][src] = flags.contains(.syn) ? s.header.sequenceNumber : s.header.sequenceNumber - 1
                }
            } else {
                let n = streams.count
                let synAck = flags.contains(.syn) && flags.contains(.ack)
                streams.append(TraceStream(index: n, client: synAck ? dst : src, server: synAck ? src : dst, segments: [s]))
                current[key] = n
                baseSet[n] = [src: flags.contains(.syn) ? s.header.sequenceNumber : s.header.sequenceNumber - 1]
            }
        }
        return streams
    }
}
