// RFC 9293 §3.10.7 "SEGMENT ARRIVES", in the RFC's order, with RFC 5961 (blind-attack
// mitigations) and RFC 7323 (PAWS, TS.Recent) where they slot in.

extension TCPConnection {
    /// Processes one arriving segment (its checksum already verified by the caller).
    public func handle(segment seg: TCPHeaderView, now: Instant) {
        internalCounters.segmentsIn += 1
        let opts: TCPOptionSet
        do { opts = try seg.optionSet() } catch {
            internalCounters.droppedSegments.badOptions += 1
            return
        }
        switch state {
        case .closed: segmentInClosed(seg)
        case .listen: segmentInListen(seg, opts, now: now)
        case .synSent: segmentInSynSent(seg, opts, now: now)
        default: segmentInSynchronized(seg, opts, now: now)
        }
    }

    // MARK: §3.10.7.1 CLOSED

    func segmentInClosed(_ seg: TCPHeaderView) {
        internalCounters.droppedSegments.wrongState += 1
        guard !seg.flags.contains(.rst) else { return }
        pendingReset = TCPConnection.resetFields(for: seg)
    }

    // MARK: §3.10.7.2 LISTEN

    func segmentInListen(_ seg: TCPHeaderView, _ opts: TCPOptionSet, now: Instant) {
        let f = seg.flags
        if f.contains(.rst) { internalCounters.droppedSegments.wrongState += 1; return }
        if f.contains(.ack) {
            internalCounters.droppedSegments.badACK += 1
            pendingReset = (seg.acknowledgmentNumber, nil)
            return
        }
        guard f.contains(.syn) else { internalCounters.droppedSegments.wrongState += 1; return }
        if tuple.remotePort == 0 { tuple.remotePort = seg.sourcePort }
        irs = seg.sequenceNumber
        rcvNxt = irs + 1
        rcvAdvertisedEdge = rcvNxt
        lastAckSent = rcvNxt
        negotiate(opts, segment: seg, now: now)
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        sndWnd = Int(seg.window); maxSndWnd = sndWnd
        sndWl1 = irs; sndWl2 = iss
        lastReceiveTime = now
        // Data on the SYN is not taken; the peer sends it again once we have ACKed the SYN.
        setState(.synReceived)
    }

    // MARK: §3.10.7.3 SYN-SENT

    func segmentInSynSent(_ seg: TCPHeaderView, _ opts: TCPOptionSet, now: Instant) {
        let f = seg.flags
        let ack = seg.acknowledgmentNumber
        if f.contains(.ack) {
            if ack <= iss || ack > sndMax {
                internalCounters.droppedSegments.badACK += 1
                if !f.contains(.rst) { pendingReset = (ack, nil) }
                return
            }
        }
        if f.contains(.rst) {
            if f.contains(.ack) { terminate(.refused) } else { internalCounters.droppedSegments.badRST += 1 }
            return
        }
        guard f.contains(.syn) else { internalCounters.droppedSegments.wrongState += 1; return }
        irs = seg.sequenceNumber
        rcvNxt = irs + 1
        rcvAdvertisedEdge = rcvNxt
        lastAckSent = rcvNxt
        negotiate(opts, segment: seg, now: now)
        // The window our SYN offered (unscaled) is the right edge the peer may fill.
        rcvAdvertisedEdge = rcvNxt + min(advertisableWindow(), 65535)
        sndWnd = Int(seg.window); maxSndWnd = sndWnd
        sndWl1 = irs
        lastReceiveTime = now
        if f.contains(.ack) {
            sndWl2 = ack
            acknowledge(upTo: ack, opts, now: now)
            if synRetransmitted { rtt.handshakeTimedOut() }  // RFC 6298 §5.7: 3 s without a sample
            setState(.established)
            post(.writable)
            ackNow = true
            armKeepalive(now: now)
        } else {
            // Simultaneous open: SYN+ACK with our original ISS (§3.10.7.3, Figure 7).
            sndWl2 = iss
            sndNxt = iss
            setState(.synReceived)
        }
    }

    // MARK: §3.10.7.4 other states

    func segmentInSynchronized(_ seg: TCPHeaderView, _ opts: TCPOptionSet, now: Instant) {
        let f = seg.flags
        let seq = seg.sequenceNumber
        let payload = seg.payload
        let segLen = seg.sequenceLength

        // A retransmitted SYN while our SYN+ACK is unanswered: send the SYN+ACK again.
        if state == .synReceived, f.contains(.syn), !f.contains(.rst), !f.contains(.ack), seq == irs {
            if sndUna == iss { sndNxt = iss }
            return
        }

        // Simultaneous open (Figure 8): our SYN+ACK crossed the peer's; its SYN+ACK repeats the
        // SYN we hold and acknowledges ours, so it completes the handshake (as Linux does).
        if state == .synReceived, f.contains(.syn), f.contains(.ack), !f.contains(.rst), seq == irs {
            let ack = seg.acknowledgmentNumber
            guard sndUna < ack && ack <= sndMax else {
                internalCounters.droppedSegments.badACK += 1
                pendingReset = (ack, nil)
                return
            }
            sndWnd = Int(seg.window); maxSndWnd = max(maxSndWnd, sndWnd)
            sndWl1 = seq; sndWl2 = ack
            lastReceiveTime = now
            acknowledge(upTo: ack, opts, now: now)
            setState(.established)
            post(.writable)
            armKeepalive(now: now)
            if finQueued { setState(.finWait1) }
            return
        }

        // RFC 7323 §5.3 PAWS, before the sequence test.
        if failsPAWS(opts, flags: f, now: now) {
            internalCounters.droppedSegments.paws += 1
            acknowledgeInvalid(segmentLength: segLen, syn: f.contains(.syn), now: now)
            return
        }

        // First: sequence number (Table 6).
        let rcvWnd = max(0, rcvAdvertisedEdge - rcvNxt)
        var acceptable: Bool
        if segLen == 0 {
            acceptable = rcvWnd == 0 ? seq == rcvNxt : seq.isIn(rcvNxt, rcvNxt + rcvWnd)
        } else if rcvWnd == 0 {
            acceptable = false
        } else {
            acceptable = seq.isIn(rcvNxt, rcvNxt + rcvWnd) || (seq + (segLen - 1)).isIn(rcvNxt, rcvNxt + rcvWnd)
        }
        // A retransmission of data we already hold that ends exactly at RCV.NXT (our ACK of it
        // was lost) still carries a current ACK: take the ACK, drop the data as a duplicate
        // (as Linux, which accepts a segment ending at or after its last advertised RCV.NXT).
        // Without this, e.g. the peer's first ACK of our FIN can ride only on such a
        // retransmission and be thrown away.
        if !acceptable, rcvWnd > 0, payload.count > 0, !f.contains(.syn), !f.contains(.fin), !f.contains(.rst),
           seq + segLen == rcvNxt {
            acceptable = true
        }
        // "Special allowance" for a zero window: a segment at RCV.NXT still carries a valid
        // ACK, URG or RST; its data is not taken and an ACK goes back.
        var zeroWindowAtEdge = false
        if !acceptable && rcvWnd == 0 && seq == rcvNxt {
            acceptable = true
            zeroWindowAtEdge = true
        }
        if !acceptable {
            internalCounters.droppedSegments.outOfWindow += 1
            if !f.contains(.rst) {
                let dataSeq = seq + (f.contains(.syn) ? 1 : 0)
                if sackEnabled, payload.count > 0, dataSeq + payload.count <= rcvNxt {
                    dsack = SACKBlock(start: dataSeq, end: dataSeq + payload.count)  // RFC 2883
                }
                if state == .timeWait, f.contains(.fin) { timeWaitDeadline = now + config.maximumSegmentLifetime * 2 }
                // A retransmission of what we last ACKed (it ends at Last.ACK.sent: our ACK was
                // lost) refreshes TS.Recent (RFC 7323 §4.3 condition; Linux treats such a segment as
                // acceptable), so the ACK it provokes echoes this transmission, not an old one.
                if timestampsEnabled, segLen > 0, seq + segLen == lastAckSent, lastAckSent == rcvNxt {
                    updateTSRecent(opts, seq: seq, now: now)
                }
                acknowledgeInvalid(segmentLength: segLen, syn: f.contains(.syn), now: now)
            }
            return
        }
        lastReceiveTime = now

        // Trim to the window: `dataSeq..<dataSeq+dataLen` is the new part of the data.
        var dataSeq = seq + (f.contains(.syn) ? 1 : 0)
        var dataStart = 0
        var dataLen = payload.count
        var fin = f.contains(.fin)
        if dataSeq < rcvNxt {
            let cut = min(dataLen, rcvNxt - dataSeq)
            if cut > 0 {
                if sackEnabled { dsack = SACKBlock(start: dataSeq, end: dataSeq + cut) }
                internalCounters.duplicateBytes += cut
                ackNow = true
            }
            dataStart += cut; dataSeq += cut; dataLen -= cut
        }
        let windowEnd = rcvNxt + rcvWnd
        if zeroWindowAtEdge {
            // Data cannot be taken; a bare FIN can (it needs no buffer space, as Linux does).
            if dataLen > 0 { ackNow = true; fin = false }
            dataLen = 0
        } else if dataSeq + dataLen > windowEnd {
            dataLen = max(0, windowEnd - dataSeq)
            fin = false
            ackNow = true
        }

        // Second: RST (RFC 5961 §3).
        if f.contains(.rst) {
            if seq == rcvNxt {
                resetArrived()
            } else {
                internalCounters.droppedSegments.badRST += 1
                sendChallengeACK(now: now)
            }
            return
        }

        // Fourth: SYN (RFC 5961 §4): challenge ACK whatever its sequence number.
        if f.contains(.syn) {
            internalCounters.droppedSegments.unexpectedSYN += 1
            sendChallengeACK(now: now)
            return
        }

        // Fifth: ACK.
        guard f.contains(.ack) else { internalCounters.droppedSegments.noACK += 1; return }
        let ack = seg.acknowledgmentNumber
        if state == .synReceived {
            guard sndUna < ack && ack <= sndMax else {
                internalCounters.droppedSegments.badACK += 1
                pendingReset = (ack, nil)
                return
            }
            sndWnd = Int(seg.window) << Int(sndShift); maxSndWnd = max(maxSndWnd, sndWnd)
            sndWl1 = seq; sndWl2 = ack
            setState(.established)
            post(.writable)
            armKeepalive(now: now)
            if finQueued { setState(.finWait1) }
            if synRetransmitted, rtt.smoothedRTT == nil, !(timestampsEnabled && opts.timestamps != nil) {
                rtt.handshakeTimedOut()  // RFC 6298 §5.7
            }
        }
        if ack > sndMax {
            // RFC 9293 / RFC 5961 §5: acknowledges data never sent.
            internalCounters.droppedSegments.badACK += 1
            acknowledgeInvalid(segmentLength: segLen, syn: false, now: now)
            return
        }
        if ack < sndUna - maxSndWnd {
            internalCounters.droppedSegments.badACK += 1
            sendChallengeACK(now: now)
            return
        }
        if timestampsEnabled, !zeroWindowAtEdge { updateTSRecent(opts, seq: seq, now: now) }
        let scaledWindow = Int(seg.window) << Int(sndShift)
        var newlySacked = 0
        if sackEnabled && !opts.sackBlocks.isEmpty {
            newlySacked = scoreboard.update(with: opts.sackBlocks, sndUna: ack > sndUna ? ack : sndUna, sndNxt: sndMax)
        }
        if ack > sndUna {
            acknowledge(upTo: ack, opts, now: now)
        } else if ack == sndUna, isDuplicateACK(hasSACKBlocks: !opts.sackBlocks.isEmpty, newlySacked: newlySacked,
                                                payload: payload.count, fin: f.contains(.fin), window: scaledWindow) {
            duplicateAckArrived(now: now)
        }
        // Window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2).
        if sndWl1 < seq || (sndWl1 == seq && sndWl2 <= ack) {
            let opened = sndWnd == 0 && scaledWindow > 0
            sndWnd = scaledWindow
            sndWl1 = seq; sndWl2 = ack
            maxSndWnd = max(maxSndWnd, sndWnd)
            if opened { persistDeadline = nil; persistBackoff = 0; persistProbePending = false }
        }
        switch state {
        case .finWait1:
            if finAcknowledged {
                setState(.finWait2)
                if fullyClosed { finWait2Deadline = now + config.finWait2Timeout }
            }
        case .closing:
            if finAcknowledged { enterTimeWait(now: now) }
        case .lastAck:
            if finAcknowledged { terminate(nil); return }
        default: break
        }

        // Sixth: URG (RFC 6093: the pointer marks the byte after the urgent data).
        if f.contains(.urg), state.receivesData, seg.urgentPointer > 0 {
            let up = seq + Int(seg.urgentPointer)
            if rcvUp == nil || rcvUp! < up {
                rcvUp = up
                post(.readable)
            }
        }

        // Seventh: segment text.
        if dataLen > 0 && state.receivesData {
            if payload.count > receiveMSSEstimate { receiveMSSEstimate = min(payload.count, 65535) }
            let bytes = UnsafeRawBufferPointer(rebasing: payload[dataStart..<(dataStart + dataLen)])
            let offset = dataSeq - rcvNxt
            let r = receiveBuffer.insert(bytes, at: offset)
            if r.dropped > 0 { internalCounters.droppedSegments.noBufferSpace += 1 }
            if r.advanced > 0 {
                rcvNxt += r.advanced
                internalCounters.bytesReceived += r.advanced
                post(.readable)
            }
            if offset > 0, ackNow { owedDuplicateACKs = min(owedDuplicateACKs + 1, 16) }
            if offset > 0 || r.filledGap || r.duplicate > 0 {
                // Out of order, gap filled, or duplicate: ACK at once (RFC 5681 §4.2).
                if r.duplicate > 0, offset > 0, sackEnabled, dsack == nil {
                    dsack = SACKBlock(start: dataSeq, end: dataSeq + min(dataLen, r.duplicate))
                }
                ackNow = true
            } else if r.advanced > 0 {
                scheduleDelayedACK(bytes: r.advanced, now: now)
            }
            if r.dropped > 0 { ackNow = true }
        }

        // Eighth: FIN. Once the peer's FIN is in, nothing follows it: a "FIN" at RCV.NXT (one
        // past the real one) is bogus and must not advance RCV.NXT again (as Linux, which
        // ignores segments at or past RCV.NXT in CLOSE-WAIT, CLOSING, LAST-ACK); a genuine
        // retransmission of the FIN sits below RCV.NXT and was answered above as unacceptable.
        if fin, finReceived {
            // ignored
        } else if fin {
            let finSeq = dataSeq + dataLen
            if finSeq == rcvNxt {
                finArrived(now: now)
            } else if state.receivesData {
                outOfOrderFin = finSeq
                ackNow = true
            }
        } else if let f = outOfOrderFin, f == rcvNxt, state.receivesData {
            outOfOrderFin = nil
            finArrived(now: now)
        }
        armKeepalive(now: now)
    }

    /// True once our FIN has been sent and acknowledged.
    var finAcknowledged: Bool {
        finQueued && sndUna == bufferSeq + sendBuffer.count + 1
    }

    func resetArrived() {
        switch state {
        case .synReceived:
            terminate(passiveOpen ? .reset : .refused)
        case .established, .finWait1, .finWait2, .closeWait:
            terminate(.reset)
        case .closing, .lastAck:
            terminate(nil)
        case .timeWait:
            if config.timeWaitResetPolicy == .close { terminate(nil) } else {
                internalCounters.droppedSegments.badRST += 1
            }
        default: break
        }
    }

    func finArrived(now: Instant) {
        rcvNxt += 1
        finReceived = true
        ackNow = true
        post(.peerClosed)
        switch state {
        case .synReceived, .established: setState(.closeWait)
        case .finWait1: if finAcknowledged { enterTimeWait(now: now) } else { setState(.closing) }
        case .finWait2: enterTimeWait(now: now)
        case .timeWait: timeWaitDeadline = now + config.maximumSegmentLifetime * 2
        default: break
        }
    }

    func enterTimeWait(now: Instant) {
        setState(.timeWait)
        timeWaitDeadline = now + config.maximumSegmentLifetime * 2
        retransmitDeadline = nil; persistDeadline = nil; keepaliveDeadline = nil; finWait2Deadline = nil
        probeDeadline = nil; probePending = false
    }

    /// An ACK answering an unacceptable segment (§3.10.7.4). Segments that occupy sequence
    /// space (data or FIN) are always answered; the others are rate-limited.
    func acknowledgeInvalid(segmentLength: Int, syn: Bool, now: Instant) {
        if segmentLength > 0 && !syn { ackNow = true; return }
        if invalidSegmentACKAllowed(now: now) { ackNow = true }
    }

    /// RFC 5961 challenge ACK, rate-limited.
    func sendChallengeACK(now: Instant) {
        if invalidSegmentACKAllowed(now: now) {
            ackNow = true
            internalCounters.challengeAcksSent += 1
        }
    }

    /// SND.UNA moves to `ack`: free acknowledged bytes, take an RTT sample, drive
    /// congestion control and the retransmission timer.
    func acknowledge(upTo ack: SequenceNumber, _ opts: TCPOptionSet, now: Instant) {
        let previousUna = sndUna
        var acked = ack - sndUna
        if sndUna == iss { acked -= 1 }  // our SYN
        if ack > bufferSeq {
            let n = min(ack - bufferSeq, sendBuffer.count)
            if n > 0 {
                sendBuffer.removeFirst(n)
                bufferSeq += n
                post(.writable)
            }
        }
        sndUna = ack
        if sndNxt < sndUna { sndNxt = sndUna }
        if let e = lastShortSegmentEnd, e <= sndUna { lastShortSegmentEnd = nil }  // Minshall's Nagle
        if let r = retransmitAt, r < sndUna { retransmitAt = nil }
        takeRTTSample(ack: ack, opts, now: now)
        retransmitCount = 0
        persistBackoff = 0
        newDataAcknowledged(bytes: max(0, acked), previousUna: previousUna, now: now)
        retransmitDeadline = sndUna == sndMax ? nil : now + rtt.rto
        lossProbeAcknowledged(now: now)
        scheduleLossProbe(now: now)
    }

    func takeRTTSample(ack: SequenceNumber, _ opts: TCPOptionSet, now: Instant) {
        if timestampsEnabled, let ts = opts.timestamps {
            // After a timeout, an ACK echoing a TSval older than the retransmission answers an
            // earlier transmission (its ACK was lost, the receiver echoes an old TS.Recent):
            // the sample would include the timeout. Skip it (Karn's idea applied to timestamps).
            if let r = timeoutRetransmitTSval, Int32(bitPattern: ts.echoReply &- r) < 0 {
                // ambiguous
            } else {
                let ms = Int32(bitPattern: tsValue(now) &- ts.echoReply)
                if ms >= 0 { rtt.addSample(.milliseconds(Int(ms))) }
            }
            if ack == sndMax { timeoutRetransmitTSval = nil }
            timedSeq = nil
        } else if let t = timedSeq, ack > t {
            rtt.addSample(now - timedAt)
            timedSeq = nil
        }
    }

    /// RFC 6191 / RFC 9293 §3.10.7.4 note: in TIME-WAIT, may a new SYN for this four-tuple
    /// start a new connection? With timestamps: when its TSval is newer than TS.Recent;
    /// without: when its sequence number is past RCV.NXT. The stack then removes this
    /// connection and opens a new one.
    public func acceptsNewSYN(segment: TCPHeaderView) -> Bool {
        guard state == .timeWait, segment.flags.contains(.syn), !segment.flags.contains(.ack),
              !segment.flags.contains(.rst) else { return false }
        if timestampsEnabled, let o = try? segment.optionSet(), let ts = o.timestamps {
            return Int32(bitPattern: ts.value &- tsRecent) > 0
        }
        return segment.sequenceNumber > rcvNxt
    }
}
