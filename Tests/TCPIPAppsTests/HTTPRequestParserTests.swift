import Testing
@testable import TCPIPApps

@Suite struct HTTPRequestParserTests {
    static let curlGET = [UInt8](ascii: "GET /index.html HTTP/1.1\r\nHost: 192.0.2.2\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")

    @Test func parsesCurlStyleGET() throws {
        let out = parseRequests(Self.curlGET)
        #expect(out.count == 1)
        guard case .request(let r)? = out.first else { Issue.record("no request: \(out)"); return }
        #expect(r.method == .get)
        #expect(r.target == "/index.html")
        #expect(r.version == .http1_1)
        #expect(r.keepAlive)
        #expect(r.contentLength == 0)
        #expect(r.headers.count == 3)
        #expect(r.headers["host"] == "192.0.2.2")
        #expect(r.headers["USER-AGENT"] == "curl/8.5.0")
        #expect(r.headers.fields.map(\.name) == ["Host", "User-Agent", "Accept"])
    }

    static let mixedStream: [UInt8] = {
        var b = [UInt8](ascii: "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        b += [UInt8](ascii: "HEAD /b%20c?x=1 HTTP/1.1\nhost:   h2  \n\n") // bare LF, OWS
        b += [UInt8](ascii: "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
        b += [UInt8](ascii: "GET http://192.0.2.2:8080/abs HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        b += [UInt8](ascii: "GET /last HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")
        return b
    }()

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let out = parseRequests(Self.mixedStream)
        let requests = out.compactMap { if case .request(let r) = $0 { r } else { nil } }
        #expect(out.count == 5 && requests.count == 5)
        #expect(requests.map(\.target) == ["/a", "/b%20c?x=1", "/form", "http://192.0.2.2:8080/abs", "/last"])
        #expect(requests.map(\.method) == [.get, .head, .other("POST"), .get, .get])
        #expect(requests.map(\.keepAlive) == [true, true, true, true, false])
        #expect(requests[1].headers["Host"] == "h2")
        #expect(requests[2].contentLength == 11)
        #expect(requests[3].version == .http1_0)
    }

    @Test func byteByByteEqualsOneShot() {
        let oneShot = parseRequests(Self.mixedStream)
        let single = parseRequests(Self.mixedStream.map { [$0] })
        #expect(single == oneShot)
    }

    @Test func randomChunkingsEqualOneShot() {
        var inputs: [[UInt8]] = [Self.mixedStream, Self.curlGET]
        // Inputs that end in errors must fail the same way whatever the chunking.
        inputs.append([UInt8](ascii: "GET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nBad Header: v\r\n\r\n"))
        inputs.append([UInt8](ascii: "GET /x HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"))
        inputs.append([UInt8](ascii: "GET /" + String(repeating: "p", count: 300) + " HTTP/1.1\r\nHost: h\r\n\r\n"))
        inputs.append([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "A: b\r\n", count: 40) + "\r\n"))
        let limits = HTTPRequestLimits(maxRequestLineLength: 200, maxHeaderLineLength: 200, maxHeaderBytes: 400, maxHeaderCount: 30)
        var rng = SplitMix64(seed: 0xC0FFEE)
        for input in inputs {
            let oneShot = parseRequests(input, limits: limits)
            #expect(!oneShot.isEmpty)
            for _ in 0..<200 {
                let pieces = randomChunks(input, maxPiece: 17, rng: &rng)
                #expect(parseRequests(pieces, limits: limits) == oneShot)
            }
        }
    }

    @Test func bodyIsReadAndDiscardedAcrossFeeds() throws {
        var p = HTTPRequestParser()
        p.feed([UInt8](ascii: "GET /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123"))
        let first = try #require(try p.next())
        #expect(first.contentLength == 10)
        #expect(try p.next() == nil)
        #expect(p.discardedBodyBytes == 4)
        #expect(!p.isIdle)
        p.feed([UInt8](ascii: "456789GET /next HTTP/1.1\r\nHost: h\r\n\r\n"))
        let second = try #require(try p.next())
        #expect(second.target == "/next")
        #expect(p.discardedBodyBytes == 10)
        #expect(try p.next() == nil)
        #expect(p.isIdle)
    }

    @Test func http10DefaultsToCloseAndKeepAliveIsCaseInsensitive() {
        let a = parseRequests([UInt8](ascii: "GET / HTTP/1.0\r\n\r\n"))
        let b = parseRequests([UInt8](ascii: "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n"))
        let c = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, CLOSE\r\n\r\n"))
        guard case .request(let ra)? = a.first, case .request(let rb)? = b.first, case .request(let rc)? = c.first else {
            Issue.record("expected requests: \(a) \(b) \(c)"); return
        }
        #expect(!ra.keepAlive)
        #expect(rb.keepAlive)
        #expect(!rc.keepAlive)
    }

    // MARK: - Limits (defaults: request line 8192, header line 8192, header bytes 32768, 100 fields)

    @Test func requestLineAtLimitPassesOneMoreByteIs414() {
        let limits = HTTPRequestLimits()
        // "GET " + target + " HTTP/1.1" has length 13 + target.
        let atLimit = "GET /" + String(repeating: "a", count: limits.maxRequestLineLength - 14) + " HTTP/1.1"
        #expect(atLimit.utf8.count == limits.maxRequestLineLength)
        let ok = parseRequests([UInt8](ascii: atLimit + "\r\nHost: h\r\n\r\n"))
        guard case .request? = ok.first else { Issue.record("\(ok)"); return }
        let over = parseRequests([UInt8](ascii: "GET /a" + String(repeating: "a", count: limits.maxRequestLineLength - 14) + " HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(over == [.error(.requestLineTooLong)])
        #expect(HTTPRequestError.requestLineTooLong.status == .uriTooLong)
    }

    @Test func requestLineWithoutNewlineFailsAtLimitNotLater() {
        let limits = HTTPRequestLimits(maxRequestLineLength: 64)
        var p = HTTPRequestParser(limits: limits)
        p.feed([UInt8](repeating: UInt8(ascii: "A"), count: 65)) // may still end with CR: length 64
        #expect(throws: Never.self) { try p.next() }
        p.feed([UInt8](ascii: "B"))
        #expect(throws: HTTPRequestError.requestLineTooLong) { try p.next() }
        #expect(p.bufferedBytes == 0)
    }

    @Test func headerLineOverLimitIs431() {
        let limits = HTTPRequestLimits(maxHeaderLineLength: 50)
        let ok = "X: " + String(repeating: "v", count: 47)
        let out1 = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n\(ok)\r\n\r\n"), limits: limits)
        guard case .request? = out1.first else { Issue.record("\(out1)"); return }
        let out2 = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n\(ok)v\r\n\r\n"), limits: limits)
        #expect(out2 == [.error(.headerFieldsTooLarge)])
        #expect(HTTPRequestError.headerFieldsTooLarge.status.code == 431)
    }

    @Test func totalHeaderBytesOverLimitIs431() {
        // Header section: "Host: h\r\n" (9) + "A: 12345\r\n" (10) * n + "\r\n" (2).
        let limits = HTTPRequestLimits(maxHeaderBytes: 9 + 30 + 2)
        let three = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "A: 12345\r\n", count: 3) + "\r\n"), limits: limits)
        guard case .request? = three.first else { Issue.record("\(three)"); return }
        let four = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "A: 12345\r\n", count: 4) + "\r\n"), limits: limits)
        #expect(four == [.error(.headerFieldsTooLarge)])
    }

    @Test func headerCountOverLimitIs431() {
        let limits = HTTPRequestLimits(maxHeaderCount: 5)
        let five = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "A: b\r\n", count: 4) + "\r\n"), limits: limits)
        guard case .request(let r)? = five.first else { Issue.record("\(five)"); return }
        #expect(r.headers.count == 5)
        let six = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "A: b\r\n", count: 5) + "\r\n"), limits: limits)
        #expect(six == [.error(.tooManyHeaders)])
        #expect(HTTPRequestError.tooManyHeaders.status == .requestHeaderFieldsTooLarge)
    }

    // MARK: - Malformed requests

    @Test(arguments: [
        ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HTTPRequestError.malformedRequestLine),
        ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("GET /\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/11\r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("GET / http/1.1\r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("GET /\rx HTTP/1.1\r\nHost: h\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\n\r\n", .missingOrDuplicateHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .missingOrDuplicateHost),
        ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .transferEncodingNotImplemented),
    ])
    func malformedRequestsFailWithTheirError(input: String, expected: HTTPRequestError) {
        #expect(parseRequests([UInt8](ascii: input)) == [.error(expected)])
    }

    @Test func errorStatusesAreTheDocumentedOnes() {
        #expect(HTTPRequestError.malformedRequestLine.status.code == 400)
        #expect(HTTPRequestError.malformedHeader.status.code == 400)
        #expect(HTTPRequestError.missingOrDuplicateHost.status.code == 400)
        #expect(HTTPRequestError.invalidContentLength.status.code == 400)
        #expect(HTTPRequestError.unsupportedVersion.status.code == 505)
        #expect(HTTPRequestError.transferEncodingNotImplemented.status.code == 501)
    }

    @Test func repeatedEqualContentLengthIsAccepted() {
        let out = parseRequests([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-length: 3\r\n\r\nabc"))
        guard case .request(let r)? = out.first else { Issue.record("\(out)"); return }
        #expect(r.contentLength == 3)
    }

    @Test func errorIsStickyAndLaterBytesAreIgnored() {
        var p = HTTPRequestParser()
        p.feed([UInt8](ascii: "BAD\r\n"))
        #expect(throws: HTTPRequestError.malformedRequestLine) { try p.next() }
        p.feed([UInt8](ascii: "GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(throws: HTTPRequestError.malformedRequestLine) { try p.next() }
        #expect(p.bufferedBytes == 0)
    }
}
