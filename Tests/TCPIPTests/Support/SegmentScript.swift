import Testing
@testable import TCPIP

// A tiny vocabulary for segment-exact connection tests: build a segment as a value,
// feed it to the connection under test, collect what it sends as values, compare
// flags / seq / ack / window / options / payload exactly.

let clientAddress = IPv4Address(192, 0, 2, 1)
let serverAddress = IPv4Address(192, 0, 2, 2)
let clientTuple = FourTuple(localAddress: clientAddress, localPort: 40000, remoteAddress: serverAddress, remotePort: 80)
let serverTuple = clientTuple.reversed

/// One segment as a value: the header and its payload.
struct Segment: Equatable, CustomStringConvertible {
    var header: TCPHeader
    var payload: [UInt8]

    var flags: TCPFlags { header.flags }
    var seq: UInt32 { header.sequenceNumber.rawValue }
    var ack: UInt32 { header.acknowledgmentNumber.rawValue }
    var window: UInt16 { header.window }
    var options: [TCPOption] { header.options }
    var length: Int { payload.count + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0) }

    var optionSet: TCPOptionSet {
        let bytes = (try? header.segmentBytes(payload: payload, source: clientAddress, destination: serverAddress)) ?? []
        return bytes.withUnsafeBytes { b in
            (try? TCPHeaderView(b).optionSet()) ?? TCPOptionSet()
        }
    }
    var timestamps: TCPTimestamps? { optionSet.timestamps }
    var sackBlocks: SACKBlocks { optionSet.sackBlocks }

    var description: String {
        "[\(header.flags.names) seq=\(seq) ack=\(ack) win=\(window) len=\(payload.count) opts=\(options)]"
    }
}

/// Configuration without options, so that expected segments are plain (tests of the options turn them on).
func plainConfiguration() -> TCPConfiguration {
    var c = TCPConfiguration()
    c.windowScaling = false
    c.timestamps = false
    c.selectiveAcknowledgments = false
    c.receiveBufferSize = 65535
    c.sendBufferSize = 65535
    return c
}

/// Drives one connection ("us") against a scripted peer.
final class Script {
    let conn: TCPConnection
    var now: Instant
    /// Our tuple (the peer's is the reverse).
    let tuple: FourTuple

    init(_ conn: TCPConnection, now: Instant = .zero) {
        self.conn = conn
        self.now = now
        self.tuple = conn.tuple
    }

    /// Bytes of a segment from the peer.
    func bytes(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, window: UInt16 = 65535,
               options: [TCPOption] = [], payload: [UInt8] = [], urgent: UInt16 = 0) -> [UInt8] {
        let h = TCPHeader(sourcePort: tuple.remotePort, destinationPort: tuple.localPort,
                          sequenceNumber: SequenceNumber(seq), acknowledgmentNumber: SequenceNumber(ack),
                          flags: flags, window: window, urgentPointer: urgent, options: options)
        return try! h.segmentBytes(payload: payload, source: tuple.remoteAddress, destination: tuple.localAddress)
    }

    /// The peer sends a segment.
    func send(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, window: UInt16 = 65535,
              options: [TCPOption] = [], payload: [UInt8] = [], urgent: UInt16 = 0) {
        feed(bytes(flags, seq: seq, ack: ack, window: window, options: options, payload: payload, urgent: urgent))
    }

    func feed(_ b: [UInt8]) {
        b.withUnsafeBytes { raw in
            let view = try! TCPHeaderView(raw)
            conn.handle(segment: view, now: now)
        }
    }

    /// Everything the connection sends now (polls until it returns 0).
    func output(bufferSize: Int = 2048) -> [Segment] {
        drain(conn, now: now, bufferSize: bufferSize)
    }

    /// Exactly one segment must come out; returns it.
    @discardableResult
    func expectOne(_ sourceLocation: SourceLocation = #_sourceLocation) -> Segment? {
        let out = output()
        #expect(out.count == 1, "expected one segment, got \(out)", sourceLocation: sourceLocation)
        return out.first
    }

    /// Exactly one segment with these fields must come out. The window field and the
    /// options are always compared exactly (work them out from the configuration: the
    /// window is the receive space >> our shift, never moving the right edge left; options
    /// in the engine's layout). A test that truly cannot know them uses
    /// `expect(_:seq:ack:payload:windowAndOptionsUnchecked:)` and says why.
    @discardableResult
    func expect(_ flags: TCPFlags, seq: UInt32, ack: UInt32? = nil, window: UInt16,
                payload: Int? = nil, options: [TCPOption],
                _ sourceLocation: SourceLocation = #_sourceLocation) -> Segment? {
        guard let s = expectOne(sourceLocation) else { return nil }
        check(s, flags, seq: seq, ack: ack, payload: payload, sourceLocation)
        #expect(s.window == window, "window of \(s)", sourceLocation: sourceLocation)
        #expect(s.options == options, "options of \(s)", sourceLocation: sourceLocation)
        return s
    }

    /// As `expect(_:seq:ack:window:payload:options:)` without comparing the window and the
    /// options; `reason` documents why the test cannot state them (it must not be empty).
    @discardableResult
    func expect(_ flags: TCPFlags, seq: UInt32, ack: UInt32? = nil, payload: Int? = nil,
                windowAndOptionsUnchecked reason: String,
                _ sourceLocation: SourceLocation = #_sourceLocation) -> Segment? {
        #expect(!reason.isEmpty, "an unchecked window/options needs a reason", sourceLocation: sourceLocation)
        guard let s = expectOne(sourceLocation) else { return nil }
        check(s, flags, seq: seq, ack: ack, payload: payload, sourceLocation)
        return s
    }

    private func check(_ s: Segment, _ flags: TCPFlags, seq: UInt32, ack: UInt32?, payload: Int?,
                       _ sourceLocation: SourceLocation) {
        #expect(s.flags == flags, "flags of \(s)", sourceLocation: sourceLocation)
        #expect(s.seq == seq, "seq of \(s)", sourceLocation: sourceLocation)
        if let ack { #expect(s.ack == ack, "ack of \(s)", sourceLocation: sourceLocation) }
        if let payload { #expect(s.payload.count == payload, "payload of \(s)", sourceLocation: sourceLocation) }
    }

    func expectNothing(_ sourceLocation: SourceLocation = #_sourceLocation) {
        let out = output()
        #expect(out.isEmpty, "expected nothing, got \(out)", sourceLocation: sourceLocation)
    }

    func advance(by d: Duration) { now = now + d }

    /// Advances to the connection's next deadline (fails the test if there is none).
    func advanceToDeadline(_ sourceLocation: SourceLocation = #_sourceLocation) {
        guard let d = conn.nextDeadline else {
            Issue.record("no deadline", sourceLocation: sourceLocation)
            return
        }
        if d > now { now = d }
    }

    func write(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { conn.write($0) } }

    func write(count: Int) -> Int { write((0..<count).map { UInt8(truncatingIfNeeded: $0) }) }

    func read(max: Int = 1 << 20) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        let n = out.withUnsafeMutableBytes { conn.read(into: $0) }
        return Array(out.prefix(n))
    }

    func events() -> [TCPEvent] {
        var e: [TCPEvent] = []
        while let x = conn.nextEvent() { e.append(x) }
        return e
    }

    // MARK: connections in any state, in one line

    /// Active open with ISS `iss` against a peer with ISS `peerISS`: ESTABLISHED.
    static func established(iss: UInt32 = 100, peerISS: UInt32 = 2000, peerWindow: UInt16 = 65535,
                            peerMSS: UInt16 = 1460, configuration: TCPConfiguration = plainConfiguration()) -> Script {
        let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(iss), configuration: configuration, now: .zero))
        _ = s.output()
        s.send([.syn, .ack], seq: peerISS, ack: iss + 1, window: peerWindow, options: [.maximumSegmentSize(peerMSS)])
        _ = s.output()
        _ = s.events()
        return s
    }

    /// Passive open: LISTEN, SYN from the peer, SYN+ACK out; SYN-RECEIVED.
    static func synReceived(iss: UInt32 = 2000, peerISS: UInt32 = 100,
                            configuration: TCPConfiguration = plainConfiguration()) -> Script {
        let s = Script(TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(iss), configuration: configuration, now: .zero))
        s.send(.syn, seq: peerISS, window: 65535, options: [.maximumSegmentSize(1460)])
        _ = s.output()
        _ = s.events()
        return s
    }

    /// A connection in `state`, reached by the usual path (ISS 100, peer ISS 2000; no data).
    static func inState(_ state: TCPState, configuration: TCPConfiguration = plainConfiguration()) -> Script {
        switch state {
        case .listen:
            return Script(TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(2000), configuration: configuration, now: .zero))
        case .synSent:
            let s = Script(TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: configuration, now: .zero))
            _ = s.output(); _ = s.events()
            return s
        case .synReceived:
            return synReceived(configuration: configuration)
        case .established:
            return established(configuration: configuration)
        case .finWait1:
            let s = established(configuration: configuration)
            s.conn.close(); _ = s.output(); _ = s.events()  // FIN seq=101 sent
            return s
        case .finWait2:
            let s = inState(.finWait1, configuration: configuration)
            s.send(.ack, seq: 2001, ack: 102); _ = s.output(); _ = s.events()
            return s
        case .closing:
            let s = inState(.finWait1, configuration: configuration)
            s.send([.fin, .ack], seq: 2001, ack: 101); _ = s.output(); _ = s.events()
            return s
        case .timeWait:
            let s = inState(.finWait2, configuration: configuration)
            s.send([.fin, .ack], seq: 2001, ack: 102); _ = s.output(); _ = s.events()
            return s
        case .closeWait:
            let s = established(configuration: configuration)
            s.send([.fin, .ack], seq: 2001, ack: 101); _ = s.output(); _ = s.events()
            return s
        case .lastAck:
            let s = inState(.closeWait, configuration: configuration)
            s.conn.close(); _ = s.output(); _ = s.events()  // FIN seq=101
            return s
        case .closed:
            let s = established(configuration: configuration)
            s.conn.abort(); _ = s.output(); _ = s.events()
            return s
        }
    }
}

/// A segment collected by hand (from `Pair` or `drain`) must have exactly these fields.
func expectSegment(_ s: Segment?, _ flags: TCPFlags, seq: UInt32, ack: UInt32, window: UInt16, options: [TCPOption],
                   payload: Int = 0, _ sourceLocation: SourceLocation = #_sourceLocation) {
    guard let s else { Issue.record("no segment", sourceLocation: sourceLocation); return }
    #expect(s.flags == flags, "flags of \(s)", sourceLocation: sourceLocation)
    #expect(s.seq == seq, "seq of \(s)", sourceLocation: sourceLocation)
    #expect(s.ack == ack, "ack of \(s)", sourceLocation: sourceLocation)
    #expect(s.window == window, "window of \(s)", sourceLocation: sourceLocation)
    #expect(s.options == options, "options of \(s)", sourceLocation: sourceLocation)
    #expect(s.payload.count == payload, "payload of \(s)", sourceLocation: sourceLocation)
}

/// Polls `conn` until it has nothing more to send; returns the segments as values
/// (checking each checksum).
func drain(_ conn: TCPConnection, now: Instant, bufferSize: Int = 2048) -> [Segment] {
    var out: [Segment] = []
    var buf = [UInt8](repeating: 0, count: bufferSize)
    for _ in 0..<10_000 {
        let n = buf.withUnsafeMutableBytes { conn.poll(now: now, into: $0) }
        if n == 0 { break }
        let bytes = Array(buf.prefix(n))
        bytes.withUnsafeBytes { raw in
            let v = try! TCPHeaderView(raw)
            #expect(v.checksumIsValid(source: conn.tuple.localAddress, destination: conn.tuple.remoteAddress))
            out.append(Segment(header: try! v.value(), payload: Array(v.payload)))
        }
    }
    return out
}

/// Two connections joined by hand: segments move only when a test says so.
final class Pair {
    let a: TCPConnection
    let b: TCPConnection
    var now: Instant = .zero

    init(a: TCPConnection, b: TCPConnection) { self.a = a; self.b = b }

    /// A client (ISS 100) connecting to a listening server (ISS 2000), not yet started.
    static func clientServer(configuration: TCPConfiguration = plainConfiguration(),
                             serverConfiguration: TCPConfiguration? = nil) -> Pair {
        let c = TCPConnection.connect(tuple: clientTuple, iss: SequenceNumber(100), configuration: configuration, now: .zero)
        let s = TCPConnection.listen(tuple: serverTuple, iss: SequenceNumber(2000),
                                     configuration: serverConfiguration ?? configuration, now: .zero)
        return Pair(a: c, b: s)
    }

    /// Collects what `from` sends and hands each segment to `to` unless `drop` says no.
    @discardableResult
    func transfer(from: TCPConnection, to: TCPConnection, drop: (Segment) -> Bool = { _ in false }) -> [Segment] {
        var out: [Segment] = []
        var buf = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<10_000 {
            let n = buf.withUnsafeMutableBytes { from.poll(now: now, into: $0) }
            if n == 0 { break }
            let bytes = Array(buf.prefix(n))
            let seg: Segment = bytes.withUnsafeBytes { raw in
                let v = try! TCPHeaderView(raw)
                return Segment(header: try! v.value(), payload: Array(v.payload))
            }
            out.append(seg)
            if !drop(seg) {
                bytes.withUnsafeBytes { raw in to.handle(segment: try! TCPHeaderView(raw), now: now) }
            }
        }
        return out
    }

    @discardableResult func aToB(drop: (Segment) -> Bool = { _ in false }) -> [Segment] { transfer(from: a, to: b, drop: drop) }
    @discardableResult func bToA(drop: (Segment) -> Bool = { _ in false }) -> [Segment] { transfer(from: b, to: a, drop: drop) }

    /// Shuttles both ways until quiet (bounded).
    func run(rounds: Int = 100) {
        for _ in 0..<rounds {
            let x = aToB().count + bToA().count
            if x == 0 { break }
        }
    }

    /// Runs, advancing the clock to the earliest deadline whenever quiet, until `until` is true or `limit` passes.
    func runTimed(limit: Duration = .seconds(600), until: () -> Bool) {
        let end = now + limit
        for _ in 0..<100_000 {
            run()
            if until() { return }
            let ds = [a.nextDeadline, b.nextDeadline].compactMap { $0 }
            guard let d = ds.min(), d <= end else { return }
            if d > now { now = d }
        }
    }
}

func events(_ c: TCPConnection) -> [TCPEvent] {
    var e: [TCPEvent] = []
    while let x = c.nextEvent() { e.append(x) }
    return e
}

func stateChanges(_ e: [TCPEvent]) -> [TCPState] {
    e.compactMap { if case .stateChanged(_, let to) = $0 { return to } else { return nil } }
}
