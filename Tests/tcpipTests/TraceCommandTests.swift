import Foundation
import Testing
import TCPIP
@testable import tcpip

/// `tcpip trace`: options, filters and bad input, end to end from capture bytes.
@Suite struct TraceCommandTests {
    static let client = IPv4Address(192, 0, 2, 1), server = IPv4Address(198, 51, 100, 2)

    /// A raw-IP pcap of segments: (client sends?, port, flags, seq, ack, payload length).
    static func pcap(_ segments: [(fromClient: Bool, clientPort: UInt16, flags: TCPFlags, seq: UInt32, ack: UInt32, len: Int)],
                     corruptFrame: Int? = nil) throws -> [UInt8] {
        var w = PcapWriter(linkType: .raw)
        for (i, s) in segments.enumerated() {
            let (src, dst) = s.fromClient ? (client, server) : (server, client)
            let (sp, dp) = s.fromClient ? (s.clientPort, UInt16(80)) : (UInt16(80), s.clientPort)
            let tcp = TCPHeader(sourcePort: sp, destinationPort: dp, sequenceNumber: SequenceNumber(s.seq),
                                acknowledgmentNumber: SequenceNumber(s.ack), flags: s.flags, window: 1000)
            var seg = try tcp.segmentBytes(payload: [UInt8](repeating: 0x61, count: s.len), source: src, destination: dst)
            if corruptFrame == i + 1 { seg[12] = 0x20 }  // data offset 2: malformed
            let ip = IPv4Header(protocol: IPProtocol.tcp, source: src, destination: dst, payloadLength: seg.count)
            var packet = [UInt8](repeating: 0, count: ip.headerLength)
            _ = try packet.withUnsafeMutableBytes { b throws(WireError) in try ip.emit(into: b) }
            w.append(timestamp: Instant(nanoseconds: Int64(1_000_000_000 + i * 1_000_000)), packet: packet + seg)
        }
        return w.bytes
    }

    /// Two connections: port 40000 (a handshake and data) and port 40001 (refused).
    static func twoStreams(corruptFrame: Int? = nil) throws -> [UInt8] {
        try pcap([
            (true, 40000, .syn, 100, 0, 0),
            (false, 40000, [.syn, .ack], 2000, 101, 0),
            (true, 40001, .syn, 500, 0, 0),
            (false, 40001, [.rst, .ack], 0, 501, 0),
            (true, 40000, .ack, 101, 2001, 0),
            (true, 40000, [.psh, .ack], 101, 2001, 100),
            (false, 40000, .ack, 2001, 201, 0),
        ], corruptFrame: corruptFrame)
    }

    func arrows(_ text: String) -> Int { text.split(separator: "\n").filter { $0.contains("▶│") || $0.contains("│◀") }.count }

    @Test func everyStreamIsDrawnNumberedAsTsharkDoes() throws {
        let r = Trace.render(captureBytes: try Self.twoStreams(), options: .init())
        #expect(!r.failed)
        #expect(r.messages.isEmpty)
        #expect(r.text.contains("stream 0: 192.0.2.1:40000 → 198.51.100.2:80, 5 segments"))
        #expect(r.text.contains("stream 1: 192.0.2.1:40001 → 198.51.100.2:80, 2 segments"))
        #expect(arrows(r.text) == 7)
    }

    @Test func streamAndPortSelectOneConversation() throws {
        let bytes = try Self.twoStreams()
        let one = Trace.render(captureBytes: bytes, options: .init(stream: 1))
        #expect(one.text.hasPrefix("stream 1: "))
        #expect(arrows(one.text) == 2)
        #expect(one.text.contains("ended: refused (RST answered the SYN)"))
        let byPort = Trace.render(captureBytes: bytes, options: .init(port: 40000))
        #expect(byPort.text.hasPrefix("stream 0: "))
        #expect(arrows(byPort.text) == 5)
        let none = Trace.render(captureBytes: bytes, options: .init(stream: 7))
        #expect(none.failed)
        #expect(none.messages == ["no TCP stream matches"])
    }

    @Test func fromAndToLimitTheArrowsDrawn() throws {
        // Frames are 1 ms apart from the capture's first packet.
        let r = Trace.render(captureBytes: try Self.twoStreams(), options: .init(stream: 0, from: 0.0005, to: 0.0045))
        // Stream 0 frames at 1 ms (SYN+ACK) and 4 ms (ACK).
        #expect(arrows(r.text) == 2)
        #expect(r.text.contains("SYN+ACK seq=0 ack=1"))
        #expect(!r.text.contains("── SYN seq=0"))
    }

    @Test func absoluteShowsRawNumbers() throws {
        let r = Trace.render(captureBytes: try Self.twoStreams(), options: .init(stream: 0, absolute: true))
        #expect(r.text.contains("SYN+ACK seq=2000 ack=101"))
        #expect(r.text.contains("PSH+ACK seq=101 ack=2001 len=100"))
    }

    @Test func koreanExplanationsAppearUnderArrows() throws {
        let r = Trace.render(captureBytes: try Self.twoStreams(), options: .init(stream: 0, explain: true, language: .ko))
        #expect(r.text.contains("SYN: 클라이언트는 연결을 요청합니다."))
    }

    @Test func colourOnlyWhenAsked() throws {
        let plain = Trace.render(captureBytes: try Self.twoStreams(), options: .init())
        #expect(!plain.text.contains("\u{1B}["))
        let coloured = Trace.render(captureBytes: try Self.twoStreams(), options: .init(colour: true))
        #expect(coloured.text.contains("\u{1B}[32mESTABLISHED"))
    }

    @Test func truncatedCaptureShowsThePacketsReadAndSaysWhy() throws {
        let whole = try Self.twoStreams()
        let cut = Array(whole.dropLast(10))   // the last record is cut short
        let r = Trace.render(captureBytes: cut, options: .init())
        #expect(r.failed)
        #expect(r.messages.first?.contains("truncated") == true)
        #expect(r.messages.first?.contains("showing the 6 packets read") == true)
        #expect(arrows(r.text) == 6)
    }

    @Test func malformedSegmentIsSkippedWithItsFrameNumber() throws {
        let r = Trace.render(captureBytes: try Self.twoStreams(corruptFrame: 5), options: .init())
        #expect(!r.failed)
        #expect(r.messages.count == 1)
        #expect(r.messages[0].hasPrefix("frame 5 skipped: malformed: TCP"))
        #expect(arrows(r.text) == 6)
    }

    @Test func notACaptureIsAClearError() {
        let r = Trace.render(captureBytes: Array("hello, world, not a capture".utf8), options: .init())
        #expect(r.failed)
        #expect(r.text.isEmpty)
        #expect(r.messages.first?.contains("not a pcap or pcapng file") == true)
    }

    @Test func svgAndHTMLFormats() throws {
        let bytes = try Self.twoStreams()
        let svg = Trace.render(captureBytes: bytes, options: .init(format: .svg))
        #expect(svg.text.hasPrefix("<?xml"))
        #expect(svg.text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let html = Trace.render(captureBytes: bytes, options: .init(format: .html))
        #expect(html.text.hasPrefix("<!DOCTYPE html>"))
        #expect(html.text.contains("<svg"))
    }

    @Test func badArgumentsAreRejected() {
        #expect(throws: (any Error).self) { try Trace.parse(["f.pcap", "--lang", "fr"]) }
        #expect(throws: (any Error).self) { try Trace.parse(["f.pcap", "--stream", "1", "--port", "80"]) }
        #expect(throws: (any Error).self) { try Trace.parse(["f.pcap", "--from", "2", "--to", "1"]) }
        #expect(throws: (any Error).self) { try Trace.parse(["f.pcap", "--format", "png"]) }
        #expect(throws: Never.self) { try Trace.parse(["f.pcap", "--stream", "1", "--format", "html", "--lang", "ko", "--explain"]) }
    }
}
