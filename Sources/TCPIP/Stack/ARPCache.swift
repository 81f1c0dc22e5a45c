/// The neighbour table of an Ethernet interface (RFC 826; timing after RFC 1122
/// §2.3.2.1 and Linux's defaults): IPv4 address → MAC address, with lifetimes, a
/// bounded queue of packets waiting for a resolution, and request retransmission.
///
/// Sans-IO: the interface asks `resolve`, queues with `enqueue`, feeds every ARP
/// packet it sees to `learn`, and sends the requests `poll` returns.
public struct ARPCache {
    public struct Configuration: Sendable {
        /// How long a learned entry is used before it must be confirmed again.
        public var entryLifetime: Duration = .seconds(60)
        /// Time between requests for an address being resolved.
        public var requestInterval: Duration = .seconds(1)
        /// Requests sent before the resolution fails and its queued packets are dropped.
        public var maximumRequests: Int = 3
        /// Packets held per address while it is resolved (further ones are dropped, oldest kept).
        public var maximumPendingPerAddress: Int = 8
        /// Addresses in the table, resolved or not; beyond it the oldest resolved entry is evicted,
        /// and when none is resolved a new resolution is refused.
        public var maximumEntries: Int = 1024
        public init() {}
    }

    enum Entry {
        case resolved(MACAddress, expires: Instant)
        case resolving(pending: [[UInt8]], requestsSent: Int, nextRequest: Instant)
    }

    /// What `poll` asks the interface to do.
    public enum Action: Equatable, Sendable {
        /// Broadcast an ARP request for this address.
        case request(IPv4Address)
        /// Resolution failed: these many queued packets were dropped (the interface may send
        /// ICMP host unreachable to local senders, or fail a connect).
        case failed(IPv4Address, droppedPackets: Int)
    }

    public struct Counters: Sendable, Equatable {
        public var requestsSent = 0
        public var resolutionsFailed = 0
        public var packetsDroppedPendingFull = 0
        public var packetsDroppedUnresolved = 0
        public var entriesEvicted = 0
        public var resolutionsRefused = 0
    }

    public let configuration: Configuration
    var entries: [IPv4Address: Entry] = [:]
    public private(set) var counters = Counters()

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    public var count: Int { entries.count }

    /// The MAC address for `address` if a live entry holds one.
    public func lookup(_ address: IPv4Address, now: Instant) -> MACAddress? {
        if case .resolved(let mac, let expires)? = entries[address], now < expires { return mac }
        return nil
    }

    /// Queues a packet for an address not yet resolved. Returns true when a request should be
    /// broadcast now (the first packet for this address), false when one is already outstanding
    /// or the packet was dropped (see counters).
    public mutating func enqueue(_ packet: [UInt8], for address: IPv4Address, now: Instant) -> Bool {
        switch entries[address] {
        case .resolving(var pending, let sent, let next)?:
            if pending.count >= configuration.maximumPendingPerAddress {
                counters.packetsDroppedPendingFull += 1
                return false
            }
            pending.append(packet)
            entries[address] = .resolving(pending: pending, requestsSent: sent, nextRequest: next)
            return false
        case .resolved(_, let expires)? where now < expires:
            // Caller raced a learn; treat as a fresh resolution would: nothing to request.
            return false
        default:
            guard makeRoom(now: now) else {
                counters.resolutionsRefused += 1
                return false
            }
            entries[address] = .resolving(pending: [packet], requestsSent: 1,
                                          nextRequest: now + configuration.requestInterval)
            counters.requestsSent += 1
            return true
        }
    }

    /// Takes in the sender of an ARP packet (RFC 826's merge rule): an existing entry is
    /// updated; a new one is created only when `create` (the packet was addressed to us).
    /// Returns the packets that were waiting for this address, in order, to be sent now.
    public mutating func learn(_ address: IPv4Address, is mac: MACAddress, now: Instant, create: Bool) -> [[UInt8]] {
        guard !mac.isBroadcast, !mac.isMulticast, mac != .zero, address != .any, address != .broadcast else { return [] }
        let expires = now + configuration.entryLifetime
        switch entries[address] {
        case .resolving(let pending, _, _)?:
            entries[address] = .resolved(mac, expires: expires)
            return pending
        case .resolved?:
            entries[address] = .resolved(mac, expires: expires)
            return []
        case nil:
            if create && makeRoom(now: now) { entries[address] = .resolved(mac, expires: expires) }
            return []
        }
    }

    /// Retransmits due requests and fails resolutions out of tries; expired entries are removed.
    public mutating func poll(now: Instant) -> [Action] {
        var actions: [Action] = []
        for (address, entry) in entries {
            switch entry {
            case .resolved(_, let expires):
                if now >= expires { entries.removeValue(forKey: address) }
            case .resolving(let pending, let sent, let next):
                guard now >= next else { continue }
                if sent >= configuration.maximumRequests {
                    entries.removeValue(forKey: address)
                    counters.resolutionsFailed += 1
                    counters.packetsDroppedUnresolved += pending.count
                    actions.append(.failed(address, droppedPackets: pending.count))
                } else {
                    entries[address] = .resolving(pending: pending, requestsSent: sent + 1,
                                                  nextRequest: now + configuration.requestInterval)
                    counters.requestsSent += 1
                    actions.append(.request(address))
                }
            }
        }
        return actions.sorted { a, b in
            func key(_ x: Action) -> UInt32 { switch x { case .request(let a), .failed(let a, _): return a.rawValue } }
            return key(a) < key(b)
        }
    }

    /// When `poll` next has something to do.
    public var nextDeadline: Instant? {
        entries.values.map { e -> Instant in
            switch e {
            case .resolved(_, let expires): return expires
            case .resolving(_, _, let next): return next
            }
        }.min()
    }

    /// Frees a slot when the table is full: expired entries first, then the resolved entry
    /// closest to expiry. False when every entry is a resolution in progress.
    private mutating func makeRoom(now: Instant) -> Bool {
        guard entries.count >= configuration.maximumEntries else { return true }
        for (a, e) in entries { if case .resolved(_, let x) = e, x <= now { entries.removeValue(forKey: a) } }
        if entries.count < configuration.maximumEntries { return true }
        var victim: (IPv4Address, Instant)?
        for (a, e) in entries {
            if case .resolved(_, let x) = e, victim == nil || x < victim!.1 { victim = (a, x) }
        }
        guard let v = victim else { return false }
        entries.removeValue(forKey: v.0)
        counters.entriesEvicted += 1
        return true
    }
}
