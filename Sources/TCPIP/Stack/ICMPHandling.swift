// ICMP for `Interface` (RFC 792, RFC 1122 §3.2.2): echo replies, destination
// unreachable (protocol, port) with rate limits, our own echo requests (ping), and
// ICMP errors about our TCP segments checked against the connection before they act
// (RFC 5927), fragmentation-needed lowering the path MTU (RFC 1191).

/// A token bucket: `take` succeeds while tokens last; they come back at `rate.perSecond`
/// a second up to `rate.burst`.
public struct TokenBucket: Sendable {
    public let rate: RateLimit
    public private(set) var tokens: Int
    var refilledAt: Instant?

    public init(_ rate: RateLimit) {
        self.rate = rate
        tokens = rate.burst
    }

    public mutating func take(now: Instant) -> Bool {
        guard rate.perSecond > 0 else { return true }
        let interval = Int64(1_000_000_000) / Int64(rate.perSecond)
        if let last = refilledAt {
            let elapsed = now.nanoseconds - last.nanoseconds
            if elapsed >= interval {
                let add = elapsed / interval
                if add >= Int64(rate.burst - tokens) {
                    tokens = rate.burst
                    refilledAt = now
                } else {
                    tokens += Int(add)
                    refilledAt = Instant(nanoseconds: last.nanoseconds + add * interval)
                }
            }
        } else {
            refilledAt = now
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}

/// What the connection an ICMP error names looks like, for `Interface.icmpErrorVerdict`.
public struct ICMPErrorTarget: Sendable, Hashable {
    public var state: TCPState
    /// SND.UNA.
    public var sendUnacknowledged: SequenceNumber
    /// The highest sequence number sent plus one (SND.NXT before any go-back-N rollback).
    public var sendNext: SequenceNumber

    public init(state: TCPState, sendUnacknowledged: SequenceNumber, sendNext: SequenceNumber) {
        self.state = state
        self.sendUnacknowledged = sendUnacknowledged
        self.sendNext = sendNext
    }
}

/// What an ICMP error received means for TCP.
public enum ICMPErrorVerdict: Sendable, Hashable {
    /// Not an error about a TCP segment we sent (another protocol, a quote too short to
    /// name the segment, a quoted source that is not our address).
    case notApplicable
    /// No connection has the quoted four-tuple (from our side).
    case unknownConnection(FourTuple)
    /// The quoted sequence number is outside SND.UNA ≤ seq < SND.NXT: stale or forged,
    /// ignored (RFC 5927 §4.1).
    case outOfWindow(FourTuple, SequenceNumber)
    /// Fail the connection attempt: a destination unreachable (other than
    /// fragmentation-needed) for a connection in SYN-SENT (RFC 1122 §4.2.3.9; Linux reports
    /// EHOSTUNREACH/ECONNREFUSED at once).
    case failConnect(FourTuple, ICMPv4UnreachableCode)
    /// A soft error: no action (a synchronized connection, RFC 5461; time exceeded,
    /// parameter problem; source quench, RFC 6633; redirect).
    case softError(FourTuple)
    /// Fragmentation needed with DF set: the path MTU toward the peer is `mtu` (RFC 1191;
    /// from the plateau table when the router sent no next-hop MTU), at least 68.
    case lowerPathMTU(FourTuple, mtu: Int)
}

/// One answer to our echo requests, or an error about one.
public enum PingEvent: Sendable, Hashable {
    case reply(PingReply)
    /// An ICMP error quoting our echo request `sequence` (host unreachable, TTL exceeded...).
    case error(sequence: UInt16, from: IPv4Address, type: UInt8, code: UInt8)
}

public struct PingReply: Sendable, Hashable {
    public var from: IPv4Address
    public var sequence: UInt16
    /// ICMP data bytes (without the 8-byte ICMP header), like ping's "-s".
    public var size: Int
    public var timeToLive: UInt8
    public var roundTrip: Duration
    /// The reply's data is the request's.
    public var dataMatches: Bool
}

extension Interface {
    /// RFC 1191 §7's plateau table, descending.
    static let mtuPlateaus = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68]

    /// What an ICMP error (`message`, the ICMP header and body) means for TCP on a host at
    /// `localAddress`: the quoted datagram names a four-tuple (ours as its source), whose
    /// connection `connection` looks up; its quoted sequence number must be one we sent and
    /// have not had acknowledged (RFC 5927 §4.1) before anything acts on it.
    public static func icmpErrorVerdict(for message: ICMPv4MessageView, localAddress: IPv4Address,
                                        connection: (FourTuple) -> ICMPErrorTarget?) -> ICMPErrorVerdict {
        guard message.isError, let q = try? message.quotedDatagram(), q.protocol == IPProtocol.tcp,
              q.source == localAddress, let ports = q.quotedPorts, let seq = q.quotedTCPSequenceNumber else {
            return .notApplicable
        }
        let tuple = FourTuple(localAddress: q.source, localPort: ports.source,
                              remoteAddress: q.destination, remotePort: ports.destination)
        guard let target = connection(tuple) else { return .unknownConnection(tuple) }
        guard target.sendUnacknowledged <= seq, seq < target.sendNext else { return .outOfWindow(tuple, seq) }
        guard message.type == ICMPv4Type.destinationUnreachable else { return .softError(tuple) }
        let code = ICMPv4UnreachableCode(rawValue: message.code)
        if code == .fragmentationNeeded {
            let sent = q.totalLength
            var mtu = Int(message.nextHopMTU)
            if mtu == 0 { mtu = mtuPlateaus.first { $0 < sent } ?? 68 }
            guard mtu < sent else { return .softError(tuple) }
            return .lowerPathMTU(tuple, mtu: max(68, mtu))
        }
        return target.state == .synSent ? .failConnect(tuple, code) : .softError(tuple)
    }

    /// One ICMP message for us.
    func deliverICMP(_ ip: IPv4HeaderView, toBroadcast: Bool, now: Instant) {
        let msg: ICMPv4MessageView
        do { msg = try ICMPv4MessageView(ip.payload) } catch { counters.drops.malformedICMP += 1; return }
        guard msg.checksumIsValid else { counters.drops.badICMPChecksum += 1; return }
        switch msg.type {
        case ICMPv4Type.echoRequest:
            guard !toBroadcast else { counters.drops.echoToBroadcast += 1; return }
            guard echoBucket.take(now: now) else { counters.drops.echoRateLimited += 1; return }
            let request = msg.bytes
            let reply = makeDatagram(protocol: IPProtocol.icmp, to: ip.source, payloadLength: request.count) { b in
                b.copyMemory(from: request)
                b[0] = ICMPv4Type.echoReply
                b[1] = 0
                ICMPv4Message.fillChecksum(message: b)
            }
            if enqueueDatagram(reply, now: now) { counters.echoRepliesSent += 1 }
        case ICMPv4Type.echoReply:
            receiveEchoReply(msg, ip: ip, now: now)
        case ICMPv4Type.destinationUnreachable, ICMPv4Type.timeExceeded, ICMPv4Type.parameterProblem,
             ICMPv4Type.sourceQuench, ICMPv4Type.redirect:
            receiveICMPError(msg, from: ip.source, now: now)
        default:
            counters.drops.icmpUnhandledType += 1
        }
    }

    func receiveICMPError(_ msg: ICMPv4MessageView, from: IPv4Address, now: Instant) {
        counters.icmpErrorsReceived += 1
        guard let q = try? msg.quotedDatagram() else { counters.drops.malformedICMP += 1; return }
        if q.protocol == IPProtocol.icmp, q.source == address, q.payload.count >= 8,
           q.payload[0] == ICMPv4Type.echoRequest, q.payload.be16(4) == configuration.pingIdentifier {
            let seq = q.payload.be16(6)
            if pingsInFlight.removeValue(forKey: seq) != nil {
                pingEvents.append(.error(sequence: seq, from: from, type: msg.type, code: msg.code))
                counters.icmpErrorsApplied += 1
                return
            }
        }
        if q.protocol == IPProtocol.udp, q.source == address, recordUDPError(msg, quoted: q, reporter: from) {
            counters.icmpErrorsApplied += 1
            return
        }
        let table = host.table
        let verdict = Interface.icmpErrorVerdict(for: msg, localAddress: address) { t in
            guard let s = table.byTuple[t], let c = table.slots[Int(s)].connection else { return nil }
            return ICMPErrorTarget(state: c.state, sendUnacknowledged: c.sendUnacknowledged, sendNext: c.sndMax)
        }
        apply(verdict, now: now)
    }

    /// Acts on a verdict. Failing a connect uses `TCPConnection.destinationUnreachable(_:now:)`
    /// (port or protocol unreachable: `.refused`; otherwise `.unreachable`). A lower path MTU
    /// is recorded per destination (it limits our own datagrams and the MSS of later
    /// connects there) and lowers the named connection's segment size, which resends the
    /// dropped segment at the new size (`TCPConnection.lowerPathMTU`).
    func apply(_ verdict: ICMPErrorVerdict, now: Instant) {
        switch verdict {
        case .failConnect(let t, let code):
            if let s = host.table.byTuple[t], let c = host.table.slots[Int(s)].connection {
                c.destinationUnreachable(code, now: now)
                host.wake(host.table.handle(of: s))
            }
            counters.icmpErrorsApplied += 1
        case .lowerPathMTU(let t, let m):
            if m < pathMTU(to: t.remoteAddress) {
                pathMTUs[t.remoteAddress] = m
                post(.pathMTULowered(t.remoteAddress, mtu: m))
            }
            // Every connection to the peer learns it from its own ICMP (each quotes that
            // connection's segment); this one was checked against its sequence numbers.
            if let s = host.table.byTuple[t], let c = host.table.slots[Int(s)].connection,
               c.lowerPathMTU(min(m, pathMTU(to: t.remoteAddress)), now: now) {
                host.wake(host.table.handle(of: s))
            }
            counters.icmpErrorsApplied += 1
        case .softError:
            counters.icmpErrorsApplied += 1
        case .notApplicable, .unknownConnection, .outOfWindow:
            counters.drops.icmpErrorIgnored += 1
        }
    }

    /// Destination unreachable about `ip`, quoting its header and first 8 payload bytes,
    /// unless RFC 1122 §3.2.2 forbids one (about an ICMP error, a broadcast or multicast,
    /// a source that names no single host, a non-initial fragment) or the rate limit says no.
    func sendUnreachable(_ code: ICMPv4UnreachableCode, about ip: IPv4HeaderView, now: Instant) {
        let src = ip.source
        guard !route.isBroadcast(ip.destination), !ip.destination.isMulticast,
              src != .any, !route.isBroadcast(src), !src.isMulticast, ip.fragmentOffset == 0 else { return }
        if ip.protocol == IPProtocol.icmp {
            let p = ip.payload
            if p.isEmpty || ICMPv4Type.isError(p[0]) { return }
        }
        guard errorBucket.take(now: now) else { counters.drops.errorRateLimited += 1; return }
        let quoted = UnsafeRawBufferPointer(rebasing: ip.bytes[0..<min(ip.bytes.count, ip.headerLength + 8)])
        let d = makeDatagram(protocol: IPProtocol.icmp, to: src, payloadLength: 8 + quoted.count) { b in
            _ = try? ICMPv4Message.writeHeader(type: ICMPv4Type.destinationUnreachable, code: code.rawValue,
                                               restOfHeader: 0, into: b)
            UnsafeMutableRawBufferPointer(rebasing: b[8...]).copyMemory(from: quoted)
            ICMPv4Message.fillChecksum(message: b)
        }
        if enqueueDatagram(d, now: now) { counters.icmpErrorsSent += 1 }
    }

    // MARK: ping

    /// Queues an echo request to `destination` carrying `size` data bytes (a counting
    /// pattern), identifier `configuration.pingIdentifier`. Past the MTU it is
    /// fragmented on send. Answers come back through `nextPingEvent()`.
    public func sendPing(to destination: IPv4Address, sequence: UInt16, size: Int, now: Instant) throws(InterfaceError) {
        noteTime(now)
        guard size >= 0, 20 + 8 + size <= 65535 else { throw .datagramTooLarge }
        guard route.nextHop(for: destination) != nil else { throw .noRoute }
        guard queuedDatagrams < configuration.transmitQueueLimit else { throw .queueFull }
        let id = configuration.pingIdentifier
        let d = makeDatagram(protocol: IPProtocol.icmp, to: destination, payloadLength: 8 + size) { b in
            _ = try? ICMPv4Message.writeHeader(type: ICMPv4Type.echoRequest, code: 0,
                                               restOfHeader: UInt32(id) << 16 | UInt32(sequence), into: b)
            for i in 0..<size { b[8 + i] = UInt8(truncatingIfNeeded: i) }
            ICMPv4Message.fillChecksum(message: b)
        }
        if pingsInFlight.count >= 4096 { pingsInFlight.removeAll() }
        pingsInFlight[sequence] = (now, destination, size)
        enqueueDatagram(d, now: now)
        counters.pingsSent += 1
    }

    /// The next ping answer, oldest first.
    public func nextPingEvent() -> PingEvent? { pingEvents.isEmpty ? nil : pingEvents.removeFirst() }

    func receiveEchoReply(_ msg: ICMPv4MessageView, ip: IPv4HeaderView, now: Instant) {
        guard msg.identifier == configuration.pingIdentifier,
              let sent = pingsInFlight[msg.sequenceNumber], sent.to == ip.source || route.isBroadcast(sent.to) else {
            counters.drops.icmpUnhandledType += 1
            return
        }
        pingsInFlight.removeValue(forKey: msg.sequenceNumber)
        let body = msg.body
        var matches = body.count == sent.size
        if matches { for i in 0..<body.count where body[i] != UInt8(truncatingIfNeeded: i) { matches = false; break } }
        counters.pingRepliesReceived += 1
        if pingEvents.count < 4096 {
            pingEvents.append(.reply(PingReply(from: ip.source, sequence: msg.sequenceNumber, size: body.count,
                                               timeToLive: ip.timeToLive, roundTrip: now - sent.sent, dataMatches: matches)))
        }
    }
}
