/// Which datagram a fragment belongs to (RFC 791: source, destination, protocol, identification).
public struct IPv4FragmentKey: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var protocolNumber: UInt8
    public var identification: UInt16

    public init(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8, identification: UInt16) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.identification = identification
    }
}

/// Bounded reassembly of IPv4 fragments (RFC 791 §3.2, RFC 815's hole bookkeeping).
///
/// Every resource is capped: datagrams in progress, fragments per datagram, bytes
/// held in total, and time (a datagram not completed within `timeout` is discarded).
/// A fragment that overlaps data already received with *different* bytes discards
/// the whole datagram (an overlap is only legitimate as a retransmission of the
/// same bytes). Every drop is counted by reason. Fragments are rare, so a
/// datagram's bytes live in an array allocated when its first fragment arrives.
public struct IPv4Reassembly {
    public struct Limits: Sendable {
        /// Datagrams being reassembled at once; a fragment of a new one beyond this is dropped.
        public var maximumDatagrams: Int = 64
        /// Fragments accepted for one datagram before it is discarded.
        public var maximumFragmentsPerDatagram: Int = 64
        /// Bytes held across all datagrams in progress.
        public var maximumBytes: Int = 1 << 20
        /// How long a datagram may take to complete (Linux: 30 s).
        public var timeout: Duration = .seconds(30)
        public init() {}
    }

    public enum DropReason: String, Sendable, CaseIterable {
        /// A fragment other than the last whose length is not a positive multiple of 8.
        case misalignedFragment
        /// Offset + length past 65,535 − 20 bytes (the "ping of death").
        case tooLong
        /// Overlapping data that differs from what was received.
        case conflictingOverlap
        /// Two different ends (last fragments) for one datagram, or data past the end.
        case inconsistentEnd
        case tooManyDatagrams
        case tooManyFragments
        case tooManyBytes
        case timedOut
    }

    public enum Outcome: Equatable, Sendable {
        /// The fragment was kept; the datagram is not complete yet.
        case incomplete
        /// The whole datagram's payload (the data after the IP header), in order.
        case complete([UInt8])
        /// The fragment was dropped; for every reason but `tooManyDatagrams` and
        /// `misalignedFragment` the datagram in progress is discarded with it.
        case dropped(DropReason)
    }

    struct Datagram {
        var data: [UInt8] = []
        /// Received byte ranges, sorted and merged.
        var ranges: [Range<Int>] = []
        /// Payload length, known once the last fragment (MF = 0) arrives.
        var totalLength: Int?
        var fragments = 0
        var deadline: Instant
    }

    public let limits: Limits
    var datagrams: [IPv4FragmentKey: Datagram] = [:]
    public private(set) var drops: [DropReason: Int] = [:]
    public private(set) var completed = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    public var datagramsInProgress: Int { datagrams.count }

    /// Bytes held by the datagrams in progress.
    public var bytesHeld: Int { datagrams.values.reduce(0) { $0 + $1.data.count } }

    /// The earliest time a datagram in progress times out.
    public var nextDeadline: Instant? { datagrams.values.map(\.deadline).min() }

    /// Adds one fragment: `offset` in bytes (fragment offset × 8), `moreFragments` the MF flag,
    /// `payload` the data after its IP header.
    public mutating func insert(key: IPv4FragmentKey, offset: Int, moreFragments: Bool,
                                payload: UnsafeRawBufferPointer, now: Instant) -> Outcome {
        expire(now: now)
        let end = offset + payload.count
        if moreFragments && (payload.count % 8 != 0 || payload.isEmpty) { return drop(.misalignedFragment) }
        if end > 65535 - 20 { return discard(key, .tooLong) }

        var d: Datagram
        if let existing = datagrams[key] {
            d = existing
        } else {
            guard datagrams.count < limits.maximumDatagrams else { return drop(.tooManyDatagrams) }
            d = Datagram(deadline: now + limits.timeout)
        }
        d.fragments += 1
        if d.fragments > limits.maximumFragmentsPerDatagram { return discard(key, .tooManyFragments) }

        // The end of the datagram: fixed by the last fragment, never contradicted.
        if !moreFragments {
            if let t = d.totalLength, t != end { return discard(key, .inconsistentEnd) }
            if let last = d.ranges.last, last.upperBound > end { return discard(key, .inconsistentEnd) }
            d.totalLength = end
        } else if let t = d.totalLength, end > t {
            return discard(key, .inconsistentEnd)
        }

        // Overlaps must carry the same bytes.
        for r in d.ranges where r.overlaps(offset..<end) {
            for i in max(r.lowerBound, offset)..<min(r.upperBound, end) where d.data[i] != payload[i - offset] {
                return discard(key, .conflictingOverlap)
            }
        }

        // Grow the buffer to hold this fragment, within the byte budget.
        if d.data.count < end {
            let others = bytesHeld - (datagrams[key]?.data.count ?? 0)
            guard others + end <= limits.maximumBytes else { return discard(key, .tooManyBytes) }
            d.data.append(contentsOf: repeatElement(0, count: end - d.data.count))
        }
        for i in 0..<payload.count { d.data[offset + i] = payload[i] }
        d.ranges = IPv4Reassembly.merge(d.ranges, offset..<end)

        if let t = d.totalLength, d.ranges.count == 1, d.ranges[0] == 0..<t {
            datagrams.removeValue(forKey: key)
            completed += 1
            return .complete(Array(d.data[0..<t]))
        }
        datagrams[key] = d
        return .incomplete
    }

    /// Discards datagrams whose time is up.
    public mutating func expire(now: Instant) {
        for (key, d) in datagrams where d.deadline <= now {
            datagrams.removeValue(forKey: key)
            drops[.timedOut, default: 0] += 1
        }
    }

    private mutating func discard(_ key: IPv4FragmentKey, _ reason: DropReason) -> Outcome {
        datagrams.removeValue(forKey: key)
        return drop(reason)
    }

    private mutating func drop(_ reason: DropReason) -> Outcome {
        drops[reason, default: 0] += 1
        return .dropped(reason)
    }

    /// Inserts `new` into sorted, disjoint `ranges`, merging what touches it.
    static func merge(_ ranges: [Range<Int>], _ new: Range<Int>) -> [Range<Int>] {
        guard !new.isEmpty else { return ranges }
        var out: [Range<Int>] = []
        out.reserveCapacity(ranges.count + 1)
        var cur = new
        var placed = false
        for r in ranges {
            if r.upperBound < cur.lowerBound {
                out.append(r)
            } else if cur.upperBound < r.lowerBound {
                if !placed { out.append(cur); placed = true }
                out.append(r)
            } else {
                cur = min(r.lowerBound, cur.lowerBound)..<max(r.upperBound, cur.upperBound)
            }
        }
        if !placed { out.append(cur) }
        return out
    }
}
