import Foundation
import Testing
@testable import TCPIP

/// Bad captures: whatever the bytes, the trace reads what it can and never traps.
@Suite struct TraceRobustnessTests {
    func renderAll(_ bytes: [UInt8]) -> (TraceInput, String) {
        let input = TraceInput(captureBytes: bytes)
        let convs = TraceConversation.analyze(input.segments)
        var out = ""
        for c in convs {
            out += LadderTextFormatter(explain: true).render(c)
            out += LadderTextFormatter(absolute: true, explain: true, language: .ko, colour: true).render(c)
        }
        out += LadderSVGFormatter(explain: true).html(convs, title: "x")
        return (input, out)
    }

    @Test func everyTruncationOfAKernelCaptureReadsThePacketsBeforeTheCut() throws {
        let whole = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent("trace-curl.pcap")))
        let full = TraceInput(captureBytes: whole).segments.count
        #expect(full == 16)
        // Record boundaries (classic pcap, little-endian): a cut there is a shorter valid file.
        var boundaries: Set<Int> = [24]
        var o = 24
        while o + 16 <= whole.count {
            o += 16 + (Int(whole[o + 8]) | Int(whole[o + 9]) << 8)
            boundaries.insert(o)
        }
        #expect(o == whole.count)
        var previous = 0
        for n in 0..<whole.count {
            let input = TraceInput(captureBytes: Array(whole.prefix(n)))
            _ = TraceConversation.analyze(input.segments).map { LadderTextFormatter(explain: true).render($0) }
            #expect((input.readError == nil) == boundaries.contains(n), "cut at \(n)")
            // Never more than the whole, never fewer than a shorter cut gave.
            #expect(input.segments.count <= full && input.segments.count >= previous)
            previous = input.segments.count
        }
        #expect(previous == full - 1)
    }

    @Test func corruptedBytesNeverTrap() throws {
        let whole = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent("trace-loss.pcap")))
        var rng = SeededRandom(seed: 0x7ACE)
        for _ in 0..<60 {
            var b = whole
            // Keep the file header; damage a few bytes of the records.
            for _ in 0..<8 {
                let i = 24 + Int(rng.next() % UInt64(b.count - 24))
                b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            let (input, text) = renderAll(b)
            #expect(!text.isEmpty || input.segments.isEmpty)
        }
    }

    @Test func segmentsWithExtremeValuesRender() {
        var t = TraceScript()
        t.c(0, [.syn, .fin, .rst, .psh, .urg, .ack, .ece, .cwr], seq: .max, ack: .max, len: 65_000, win: .max,
            options: [.windowScale(200), .maximumSegmentSize(0), .unknown(kind: 99, data: [1, 2])])
        t.s(0, [.syn, .ack], seq: 0, ack: 0, win: 0, options: [.windowScale(14)])
        t.c(-5, .fin, seq: 7, len: 0)                 // time going backwards
        t.s(1e12, .ack, seq: 1, ack: 1 << 31, win: .max)
        let convs = TraceConversation.analyze(t.segments)
        for c in convs {
            let text = LadderTextFormatter(explain: true).render(c)
            #expect(text.contains("stream"))
            _ = LadderSVGFormatter(explain: true).svgDocument([c])
        }
    }
}
