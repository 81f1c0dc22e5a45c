// Loss recovery: duplicate ACKs, fast retransmit and fast recovery (RFC 5681 §3.2),
// NewReno partial ACKs (RFC 6582), SACK-based recovery (RFC 6675), limited transmit (RFC 3042).

extension TCPConnection {
    /// Bytes in flight: sent and not yet acknowledged.
    var flightSize: Int { sndMax - sndUna }

    /// An ACK that acknowledges nothing new, carries no data and leaves the window alone.
    func duplicateAckArrived(now: Instant) {
        dupAcks += 1
        internalCounters.duplicateAcksReceived += 1
        if inRecovery {
            // NewReno: every further duplicate ACK means a segment left the network.
            if !sackEnabled { cc.inflate(by: sendMSS) }
            return
        }
        let lost = dupAcks >= 3 || (sackEnabled && scoreboard.isLost(sndUna, mss: sendMSS))
        // RFC 6582 §3.2 step 2: no second fast retransmit for losses of the same window.
        if lost, sndUna > recover || recover == iss {
            enterRecovery(now: now)
        }
    }

    func enterRecovery(now: Instant) {
        inRecovery = true
        recover = sndMax
        highRxt = sndUna
        cc.onEnterRecovery(flightSize: flightSize, now: now)  // ssthresh = cwnd = max(FlightSize/2, 2·SMSS)
        // NewReno (RFC 6582 §3.2 step 2): cwnd = ssthresh + 3·SMSS for the three segments that
        // left the network. With SACK, RFC 6675 keeps cwnd = ssthresh and counts the pipe instead.
        if !sackEnabled { cc.inflate(by: 3 * sendMSS) }
        retransmitAt = sndUna
        internalCounters.fastRetransmits += 1
        timedSeq = nil
    }

    /// SND.UNA advanced by `bytes`.
    func newDataAcknowledged(bytes: Int, previousUna: SequenceNumber, now: Instant) {
        guard state.isSynchronized || state == .synSent else { return }
        if inRecovery {
            if sndUna >= recover {
                // Full acknowledgment: leave recovery (RFC 6582 §3.2 step 3).
                inRecovery = false
                dupAcks = 0
                retransmitAt = nil
                cc.onExitRecovery(flightSize: flightSize, now: now)
            } else if !sackEnabled {
                // Partial acknowledgment: the next hole is lost too; retransmit it and
                // deflate by the amount acknowledged, adding back one SMSS.
                retransmitAt = sndUna
                cc.deflate(by: bytes)
                if bytes >= sendMSS { cc.inflate(by: sendMSS) }
            }
            if highRxt < sndUna { highRxt = sndUna }
            return
        }
        dupAcks = 0
        if bytes > 0 {
            cc.onAck(ackedBytes: bytes, flightSize: flightSize + bytes, now: now, smoothedRTT: rtt.smoothedRTT)
        }
    }

    /// RFC 3042: the first two duplicate ACKs each allow one new segment beyond cwnd.
    var limitedTransmitAllowance: Int {
        inRecovery ? 0 : min(dupAcks, 2) * sendMSS
    }

    /// With SACK in recovery (RFC 6675 NextSeg): when the pipe leaves room, the next lost
    /// segment (rule 1); when no new data can go (nothing queued, or the peer's window is
    /// full), the next unSACKed segment even if not yet deemed lost (rule 3).
    func sackRecoverySegment() -> (seq: SequenceNumber, length: Int)? {
        guard inRecovery, sackEnabled else { return nil }
        let pipe = scoreboard.pipe(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS)
        guard cc.congestionWindow - pipe >= sendMSS else { return nil }
        let unsent = sendBuffer.count - (sndMax - bufferSeq)
        let newData = unsent > 0 && sndWnd > sndMax - sndUna
        guard let s = scoreboard.nextSegment(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS,
                                             newDataAvailable: newData) else { return nil }
        return (s.start, s.length)
    }

    /// Room for new data under the congestion window in SACK recovery (pipe instead of flight size).
    var sackRecoveryRoom: Int {
        let pipe = scoreboard.pipe(sndUna: sndUna, sndNxt: sndMax, highRxt: highRxt, mss: sendMSS)
        return max(0, cc.congestionWindow - pipe)
    }
}
