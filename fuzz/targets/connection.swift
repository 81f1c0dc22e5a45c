// TCPConnection under arbitrary segment sequences, user calls and time steps, from every state.
//
// Input layout (every byte read past the end is 0, so any input is valid):
//   [0] state to start in (% 11: CLOSED LISTEN SYN-SENT SYN-RECEIVED ESTABLISHED FIN-WAIT-1
//       FIN-WAIT-2 CLOSING TIME-WAIT CLOSE-WAIT LAST-ACK), reached with well-formed segments
//   [1] configuration bits: 1 window scaling, 2 timestamps, 4 SACK, 8 Nagle off, 16 delayed ACK
//       off, 32 keepalive on (short timers), 64 CUBIC, 128 TIME-WAIT RST closes
//   [2] low 2 bits: ISS pair (ours, the peer's), near-wrap ones included; bit 2: reach
//       synchronized states by passive open; bits 3-4: receive buffer size; bits 5-6: peer MSS
//   then a program, one op per opcode byte (% 16, see `step`): deliver a segment whose fields
//   come from the bytes (flags incl. ECE/CWR/AE, seq/ack relative to RCV.NXT / SND.UNA /
//   SND.NXT / SND.MAX or raw, window, urgent pointer, options from a small vocabulary with
//   malformed ones, payload length), advance time, write / write urgent / read / close /
//   abort, ICMP unreachable, poll.
//
// Invariants, checked after every op: SND.UNA <= SND.NXT <= SND.MAX (modular) and at most the
// send buffer + SYN + FIN in flight; send and receive buffers (in-order + out-of-order) within
// the configured sizes, the reassembly ranges within their bound; every emitted segment parses,
// has a valid checksum and our ports, carries payload + options <= the MSS in force, never
// reaches past SND.MAX, and carries exactly the bytes written at its sequence numbers; bytes
// read are exactly the bytes the peer sent at those sequence numbers (payloads are a function of
// the sequence number); after a complete poll the next deadline lies in the future (none once
// CLOSED); poll stops; state changes follow the state diagram (CLOSED is final).

@inline(__always) func trace(_ s: @autoclosure () -> String) {
    #if FUZZ_TRACE
    print(s())
    #endif
}

/// Payload byte the fuzzed peer sends at sequence number `s` (so any overlap agrees).
@inline(__always) func peerByte(_ s: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: (s &* 2_654_435_761) >> 24) }
/// Byte number `k` of what the application writes.
@inline(__always) func appByte(_ k: Int) -> UInt8 { UInt8(truncatingIfNeeded: k &* 7 &+ (k >> 8)) }

struct FuzzReader {
    let bytes: UnsafeRawBufferPointer
    var at = 0
    var atEnd: Bool { at >= bytes.count }
    mutating func u8() -> UInt8 {
        guard at < bytes.count else { at += 1; return 0 }
        defer { at += 1 }
        return bytes[at]
    }
    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    mutating func i16() -> Int { Int(Int16(bitPattern: u16())) }
}

let fuzzLocal = FourTuple(localAddress: IPv4Address(192, 0, 2, 1), localPort: 40000,
                          remoteAddress: IPv4Address(192, 0, 2, 2), remotePort: 80)

final class ConnectionHarness {
    var conn: TCPConnection
    let config: TCPConfiguration
    var now = Instant(nanoseconds: 1_000_000_000)
    let ourISS: UInt32
    let peerISS: UInt32
    let peerMSS: UInt16
    /// The peer's TSval clock and the last TSval we sent (for echoes).
    var peerTS: UInt32 = 1000
    var ourTSval: UInt32 = 0
    /// Application bytes written and read so far.
    var written = 0
    var readTotal = 0
    var readIRS: SequenceNumber?
    var out = [UInt8](repeating: 0, count: 2048)
    var seg = [UInt8](repeating: 0, count: 60 + 2048)
    var readBuf = [UInt8](repeating: 0, count: 4096)
    var state: TCPState

    init(config: TCPConfiguration, ourISS: UInt32, peerISS: UInt32, peerMSS: UInt16, passive: Bool) {
        self.config = config
        self.ourISS = ourISS
        self.peerISS = peerISS
        self.peerMSS = peerMSS
        conn = passive
            ? TCPConnection.listen(tuple: fuzzLocal, iss: SequenceNumber(ourISS), configuration: config, now: now)
            : TCPConnection.connect(tuple: fuzzLocal, iss: SequenceNumber(ourISS), configuration: config, now: now)
        state = conn.state
        while conn.nextEvent() != nil {}  // CLOSED -> LISTEN / SYN-SENT
    }

    // MARK: segments from the peer

    /// Builds a segment in `seg` with raw option bytes and a payload of `payloadLength` bytes
    /// (a function of the sequence number) and hands it to the connection.
    func deliver(flags: UInt16, seq: UInt32, ack: UInt32, window: UInt16, urgent: UInt16,
                 options: [UInt8], payloadLength: Int) {
        var opts = options
        if opts.count > 40 { opts.removeLast(opts.count - 40) }
        while opts.count % 4 != 0 { opts.append(1) }
        let hl = 20 + opts.count
        let total = hl + payloadLength
        seg.withUnsafeMutableBytes { b in
            b.put16(fuzzLocal.remotePort, at: 0)
            b.put16(fuzzLocal.localPort, at: 2)
            b.put32(seq, at: 4)
            b.put32(ack, at: 8)
            b.put16(UInt16(hl / 4) << 12 | (flags & 0x1FF), at: 12)
            b.put16(window, at: 14)
            b.put16(0, at: 16)
            b.put16(urgent, at: 18)
            for (i, o) in opts.enumerated() { b[20 + i] = o }
            for i in 0..<payloadLength { b[hl + i] = peerByte(seq &+ UInt32(i)) }
            let s = UnsafeMutableRawBufferPointer(rebasing: b[0..<total])
            TCPHeader.fillChecksum(segment: s, source: fuzzLocal.remoteAddress, destination: fuzzLocal.localAddress)
            guard let v = try? TCPHeaderView(UnsafeRawBufferPointer(s)) else { fatalError("harness built a bad header") }
            trace("  in  \(v.flags) seq=\(v.sequenceNumber) ack=\(v.acknowledgmentNumber) win=\(v.window) urg=\(v.urgentPointer) len=\(payloadLength) opts=\((try? v.options()).map { "\($0)" } ?? "bad \(opts)")")
            conn.handle(segment: v, now: now)
        }
        peerTS &+= 1
    }

    /// Options of the peer's SYN (what this configuration can negotiate).
    func synOptions() -> [UInt8] {
        var o: [UInt8] = [2, 4, UInt8(peerMSS >> 8), UInt8(peerMSS & 0xFF)]
        if config.windowScaling { o += [1, 3, 3, 7] }
        if config.selectiveAcknowledgments { o += [1, 1, 4, 2] }
        if config.timestamps { o += [1, 1] + tsOption(echo: 0) }
        return o
    }

    func tsOption(echo: UInt32) -> [UInt8] {
        [8, 10, UInt8(peerTS >> 24), UInt8((peerTS >> 16) & 0xFF), UInt8((peerTS >> 8) & 0xFF), UInt8(peerTS & 0xFF),
         UInt8(echo >> 24), UInt8((echo >> 16) & 0xFF), UInt8((echo >> 8) & 0xFF), UInt8(echo & 0xFF)]
    }

    /// Options of an ordinary well-formed peer segment.
    func plainOptions() -> [UInt8] { conn.timestampsEnabled ? [1, 1] + tsOption(echo: ourTSval) : [] }

    /// A well-formed segment from a peer that has sent `peerSent` bytes of sequence space after its SYN.
    func peerSends(_ flags: TCPFlags, ackPlus: Int, peerSent: Int = 0) {
        deliver(flags: flags.rawValue, seq: peerISS &+ 1 &+ UInt32(peerSent), ack: ourISS &+ UInt32(ackPlus),
                window: 65535, urgent: 0, options: plainOptions(), payloadLength: 0)
        after(.deliver)
        pollAll()
    }

    // MARK: reaching a state

    /// Drives the connection to `target` along the usual path; returns false when the engine
    /// did not get there (itself an invariant failure, reported by the caller).
    func reach(_ target: TCPState, passive: Bool) {
        pollAll()
        switch target {
        case .listen, .synSent:
            return
        case .closed:
            reach(.established, passive: passive)
            conn.abort(); after(.abort); pollAll()
            return
        case .synReceived:
            deliver(flags: TCPFlags.syn.rawValue, seq: peerISS, ack: 0, window: 65535, urgent: 0,
                    options: synOptions(), payloadLength: 0)
            after(.deliver); pollAll()
            return
        case .established:
            if passive {
                reach(.synReceived, passive: true)
                peerSends(.ack, ackPlus: 1)
            } else {
                deliver(flags: TCPFlags([.syn, .ack]).rawValue, seq: peerISS, ack: ourISS &+ 1, window: 65535, urgent: 0,
                        options: synOptions(), payloadLength: 0)
                after(.deliver); pollAll()
            }
        case .finWait1:
            reach(.established, passive: passive)
            conn.close(); after(.close); pollAll()
        case .finWait2:
            reach(.finWait1, passive: passive)
            peerSends(.ack, ackPlus: 2)
        case .closing:
            reach(.finWait1, passive: passive)
            peerSends([.fin, .ack], ackPlus: 1)
        case .timeWait:
            reach(.finWait2, passive: passive)
            peerSends([.fin, .ack], ackPlus: 2)
        case .closeWait:
            reach(.established, passive: passive)
            peerSends([.fin, .ack], ackPlus: 1)
        case .lastAck:
            reach(.closeWait, passive: passive)
            conn.close(); after(.close); pollAll()
        }
    }

    // MARK: output

    /// Polls until nothing more comes out, checking every segment.
    func pollAll() {
        var count = 0
        while true {
            let n = out.withUnsafeMutableBytes { conn.poll(now: now, into: $0) }
            if n == 0 { break }
            count += 1
            require(count <= 20_000, "poll does not stop (\(conn))")
            out.withUnsafeBytes { checkEmitted(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        after(.poll)
        if let d = conn.nextDeadline {
            require(d > now, "deadline \(d) not after now \(now) after a complete poll (\(conn))")
            require(conn.state != .closed, "a timer runs in CLOSED: \(d) (\(conn))")
        }
    }

    func checkEmitted(_ b: UnsafeRawBufferPointer) {
        let v: TCPHeaderView
        do { v = try TCPHeaderView(b) } catch { fatalError("invariant: emitted segment does not parse: \(error)") }
        require(v.checksumIsValid(source: fuzzLocal.localAddress, destination: fuzzLocal.remoteAddress), "emitted checksum")
        require(v.sourcePort == fuzzLocal.localPort && v.destinationPort == fuzzLocal.remotePort, "emitted ports")
        let o: TCPOptionSet
        do { o = try v.optionSet() } catch { fatalError("invariant: emitted options do not parse: \(error)") }
        if let ts = o.timestamps { ourTSval = ts.value }
        let f = v.flags
        let p = v.payload
        trace("  out \(f) seq=\(v.sequenceNumber) ack=\(v.acknowledgmentNumber) win=\(v.window) urg=\(v.urgentPointer) len=\(p.count) opts=\(o)")
        if p.count > 0 {
            let mss = min(conn.peerMSS, config.maximumSegmentSize)
            require(p.count <= config.maximumSegmentSize, "payload \(p.count) > our MSS")
            require(p.count + v.optionBytes.count <= mss, "payload \(p.count) + options \(v.optionBytes.count) > MSS \(mss)")
            require(!f.contains(.syn) && !f.contains(.rst), "payload on SYN/RST")
            let first = v.sequenceNumber - (SequenceNumber(ourISS) + 1)
            require(first >= 0 && first + p.count <= written, "payload at offset \(first)+\(p.count), \(written) written")
            for i in 0..<p.count where p[i] != appByte(first + i) {
                fatalError("invariant: emitted byte \(first + i) is wrong (\(conn))")
            }
        }
        if !f.contains(.rst) {
            let end = v.sequenceNumber + v.sequenceLength
            require(end <= conn.sndMax, "segment ends at \(end) past SND.MAX (\(conn))")
            if f.contains(.syn) { require(v.sequenceNumber == SequenceNumber(ourISS), "SYN not at ISS") }
        }
    }

    // MARK: invariants

    enum Op { case deliver, time, write, read, close, abort, poll, other }

    func after(_ op: Op) {
        let c = conn
        require(c.sndUna <= c.sndNxt, "SND.UNA \(c.sndUna) > SND.NXT \(c.sndNxt) (\(c))")
        require(c.sndNxt <= c.sndMax, "SND.NXT > SND.MAX (\(c))")
        require(c.sndMax - c.sndUna <= c.sendBuffer.count + 2, "in flight \(c.sndMax - c.sndUna) > buffer \(c.sendBuffer.count) + SYN + FIN (\(c))")
        require(c.unacknowledgedBytes >= 0 && c.unacknowledgedBytes <= config.sendBufferSize, "send buffer \(c.unacknowledgedBytes)")
        require(c.writableBytes >= 0 && c.writableBytes + c.unacknowledgedBytes <= config.sendBufferSize, "writable \(c.writableBytes)")
        let rb = c.receiveBuffer
        require(c.readableBytes >= 0 && c.readableBytes <= config.receiveBufferSize, "readable \(c.readableBytes)")
        require(rb.outOfOrderBytes >= 0 && c.readableBytes + rb.outOfOrderBytes <= config.receiveBufferSize,
                "readable \(c.readableBytes) + out of order \(rb.outOfOrderBytes) > \(config.receiveBufferSize)")
        require(rb.outOfOrderRangeCount <= config.maximumOutOfOrderRanges, "reassembly ranges \(rb.outOfOrderRangeCount)")
        require(c.sndWnd >= 0 && c.sndWnd <= 65535 << 14, "SND.WND \(c.sndWnd)")
        require(c.counters.congestionWindow > 0, "cwnd \(c.counters.congestionWindow)")
        if c.state.isSynchronized {
            // What we advertised may be filled; RCV.NXT never passes it except by a FIN.
            require(c.rcvNxt - c.rcvAdvertisedEdge <= 1, "RCV.NXT \(c.rcvNxt) past the advertised edge \(c.rcvAdvertisedEdge)")
        }
        drainEvents()
        require(state == c.state, "events say \(state), state is \(c.state)")
    }

    func drainEvents() {
        while let e = conn.nextEvent() {
            if case .stateChanged(let from, let to) = e {
                require(from == state, "state change from \(from), but was \(state)")
                require(legal(from, to), "illegal transition \(from) -> \(to)")
                state = to
            }
        }
    }

    func legal(_ a: TCPState, _ b: TCPState) -> Bool {
        if a == .closed { return false }
        if b == .closed { return true }
        switch (a, b) {
        case (.listen, .synReceived), (.synSent, .synReceived), (.synSent, .established),
             (.synReceived, .established), (.synReceived, .closeWait),
             (.established, .finWait1), (.established, .closeWait),
             (.finWait1, .finWait2), (.finWait1, .closing), (.finWait1, .timeWait),
             (.finWait2, .timeWait), (.closing, .timeWait), (.closeWait, .lastAck):
            return true
        default:
            return false
        }
    }

    // MARK: the program

    func step(_ r: inout FuzzReader) {
        let op = r.u8()
        trace("op \(op % 16) (0x\(String(op, radix: 16))) at \(now): \(conn)")
        switch op % 16 {
        case 0...6:
            fuzzedSegment(&r, op: op)
            after(.deliver)
            if op & 0x80 != 0 { pollAll() }
        case 7:
            let a = r.u8()
            switch a {
            case 0..<64: now += .milliseconds(Int(a))
            case 64..<128: now += .milliseconds(100 * Int(a - 64))
            case 128..<192: now += .seconds(Int(a - 128))
            case 192..<255: if let d = conn.nextDeadline, d > now { now = d }
            default: now += .seconds(25 * 24 * 3600)  // past TS.Recent's 24 days
            }
            pollAll()
        case 8, 9:
            let n = Int(r.u16()) % 5000
            let data = (0..<n).map { appByte(written + $0) }
            let took = data.withUnsafeBytes { op % 16 == 8 ? conn.write($0) : conn.writeUrgent($0) }
            require(took >= 0 && took <= n, "write took \(took) of \(n)")
            written += took
            after(.write)
        case 10:
            let n = Int(r.u16()) % readBuf.count
            let got = readBuf.withUnsafeMutableBytes { conn.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            require(got >= 0 && got <= n, "read \(got) of \(n)")
            if readIRS != conn.irs { readIRS = conn.irs; readTotal = 0 }
            let base = conn.irs + 1 + readTotal
            for i in 0..<got where readBuf[i] != peerByte((base + i).rawValue) {
                fatalError("invariant: read byte \(readTotal + i) is not what the peer sent (\(conn))")
            }
            readTotal += got
            consume(conn.urgentMark)
            after(.read)
        case 11:
            conn.close(fully: op & 0x10 != 0)
            after(.close)
        case 12:
            if op & 0x30 == 0x30 { conn.abort() } else { conn.destinationUnreachable(now: now) }
            after(.abort)
        default:
            pollAll()
        }
    }

    /// One segment whose every field comes from the input.
    func fuzzedSegment(_ r: inout FuzzReader, op: UInt8) {
        let c = conn
        let f1 = r.u8(), modes = r.u8()
        var flags = UInt16(f1) | (modes & 1 != 0 ? 0x100 : 0)
        let seq: UInt32
        switch (modes >> 1) & 3 {
        case 0: seq = (c.rcvNxt + r.i16()).rawValue
        case 1: seq = (c.rcvNxt + r.i16() * 64).rawValue
        case 2: seq = (c.irs + r.i16()).rawValue
        default: seq = r.u32()
        }
        let ack: UInt32
        switch (modes >> 3) & 3 {
        case 0: ack = (c.sndUna + Int(Int8(bitPattern: r.u8()))).rawValue
        case 1: ack = (c.sndNxt + Int(Int8(bitPattern: r.u8()))).rawValue
        case 2: ack = (c.sndMax + r.i16()).rawValue
        default: ack = r.u32()
        }
        if modes & 0x20 != 0 { flags |= TCPFlags.ack.rawValue }
        let window: UInt16 = modes & 0x40 != 0 ? r.u16() : (op & 0x40 != 0 ? 0 : 65535)
        let urgent: UInt16 = flags & TCPFlags.urg.rawValue != 0 ? UInt16(r.u8()) : 0
        let options = fuzzedOptions(&r, extended: modes & 0x80 != 0)
        var payload = 0
        switch op >> 4 & 3 {
        case 0: payload = 0
        case 1: payload = Int(r.u8())
        case 2: payload = Int(r.u16()) % 2049
        default: payload = min(2048, Int(peerMSS))
        }
        deliver(flags: flags, seq: seq, ack: ack, window: window, urgent: urgent, options: options, payloadLength: payload)
    }

    /// Options from a small vocabulary, malformed ones included.
    func fuzzedOptions(_ r: inout FuzzReader, extended: Bool) -> [UInt8] {
        guard extended else { return plainOptions() }
        let sel = r.u8()
        var o: [UInt8] = []
        if sel & 0x40 != 0 { o += [1, 1] }
        if sel & 0x80 != 0 { o += [0, UInt8(truncatingIfNeeded: r.u8())] }  // EOL then garbage
        if sel & 0x01 != 0 {
            let m: UInt16 = [0, 1, 64, 100, 536, 1460, 65535, UInt16(r.u8()) * 8][Int(r.u8() % 8)]
            o += [2, 4, UInt8(m >> 8), UInt8(m & 0xFF)]
        }
        if sel & 0x02 != 0 { o += [3, 3, r.u8() % 16] }
        if sel & 0x04 != 0 { o += [4, 2] }
        if sel & 0x08 != 0 {
            let m = r.u8()
            let val = m & 1 != 0 ? peerTS &- UInt32(m >> 1) : (m & 2 != 0 ? r.u32() : peerTS)
            let echo = m & 4 != 0 ? r.u32() : ourTSval
            let save = peerTS
            peerTS = val
            o += tsOption(echo: echo)
            peerTS = save
        }
        if sel & 0x10 != 0 {
            let n = Int(r.u8() % 4) + 1
            o += [5, UInt8(2 + 8 * n)]
            for _ in 0..<n {
                let base = r.u8() & 1 != 0 ? conn.sndUna : conn.rcvNxt
                let s = (base + r.i16()).rawValue
                let e = s &+ UInt32(r.u16())
                o += [UInt8(s >> 24), UInt8((s >> 16) & 0xFF), UInt8((s >> 8) & 0xFF), UInt8(s & 0xFF),
                      UInt8(e >> 24), UInt8((e >> 16) & 0xFF), UInt8((e >> 8) & 0xFF), UInt8(e & 0xFF)]
            }
        }
        if sel & 0x20 != 0 {
            switch r.u8() % 8 {
            case 0: o += [2, 0]             // length 0
            case 1: o += [8, 1]             // length 1
            case 2: o += [5, 40]            // past the end
            case 3: o += [2, 3, 5]          // MSS of the wrong length
            case 4: o += [8, 8, 0, 0, 0, 0, 0, 0]  // timestamps of the wrong length
            case 5: o += [0xFE, 4, 0xF9, 0x89]     // experimental
            case 6: o += [5, 6, 0, 0, 0, 0]        // SACK of a bad length
            default: o += [r.u8(), r.u8()]
            }
        }
        return o
    }
}

func fuzzOne(_ input: UnsafeRawBufferPointer) {
    var r = FuzzReader(bytes: input)
    let states: [TCPState] = [.closed, .listen, .synSent, .synReceived, .established, .finWait1, .finWait2,
                              .closing, .timeWait, .closeWait, .lastAck]
    let target = states[Int(r.u8()) % states.count]
    let cb = r.u8(), xb = r.u8()
    var c = TCPConfiguration()
    c.windowScaling = cb & 1 != 0
    c.timestamps = cb & 2 != 0
    c.selectiveAcknowledgments = cb & 4 != 0
    c.noDelay = cb & 8 != 0
    c.delayedAcknowledgments = cb & 16 == 0
    c.keepalive = cb & 32 != 0
    c.keepaliveIdle = .seconds(10); c.keepaliveInterval = .seconds(2); c.keepaliveProbes = 3
    c.congestionAlgorithm = cb & 64 != 0 ? .cubic : .newReno
    c.timeWaitResetPolicy = cb & 128 != 0 ? .close : .ignore
    c.sendBufferSize = 3000
    c.receiveBufferSize = [1000, 2920, 4000, 70000][Int(xb >> 3) & 3]
    c.maximumSegmentSize = 536
    c.maximumOutOfOrderRanges = 4
    c.maximumSegmentLifetime = .seconds(5)
    c.finWait2Timeout = .seconds(10)
    c.maximumRetransmissions = 6
    c.synRetries = 3
    let pairs: [(UInt32, UInt32)] = [(100, 2000), (0xFFFF_FFF0, 0xFFFF_FFFA), (0x7FFF_FFFF, 0), (1, 0xFFFF_FFFF)]
    let (iss, peerISS) = pairs[Int(xb & 3)]
    let peerMSS: UInt16 = [1460, 536, 64, 100][Int(xb >> 5) & 3]
    let passive = target == .listen || target == .synReceived || (xb & 4 != 0 && target != .synSent)
    let h = ConnectionHarness(config: c, ourISS: iss, peerISS: peerISS, peerMSS: peerMSS, passive: passive)
    h.reach(target, passive: passive)
    require(h.conn.state == target, "driver reached \(h.conn.state), wanted \(target)")
    var ops = 0
    while !r.atEnd && ops < 2000 {
        h.step(&r)
        ops += 1
    }
    h.pollAll()
    consume(h.conn.counters.segmentsIn)
}
