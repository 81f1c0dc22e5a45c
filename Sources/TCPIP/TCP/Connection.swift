/// One TCP connection: the RFC 9293 state machine as a deterministic, sans-IO object.
///
/// Nothing here reads a clock or touches the network. The owner
/// - feeds arriving segments to `handle(segment:now:)` (SegmentArrives.swift),
/// - calls `poll(now:into:)` until it returns 0 to collect segments to send (Output.swift),
///   and again no later than `nextDeadline` (Timers.swift),
/// - moves bytes with `write` / `read`, ends with `close` / `abort`,
/// - drains `nextEvent()`.
///
/// Files, by concern: State.swift (the states), Configuration.swift (every default),
/// Events.swift (events, errors, counters), SegmentArrives.swift (RFC 9293 §3.10.7),
/// Output.swift (what to send: SYN, data, FIN, ACK, RST; Nagle and SWS avoidance),
/// Timers.swift (retransmission, persist, delayed ACK, keepalive, TIME-WAIT, FIN-WAIT-2),
/// LossRecovery.swift (duplicate ACKs, fast retransmit, NewReno, SACK recovery),
/// TailLossProbe.swift (RFC 8985 §7 tail loss probe),
/// Options.swift (MSS, window scale, timestamps, SACK negotiation; PAWS),
/// Reset.swift (RST for segments that match no connection).
///
/// Passive open: the stack makes one LISTEN connection per arriving SYN (with the full
/// four-tuple) and hands it the SYN with `acceptSYN(segment:iss:timestampOffset:now:)` (or
/// `handle`, which then uses the ISS given to `listen`). A SYN for a four-tuple in TIME-WAIT
/// goes to a new connection when `acceptsNewSYN(segment:)` says so (RFC 6191; the stack
/// retires the old one), else to the TIME-WAIT connection (which ACKs it).
///
/// After `handle`, `write`, `read` (a window update may be due), `close` or `abort`, call
/// `poll` until it returns 0; otherwise call it at `nextDeadline`.
///
/// Choices where the RFCs leave room (each documented where it is made):
/// - After a retransmission timeout SND.NXT goes back to SND.UNA (go-back-N, as BSD);
///   `sndMax` keeps the highest sequence number sent, and pure ACKs carry it.
/// - Zero-window and keepalive probes are data-less ACKs with SEQ = SND.UNA − 1 (as Linux);
///   probing never gives up while the peer answers, and after `maximumRetransmissions`
///   unanswered probes the connection times out.
/// - Out-of-window and challenge ACKs share one rate limit (`invalidSegmentACKInterval`);
///   segments carrying data or FIN are always answered.
/// - RST in TIME-WAIT is ignored (RFC 1337) unless `timeWaitResetPolicy` says `.close`.
/// - The timestamp clock's offset is given by the stack per four-tuple (a keyed hash, not
///   time-dependent), so TSvals keep growing across incarnations of a four-tuple.
/// - RTT: timestamps when negotiated (no sample from an ACK echoing a TSval older than
///   the last timeout's retransmission), else one timed segment with Karn's rule.
/// - A segment that carries data on a SYN, or data beyond the receive buffer, is not taken
///   (the peer sends it again); a bare FIN is taken even under a zero window.
/// - Segments without the timestamps option after it was negotiated are accepted (as Linux).
public final class TCPConnection {
    // A connection is used from one thread (its host's or its owner's) and its methods
    // never re-enter each other with an access in progress: the dynamic exclusivity checks
    // on these class properties are off (they were ~12 % of the instructions of a bulk
    // transfer: swift_beginAccess, AccessSet::insert and the TLS lookup on every access).
    @exclusivity(unchecked) public internal(set) var tuple: FourTuple
    let config: TCPConfiguration

    @exclusivity(unchecked) public private(set) var state: TCPState = .closed
    /// True when this side started with `listen` (RFC 9293: RST in SYN-RECEIVED returns to LISTEN).
    let passiveOpen: Bool

    // MARK: send sequence space (RFC 9293 §3.3.1)
    @exclusivity(unchecked) var iss = SequenceNumber(0)
    @exclusivity(unchecked) var sndUna = SequenceNumber(0)
    /// Next sequence number to send. After a retransmission timeout it goes back to SND.UNA
    /// (go-back-N); `sndMax` keeps the highest ever sent.
    @exclusivity(unchecked) var sndNxt = SequenceNumber(0)
    @exclusivity(unchecked) var sndMax = SequenceNumber(0)
    /// Send window in bytes (already scaled).
    @exclusivity(unchecked) var sndWnd = 0
    @exclusivity(unchecked) var sndWl1 = SequenceNumber(0)
    @exclusivity(unchecked) var sndWl2 = SequenceNumber(0)
    /// The largest window the peer ever offered (RFC 5961 §5 MAX.SND.WND, sender SWS).
    @exclusivity(unchecked) var maxSndWnd = 0
    /// Sequence number of the first byte in `sendBuffer`.
    @exclusivity(unchecked) var bufferSeq = SequenceNumber(0)
    /// Urgent pointer: sequence number just past the last urgent byte (RFC 6093).
    @exclusivity(unchecked) var sndUp: SequenceNumber?

    // MARK: receive sequence space
    @exclusivity(unchecked) var irs = SequenceNumber(0)
    @exclusivity(unchecked) var rcvNxt = SequenceNumber(0)
    /// Right edge of the window we last advertised; it never moves left (RFC 9293 §3.8.6.2.2).
    @exclusivity(unchecked) var rcvAdvertisedEdge = SequenceNumber(0)
    /// RCV.UP: sequence number just past the peer's urgent data.
    @exclusivity(unchecked) var rcvUp: SequenceNumber?
    /// A FIN that arrived ahead of missing data.
    @exclusivity(unchecked) var outOfOrderFin: SequenceNumber?
    @exclusivity(unchecked) var finReceived = false

    // MARK: negotiated options
    /// The peer's MSS option (536 when its SYN had none).
    @exclusivity(unchecked) var peerMSS = 536
    @exclusivity(unchecked) var sndShift: UInt8 = 0
    @exclusivity(unchecked) var rcvShift: UInt8 = 0
    @exclusivity(unchecked) var windowScaleNegotiated = false
    @exclusivity(unchecked) var timestampsEnabled = false
    @exclusivity(unchecked) var sackEnabled = false
    /// TS.Recent and when it was set (RFC 7323 §5.5 invalidates it after 24 days idle).
    @exclusivity(unchecked) var tsRecent: UInt32 = 0
    @exclusivity(unchecked) var tsRecentTime = Instant.zero
    @exclusivity(unchecked) var tsRecentValid = false
    @exclusivity(unchecked) var lastAckSent = SequenceNumber(0)
    /// Added to the millisecond clock to form TSval.
    @exclusivity(unchecked) var tsOffset: UInt32 = 0

    // MARK: buffers
    @exclusivity(unchecked) var sendBuffer: SendBuffer
    @exclusivity(unchecked) var receiveBuffer: ReceiveBuffer
    /// close() was called: a FIN follows the queued data.
    @exclusivity(unchecked) var finQueued = false
    /// close(fully: true): the application will not read again.
    @exclusivity(unchecked) var fullyClosed = false

    // MARK: what to send
    @exclusivity(unchecked) var ackNow = false
    /// Further immediate ACKs owed: each out-of-order segment earns its own duplicate ACK
    /// (RFC 5681 §4.2) even when several arrive between two polls.
    @exclusivity(unchecked) var owedDuplicateACKs = 0
    /// In-order bytes received since our last ACK (delayed ACK: every second full segment).
    @exclusivity(unchecked) var bytesSinceAck = 0
    /// The largest segment payload received (starts at 536): the peer's SMSS as far as we can tell.
    @exclusivity(unchecked) var receiveMSSEstimate = 536
    /// Zero-window probes sent since the peer last answered.
    @exclusivity(unchecked) var unansweredProbes = 0
    @exclusivity(unchecked) var pendingReset: (seq: SequenceNumber, ack: SequenceNumber?)?
    @exclusivity(unchecked) var dsack: SACKBlock?
    @exclusivity(unchecked) var persistProbePending = false
    @exclusivity(unchecked) var keepaliveProbePending = false
    /// Force out one segment of new data despite Nagle / sender SWS (persist override).
    @exclusivity(unchecked) var forceSend = false
    /// Minshall's Nagle (draft-minshall-nagle, as Linux's snd_sml): the sequence number just
    /// past the last short (less than a full piece) segment of new data sent; while SND.UNA is
    /// below it, a further short segment waits. Cleared once acknowledged.
    @exclusivity(unchecked) var lastShortSegmentEnd: SequenceNumber?
    @exclusivity(unchecked) var lastInvalidACK: Instant?
    @exclusivity(unchecked) var lastSendTime: Instant?
    @exclusivity(unchecked) var lastReceiveTime: Instant

    // MARK: timers (Timers.swift)
    @exclusivity(unchecked) var retransmitDeadline: Instant?
    @exclusivity(unchecked) var persistDeadline: Instant?
    @exclusivity(unchecked) var delayedACKDeadline: Instant?
    @exclusivity(unchecked) var keepaliveDeadline: Instant?
    @exclusivity(unchecked) var timeWaitDeadline: Instant?
    @exclusivity(unchecked) var finWait2Deadline: Instant?
    @exclusivity(unchecked) var finWait2TimerPending = false
    @exclusivity(unchecked) var retransmitCount = 0
    @exclusivity(unchecked) var persistBackoff = 0
    @exclusivity(unchecked) var keepaliveProbesSent = 0
    /// `linger` (a positive one) was armed by a full close; the deadline is set at the next poll.
    @exclusivity(unchecked) var lingerTimerPending = false
    /// When a lingering close gives up and resets (see `TCPConfiguration.linger`).
    @exclusivity(unchecked) var lingerDeadline: Instant?

    // MARK: RTT and congestion control
    @exclusivity(unchecked) var rtt: RTTEstimator
    /// Karn: the segment being timed when timestamps are off.
    @exclusivity(unchecked) var timedSeq: SequenceNumber?
    @exclusivity(unchecked) var timedAt = Instant.zero
    /// TSval of the first retransmission after the last timeout (see `takeRTTSample`).
    @exclusivity(unchecked) var timeoutRetransmitTSval: UInt32?
    /// Our SYN or SYN+ACK was sent more than once (RFC 6298 §5.7).
    @exclusivity(unchecked) var synRetransmitted = false
    @exclusivity(unchecked) var cc: CongestionController

    // MARK: loss recovery (LossRecovery.swift)
    @exclusivity(unchecked) var dupAcks = 0
    @exclusivity(unchecked) var inRecovery = false
    @exclusivity(unchecked) var recover = SequenceNumber(0)
    /// RFC 6675 HighRxt: the highest sequence number retransmitted in this recovery.
    @exclusivity(unchecked) var highRxt = SequenceNumber(0)
    /// One segment to retransmit at this sequence number regardless of cwnd (fast retransmit, partial ACK).
    @exclusivity(unchecked) var retransmitAt: SequenceNumber?
    @exclusivity(unchecked) var scoreboard = SACKScoreboard()
    /// RFC 6675 NextSeg rule 4: this recovery's rescue retransmission went out.
    @exclusivity(unchecked) var rescueRetransmitted = false
    /// The rescue retransmission NextSeg just offered (its sequence number), until it is sent.
    @exclusivity(unchecked) var pendingRescue: SequenceNumber?
    /// This recovery's retransmissions, to detect a lost one (`detectLostRetransmission`).
    @exclusivity(unchecked) var retransmissionLog = RetransmissionLog()
    /// From a retransmission timeout until SND.UNA reaches `recover` (RTO recovery).
    @exclusivity(unchecked) var timeoutRecovery = false

    // MARK: tail loss probe (TailLossProbe.swift, RFC 8985 §7)
    /// When the probe timeout (PTO) fires, nil when none is armed.
    @exclusivity(unchecked) var probeDeadline: Instant?
    /// The PTO fired: the next `poll` sends the probe.
    @exclusivity(unchecked) var probePending = false
    /// When `probeDeadline` was last set.
    @exclusivity(unchecked) var probeScheduledAt = Instant.zero
    /// More than one segment was in flight then (no delayed-ACK allowance in the PTO).
    @exclusivity(unchecked) var probeScheduledForFlight = false
    /// First sequence number of the outstanding probe.
    @exclusivity(unchecked) var probeStart: SequenceNumber?
    /// SND.MAX after the outstanding probe (TLP.end_seq); nil when no probe is outstanding.
    @exclusivity(unchecked) var probeEnd: SequenceNumber?
    /// The outstanding probe resent data (TLP.is_retrans).
    @exclusivity(unchecked) var probeWasRetransmission = false
    /// D-SACK blocks seen before the probe went out.
    @exclusivity(unchecked) var probeDSACKCount = 0
    /// Bytes in flight when the probe went out.
    @exclusivity(unchecked) var probeFlightSize = 0
    /// `tailLossProbeACKDelay` and `tailLossProbeMinimumTimeout` in nanoseconds.
    let probeACKDelayNs: Int64
    let probeMinimumNs: Int64

    // MARK: events
    @exclusivity(unchecked) var events: [TCPEvent] = []
    @exclusivity(unchecked) var eventHead = 0
    @exclusivity(unchecked) var internalCounters = TCPCounters()

    init(tuple: FourTuple, configuration: TCPConfiguration, passive: Bool, now: Instant) {
        let c = configuration.sanitized
        self.tuple = tuple
        self.config = c
        self.passiveOpen = passive
        sendBuffer = SendBuffer(capacity: c.sendBufferSize)
        receiveBuffer = ReceiveBuffer(capacity: c.receiveBufferSize, maxOutOfOrderRanges: c.maximumOutOfOrderRanges)
        rtt = RTTEstimator(initialRTO: c.initialRTO, minimumRTO: c.minimumRTO, maximumRTO: c.maximumRTO)
        cc = CongestionController(c.congestionAlgorithm, maximumSegmentSize: min(536, c.maximumSegmentSize))
        probeACKDelayNs = c.tailLossProbeACKDelay.nanosecondsClamped
        probeMinimumNs = c.tailLossProbeMinimumTimeout.nanosecondsClamped
        lastReceiveTime = now
        events.reserveCapacity(8)
    }

    /// Active open (RFC 9293 §3.10.1): SYN-SENT; the SYN goes out on the next `poll`.
    /// `timestampOffset`: our timestamp clock's offset (the stack's keyed hash of the
    /// four-tuple, `InitialSequenceNumberGenerator.timestampOffset(for:)`); nil derives one
    /// from the ISS (tests), which does not keep TSvals growing across incarnations.
    public static func connect(tuple: FourTuple, iss: SequenceNumber, timestampOffset: UInt32? = nil,
                               configuration: TCPConfiguration = .default, now: Instant) -> TCPConnection {
        let c = TCPConnection(tuple: tuple, configuration: configuration, passive: false, now: now)
        c.setISS(iss, timestampOffset: timestampOffset)
        c.setState(.synSent)
        return c
    }

    /// Passive open: LISTEN. A SYN handed to `acceptSYN(segment:iss:now:)` (or to `handle`,
    /// which then uses `iss`) moves it to SYN-RECEIVED. A remote port of 0 is taken from the SYN.
    public static func listen(tuple: FourTuple, iss: SequenceNumber = SequenceNumber(0),
                              configuration: TCPConfiguration = .default, now: Instant) -> TCPConnection {
        let c = TCPConnection(tuple: tuple, configuration: configuration, passive: true, now: now)
        c.setISS(iss)
        c.setState(.listen)
        return c
    }

    /// LISTEN + SYN with the given ISS (the stack's RFC 6528 generator). Equivalent to
    /// `handle(segment:now:)` after choosing the ISS. Ignored outside LISTEN.
    /// `timestampOffset` as in `connect(tuple:iss:timestampOffset:configuration:now:)`.
    public func acceptSYN(segment: TCPHeaderView, iss: SequenceNumber, timestampOffset: UInt32? = nil, now: Instant) {
        guard state == .listen else { return }
        setISS(iss, timestampOffset: timestampOffset)
        handle(segment: segment, now: now)
    }

    func setISS(_ s: SequenceNumber, timestampOffset: UInt32? = nil) {
        iss = s; sndUna = s; sndNxt = s; sndMax = s; bufferSeq = s + 1; recover = s; highRxt = s
        // A per-connection offset (RFC 7323 §5.4), deterministic.
        tsOffset = timestampOffset ?? s.rawValue &* 2_654_435_761
    }

    // MARK: user calls (RFC 9293 §3.10.2–3.10.6)

    /// Queues bytes for sending; returns how many the send buffer took (0 when full or closing).
    public func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard state.acceptsWrites, !finQueued else { return 0 }
        return sendBuffer.append(bytes)
    }

    /// Copies in-order received bytes out; returns how many (0 when none are ready).
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = receiveBuffer.read(into: buffer)
        if let up = rcvUp, up - (rcvNxt - receiveBuffer.readable) <= 0 { rcvUp = nil }  // mark consumed
        if n > 0, state.receivesData {
            // Window update once the window we could offer has at least doubled and grown by
            // min(half the buffer, one MSS) (RFC 9293 §3.8.6.2.2; Linux's doubling rule).
            let current = max(0, rcvAdvertisedEdge - rcvNxt)
            let possible = advertisableWindow()
            if possible >= 2 * current && possible - current >= min(receiveBuffer.capacity / 2, config.maximumSegmentSize) {
                ackNow = true
            }
        }
        return n
    }

    /// Queues bytes as urgent data (RFC 9293 §3.8.5 with RFC 6093 semantics): segments
    /// sent before they are acknowledged carry URG with the urgent pointer at the byte
    /// after the last one written here. Returns how many bytes the send buffer took.
    public func writeUrgent(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = write(bytes)
        if n > 0 { sndUp = bufferSeq + sendBuffer.count }
        return n
    }

    /// The urgent mark: how many readable bytes come before the byte after the peer's
    /// urgent data (RFC 6093), nil when no urgent data is pending. The bytes stay in the
    /// stream (no out-of-band byte is removed).
    public var urgentMark: Int? {
        guard let up = rcvUp else { return nil }
        let readHead = rcvNxt - receiveBuffer.readable
        let offset = up - readHead
        return offset > 0 ? offset : nil
    }

    /// An ICMP destination unreachable (or similar hard error) arrived for this
    /// connection. During connect it ends the attempt with `.unreachable`; once
    /// synchronized it is a soft error and ignored (RFC 1122 §4.2.3.9).
    public func destinationUnreachable(now: Instant) {
        if state == .synSent { terminate(.unreachable) }
    }

    /// As `destinationUnreachable(now:)` with the ICMP code: port or protocol unreachable
    /// says the host is there and nothing takes our SYN, so the attempt ends with `.refused`
    /// (Linux: ECONNREFUSED for a port unreachable); every other code (network, host,
    /// prohibited...) with `.unreachable`.
    public func destinationUnreachable(_ code: ICMPv4UnreachableCode, now: Instant) {
        guard state == .synSent else { return }
        terminate(code == .port || code == .protocol ? .refused : .unreachable)
    }

    /// RFC 1191: an ICMP fragmentation-needed, accepted by the stack (RFC 5927: it quotes a
    /// sequence number we sent and that is not yet acknowledged), says IP packets to the
    /// peer may carry at most `mtu` bytes. The segment size drops to `mtu - 40` (never below
    /// 68 - 40 = 28; options come out of it, as always); segments keep DF. When data is in
    /// flight, the segment the router dropped is resent at once, from SND.UNA at the new
    /// size (go-back-N, as after a timeout, but without backing off the RTO or shrinking
    /// the congestion window: a smaller path is no congestion signal, as Linux's
    /// tcp_simple_retransmit). Returns whether the segment size fell.
    @discardableResult
    public func lowerPathMTU(_ mtu: Int, now: Instant) -> Bool {
        let mss = max(68 - 40, mtu - 40)
        guard mss < min(peerMSS, config.maximumSegmentSize) else { return false }
        peerMSS = mss  // the largest segment the path to the peer takes from now on
        guard state.isSynchronized, state != .synReceived, sndMax > sndUna else { return true }
        sndNxt = sndUna
        retransmitAt = nil
        timedSeq = nil  // Karn: what is resent now is not timed
        retransmitDeadline = now + rtt.rto
        return true
    }

    /// The largest segment (payload plus options) we send to the peer: its MSS, ours, and
    /// what the path MTU allows (`lowerPathMTU`).
    public var maximumSegmentSizeToPeer: Int { min(peerMSS, config.maximumSegmentSize) }

    /// Arms and fires the linger timer (from `fireTimers`); true when it reset the connection.
    func fireLinger(now: Instant) -> Bool {
        if lingerTimerPending {
            lingerTimerPending = false
            if lingerDeadline == nil, let l = config.linger { lingerDeadline = now + l }
        }
        guard let t = lingerDeadline, t <= now else { return false }
        lingerDeadline = nil
        switch state {
        case .synReceived, .finWait1, .closing, .lastAck:
            // Our data or FIN is still unacknowledged: give up. A RST goes out where RFC 9293
            // §3.10.5 sends one (SYN-RECEIVED, FIN-WAIT-1); in CLOSING and LAST-ACK the peer
            // has closed too and the connection just ends.
            abort()
            return true
        default:
            return false
        }
    }

    /// Bytes ready to read.
    public var readableBytes: Int { receiveBuffer.readable }
    /// Room left in the send buffer.
    public var writableBytes: Int { state.acceptsWrites && !finQueued ? sendBuffer.freeSpace : 0 }
    /// Bytes written but not yet acknowledged.
    public var unacknowledgedBytes: Int { sendBuffer.count }

    /// Half-close (RFC 9293 §3.10.4): a FIN follows the queued data; the side keeps receiving.
    /// `fully: true` says the application will not read again: unread data makes it a RST
    /// (RFC 2525 §2.17), and FIN-WAIT-2 then times out after `finWait2Timeout`.
    public func close(fully: Bool = false) {
        if fully {
            fullyClosed = true
            if receiveBuffer.readable > 0 && state.isSynchronized && state != .timeWait {
                abort()
                return
            }
            if let l = config.linger {
                // SO_LINGER 0: reset now, no FIN handshake and no TIME-WAIT (as Linux's tcp_disconnect).
                if l == .zero { abort(); return }
                lingerTimerPending = true  // started at the next poll (close has no clock)
            }
        }
        switch state {
        case .listen, .synSent:
            terminate(nil)
        case .synReceived, .established:
            finQueued = true
            if state == .established { setState(.finWait1) }
        case .closeWait:
            finQueued = true
            setState(.lastAck)
        case .finWait2:
            if fully { finWait2TimerPending = true }  // started at the next poll (close has no clock)
        default:
            break
        }
    }

    /// Abort (RFC 9293 §3.10.5): a RST where the peer knows us, then CLOSED with `.aborted`.
    public func abort() {
        switch state {
        case .synReceived, .established, .finWait1, .finWait2, .closeWait:
            pendingReset = (sndMax, nil)  // SND.NXT in the RFC: the highest sent (ours may have gone back)
        default: break
        }
        if state != .closed { terminate(.aborted) }
    }

    /// The next queued event, oldest first.
    public func nextEvent() -> TCPEvent? {
        guard eventHead < events.count else {
            if !events.isEmpty { events.removeAll(keepingCapacity: true); eventHead = 0 }
            return nil
        }
        let e = events[eventHead]
        eventHead += 1
        return e
    }

    public var counters: TCPCounters {
        var c = internalCounters
        c.smoothedRTT = rtt.smoothedRTT
        c.retransmissionTimeout = rtt.rto
        c.congestionWindow = cc.congestionWindow
        c.slowStartThreshold = cc.slowStartThreshold
        c.outOfOrderBytes = receiveBuffer.outOfOrderBytes
        return c
    }

    /// When true (the default) each buffer frees its storage as soon as it drains, so an
    /// idle connection holds no buffer memory, at the price of an allocation per burst
    /// (two per request/response message). An owner that sets it to false keeps the
    /// storage across bursts and calls `releaseIdleBuffers()` periodically (`IPv4Host`
    /// does, every `bufferTrimInterval`).
    public var releasesBuffersWhenDrained: Bool {
        get { sendBuffer.releasesStorageWhenEmpty }
        set {
            sendBuffer.releasesStorageWhenEmpty = newValue
            receiveBuffer.releasesStorageWhenEmpty = newValue
            if newValue { sendBuffer.releaseStorage(); receiveBuffer.releaseStorage() }
        }
    }

    /// Bytes of buffer storage allocated (send plus receive ring), 0 when none is held.
    public var allocatedBufferBytes: Int { sendBuffer.allocatedBytes + receiveBuffer.allocatedBytes }

    /// Frees the storage of each buffer that is empty and was not written to since the
    /// previous call (see `releasesBuffersWhenDrained`); returns whether any storage is
    /// still held. Called once per period, storage outlives the last use by one to two periods.
    @discardableResult
    public func releaseIdleBuffers() -> Bool {
        let s = sendBuffer.releaseStorageIfIdle()
        let r = receiveBuffer.releaseStorageIfIdle()
        return s || r
    }

    /// CLOSED with nothing left to send: the stack may drop the connection.
    public var isFinished: Bool { state == .closed && pendingReset == nil }

    /// The send and receive variables, for tests and traces.
    public var sendUnacknowledged: SequenceNumber { sndUna }
    public var sendNext: SequenceNumber { sndNxt }
    public var receiveNext: SequenceNumber { rcvNxt }
    public var initialSendSequence: SequenceNumber { iss }
    public var sendWindow: Int { sndWnd }

    // MARK: internals shared by the other files

    func post(_ e: TCPEvent) {
        switch e {
        case .readable, .writable, .peerClosed:
            if events[eventHead...].contains(e) { return }
        default: break
        }
        if events.count - eventHead >= config.eventQueueLimit { return }
        if eventHead > 0 && eventHead == events.count { events.removeAll(keepingCapacity: true); eventHead = 0 }
        events.append(e)
    }

    func setState(_ s: TCPState) {
        guard s != state else { return }
        let old = state
        state = s
        post(.stateChanged(from: old, to: s))
    }

    /// Enters CLOSED, drops every timer, reports `closed(error)`.
    func terminate(_ error: TCPError?) {
        guard state != .closed else { return }
        setState(.closed)
        retransmitDeadline = nil; persistDeadline = nil; delayedACKDeadline = nil; probeDeadline = nil; probePending = false
        keepaliveDeadline = nil; timeWaitDeadline = nil; finWait2Deadline = nil
        lingerDeadline = nil; lingerTimerPending = false
        ackNow = false; persistProbePending = false; keepaliveProbePending = false; retransmitAt = nil
        sendBuffer.releaseStorage(); receiveBuffer.releaseStorage()  // kept storage (releasesBuffersWhenDrained off) goes now
        post(.closed(error))
    }

    /// Rate limit for ACKs answering data-less invalid segments (out-of-window, RFC 5961 challenges).
    func invalidSegmentACKAllowed(now: Instant) -> Bool {
        if let last = lastInvalidACK, now - last < config.invalidSegmentACKInterval { return false }
        lastInvalidACK = now
        return true
    }
}

extension TCPConnection: CustomStringConvertible {
    /// State and sequence variables, for logs: "ESTABLISHED una=101 nxt=201 max=201 wnd=65535 rcv.nxt=2001".
    public var description: String {
        "\(state) una=\(sndUna) nxt=\(sndNxt) max=\(sndMax) wnd=\(sndWnd) rcv.nxt=\(rcvNxt) cwnd=\(cc.congestionWindow)"
    }
}
