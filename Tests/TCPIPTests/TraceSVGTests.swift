import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TCPIP

@Suite struct TraceSVGTests {
    /// Parses XML; returns the element names in document order, or nil when not well formed.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var titles: [String] = []
        var inTitle = false
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(name)
            if name == "title" { inTitle = true; text = "" }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if inTitle { text += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "title" { titles.append(text); inTitle = false }
        }
    }

    func parse(_ xml: String) -> Collector? {
        let p = XMLParser(data: Data(xml.utf8))
        let c = Collector()
        p.delegate = c
        return p.parse() ? c : nil
    }

    @Test func textbookLadderSVGIsWellFormedWithOneHoverTitlePerSegment() throws {
        let conv = TraceScript.textbook.conversation
        let svg = LadderSVGFormatter(absolute: true, explain: true).svgDocument([conv])
        let doc = try #require(parse(svg))
        #expect(doc.elements.first == "svg")
        let segmentTitles = doc.titles.filter { $0.hasPrefix("frame ") && $0.contains("\nflags ") }
        #expect(segmentTitles.count == conv.events.count)
        // Every field of the handshake's SYN+ACK is in its title.
        let synAck = segmentTitles[1]
        for field in ["frame 2", "198.51.100.2:80 → 192.0.2.1:40000", "flags SYN+ACK (0x12)", "seq 2000 (relative 0)",
                      "ack 101 (relative 1)", "payload 0 bytes", "window 65535 raw", "options: ", "client ESTABLISHED, server SYN-RECEIVED"] {
            #expect(synAck.contains(field), "\(field) in \(synAck)")
        }
    }

    @Test func svgAndHTMLFetchNothingFromElsewhere() {
        let f = LadderSVGFormatter()
        let conv = TraceScript.textbook.conversation
        for doc in [f.svgDocument([conv]), f.html([conv], title: "t")] {
            // The only URL is the SVG namespace name, which is never fetched.
            let urls = doc.components(separatedBy: "http").count - 1
            #expect(urls == 1)
            #expect(!doc.contains("<script src"))
            #expect(!doc.contains("href="))
            #expect(!doc.contains("@import"))
        }
        #expect(f.html([conv], title: "t").contains("addEventListener('mouseenter'"))
    }

    @Test func timeSequenceGraphMarksEachRetransmissionAndSACKBlock() throws {
        var t = TraceScript()
        t.c(0, .syn, seq: 0, options: [.maximumSegmentSize(1000), .sackPermitted])
        t.s(10, [.syn, .ack], seq: 0, ack: 1, options: [.maximumSegmentSize(1000), .sackPermitted])
        t.c(20, .ack, seq: 1, ack: 1)
        t.s(21, .ack, seq: 1, ack: 1, len: 1000)       // lost after the capture point
        t.s(22, .ack, seq: 1001, ack: 1, len: 1000)
        t.c(32, .ack, seq: 1, ack: 1, options: [.sack(SACKBlocks([SACKBlock(start: SequenceNumber(1001), end: SequenceNumber(2001))]))])
        t.s(300, .ack, seq: 1, ack: 1, len: 1000)      // retransmission by timeout
        t.c(310, .ack, seq: 1, ack: 2001)
        let conv = t.conversation
        #expect(conv.events[6].annotations.contains(.retransmission))
        let g = LadderSVGFormatter().timeSequence(conv, direction: .serverToClient).svg
        #expect(parse("<svg xmlns=\"http://www.w3.org/2000/svg\">" + g + "</svg>") != nil)
        #expect(g.components(separatedBy: "class=\"drtx\"").count - 1 == 1)
        #expect(g.components(separatedBy: "class=\"dseg\"").count - 1 == 3)  // SYN+ACK and two data segments
        #expect(g.contains("<title>SACK 1001-2001</title>"))
        #expect(g.contains("class=\"ackl\""))
        #expect(g.contains("class=\"winl\""))
    }

    @Test func kernelCapturesRenderAsWellFormedSVG() throws {
        for name in ["trace-curl", "trace-loss", "trace-zerowin"] {
            let bytes = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent(name + ".pcap")))
            let convs = TraceConversation.analyze(TraceInput(captureBytes: bytes).segments)
            let doc = try #require(parse(LadderSVGFormatter(explain: true, language: .ko).svgDocument(convs)), "\(name)")
            #expect(doc.elements.filter { $0 == "g" }.count >= convs[0].events.count)
        }
    }
}
