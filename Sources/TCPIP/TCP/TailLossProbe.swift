// Tail Loss Probe (RFC 8985 §7): when the last segments of a flight (or their ACKs) are
// lost, nothing comes back to start fast recovery and the sender would wait for the RTO
// (200 ms at least, however short the path). Instead, after the probe timeout (PTO, about
// two round trips) without ACKs, one probe segment goes out: new data when the peer's
// window allows, else a retransmission at the tail. Its ACK (with SACK information)
// starts ordinary recovery, or completes it at once when the probe repaired the loss.
//
// Sans-IO like every timer here: `probeDeadline` is a deadline in `nextDeadline`, fired
// by `fireTimers`; the probe is written by the next `poll`.
//
// Choices (the RFC leaves them, or we differ on purpose):
// - Only with SACK (RFC 8985 §7 requires it) and `TCPConfiguration.tailLossProbes`.
// - PTO = 2·SRTT, plus `tailLossProbeACKDelay` (WCDelAckT) when one segment is in flight,
//   at least `tailLossProbeMinimumTimeout` (timestamps measure RTT in whole milliseconds: on
//   a sub-millisecond path SRTT is 0), 1 s before any RTT sample; never later than the RTO
//   (the probe then goes when the RTO would have fired, and the RTO is re-armed).
// - Armed after new data is sent and after an ACK of new data, not in fast recovery, not in
//   RTO recovery, not while a probe is outstanding (one probe per episode), not under a
//   zero window (the persist timer's case).
// - What the probe carries. RFC 8985 prefers new data and relies on RACK to mark the holes
//   its SACK reveals; we have no RACK (losses need DupThresh SACKed segments above them), so
//   when the scoreboard already shows a hole below SACKed data, that hole (its first SMSS)
//   is resent: the data above it arrived two round trips ago, so it is lost. Otherwise one
//   new segment when the peer's window allows (the RFC's choice), else the segment holding
//   the highest unSACKed byte: the last one sent (the RFC's choice) unless it was SACKed.
// - No RACK either to mark the data below a probe lost once the probe is SACKed: we start
//   SACK recovery then (`probeRevealsLoss`), the probe having left a PTO after that data.
// - The episode ends when SND.UNA reaches the probe's end. A retransmitted probe that was
//   not answered by a D-SACK (RFC 2883) by then repaired a real loss: the congestion window
//   is reduced as on entering fast recovery (RFC 8985 §7.4.2).

extension TCPConnection {
    /// States in which data (or our FIN) can be outstanding.
    var sendsData: Bool {
        switch state {
        case .established, .finWait1, .closeWait, .closing, .lastAck: return true
        default: return false
        }
    }

    /// The probe timeout in nanoseconds (RFC 8985 §7.2), before the cap at the RTO deadline.
    /// Integer arithmetic: it is computed for every new segment sent.
    var probeTimeoutNanoseconds: Int64 {
        guard let srtt = rtt.srttNs else { return 1_000_000_000 }
        var pto = srtt > Int64.max / 4 ? Int64.max / 2 : 2 * srtt
        if flightSize <= sendMSS + 1 { pto += probeACKDelayNs }  // one segment (+ FIN) in flight
        return max(pto, probeMinimumNs)
    }

    /// Whether a probe may be scheduled or sent now.
    var lossProbeAllowed: Bool {
        config.tailLossProbes && sackEnabled && sendsData && !inRecovery && !timeoutRecovery
            && probeEnd == nil && sndMax > sndUna && sndWnd > 0
    }

    /// (Re)starts the PTO after new data went out or new data was acknowledged, or stops it
    /// when a probe is not allowed. Never later than the retransmission timer.
    func scheduleLossProbe(now: Instant) {
        guard lossProbeAllowed, let rto = retransmitDeadline else {
            probeDeadline = nil
            return
        }
        let pto = probeTimeoutNanoseconds
        probeDeadline = pto < rto.nanoseconds &- now.nanoseconds ? Instant(nanoseconds: now.nanoseconds + pto) : rto
        probeScheduledAt = now
        probeScheduledForFlight = flightSize > sendMSS + 1
    }

    /// After a new segment went out. A burst sends many segments at one instant: once the
    /// PTO was set at this instant with more than one segment in flight, setting it again
    /// would give the same deadline (same SRTT, same RTO deadline), so it is skipped.
    @inline(__always)
    func newDataSent(now: Instant) {
        if probeScheduledForFlight, probeScheduledAt == now, probeDeadline != nil { return }
        scheduleLossProbe(now: now)
    }

    /// The PTO expired: the next `poll` sends a probe, and the RTO restarts from now
    /// (RFC 8985 §7.3), so a PTO capped at the RTO deadline fires instead of the RTO.
    func probeTimeoutFired(now: Instant) {
        guard lossProbeAllowed else { return }
        probePending = true
        retransmitDeadline = now + rtt.rto
    }

    /// Writes the probe (RFC 8985 §7.3); 0 when there is nothing to probe with.
    func writeLossProbe(into b: UnsafeMutableRawBufferPointer, now: Instant) -> Int {
        probePending = false
        guard lossProbeAllowed else { return 0 }
        let finSeq = bufferSeq + sendBuffer.count
        let finSent = finQueued && sndMax > finSeq
        let unsent = finSent ? 0 : sendBuffer.count - (sndMax - bufferSeq)
        let usable = sndWnd - flightSize
        let flight = flightSize
        var length = 0
        var probeSeq = sndMax
        let firstHole = scoreboard.firstHoleBelowHighestSacked(sndUna: sndUna, sndNxt: sndMax)
        if let hole = firstHole {
            // Data above a hole arrived two round trips ago and the hole is still open: it is lost.
            let off = hole.start - bufferSeq
            guard off >= 0 && off <= sendBuffer.count else { return 0 }
            let sent = writeSegment(into: b, seq: hole.start, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                                    window: windowField(), payloadOffset: off,
                                    payloadLimit: min(hole.end - hole.start, sendMSS), now: now)
            guard sent.length > 0 else { return 0 }
            internalCounters.retransmittedSegments += 1
            if let t = timedSeq, t >= hole.start { timedSeq = nil }  // Karn
            probeWasRetransmission = true
            probeSeq = hole.start
            length = sent.length
        } else if unsent > 0 && usable > 0 && sndNxt == sndMax {
            // New data: one segment of at most SMSS, whatever the congestion window says.
            let off = sndMax - bufferSeq
            let sent = writeSegment(into: b, seq: sndMax, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                                    window: windowField(), payloadOffset: off, payloadLimit: min(unsent, usable, sendMSS),
                                    finIfComplete: finQueued, now: now)
            guard sent.length > 0 else { return 0 }
            let withFin = finQueued && off + sent.payload == sendBuffer.count
            sndMax = sndMax + sent.payload + (withFin ? 1 : 0)
            sndNxt = sndMax
            noteNewDataSegment(end: sndMax, payload: sent.payload, optionLength: sent.length - 20 - sent.payload)
            internalCounters.bytesSent += sent.payload
            probeWasRetransmission = false
            length = sent.length
        } else {
            // A retransmission: the segment holding the highest unSACKed byte.
            guard let hole = scoreboard.highestHole(sndUna: sndUna, sndNxt: sndMax) else { return 0 }
            let dataEnd = finSent ? SequenceNumber.min(hole.end, finSeq) : hole.end
            let seq = SequenceNumber.max(hole.start, dataEnd - sendMSS)
            let off = seq - bufferSeq
            guard off >= 0 && off <= sendBuffer.count else { return 0 }
            let sent = writeSegment(into: b, seq: seq, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                                    window: windowField(), payloadOffset: off, payloadLimit: max(0, dataEnd - seq),
                                    finIfComplete: finSent && hole.end == sndMax, now: now)
            guard sent.length > 0 else { return 0 }
            internalCounters.retransmittedSegments += 1
            if let t = timedSeq, t >= seq { timedSeq = nil }  // Karn
            probeWasRetransmission = true
            probeSeq = seq
            length = sent.length
        }
        probeStart = probeSeq
        probeEnd = sndMax
        probeDSACKCount = scoreboard.dsackCount
        probeFlightSize = flight
        internalCounters.lossProbes += 1
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        return length
    }

    /// The outstanding probe arrived (its first byte is SACKed) while data below it, sent a
    /// PTO or more before it, did not: that data is lost (RFC 8985 §7.4 leaves this to RACK;
    /// here it starts SACK recovery, whatever DupThresh says).
    var probeRevealsLoss: Bool {
        guard probeEnd != nil, let p = probeStart else { return false }
        return sndUna < p && scoreboard.isSacked(p)
    }

    /// After SND.UNA advanced: ends the probe episode once the probe is acknowledged, with
    /// the congestion response when a retransmitted probe repaired a loss (RFC 8985 §7.4).
    func lossProbeAcknowledged(now: Instant) {
        guard let end = probeEnd, sndUna >= end else { return }
        probeEnd = nil
        if probeWasRetransmission && scoreboard.dsackCount == probeDSACKCount && !inRecovery {
            cc.onEnterRecovery(flightSize: probeFlightSize, now: now)
            internalCounters.lossProbeRepairs += 1
        }
    }
}
