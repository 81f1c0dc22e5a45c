/// Relative TCP sequence numbers as Wireshark counts them, for printing captures.
///
/// Streams are keyed by the unordered pair of endpoints. Each direction gets a
/// base: the sequence number of its SYN (so the SYN is 0 and the first data byte
/// is 1), or, when the first segment seen in that direction is not a SYN, that
/// segment's sequence number minus one (so it shows as 1). A direction not yet
/// seen takes its base from the first acknowledgment number (ACK flag set) that
/// the other direction sends, minus one. A SYN without ACK whose sequence number
/// differs from its direction's base starts a new stream on the same endpoints
/// (port reuse). Relative numbers are `raw - base`, wrapping in 32 bits.
public struct TCPStreamNumbering: Sendable {
    public struct Endpoint: Hashable, Sendable, Comparable {
        public var address: IPv4Address
        public var port: UInt16
        public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }
        public static func < (a: Endpoint, b: Endpoint) -> Bool {
            a.address != b.address ? a.address < b.address : a.port < b.port
        }
    }

    /// What one segment's numbers are relative to.
    public struct Bases: Hashable, Sendable {
        /// The stream's index, counted from 0 in order of first appearance (tshark's `tcp.stream`).
        public var stream: Int
        /// Base of the sender's sequence numbers.
        public var sequence: UInt32
        /// Base of the receiver's sequence numbers (for the acknowledgment number and SACK
        /// edges); nil while the receiver's direction has no base yet.
        public var acknowledgment: UInt32?

        public func relativeSequence(_ raw: UInt32) -> UInt32 { raw &- sequence }
        public func relativeAcknowledgment(_ raw: UInt32) -> UInt32 { raw &- (acknowledgment ?? 0) }
    }

    private struct Stream {
        var index: Int
        /// Indexed by direction: 0 from the lower endpoint, 1 from the higher.
        var base: (UInt32?, UInt32?) = (nil, nil)

        func get(_ d: Int) -> UInt32? { d == 0 ? base.0 : base.1 }
        mutating func set(_ d: Int, _ v: UInt32) { if d == 0 { base.0 = v } else { base.1 = v } }
    }

    private struct Key: Hashable {
        var low: Endpoint
        var high: Endpoint
    }

    private var streams: [Key: Stream] = [:]
    public private(set) var streamCount = 0

    public init() {}

    /// Records one segment and returns the bases to print its numbers against.
    public mutating func observe(source: Endpoint, destination: Endpoint, flags: TCPFlags,
                                 sequenceNumber seq: UInt32, acknowledgmentNumber ack: UInt32) -> Bases {
        let key = source < destination ? Key(low: source, high: destination) : Key(low: destination, high: source)
        let forward = source < destination || (source == destination) ? 0 : 1
        let reverse = 1 - forward
        let isSYN = flags.contains(.syn) && !flags.contains(.ack)
        var stream: Stream
        if let s = streams[key], !(isSYN && s.get(forward) != nil && s.get(forward) != seq) {
            stream = s
        } else {
            stream = Stream(index: streamCount)
            streamCount += 1
        }
        if stream.get(forward) == nil {
            stream.set(forward, flags.contains(.syn) ? seq : seq &- 1)
        }
        if flags.contains(.ack), stream.get(reverse) == nil {
            stream.set(reverse, ack &- 1)
        }
        streams[key] = stream
        return Bases(stream: stream.index, sequence: stream.get(forward)!, acknowledgment: stream.get(reverse))
    }
}
