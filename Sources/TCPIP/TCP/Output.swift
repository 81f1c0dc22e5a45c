// What a connection sends, one segment per `poll`: RST, SYN / SYN+ACK, retransmissions,
// new data and FIN (with Nagle and sender SWS avoidance, RFC 9293 §3.7.4 and §3.8.6.2.1),
// zero-window and keepalive probes, and ACKs (with window updates, SACK and D-SACK blocks).

extension TCPConnection {
    /// Fires expired timers, then writes at most one complete segment (header, options,
    /// payload, checksum) into `buffer`. Returns its length; 0 when there is nothing to send.
    /// Call it until it returns 0. `buffer` must hold at least 60 bytes (the largest header);
    /// the payload is cut to what fits after the header and to the peer's MSS less options.
    ///
    /// `segmentation`: the link cuts super-segments (TSO/GSO): new data may then go as one
    /// segment of up to what fits in `buffer`, in whole MSS-sized pieces (the last may be
    /// short), which the link sends as `segmentationSize(of:)`-byte segments with the same
    /// header. Retransmissions stay one MSS.
    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer, segmentation: Bool = false) -> Int {
        fireTimers(now: now)
        guard buffer.count >= 60 else { return 0 }  // room for any header with options
        if let r = pendingReset {
            pendingReset = nil
            return writeReset(r, into: buffer, now: now)
        }
        switch state {
        case .closed, .listen:
            return 0
        case .synSent, .synReceived:
            if sndNxt == iss { return writeSYN(into: buffer, now: now) }
            if state == .synReceived && ackNow { return writeACK(into: buffer, now: now) }
            return 0
        default:
            break
        }
        if persistProbePending {
            persistProbePending = false
            internalCounters.zeroWindowProbes += 1
            unansweredProbes += 1
            persistBackoff += 1
            persistDeadline = now + persistInterval
            return writeACK(into: buffer, now: now, seq: sndUna - 1)
        }
        if probePending {  // tail loss probe (TailLossProbe.swift)
            let p = writeLossProbe(into: buffer, now: now)
            if p > 0 { return p }
        }
        let n = writeData(into: buffer, now: now, segmentation: segmentation)
        if n > 0 { return n }
        if keepaliveProbePending {
            keepaliveProbePending = false
            internalCounters.keepaliveProbes += 1
            return writeACK(into: buffer, now: now, seq: sndUna - 1)
        }
        if ackNow || (delayedACKDeadline.map { $0 <= now } ?? false) {
            return writeACK(into: buffer, now: now)
        }
        return 0
    }

    // MARK: window we advertise

    /// The most we could offer now: free buffer space, within what 16 bits scaled can say.
    func advertisableWindow() -> Int {
        min(receiveBuffer.freeSpace, 65535 << Int(rcvShift))
    }

    /// The window field of a non-SYN segment. Receiver SWS avoidance (RFC 9293 §3.8.6.2.2):
    /// the offered window grows only by at least min(half the buffer, one MSS); and its
    /// right edge never moves left. Records the new right edge.
    func windowField() -> UInt16 {
        let current = max(0, rcvAdvertisedEdge - rcvNxt)
        var wnd = advertisableWindow()
        if wnd > current && wnd - current < min(receiveBuffer.capacity / 2, config.maximumSegmentSize) { wnd = current }
        var field = wnd >> Int(rcvShift)
        if field << Int(rcvShift) < current { field = (current + (1 << Int(rcvShift)) - 1) >> Int(rcvShift) }
        field = min(field, 65535)
        let edge = rcvNxt + (field << Int(rcvShift))
        if edge > rcvAdvertisedEdge { rcvAdvertisedEdge = edge }
        return UInt16(field)
    }

    // MARK: segment kinds

    func writeSYN(into b: UnsafeMutableRawBufferPointer, now: Instant) -> Int {
        let synAck = state == .synReceived
        let opts = synAck ? synAckOptions(now: now) : synOptions(now: now)
        let wnd = min(advertisableWindow(), 65535)  // never scaled in a SYN (RFC 7323 §2.2)
        if synAck {
            rcvAdvertisedEdge = .max(rcvAdvertisedEdge, rcvNxt + wnd)
        }
        if sndMax == iss {
            timedSeq = iss; timedAt = now
        } else {
            internalCounters.retransmittedSegments += 1
            synRetransmitted = true
        }
        let len = writeSegment(into: b, seq: iss, ack: synAck ? rcvNxt : nil,
                               flags: synAck ? [.syn, .ack] : .syn, options: opts,
                               window: UInt16(wnd), now: now).length
        sndNxt = iss + 1
        if sndMax < sndNxt { sndMax = sndNxt }
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        return len
    }

    func writeACK(into b: UnsafeMutableRawBufferPointer, now: Instant, seq: SequenceNumber? = nil) -> Int {
        writeSegment(into: b, seq: seq ?? sndMax, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                     window: windowField(), now: now).length
    }

    func writeReset(_ r: (seq: SequenceNumber, ack: SequenceNumber?), into b: UnsafeMutableRawBufferPointer,
                    now: Instant) -> Int {
        var opts = TCPOptionSet()
        if timestampsEnabled { opts.timestamps = TCPTimestamps(value: tsValue(now), echoReply: tsRecent) }
        internalCounters.resetsSent += 1
        return writeSegment(into: b, seq: r.seq, ack: r.ack, flags: r.ack == nil ? .rst : [.rst, .ack],
                            options: opts, window: 0, now: now).length
    }

    /// Options of an ordinary segment: timestamps, and SACK blocks (a D-SACK block first).
    func dataOptions(now: Instant) -> TCPOptionSet {
        var o = TCPOptionSet()
        if timestampsEnabled { o.timestamps = TCPTimestamps(value: tsValue(now), echoReply: tsRecent) }
        if sackEnabled && (dsack != nil || receiveBuffer.outOfOrderRangeCount > 0) {
            // D-SACK first (RFC 2883), then the range holding it, then the others, most recent first.
            o.sackBlocks = receiveBuffer.sackBlocks(rcvNxt: rcvNxt, limit: SACKBlocks.capacity, dsack: dsack)
        }
        return o
    }

    /// The next data (and/or FIN) segment, if any may go now.
    func writeData(into b: UnsafeMutableRawBufferPointer, now: Instant, segmentation: Bool = false) -> Int {
        switch state {
        case .established, .finWait1, .closeWait, .closing, .lastAck: break
        default: return 0
        }
        let finSeq = bufferSeq + sendBuffer.count

        // Retransmission of one chosen segment: fast retransmit, NewReno partial ACK, SACK recovery.
        if let (seq, limit) = chosenRetransmission() {
            let off = seq - bufferSeq
            let fin = finQueued && sndMax > finSeq
            // Only what was sent before: bytes queued since (beyond SND.MAX) are new data, sent
            // by the code below within the windows, never by a retransmission.
            let avail = min(sendBuffer.count - off, sndMax - seq - (fin ? 1 : 0))
            // Something to resend: bytes, or the FIN alone (it occupies sequence space too).
            if off >= 0 && off <= sendBuffer.count && (avail > 0 || fin) && limit > 0 {
                let (len, payload) = writeSegment(into: b, seq: seq, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                                                  window: windowField(), payloadOffset: off,
                                                  payloadLimit: min(avail, limit), finIfComplete: fin, now: now)
                retransmitAt = nil
                retransmissionSent(seq: seq, end: seq + payload + (fin && off + payload == sendBuffer.count ? 1 : 0))
                internalCounters.retransmittedSegments += 1
                if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
                return len
            }
            retransmitAt = nil
        }

        let off = sndNxt - bufferSeq
        guard off >= 0 else { return 0 }
        let unsent = max(0, sendBuffer.count - off)
        let finToSend = finQueued && sndNxt <= finSeq
        guard unsent > 0 || finToSend else { return 0 }

        // Restart after idle (RFC 5681 §4.1).
        if sndMax == sndUna, let last = lastSendTime, now - last > rtt.rto { cc.onIdleRestart(now: now) }

        let inFlight = sndNxt - sndUna
        let congestionRoom = inRecovery && sackEnabled
            ? sackRecoveryRoom
            : cc.congestionWindow + limitedTransmitAllowance - inFlight
        let usable = max(0, min(congestionRoom, sndWnd - inFlight))
        let mss = sendMSS
        let isRetransmission = sndNxt < sndMax
        // A super-segment: whole MSS pieces of what is sendable (writeSegment cuts it to the buffer).
        let superSegment = segmentation && !isRetransmission && !inRecovery && sndUp == nil && min(unsent, usable) > mss
        let len = superSegment ? min(unsent, usable) : min(unsent, usable, mss)

        if len == 0 && unsent > 0 {
            // Nothing fits: the peer's window is closed (or cwnd is full and the RTO runs).
            if sndMax == sndUna && persistDeadline == nil { persistDeadline = now + persistInterval }
            return 0
        }
        if len < mss && unsent > 0 && !isRetransmission && !forceSend {
            let allQueued = len == unsent
            // Minshall's variant (draft-minshall-nagle, as Linux): a short segment waits only
            // while an earlier short segment is unacknowledged, not while any data is. A bulk
            // write's short tail then goes with the full segments before it, and no short tail
            // waits for the peer's delayed ACK of full segments.
            let nagleAllows = config.noDelay || finQueued || !shortSegmentOutstanding
            let swsAllows = maxSndWnd > 0 && len >= maxSndWnd / 2
            if !((allQueued && nagleAllows) || swsAllows) {
                if sndMax == sndUna && persistDeadline == nil { persistDeadline = now + persistInterval }
                return 0
            }
        }
        forceSend = false
        let seq = sndNxt
        let (length, payload) = writeSegment(into: b, seq: seq, ack: rcvNxt, flags: .ack, options: dataOptions(now: now),
                                             window: windowField(), payloadOffset: off, payloadLimit: len,
                                             finIfComplete: finToSend, superSegment: superSegment, now: now)
        let sentFin = finToSend && off + payload == sendBuffer.count
        sndNxt = seq + payload + (sentFin ? 1 : 0)
        if isRetransmission {
            internalCounters.retransmittedSegments += 1
        }
        if sndNxt > sndMax {
            internalCounters.bytesSent += max(0, min(payload, sndNxt - sndMax))
            sndMax = sndNxt
        }
        if !isRetransmission, !timestampsEnabled, timedSeq == nil, payload > 0 {
            timedSeq = seq; timedAt = now
        }
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        if !isRetransmission {
            newDataSent(now: now)
            noteNewDataSegment(end: sndNxt, payload: payload, optionLength: length - 20 - payload)
        }
        persistDeadline = nil
        return length
    }

    /// A short segment of new data is unacknowledged (Minshall's Nagle): SND.UNA < its end <= SND.MAX.
    var shortSegmentOutstanding: Bool {
        guard let e = lastShortSegmentEnd else { return false }
        return sndUna < e && e <= sndMax
    }

    /// Records a segment of new data ending at `end` (after its FIN, if any): when its payload
    /// is short (for a super-segment: its last piece), it becomes the short segment Nagle waits on.
    func noteNewDataSegment(end: SequenceNumber, payload: Int, optionLength: Int) {
        if payload > 0 && payload % segmentationSize(optionLength: optionLength) != 0 { lastShortSegmentEnd = end }
    }

    /// The segment loss recovery wants retransmitted now, and its maximum length.
    func chosenRetransmission() -> (SequenceNumber, Int)? {
        if let r = retransmitAt, r < sndMax { return (r, sendMSS) }
        if let s = sackRecoverySegment() { return (s.seq, s.length) }
        return nil
    }

    /// Writes one segment. Payload comes from the send buffer at `payloadOffset`, at most
    /// `payloadLimit` bytes, cut to the peer's MSS less the option bytes (RFC 6691) and to
    /// the buffer. FIN is added when `finIfComplete` and the payload reaches the end of the
    /// queued data. Returns the segment's length and its payload length.
    @discardableResult
    func writeSegment(into b: UnsafeMutableRawBufferPointer, seq: SequenceNumber, ack: SequenceNumber?,
                      flags: TCPFlags, options: TCPOptionSet, window: UInt16,
                      payloadOffset: Int = 0, payloadLimit: Int = 0, finIfComplete: Bool = false,
                      superSegment: Bool = false, now: Instant) -> (length: Int, payload: Int) {
        var flags = flags
        let optLen = options.encodedLength
        let headerLength = 20 + optLen
        var payload = 0
        if payloadLimit > 0 {
            // At least one byte: with a path MSS near 28 (RFC 1191's floor) SACK blocks could
            // otherwise leave no room and data segments would come out empty, without end.
            let piece = max(1, min(peerMSS, config.maximumSegmentSize) - optLen)
            // A super-segment: all that is left if it fits, else as many whole pieces as the
            // limit and the buffer allow (a short piece only at the end of the queued data,
            // as without segmentation).
            var cap = piece
            if superSegment {
                let room = min(b.count - headerLength, 65535 - 20 - headerLength)
                let rest = sendBuffer.count - payloadOffset
                let want = min(payloadLimit, rest)
                cap = want == rest && want <= room ? want : max(piece, min(want, room) / piece * piece)
            }
            payload = max(0, min(payloadLimit, cap, b.count - headerLength, sendBuffer.count - payloadOffset))
            if payload > 0 {
                let out = UnsafeMutableRawBufferPointer(rebasing: b[headerLength..<(headerLength + payload)])
                sendBuffer.copy(from: payloadOffset, count: payload, into: out)
            }
            if payloadOffset + payload == sendBuffer.count { flags.insert(.psh) }
        }
        if finIfComplete && payloadOffset + payload == sendBuffer.count { flags.insert(.fin) }
        var urgent: UInt16 = 0
        if let up = sndUp, flags.contains(.ack), !flags.contains(.rst) {
            if up > seq { flags.insert(.urg); urgent = UInt16(clamping: up - seq) } else if up <= sndUna { sndUp = nil }
        }
        b.put16(tuple.localPort, at: 0)
        b.put16(tuple.remotePort, at: 2)
        b.put32(seq.rawValue, at: 4)
        b.put32(ack?.rawValue ?? 0, at: 8)
        b.put16(UInt16(headerLength / 4) << 12 | flags.rawValue, at: 12)
        b.put16(window, at: 14)
        b.put16(0, at: 16)
        b.put16(urgent, at: 18)
        let end = options.write(into: b, at: 20)
        precondition(end == headerLength, "option layout")
        let total = headerLength + payload
        TCPHeader.fillChecksum(segment: UnsafeMutableRawBufferPointer(rebasing: b[0..<total]),
                               source: tuple.localAddress, destination: tuple.remoteAddress)
        internalCounters.segmentsOut += 1
        if flags.contains(.ack) && !flags.contains(.rst) {
            ackNow = false
            if payload == 0 && !flags.contains(.fin) && !flags.contains(.syn) && owedDuplicateACKs > 0 {
                owedDuplicateACKs -= 1
                ackNow = true
            } else if payload > 0 {
                owedDuplicateACKs = 0
            }
            delayedACKDeadline = nil
            bytesSinceAck = 0
            lastAckSent = rcvNxt
            dsack = nil
        }
        if !flags.contains(.rst) { lastSendTime = now }
        return (total, payload)
    }
}

extension TCPConnection {
    /// The payload bytes per segment the link cuts a super-segment into: the peer's MSS
    /// (within ours) less the `optionLength` bytes of options every piece repeats.
    public func segmentationSize(optionLength: Int) -> Int {
        max(1, min(peerMSS, config.maximumSegmentSize) - optionLength)
    }
}
