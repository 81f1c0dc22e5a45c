// Loss recovery: duplicate ACKs, fast retransmit and fast recovery (RFC 5681 §3.2),
// NewReno partial ACKs (RFC 6582), SACK-based recovery (RFC 6675, with the rescue
// retransmission of NextSeg rule 4), limited transmit (RFC 3042), and the detection of
// lost retransmissions in SACK recovery (see `detectLostRetransmission`).

extension TCPConnection {
    /// Bytes in flight: sent and not yet acknowledged.
    var flightSize: Int { sndMax - sndUna }

    /// Whether an arriving ACK at SND.UNA (acknowledging nothing new) is a duplicate ACK.
    /// With SACK (RFC 6675 §2): it SACKs data not SACKed before, whatever its window,
    /// data or FIN. Without SACK, or when the ACK carries no SACK option at all (RFC 5681
    /// §2): no data, no FIN, the window unchanged. `newlySacked` is what the ACK's SACK
    /// blocks added to the scoreboard.
    func isDuplicateACK(hasSACKBlocks: Bool, newlySacked: Int, payload: Int, fin: Bool, window: Int) -> Bool {
        guard sndMax > sndUna else { return false }
        if sackEnabled && hasSACKBlocks { return newlySacked > 0 }
        return payload == 0 && !fin && window == sndWnd
    }

    /// Whether a loss may start a new recovery: not while SND.UNA is below the recovery
    /// point of the previous one (or of the last timeout). With SACK, once the cumulative
    /// ACK has reached it (RFC 6675 §5.1: HighACK ≥ RecoveryPoint); without, once it covers
    /// more than it (RFC 6582 §3.2 step 2, which guards against duplicate ACKs caused by
    /// needless go-back-N retransmissions, ACKing exactly `recover`).
    var mayStartRecovery: Bool {
        sackEnabled ? sndUna >= recover : (sndUna > recover || recover == iss)
    }

    /// A duplicate ACK arrived (see `isDuplicateACK`).
    func duplicateAckArrived(now: Instant) {
        dupAcks += 1
        internalCounters.duplicateAcksReceived += 1
        if inRecovery {
            // NewReno: every further duplicate ACK means a segment left the network.
            if !sackEnabled { cc.inflate(by: sendMSS) }
            detectLostRetransmission()
            return
        }
        let lost = dupAcks >= 3 || (sackEnabled && (scoreboard.isLost(sndUna, mss: sendMSS) || probeRevealsLoss))
        if lost, mayStartRecovery {
            enterRecovery(now: now)
        }
    }

    func enterRecovery(now: Instant) {
        inRecovery = true
        recover = sndMax
        highRxt = sndUna
        rescueRetransmitted = false
        pendingRescue = nil
        retransmissionLog.removeAll()
        cc.onEnterRecovery(flightSize: flightSize, now: now)  // ssthresh = cwnd = max(FlightSize/2, 2·SMSS)
        // NewReno (RFC 6582 §3.2 step 2): cwnd = ssthresh + 3·SMSS for the three segments that
        // left the network. With SACK, RFC 6675 keeps cwnd = ssthresh and counts the pipe instead.
        if !sackEnabled { cc.inflate(by: 3 * sendMSS) }
        retransmitAt = sndUna
        internalCounters.fastRetransmits += 1
        timedSeq = nil
        // Recovery takes over from a tail loss probe (RFC 8985 §7.2: none in fast recovery).
        probeDeadline = nil
        probePending = false
        probeEnd = nil
    }

    /// SND.UNA advanced by `bytes`.
    func newDataAcknowledged(bytes: Int, previousUna: SequenceNumber, now: Instant) {
        guard state.isSynchronized || state == .synSent else { return }
        if timeoutRecovery && sndUna >= recover { timeoutRecovery = false }
        if inRecovery {
            if sndUna >= recover {
                // Full acknowledgment: leave recovery (RFC 6582 §3.2 step 3).
                inRecovery = false
                dupAcks = 0
                retransmitAt = nil
                pendingRescue = nil
                cc.onExitRecovery(flightSize: flightSize, now: now)
            } else if !sackEnabled {
                // Partial acknowledgment: the next hole is lost too; retransmit it and
                // deflate by the amount acknowledged, adding back one SMSS.
                retransmitAt = sndUna
                cc.deflate(by: bytes)
                if bytes >= sendMSS { cc.inflate(by: sendMSS) }
            }
            if highRxt < sndUna { highRxt = sndUna }
            if inRecovery { detectLostRetransmission() } else { startRecoveryIfSACKShowsLoss(now: now) }
            return
        }
        dupAcks = 0
        if bytes > 0 {
            cc.onAck(ackedBytes: bytes, flightSize: flightSize + bytes, now: now, smoothedRTT: rtt.smoothedRTT)
        }
        startRecoveryIfSACKShowsLoss(now: now)
    }

    /// RFC 6675 §5: an ACK whose SACK information shows the data at SND.UNA lost (IsLost, or
    /// a SACKed loss probe above it) starts recovery even when it also moved the cumulative
    /// acknowledgment (the DupAcks count was reset by it).
    func startRecoveryIfSACKShowsLoss(now: Instant) {
        if sackEnabled, !scoreboard.isEmpty, !inRecovery, sndMax > sndUna, mayStartRecovery,
           scoreboard.isLost(sndUna, mss: sendMSS) || probeRevealsLoss {
            enterRecovery(now: now)
        }
    }

    /// RFC 3042: the first two duplicate ACKs each allow one new segment beyond cwnd.
    var limitedTransmitAllowance: Int {
        inRecovery ? 0 : min(dupAcks, 2) * sendMSS
    }

    /// With SACK in recovery (RFC 6675 NextSeg): when the pipe leaves room, the next lost
    /// segment (rule 1); when no new data can go (nothing queued, or the peer's window is
    /// full), the next unSACKed segment below the highest SACKed byte even if not yet deemed
    /// lost (rule 3), else once per recovery the segment holding the highest unSACKed byte
    /// (rule 4, the rescue retransmission).
    func sackRecoverySegment() -> (seq: SequenceNumber, length: Int)? {
        pendingRescue = nil
        guard inRecovery, sackEnabled else { return nil }
        let pipe = scoreboard.pipe(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS)
        guard cc.congestionWindow - pipe >= sendMSS else { return nil }
        let unsent = sendBuffer.count - (sndMax - bufferSeq)
        let newData = unsent > 0 && sndWnd > sndMax - sndUna
        if let s = scoreboard.nextSegment(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS,
                                          newDataAvailable: newData) {
            return (s.start, s.length)
        }
        guard !newData, !rescueRetransmitted,
              let r = scoreboard.rescueSegment(sndUna: sndUna, sndNxt: sndMax, mss: sendMSS) else { return nil }
        pendingRescue = r.start
        return (r.start, r.length)
    }

    /// Room for new data under the congestion window in SACK recovery (pipe instead of flight size).
    var sackRecoveryRoom: Int {
        let pipe = scoreboard.pipe(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS)
        return max(0, cc.congestionWindow - pipe)
    }

    /// A retransmission chosen by loss recovery went out as [seq, end): HighRxt moves to
    /// its end (RFC 6675), except for the rescue retransmission (rule 4: HighRxt MUST NOT
    /// be updated); in recovery it is logged for `detectLostRetransmission`.
    func retransmissionSent(seq: SequenceNumber, end: SequenceNumber) {
        if let r = pendingRescue, r == seq {
            pendingRescue = nil
            rescueRetransmitted = true
            internalCounters.rescueRetransmissions += 1
            return
        }
        pendingRescue = nil
        if end > highRxt { highRxt = end }
        if inRecovery && sackEnabled { retransmissionLog.record(start: seq, end: end, sndMax: sndMax) }
    }

    /// A retransmission can be lost too; RFC 6675 then waits for the RTO (HighRxt has moved
    /// past it, so NextSeg never offers it again). As Linux's lost-retransmission detection
    /// (RFC 8985 finds it by time): when the hole at SND.UNA was retransmitted in this
    /// recovery and the receiver has since SACKed, by IsLost's measure (DupThresh ranges or
    /// more than (DupThresh − 1)·SMSS bytes), data first sent after that retransmission, the
    /// retransmission is deemed lost and sent again at once. The window is not reduced a
    /// second time in the same recovery (as Linux).
    func detectLostRetransmission() {
        guard inRecovery, sackEnabled, retransmitAt == nil, sndUna < highRxt, !scoreboard.isSacked(sndUna),
              let mark = retransmissionLog.sndMaxAtRetransmission(covering: sndUna),
              scoreboard.isLost(sackedAbove: mark, mss: sendMSS) else { return }
        retransmitAt = sndUna
        internalCounters.lostRetransmissions += 1
    }
}

/// The retransmissions of the current SACK recovery, each with SND.MAX when it was sent
/// (data from there on was first sent after it). A few entries, in sequence order (NextSeg
/// retransmits in order); the storage is allocated once, on first use, and kept. When full
/// the lowest entry is forgotten: detection for that hole then falls back to the RTO.
struct RetransmissionLog {
    static let capacity = 8
    private(set) var starts: [SequenceNumber] = []
    private(set) var ends: [SequenceNumber] = []
    private(set) var marks: [SequenceNumber] = []

    mutating func removeAll() {
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
    }

    mutating func record(start: SequenceNumber, end: SequenceNumber, sndMax: SequenceNumber) {
        if starts.capacity < Self.capacity {
            starts.reserveCapacity(Self.capacity); ends.reserveCapacity(Self.capacity); marks.reserveCapacity(Self.capacity)
        }
        var i = starts.count - 1
        while i >= 0 {
            if starts[i] == start {  // sent again: the newer transmission is the one to watch
                ends[i] = SequenceNumber.max(ends[i], end)
                marks[i] = sndMax
                return
            }
            i -= 1
        }
        if starts.count >= Self.capacity {
            starts.removeFirst(); ends.removeFirst(); marks.removeFirst()
        }
        starts.append(start); ends.append(end); marks.append(sndMax)
    }

    /// SND.MAX when the latest retransmission covering `seq` was sent, nil if none is logged.
    func sndMaxAtRetransmission(covering seq: SequenceNumber) -> SequenceNumber? {
        var i = starts.count - 1
        while i >= 0 {
            if starts[i] <= seq && seq < ends[i] { return marks[i] }
            i -= 1
        }
        return nil
    }
}
