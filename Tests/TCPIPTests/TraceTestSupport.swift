import Foundation
@testable import TCPIP

/// Builds trace segments from values, for tests that feed records directly.
struct TraceScript {
    var client = TraceEndpoint(address: IPv4Address(192, 0, 2, 1), port: 40000)
    var server = TraceEndpoint(address: IPv4Address(198, 51, 100, 2), port: 80)
    var segments: [TraceSegment] = []

    /// Appends a segment from the client (`fromClient`) or the server at `ms` milliseconds.
    mutating func add(_ fromClient: Bool, at ms: Double, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0,
                      len: Int = 0, win: UInt16 = 65535, options: [TCPOption] = []) {
        let (src, dst) = fromClient ? (client, server) : (server, client)
        let h = TCPHeader(sourcePort: src.port, destinationPort: dst.port, sequenceNumber: SequenceNumber(seq),
                          acknowledgmentNumber: SequenceNumber(ack), flags: flags, window: win, options: options)
        segments.append(TraceSegment(frame: segments.count + 1, time: Instant(nanoseconds: Int64(ms * 1_000_000)),
                                     source: src.address, destination: dst.address, header: h, payloadLength: len))
    }
    mutating func c(_ ms: Double, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: Int = 0, win: UInt16 = 65535,
                    options: [TCPOption] = []) {
        add(true, at: ms, flags, seq: seq, ack: ack, len: len, win: win, options: options)
    }
    mutating func s(_ ms: Double, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: Int = 0, win: UInt16 = 65535,
                    options: [TCPOption] = []) {
        add(false, at: ms, flags, seq: seq, ack: ack, len: len, win: win, options: options)
    }

    var conversation: TraceConversation { TraceConversation(TraceStream.group(segments)[0]) }

    /// The textbook conversation: ISNs 100 and 2000, 100 bytes up, 500 down, 4-way close.
    static var textbook: TraceScript {
        var t = TraceScript()
        t.c(0, .syn, seq: 100, win: 64240, options: [.maximumSegmentSize(1460)])
        t.s(10, [.syn, .ack], seq: 2000, ack: 101, win: 65535, options: [.maximumSegmentSize(1460)])
        t.c(20, .ack, seq: 101, ack: 2001, win: 64240)
        t.c(21, [.psh, .ack], seq: 101, ack: 2001, len: 100, win: 64240)
        t.s(31, .ack, seq: 2001, ack: 201, win: 65535)
        t.s(32, [.psh, .ack], seq: 2001, ack: 201, len: 500, win: 65535)
        t.c(42, .ack, seq: 201, ack: 2501, win: 64240)
        t.c(50, [.fin, .ack], seq: 201, ack: 2501, win: 64240)
        t.s(60, .ack, seq: 2501, ack: 202, win: 65535)
        t.s(61, [.fin, .ack], seq: 2501, ack: 202, win: 65535)
        t.c(71, .ack, seq: 202, ack: 2502, win: 64240)
        return t
    }
}

enum TraceFixtures {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/trace")
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// In record mode (TRACE_RECORD=1) writes `actual` as the fixture; otherwise returns the fixture.
    static func expected(_ name: String, actual: String) throws -> String {
        if ProcessInfo.processInfo.environment["TRACE_RECORD"] == "1" {
            try actual.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return try text(name)
    }
}
