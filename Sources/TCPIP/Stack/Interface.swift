/// What sits below IP on this interface.
public enum InterfaceLink: Sendable, Hashable {
    /// Ethernet II frames with ARP (a TAP device): frames carry a 14-byte header.
    case ethernet(MACAddress)
    /// Bare IP packets (a TUN device): no link header, no ARP.
    case ip

    /// Bytes in front of the IP packet in a frame.
    @inlinable public var headerLength: Int {
        switch self {
        case .ethernet: return EthernetFrameView.minimumLength
        case .ip: return 0
        }
    }
}

/// Network-layer protocols the interface speaks. Only `.ipv4` is implemented.
///
/// Slot for IPv6: an `.ipv6` interface would add Neighbor Discovery (in place of ARP),
/// ICMPv6, the IPv6 fragment header and an IPv6 host. Today IPv6 input (EtherType
/// 0x86DD, or version 6 on a TUN) is counted as `ipv6Unsupported` and dropped, and
/// asking for `.ipv6` in the configuration is `InterfaceError.unsupported`.
public enum NetworkProtocol: Sendable, Hashable {
    case ipv4
    case ipv6
}

/// Which destination addresses the interface terminates. Only `.ownAddress` is implemented.
///
/// Slot for a transparent (tun2socks-style) mode: `.transparent` would accept TCP and
/// UDP to *any* address (each flow's local address is the packet's destination, so the
/// host would demultiplex on the full four-tuple and answer from that address, with a
/// listener that takes every SYN). Asking for it today is `InterfaceError.unsupported`.
public enum DestinationPolicy: Sendable, Hashable {
    /// Datagrams to our address or a broadcast address; anything else is `notForUs`.
    case ownAddress
    /// Reserved: datagrams to any address.
    case transparent
}

/// A rate: `perSecond` tokens a second, at most `burst` saved up. `perSecond` ≤ 0: unlimited.
public struct RateLimit: Sendable, Hashable {
    public var perSecond: Int
    public var burst: Int
    public init(perSecond: Int, burst: Int) { self.perSecond = perSecond; self.burst = max(1, burst) }
    public static let unlimited = RateLimit(perSecond: 0, burst: 1)
}

/// Everything an `Interface` is built from.
public struct InterfaceConfiguration: Sendable {
    public var link: InterfaceLink
    /// Our address, its on-link prefix and the default gateway.
    public var route: IPv4Route
    /// Largest IP packet sent (the link MTU). TCP's MSS is capped at `mtu - 40`.
    public var mtu: Int = 1500
    public var networkProtocol: NetworkProtocol = .ipv4
    public var destinationPolicy: DestinationPolicy = .ownAddress
    public var arp = ARPCache.Configuration()
    public var reassembly = IPv4Reassembly.Limits()
    /// TTL of every datagram we originate (RFC 1122 §3.2.1.7; Linux: 64). A host does not
    /// forward, so arriving TTLs are not checked (RFC 1122: no discard for TTL < 2).
    public var timeToLive: UInt8 = 64
    /// Echo replies (Linux does not limit them by default; a flood is bounded here).
    public var echoReplyRate = RateLimit(perSecond: 1000, burst: 50)
    /// ICMP errors we send (destination unreachable); Linux: 1000/s, burst 50, plus 1/s per host.
    public var errorRate = RateLimit(perSecond: 100, burst: 10)
    /// Datagrams (ICMP, UDP, released after ARP) waiting for `poll`; beyond it they are dropped.
    public var transmitQueueLimit = 256
    /// Datagrams held per UDP socket before arrivals are dropped.
    public var udpQueueLimit = 64
    /// Announce our address with a gratuitous ARP on the first `poll` (RFC 5227 §2.3).
    public var gratuitousARP = true
    /// The ICMP identifier of our own echo requests (`sendPing`).
    public var pingIdentifier: UInt16 = 0x7463
    /// The link cuts TCP super-segments and completes partial checksums (a TAP or TUN with
    /// the virtio-net header and TUNSETOFFLOAD): the host's TCP then sends new data in
    /// packets of up to 64 KiB; `poll` buffers must hold 65,535 bytes plus the link header,
    /// and each frame's `lastFrameOffload` must go with it. Received packets may also be
    /// larger than the MTU (the kernel's coalesced segments): they are taken as they are.
    public var segmentationOffload = false

    public init(link: InterfaceLink, address: IPv4Address, prefixLength: Int, gateway: IPv4Address? = nil, mtu: Int = 1500) {
        self.link = link
        self.route = IPv4Route(address: address, prefixLength: prefixLength, gateway: gateway)
        self.mtu = mtu
    }
}

/// Why an interface operation was refused.
public enum InterfaceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A UDP port already bound.
    case portInUse
    /// The UDP port is not bound here.
    case notBound
    /// No ephemeral UDP port is free.
    case noEphemeralPort
    /// No route: off-link without a gateway, multicast, or the unspecified address.
    case noRoute
    /// Payload too large for one IPv4 datagram (65,535 bytes with headers).
    case datagramTooLarge
    /// The transmit queue is full.
    case queueFull
    /// A configuration this version does not implement (IPv6, transparent mode).
    case unsupported(String)
    /// The host refused (port in use, no ephemeral port, invalid destination).
    case host(HostError)

    public var description: String {
        switch self {
        case .portInUse: return "port in use"
        case .notBound: return "port not bound"
        case .noEphemeralPort: return "no ephemeral port free"
        case .noRoute: return "no route to host"
        case .datagramTooLarge: return "datagram too large"
        case .queueFull: return "transmit queue full"
        case .unsupported(let what): return "unsupported: \(what)"
        case .host(let e): return "\(e)"
        }
    }
}

/// Why the interface dropped a frame, a packet or a datagram it was asked to send.
/// (TCP-level drops are the host's: `IPv4Host.counters.drops`; reassembly's by reason
/// are in `Interface.reassemblyDrops`.)
public struct InterfaceDropCounts: Sendable, Hashable, CustomStringConvertible {
    // Link layer
    /// Shorter than an Ethernet header, or stacked VLAN tags.
    public var malformedFrame = 0
    /// An 802.1Q-tagged frame (no VLAN is configured here).
    public var vlanTagged = 0
    /// Unicast to another MAC address, or multicast we did not join.
    public var notOurMAC = 0
    public var unknownEtherType = 0
    /// IPv6 (EtherType 0x86DD, or version 6 on a TUN): not implemented yet.
    public var ipv6Unsupported = 0
    /// ARP with a bad length or a hardware/protocol type other than Ethernet/IPv4.
    public var malformedARP = 0
    /// Another host claims our address (its ARP's sender is our IP with another MAC).
    public var arpAddressConflict = 0
    // IPv4 receive
    /// Truncated, bad version, header or total length, or malformed options.
    public var malformedIP = 0
    public var badIPChecksum = 0
    /// Destination neither our address nor a broadcast address.
    public var notForUs = 0
    /// Source broadcast, multicast or on-link broadcast.
    public var badSource = 0
    /// A fragment reassembly dropped (see `Interface.reassemblyDrops` for why).
    public var fragmentDropped = 0
    /// A protocol other than ICMP, UDP, TCP (answered with protocol unreachable).
    public var unknownProtocol = 0
    /// TCP to a broadcast address.
    public var tcpToBroadcast = 0
    // ICMP
    public var malformedICMP = 0
    public var badICMPChecksum = 0
    /// Echo requests not answered for lack of tokens.
    public var echoRateLimited = 0
    /// Echo requests to a broadcast address (not answered, as Linux by default).
    public var echoToBroadcast = 0
    /// ICMP errors we would have sent but for the rate limit.
    public var errorRateLimited = 0
    /// ICMP errors received that act on nothing (unknown tuple, out-of-window sequence...).
    public var icmpErrorIgnored = 0
    /// ICMP types we do not handle (timestamp, redirect, router messages...).
    public var icmpUnhandledType = 0
    // UDP
    public var malformedUDP = 0
    public var badUDPChecksum = 0
    /// No socket bound to the destination port (answered with port unreachable).
    public var udpNoSocket = 0
    /// The socket's receive queue was full.
    public var udpQueueFull = 0
    // Transmit
    /// No route to the destination of a datagram to send.
    public var noRoute = 0
    /// A datagram over the MTU with DF set.
    public var needsFragmentation = 0
    /// The transmit queue was full.
    public var transmitQueueFull = 0
    /// Packets dropped because their next hop did not resolve, or its queue was full.
    public var arpUnresolved = 0
    /// A packet handed over larger than the caller's buffer.
    public var bufferTooSmall = 0

    public init() {}

    public var total: Int {
        malformedFrame + vlanTagged + notOurMAC + unknownEtherType + ipv6Unsupported + malformedARP
            + arpAddressConflict + malformedIP + badIPChecksum + notForUs + badSource + fragmentDropped
            + unknownProtocol + tcpToBroadcast + malformedICMP + badICMPChecksum + echoRateLimited + echoToBroadcast
            + errorRateLimited + icmpErrorIgnored + icmpUnhandledType + malformedUDP + badUDPChecksum + udpNoSocket
            + udpQueueFull + noRoute + needsFragmentation + transmitQueueFull + arpUnresolved + bufferTooSmall
    }

    /// The non-zero counts, "name=value" separated by spaces ("none" when all are zero).
    public var description: String {
        let all: [(String, Int)] = [
            ("malformedFrame", malformedFrame), ("vlanTagged", vlanTagged), ("notOurMAC", notOurMAC),
            ("unknownEtherType", unknownEtherType), ("ipv6Unsupported", ipv6Unsupported), ("malformedARP", malformedARP),
            ("arpAddressConflict", arpAddressConflict), ("malformedIP", malformedIP), ("badIPChecksum", badIPChecksum),
            ("notForUs", notForUs), ("badSource", badSource), ("fragmentDropped", fragmentDropped),
            ("unknownProtocol", unknownProtocol), ("tcpToBroadcast", tcpToBroadcast), ("malformedICMP", malformedICMP),
            ("badICMPChecksum", badICMPChecksum), ("echoRateLimited", echoRateLimited), ("echoToBroadcast", echoToBroadcast),
            ("errorRateLimited", errorRateLimited), ("icmpErrorIgnored", icmpErrorIgnored),
            ("icmpUnhandledType", icmpUnhandledType), ("malformedUDP", malformedUDP), ("badUDPChecksum", badUDPChecksum),
            ("udpNoSocket", udpNoSocket), ("udpQueueFull", udpQueueFull), ("noRoute", noRoute),
            ("needsFragmentation", needsFragmentation), ("transmitQueueFull", transmitQueueFull),
            ("arpUnresolved", arpUnresolved), ("bufferTooSmall", bufferTooSmall),
        ]
        let s = all.filter { $0.1 != 0 }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return s.isEmpty ? "none" : s
    }
}

/// What the interface did.
public struct InterfaceCounters: Sendable, Hashable, CustomStringConvertible {
    public var framesIn = 0
    public var framesOut = 0
    public var arpRequestsAnswered = 0
    public var arpRequestsSent = 0
    public var arpResolutionsFailed = 0
    public var datagramsReassembled = 0
    public var fragmentsSent = 0
    public var echoRepliesSent = 0
    public var icmpErrorsSent = 0
    /// ICMP errors received, and those that acted on a TCP connection.
    public var icmpErrorsReceived = 0
    public var icmpErrorsApplied = 0
    public var udpDatagramsIn = 0
    public var udpDatagramsOut = 0
    public var pingsSent = 0
    public var pingRepliesReceived = 0
    public var drops = InterfaceDropCounts()
    public init() {}

    /// One line: traffic, ARP, ICMP, UDP, then the drops by reason.
    public var description: String {
        "frames in=\(framesIn) out=\(framesOut) arp answered=\(arpRequestsAnswered) requests=\(arpRequestsSent) "
            + "failed=\(arpResolutionsFailed) reassembled=\(datagramsReassembled) fragmentsSent=\(fragmentsSent) "
            + "echoReplies=\(echoRepliesSent) icmpErrors sent=\(icmpErrorsSent) received=\(icmpErrorsReceived) "
            + "applied=\(icmpErrorsApplied) udp in=\(udpDatagramsIn) out=\(udpDatagramsOut) "
            + "pings=\(pingsSent)/\(pingRepliesReceived) drops: \(drops)"
    }
}

/// Something the application may want to know about.
public enum InterfaceEvent: Sendable, Hashable {
    /// ARP gave up on `address`; `droppedPackets` waiting for it were dropped (and TCP
    /// connects in SYN-SENT to it failed with `.unreachable`).
    case resolutionFailed(IPv4Address, droppedPackets: Int)
    /// Another station answered for our address.
    case addressConflict(MACAddress)
    /// A path MTU lowered by an ICMP fragmentation-needed (RFC 1191).
    case pathMTULowered(IPv4Address, mtu: Int)
}

/// The sans-IO network interface: Ethernet frames (TAP) or IPv4 packets (TUN) in and
/// out, around an `IPv4Host` that runs TCP.
///
/// - `receive(_:now:)` takes one frame (or packet): Ethernet demux and ARP
///   (EthernetLayer.swift, ARPHandling.swift), IPv4 validation and reassembly
///   (IPv4Input.swift), then ICMP (ICMPHandling.swift), UDP (UDPSockets.swift) or the
///   host's TCP.
/// - `poll(now:into:)` writes one frame (or packet) and returns its length, 0 when there
///   is nothing to send: queued ARP, then queued datagrams (fragmented on the way,
///   IPv4Output.swift), then the host's TCP segments, which the host writes in place
///   after the link header (no copy) and which are framed once ARP knows the next hop
///   (Routing.swift) or else held while it resolves.
/// - `nextDeadline` says when to poll again (ARP retries and expiry, reassembly
///   timeouts, TCP timers); nil when idle. ICMP rate limits drop rather than delay, so
///   they add no deadline.
///
/// Every drop is counted by reason in `counters.drops`.
public final class Interface {
    public let configuration: InterfaceConfiguration
    public let host: IPv4Host
    public internal(set) var counters = InterfaceCounters()

    public var address: IPv4Address { configuration.route.address }
    public var route: IPv4Route { configuration.route }
    public var mtu: Int { configuration.mtu }
    /// The largest frame `poll` writes: the MTU plus the link header (65,535 plus the link
    /// header with `segmentationOffload`). Size poll buffers to it.
    public var frameCapacity: Int {
        (configuration.segmentationOffload ? 65535 : configuration.mtu) + configuration.link.headerLength
    }
    /// What the link must do with the frame the last `poll` wrote (`.none` unless
    /// `segmentationOffload`): offsets count from the start of the frame.
    public private(set) var lastFrameOffload = VirtioNetHeader.none
    /// Our MAC address (nil on a TUN).
    public var macAddress: MACAddress? {
        if case .ethernet(let m) = configuration.link { return m }
        return nil
    }

    // ARP (ARPHandling.swift)
    public internal(set) var arp: ARPCache
    /// The earliest time any ARP entry expires or a request is due. Every change of the
    /// cache sets it again, which also clears `hopCache`.
    var arpDeadline: Instant? { didSet { hopCache = nil } }
    /// The last next hop looked up and its MAC: valid while the cache is unchanged and
    /// before `arpDeadline` (no entry expires earlier), so a flow skips the table lookup.
    var hopCache: (neighbor: IPv4Address, mac: MACAddress)?
    /// Half the ARP entry lifetime in nanoseconds: how often traffic confirms a neighbour.
    let confirmInterval: Int64
    /// ARP packets to send and the MAC address each goes to.
    var arpOut: [(packet: ARPPacket, to: MACAddress)] = []
    var gratuitousPending: Bool
    /// The neighbour last confirmed reachable by traffic from it (ARPHandling.swift).
    var lastConfirmed: (neighbor: IPv4Address, mac: MACAddress, at: Instant)?

    // IPv4 (IPv4Input.swift, IPv4Output.swift)
    public internal(set) var reassembly: IPv4Reassembly
    var reassemblyDeadline: Instant?
    /// Where a reassembled datagram is rebuilt (header + payload), reused.
    var reassembled: UnsafeMutableRawBufferPointer
    var transmitQueue: [OutgoingDatagram] = []
    var transmitHead = 0
    var identification: UInt16
    /// Path MTUs learned from ICMP fragmentation-needed, by destination.
    public internal(set) var pathMTUs: [IPv4Address: Int] = [:]

    // ICMP (ICMPHandling.swift)
    var echoBucket: TokenBucket
    var errorBucket: TokenBucket
    var pingsInFlight: [UInt16: (sent: Instant, to: IPv4Address, size: Int)] = [:]
    var pingEvents: [PingEvent] = []

    // UDP (UDPSockets.swift)
    var udpSockets: [UInt16: UDPSocketState] = [:]
    var nextEphemeralUDP: UInt16 = 49152

    var events: [InterfaceEvent] = []
    var lastNow = Instant.zero

    /// An interface around `host` (whose address must be the configuration's).
    public init(configuration: InterfaceConfiguration, host: IPv4Host, seed: UInt64 = 0) throws(InterfaceError) {
        guard configuration.networkProtocol == .ipv4 else { throw .unsupported("IPv6") }
        guard configuration.destinationPolicy == .ownAddress else { throw .unsupported("transparent mode") }
        guard host.address == configuration.route.address else { throw .unsupported("host address differs from the interface's") }
        var c = configuration
        c.mtu = max(68, min(c.mtu, 65535))
        self.configuration = c
        self.host = host
        if c.segmentationOffload { host.segmentationOffload = true }
        arp = ARPCache(configuration: c.arp)
        confirmInterval = (c.arp.entryLifetime / 2).nanosecondsClamped
        reassembly = IPv4Reassembly(limits: c.reassembly)
        reassembled = .allocate(byteCount: 65536, alignment: 8)
        identification = UInt16(truncatingIfNeeded: seed &* 0x9E37_79B9_7F4A_7C15 >> 48)
        echoBucket = TokenBucket(c.echoReplyRate)
        errorBucket = TokenBucket(c.errorRate)
        if case .ethernet = c.link { gratuitousPending = c.gratuitousARP } else { gratuitousPending = false }
    }

    /// An interface with its own host (TCP MSS capped at `mtu - 40`).
    public convenience init(configuration: InterfaceConfiguration, tcp: TCPConfiguration = .default,
                            seed: UInt64) throws(InterfaceError) {
        var t = tcp
        t.maximumSegmentSize = min(t.maximumSegmentSize, max(68, configuration.mtu) - 40)
        let h = IPv4Host(address: configuration.route.address, configuration: t, mtu: configuration.mtu, seed: seed)
        try self.init(configuration: configuration, host: h, seed: seed)
    }

    deinit { reassembled.deallocate() }

    @inline(__always) func noteTime(_ now: Instant) { if lastNow < now { lastNow = now } }

    /// The next event, oldest first.
    public func nextEvent() -> InterfaceEvent? { events.isEmpty ? nil : events.removeFirst() }

    func post(_ e: InterfaceEvent) { if events.count < 256 { events.append(e) } }

    /// Reassembly drops by reason.
    public var reassemblyDrops: [IPv4Reassembly.DropReason: Int] { reassembly.drops }

    // MARK: receive

    /// Processes one frame (Ethernet link) or one IP packet (IP link).
    public func receive(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        noteTime(now)
        counters.framesIn += 1
        switch configuration.link {
        case .ethernet(let mac): receiveFrame(bytes, ourMAC: mac, now: now)
        case .ip: receivePacket(bytes, linkBroadcast: false, linkSource: nil, now: now)
        }
    }

    public func receive(_ bytes: [UInt8], now: Instant) {
        bytes.withUnsafeBytes { receive($0, now: now) }
    }

    /// `receive(_:now:)` under the name the runtime's `PacketProcessor` uses (a frame on
    /// an Ethernet link, a packet on an IP link).
    @inline(__always)
    public func receive(packet: UnsafeRawBufferPointer, now: Instant) { receive(packet, now: now) }

    /// The TCP host (the runtime's `PacketProcessor.tcpHost`).
    public var tcpHost: IPv4Host { host }
    /// `frameCapacity` (the runtime's `PacketProcessor.maximumPacketSize`).
    public var maximumPacketSize: Int { frameCapacity }

    // MARK: the application's side

    /// Active TCP open through the host, refused at once with `.noRoute` when the
    /// destination has no route (off-link without a gateway), as Linux's ENETUNREACH.
    /// A path MTU learned for the destination (RFC 1191) caps the MSS offered and used.
    public func connect(to remote: IPv4Address, port: UInt16, now: Instant,
                        configuration tcp: TCPConfiguration? = nil) throws(InterfaceError) -> ConnectionHandle {
        noteTime(now)
        guard case .neighbor? = route.nextHop(for: remote) else { throw .noRoute }
        var chosen = tcp
        if let learned = pathMTUs[remote] {
            var c = tcp ?? host.configuration
            c.maximumSegmentSize = min(c.maximumSegmentSize, max(68, learned) - 40)
            chosen = c
        }
        do { return try host.connect(to: remote, port: port, now: now, configuration: chosen) } catch { throw .host(error) }
    }

    // MARK: transmit

    /// Writes the next frame (or packet) to send into `buffer` and returns its length; 0
    /// when nothing is due. Call until 0, then again by `nextDeadline`. `buffer` should
    /// hold `mtu` plus the link header (14 bytes on Ethernet).
    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        noteTime(now)
        lastFrameOffload = .none
        runTimers(now: now)
        let link = configuration.link.headerLength
        guard buffer.count >= link + 68 else { counters.drops.bufferTooSmall += 1; return 0 }
        // Every pass consumes something (an ARP packet, a queued datagram, a host packet
        // parked for ARP), so the loop ends; the bound is a guard.
        for _ in 0..<4096 {
            if gratuitousPending, let mac = macAddress {
                gratuitousPending = false
                let g = ARPPacket(operation: .request, senderHardwareAddress: mac, senderProtocolAddress: address,
                                  targetHardwareAddress: .zero, targetProtocolAddress: address)
                return emitARP(g, to: .broadcast, into: buffer)
            }
            if !arpOut.isEmpty {
                let (p, to) = arpOut.removeFirst()
                return emitARP(p, to: to, into: buffer)
            }
            if transmitHead < transmitQueue.count {
                let n = emitQueued(now: now, into: buffer)
                if n > 0 { counters.framesOut += 1; return n }
                continue
            }
            let room = min(buffer.count - link, configuration.segmentationOffload ? 65535 : mtu)
            let packet = UnsafeMutableRawBufferPointer(rebasing: buffer[link..<(link + room)])
            let n = host.poll(now: now, into: packet)
            if n == 0 { return 0 }
            let ip = UnsafeRawBufferPointer(rebasing: packet[0..<n])
            // A super-segment parked for ARP is dropped when released (too big, partial
            // checksum); TCP sends it again.
            if let written = frame(packet: ip, in: buffer, now: now) {
                counters.framesOut += 1
                var o = host.lastPacketOffload
                if o.isSegmentationOffload {
                    o.checksumStart += UInt16(link)
                    o.headerLength += UInt16(link)
                    lastFrameOffload = o
                }
                return written
            }
        }
        return 0
    }

    /// When `poll` should be called next; nil when idle.
    public var nextDeadline: Instant? {
        if gratuitousPending || !arpOut.isEmpty || transmitHead < transmitQueue.count { return lastNow }
        var d = host.nextDeadline
        if let x = arpDeadline, d == nil || x < d! { d = x }
        if let x = reassemblyDeadline, d == nil || x < d! { d = x }
        return d
    }

    func runTimers(now: Instant) {
        if let d = arpDeadline, d <= now { runARPTimers(now: now) }
        if let d = reassemblyDeadline, d <= now {
            let before = reassembly.drops[.timedOut] ?? 0
            reassembly.expire(now: now)
            counters.drops.fragmentDropped += (reassembly.drops[.timedOut] ?? 0) - before
            reassemblyDeadline = reassembly.nextDeadline
        }
    }
}
