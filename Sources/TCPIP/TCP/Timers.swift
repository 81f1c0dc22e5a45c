// Every timer of a connection, as deadlines checked by `poll` (no OS timers):
// retransmission (RFC 6298, with SYN retries), persist (zero-window probes, RFC 9293 §3.8.6.1),
// delayed ACK (RFC 9293 §3.8.6.3), keepalive (RFC 1122 §4.2.3.6), TIME-WAIT (2 × MSL)
// and FIN-WAIT-2; the tail loss probe (RFC 8985 §7) is in TailLossProbe.swift.

extension TCPConnection {
    /// The latest time `poll` must be called again (nil: no timer runs).
    public var nextDeadline: Instant? {
        var d: Instant? = nil
        @inline(__always) func consider(_ t: Instant?) {
            if let t, d == nil || t < d! { d = t }
        }
        consider(retransmitDeadline); consider(persistDeadline); consider(delayedACKDeadline)
        consider(keepaliveDeadline); consider(timeWaitDeadline); consider(finWait2Deadline); consider(lingerDeadline)
        consider(probeDeadline)
        return d
    }

    /// Runs the timers whose deadline has passed.
    func fireTimers(now: Instant) {
        if finWait2TimerPending {
            finWait2TimerPending = false
            if state == .finWait2 && finWait2Deadline == nil { finWait2Deadline = now + config.finWait2Timeout }
        }
        if let t = timeWaitDeadline, t <= now {
            timeWaitDeadline = nil
            terminate(nil)
            return
        }
        if lingerTimerPending || lingerDeadline != nil, fireLinger(now: now) { return }
        if let t = finWait2Deadline, t <= now {
            finWait2Deadline = nil
            if state == .finWait2 { terminate(.timedOut); return }
        }
        if let t = probeDeadline, t <= now {
            probeDeadline = nil
            probeTimeoutFired(now: now)  // re-arms the RTO when a probe is due: it does not fire with it
        }
        if let t = retransmitDeadline, t <= now {
            retransmitDeadline = nil
            retransmissionTimeout(now: now)
            if state == .closed { return }
        }
        if let t = persistDeadline, t <= now {
            persistDeadline = nil
            if sndMax == sndUna {
                if unansweredProbes > config.maximumRetransmissions { terminate(.timedOut); return }
                if sndWnd == 0 { persistProbePending = true } else { forceSend = true }
            }
        }
        if let t = delayedACKDeadline, t <= now {
            delayedACKDeadline = nil
            ackNow = true
        }
        if let t = keepaliveDeadline, t <= now {
            keepaliveDeadline = nil
            keepaliveTimeout(now: now)
        }
    }

    /// RFC 6298 §5.4–5.6: back off, go back to SND.UNA, collapse the congestion window
    /// (RFC 5681 §3.1). SYN and SYN+ACK are retried `synRetries` times, data
    /// `maximumRetransmissions` times; then the connection times out.
    func retransmissionTimeout(now: Instant) {
        guard sndMax > sndUna else { return }
        internalCounters.timeouts += 1
        let handshake = state == .synSent || state == .synReceived
        // The peer shrank its window to zero under data in flight: the retransmission becomes
        // a window probe and does not count against the connection while the peer still
        // talks to us (as Linux; it gives up after `maximumRTO` of silence).
        let shrunkWindow = !handshake && sndWnd == 0
        if shrunkWindow {
            if now - lastReceiveTime > config.maximumRTO { terminate(.timedOut); return }
        } else {
            retransmitCount += 1
            let limit = handshake ? config.synRetries : config.maximumRetransmissions
            if retransmitCount > limit {
                terminate(.timedOut)
                return
            }
        }
        rtt.backOff()
        if state != .synSent && state != .synReceived {
            cc.onRetransmissionTimeout(flightSize: flightSize, now: now)
        }
        inRecovery = false
        timeoutRecovery = true
        dupAcks = 0
        retransmitAt = nil
        pendingRescue = nil
        retransmissionLog.removeAll()
        probeDeadline = nil; probePending = false; probeEnd = nil  // RFC 8985 §7: no probe in RTO recovery
        timedSeq = nil  // Karn: nothing sent from here on is timed until new data goes out
        timeoutRetransmitTSval = tsValue(now)
        recover = sndMax  // RFC 6582 §3.2 step 4
        highRxt = sndUna
        scoreboard.removeAll()  // RFC 2018 §8: the receiver may have reneged
        sndNxt = handshake ? iss : sndUna
        if shrunkWindow { retransmitAt = sndUna }  // sent despite the zero window
        retransmitDeadline = now + rtt.rto
    }

    /// The interval before the next zero-window probe: RTO × 2^probes, at most the maximum RTO.
    var persistInterval: Duration {
        var d = rtt.rto
        for _ in 0..<min(persistBackoff, 30) { d = min(d * 2, config.maximumRTO) }
        return max(min(d, config.maximumRTO), config.minimumRTO)
    }

    /// Delayed ACK: ACK every second full segment at once, otherwise within the timeout.
    func scheduleDelayedACK(bytes: Int, now: Instant) {
        bytesSinceAck += bytes
        // "Full-sized": the largest segment the peer has sent so far (its SMSS as far as we
        // can tell, as Linux's rcv_mss), at most what our MSS allows.
        let fullSegment = max(1, min(config.maximumSegmentSize - (timestampsEnabled ? 12 : 0), receiveMSSEstimate))
        if !config.delayedAcknowledgments || bytesSinceAck >= 2 * fullSegment {
            ackNow = true
        } else if delayedACKDeadline == nil {
            delayedACKDeadline = now + config.delayedACKTimeout
        }
    }

    /// (Re)starts the keepalive idle timer after activity.
    func armKeepalive(now: Instant) {
        unansweredProbes = 0
        guard config.keepalive, state == .established || state == .closeWait else { return }
        keepaliveProbesSent = 0
        keepaliveDeadline = now + config.keepaliveIdle
    }

    func keepaliveTimeout(now: Instant) {
        guard config.keepalive, state == .established || state == .closeWait else { return }
        if sndMax != sndUna || sendBuffer.count > 0 && sndWnd > 0 {
            // Data is moving or waiting; the retransmission timer watches the peer.
            keepaliveDeadline = now + config.keepaliveIdle
            return
        }
        if keepaliveProbesSent >= config.keepaliveProbes {
            terminate(.timedOut)
            return
        }
        keepaliveProbesSent += 1
        keepaliveProbePending = true
        keepaliveDeadline = now + config.keepaliveInterval
    }
}
