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
