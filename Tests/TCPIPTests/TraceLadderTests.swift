import Testing
@testable import TCPIP

@Suite struct TraceLadderTests {
    @Test func textbookExampleAbsoluteMatchesFixture() throws {
        let text = LadderTextFormatter(absolute: true).render(TraceScript.textbook.conversation)
        #expect(text == (try TraceFixtures.expected("textbook-absolute.txt", actual: text)))
    }

    @Test func textbookExampleExplainedInEnglishMatchesFixture() throws {
        let text = LadderTextFormatter(absolute: true, explain: true, language: .en).render(TraceScript.textbook.conversation)
        #expect(text == (try TraceFixtures.expected("textbook-absolute-explain-en.txt", actual: text)))
    }

    @Test func textbookExampleExplainedInKoreanMatchesFixture() throws {
        let text = LadderTextFormatter(absolute: true, explain: true, language: .ko).render(TraceScript.textbook.conversation)
        #expect(text == (try TraceFixtures.expected("textbook-absolute-explain-ko.txt", actual: text)))
    }

    @Test func everyLadderLineFitsOneHundredColumns() {
        for lang in TraceLanguage.allCases {
            let text = LadderTextFormatter(absolute: true, explain: true, language: lang).render(TraceScript.textbook.conversation)
            for line in text.split(separator: "\n") {
                #expect(displayWidth(String(line)) <= 100, "\(line)")
            }
        }
    }
}

extension TraceLadderTests {
    @Test func explanationsNameWhatEachSegmentDoes() {
        var t = TraceScript.textbook
        t.segments = Array(t.segments.prefix(7))
        t.s(100, .ack, seq: 2501, ack: 201, len: 100)           // 7: lost after the capture point
        t.s(101, .ack, seq: 2601, ack: 201, len: 100)           // 8
        t.c(102, .ack, seq: 201, ack: 2601)                     // 9
        t.c(103, .ack, seq: 201, ack: 2601)                     // 10: duplicate ACK
        t.c(104, .ack, seq: 201, ack: 2701, win: 0)             // 11: zero window
        t.s(400, .ack, seq: 2700, ack: 201)                     // 12: probe, Linux style
        t.c(500, [.rst, .ack], seq: 201, ack: 2701)             // 13
        let c = t.conversation
        let en = TraceExplainer(c, absolute: true, language: .en)
        #expect(en.sentence(10) == "Duplicate ACK #1: the client still expects byte 2601; a later segment arrived but 2601 did not.")
        #expect(en.sentence(11) == "ACK 2701 with window 0: the client's receive buffer is full, so the server must stop sending.")
        #expect(en.sentence(12) == "Window probe, as Linux sends it (no data, one byte behind): the client's window is 0, so the server asks whether it has opened.")
        #expect(en.sentence(13) == "RST: the client aborts the connection at once, without the FIN exchange; both sides are now CLOSED.")
        let ko = TraceExplainer(c, absolute: true, language: .ko)
        #expect(ko.sentence(10) == "중복 ACK #1: 클라이언트는 아직 2601번 바이트를 기다립니다. 그 뒤의 세그먼트는 왔지만 2601번은 오지 않았습니다.")
        // Relative numbers in the sentence follow the ladder's numbering.
        let rel = TraceExplainer(c, absolute: false, language: .en)
        #expect(rel.sentence(4) == "ACK 101: 1 + 100 bytes received, next byte expected is 101.")
    }
}
