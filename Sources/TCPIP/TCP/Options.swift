// Option negotiation (MSS, window scale, timestamps, SACK-permitted) and the per-segment
// option rules: RFC 9293 §3.7.1 (MSS), RFC 7323 (window scale, timestamps, PAWS), RFC 2018.

extension TCPConnection {
    /// The MSS we put in our SYN.
    var advertisedMSS: UInt16 { UInt16(clamping: config.maximumSegmentSize) }

    /// Largest payload of a segment that carries only the usual options (timestamps):
    /// the peer's MSS (capped by ours) less the option bytes (RFC 6691). Nagle's "full segment".
    var sendMSS: Int {
        max(1, min(peerMSS, config.maximumSegmentSize) - (timestampsEnabled ? 12 : 0))
    }

    /// Options of our SYN (active open).
    func synOptions(now: Instant) -> TCPOptionSet {
        var o = TCPOptionSet()
        o.maximumSegmentSize = advertisedMSS
        if config.windowScaling { o.windowScale = config.receiveWindowShift }
        if config.timestamps { o.timestamps = TCPTimestamps(value: tsValue(now), echoReply: 0) }
        o.sackPermitted = config.selectiveAcknowledgments
        return o
    }

    /// Options of our SYN+ACK: only what the peer's SYN offered (negotiated in `negotiate`).
    func synAckOptions(now: Instant) -> TCPOptionSet {
        var o = TCPOptionSet()
        o.maximumSegmentSize = advertisedMSS
        if windowScaleNegotiated { o.windowScale = rcvShift }
        if timestampsEnabled { o.timestamps = TCPTimestamps(value: tsValue(now), echoReply: tsRecent) }
        o.sackPermitted = sackEnabled
        return o
    }

    /// Reads the options of the peer's SYN (or SYN+ACK) and settles what both sides use.
    /// For a SYN+ACK, only options we offered can be turned on.
    func negotiate(_ o: TCPOptionSet, segment: TCPHeaderView, now: Instant) {
        peerMSS = o.maximumSegmentSize.map { max(64, Int($0)) } ?? 536
        if config.windowScaling, let ws = o.windowScale {
            windowScaleNegotiated = true
            sndShift = min(ws, 14)  // RFC 7323 §2.3: a shift above 14 is used as 14
            rcvShift = config.receiveWindowShift
        } else {
            windowScaleNegotiated = false
            sndShift = 0; rcvShift = 0
        }
        if config.timestamps, let ts = o.timestamps {
            timestampsEnabled = true
            tsRecent = ts.value; tsRecentTime = now; tsRecentValid = true
        } else {
            timestampsEnabled = false
        }
        sackEnabled = config.selectiveAcknowledgments && o.sackPermitted
        cc = CongestionController(config.congestionAlgorithm, maximumSegmentSize: sendMSS)
    }

    /// TSval for a segment sent now: a millisecond clock plus the connection's offset.
    func tsValue(_ now: Instant) -> UInt32 { now.milliseconds &+ tsOffset }

    /// RFC 7323 §5.3 PAWS: true when the segment must be dropped as an old duplicate.
    func failsPAWS(_ o: TCPOptionSet, flags: TCPFlags, now: Instant) -> Bool {
        guard timestampsEnabled, tsRecentValid, !flags.contains(.rst), let ts = o.timestamps else { return false }
        // TS.Recent older than 24 days is invalid (RFC 7323 §5.5).
        if now - tsRecentTime > .seconds(24 * 24 * 3600) { tsRecentValid = false; return false }
        return Int32(bitPattern: ts.value &- tsRecent) < 0
    }

    /// RFC 7323 §4.3: TS.Recent follows segments that cover Last.ACK.sent.
    func updateTSRecent(_ o: TCPOptionSet, seq: SequenceNumber, now: Instant) {
        guard timestampsEnabled, let ts = o.timestamps else { return }
        if seq <= lastAckSent, !tsRecentValid || Int32(bitPattern: ts.value &- tsRecent) >= 0 {
            tsRecent = ts.value; tsRecentTime = now; tsRecentValid = true
        }
    }
}
