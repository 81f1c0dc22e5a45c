import Testing
import TCPIP

/// `tcpip demo --explain`: the textbook run (ISNs 100 and 2000) gets, under each segment's
/// line, the trace explainer's sentence for that segment, with the demo's raw numbers.
@Suite struct DemoExplainTests {
    static func run(explain: Bool, language: TraceLanguage = .en) -> (lines: [String], summary: DemoScenario.Summary) {
        var o = DemoScenario.Options()
        o.faults = FaultConfiguration(delay: .milliseconds(10))
        o.clientISN = 100
        o.serverISN = 2000
        o.bulkBytes = 3000
        o.explain = explain
        o.language = language
        var scenario = DemoScenario(options: o)
        var lines: [String] = []
        let summary = scenario.run { lines.append($0) }
        return (lines, summary)
    }

    static let indent = "            ↳ "

    /// The sentence printed right under the first ladder line that starts with `prefix`.
    static func sentence(under prefix: String, in lines: [String]) throws -> String {
        let i = try #require(lines.firstIndex { $0.hasPrefix(prefix) }, "no line \(prefix)")
        try #require(i + 1 < lines.count)
        let next = lines[i + 1]
        try #require(next.hasPrefix(indent), "no sentence under \(prefix): \(next)")
        return String(next.dropFirst(indent.count))
    }

    static let syn = "0.000000    A → B   [S]    seq=100         ack=0 "
    static let synAck = "0.010000    A ← B   [S.]   seq=2000        ack=101 "
    static let handshakeAck = "0.020000    A → B   [.]    seq=101         ack=2001 "
    static let firstMessage = "0.030000    A → B   [P.]   seq=101         ack=2001        len=12 "
    // The bulk's 104-byte tail leaves with its two full segments at 0.09 (Minshall's Nagle:
    // no short segment was outstanding; classic Nagle held it for B's ACK of the full ones,
    // one round trip): B's ACK at 0.10 covers all 3000 bytes and the close is 10 ms earlier.
    static let dataAck = "0.100000    A ← B   [.]    seq=2035        ack=3139 "
    static let clientFIN = "0.100000    A → B   [F.]   seq=3139        ack=2035 "
    static let finAck = "0.110000    A ← B   [.]    seq=2035        ack=3140 "
    static let serverFIN = "0.110000    A ← B   [F.]   seq=2035        ack=3140 "
    static let lastAck = "0.120000    A → B   [.]    seq=3140        ack=2036 "

    @Test func explainAddsTheTraceSentenceUnderEverySegmentInEnglish() throws {
        let (lines, summary) = Self.run(explain: true)
        #expect(summary.succeeded)
        let s = { (p: String) in try Self.sentence(under: p, in: lines) }
        #expect(try s(Self.syn) == "SYN: the client asks to open a connection; its initial sequence number (ISN) is 100, and it now waits in SYN-SENT.")
        #expect(try s(Self.synAck) == "SYN+ACK: the server accepts and sends its own ISN 2000; ACK 101 = the client's ISN 100 + 1, since the SYN takes one sequence number.")
        #expect(try s(Self.handshakeAck) == "ACK 2001: the server's ISN 2000 + 1; the three-way handshake is complete and both sides are ESTABLISHED.")
        #expect(try s(Self.firstMessage) == "Data: the client sends bytes 101 to 112 (12 bytes); the next new byte will be 113.")
        // The messages' ACKs ride on the replies; the first pure ACK of data is B's for the whole
        // bulk (two 1448-byte segments and the 104-byte tail), counted from the last ACK A
        // received from B (139).
        #expect(try s(Self.dataAck) == "ACK 3139: 139 + 3000 bytes received, next byte expected is 3139.")
        #expect(try s(Self.clientFIN) == "FIN: no more data from the client; it now waits in FIN-WAIT-1.")
        #expect(try s(Self.finAck) == "ACK 3140: the client's FIN takes one sequence number, so 3139 + 1 = 3140; now the server is in CLOSE-WAIT and the client is in FIN-WAIT-2.")
        #expect(try s(Self.serverFIN) == "FIN: no more data from the server either; it now waits in LAST-ACK for the last ACK.")
        #expect(try s(Self.lastAck) == "ACK 2036: the server's FIN takes one sequence number, so 2035 + 1 = 2036; now the client is in TIME-WAIT and the server is CLOSED.")
    }

    @Test func explainAddsTheTraceSentenceUnderEverySegmentInKorean() throws {
        let (lines, summary) = Self.run(explain: true, language: .ko)
        #expect(summary.succeeded)
        let s = { (p: String) in try Self.sentence(under: p, in: lines) }
        #expect(try s(Self.syn) == "SYN: 클라이언트는 연결을 요청합니다. 초기 순서 번호(ISN)는 100이며, 이제 SYN-SENT 상태에서 응답을 기다립니다.")
        #expect(try s(Self.synAck) == "SYN+ACK: 서버는 요청을 받아들이고 자신의 ISN(2000)을 보냅니다. SYN이 순서 번호 하나를 차지하므로 ACK = 상대 ISN 100 + 1 = 101입니다.")
        #expect(try s(Self.handshakeAck) == "ACK 2001: 서버의 ISN 2000 + 1. 3-way 핸드셰이크가 끝나 양쪽 모두 ESTABLISHED 상태입니다.")
        #expect(try s(Self.firstMessage) == "데이터: 클라이언트는 101번부터 112번까지 12바이트를 보냅니다. 다음 새 바이트는 113번입니다.")
        #expect(try s(Self.dataAck) == "ACK 3139: 139 + 3000바이트를 받았으므로 다음에 기대하는 바이트는 3139번입니다.")
        #expect(try s(Self.clientFIN) == "FIN: 클라이언트는 더 보낼 데이터가 없습니다. 이제 FIN-WAIT-1 상태로 기다립니다.")
        #expect(try s(Self.finAck) == "ACK 3140: 클라이언트의 FIN도 순서 번호 하나를 차지하므로 3139 + 1 = 3140입니다. 이제 서버는 CLOSE-WAIT, 클라이언트는 FIN-WAIT-2 상태입니다.")
        #expect(try s(Self.serverFIN) == "FIN: 서버도 더 보낼 데이터가 없습니다. 마지막 ACK를 기다리며 LAST-ACK 상태가 됩니다.")
        #expect(try s(Self.lastAck) == "ACK 2036: 서버의 FIN도 순서 번호 하나를 차지하므로 2035 + 1 = 2036입니다. 이제 클라이언트는 TIME-WAIT, 서버는 CLOSED 상태입니다.")
    }

    /// --explain only adds lines: removing the sentences gives the plain run, and every
    /// segment's line (and no other) has one sentence under it.
    @Test func explainOnlyAddsOneSentenceUnderEachSegmentLine() {
        let plain = Self.run(explain: false).lines
        let explained = Self.run(explain: true).lines
        #expect(explained.filter { !$0.hasPrefix(Self.indent) } == plain)
        let segmentLines = plain.filter { $0.contains("A → B   [") || $0.contains("A ← B   [") }
        #expect(segmentLines.count == 17)
        #expect(explained.filter { $0.hasPrefix(Self.indent) }.count == segmentLines.count)
        for (i, l) in explained.enumerated() where l.hasPrefix(Self.indent) {
            #expect(i > 0 && (explained[i - 1].contains("A → B   [") || explained[i - 1].contains("A ← B   [")))
        }
        #expect(!plain.contains { $0.contains("↳") })
    }
}
