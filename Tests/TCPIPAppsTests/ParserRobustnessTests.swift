import Testing
@testable import TCPIPApps

/// Random and mutated bytes through every parser: no trap, no hang, bounded buffering.
@Suite struct ParserRobustnessTests {
    static let alphabet = [UInt8](ascii: "GET HEAD / HTTP/1.1\r\n:;0123456789abcdefABCDEF %.\t\u{0}")

    static func noise(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in
            Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
        }
    }

    @Test func randomBytesNeverTrapTheRequestParserAndBufferingStaysBounded() {
        var rng = SplitMix64(seed: 1)
        let limits = HTTPRequestLimits(maxRequestLineLength: 256, maxHeaderLineLength: 256, maxHeaderBytes: 1024, maxHeaderCount: 16)
        for _ in 0..<300 {
            var p = HTTPRequestParser(limits: limits)
            for piece in randomChunks(Self.noise(4000, &rng), maxPiece: 64, rng: &rng) {
                p.feed(piece)
                do { while try p.next() != nil {} } catch { break }
                // After draining, only an unfinished head line remains: never more than the limits + one piece.
                #expect(p.bufferedBytes <= 1024 + 64)
            }
        }
    }

    @Test func mutatedRequestsNeverTrapTheServerConnection() {
        var rng = SplitMix64(seed: 2)
        let base = HTTPRequestParserTests.mixedStream
        for _ in 0..<500 {
            var input = base
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var conn = HTTPServerConnection(site: BuiltinSite())
            conn.receive(input)
            conn.receiveEnd()
            var actions = 0
            while conn.nextAction() != nil { actions += 1; if actions > 100 { break } }
            #expect(actions <= 6 + 1)
            #expect(conn.isClosed)
        }
    }

    @Test func randomBytesNeverTrapTheResponseParser() {
        var rng = SplitMix64(seed: 3)
        let prefixes = [[UInt8](ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), [UInt8](ascii: "HTTP/1.1 200 OK\r\n"), []]
        for i in 0..<300 {
            let input = prefixes[i % 3] + Self.noise(3000, &rng)
            let out = parseResponse(randomChunks(input, maxPiece: 50, rng: &rng),
                                    limits: HTTPResponseLimits(maxHeaderBytes: 2048, maxChunkLineLength: 128, maxTrailerBytes: 512))
            #expect(!out.isEmpty)
        }
    }

    @Test func mutatedChunkedResponsesParseTheSameInAnyChunking() {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<300 {
            var input = HTTPClientTests.chunked
            input[Int.random(in: 0..<input.count, using: &rng)] = HTTPClientTests.chunked.randomElement(using: &rng)!
            let oneShot = parseResponse([input])
            #expect(parseResponse(randomChunks(input, maxPiece: 7, rng: &rng)) == oneShot)
        }
    }
}
