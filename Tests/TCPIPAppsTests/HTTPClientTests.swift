import Testing
@testable import TCPIPApps

@Suite struct HTTPClientTests {
    static let chunked = [UInt8](ascii:
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
        + "4;name=value\r\nWiki\r\n"
        + "5 ; quoted=\"a;b\"\r\npedia\r\n"
        + "E\r\n in\r\n\r\nchunks.\r\n"
        + "0;last\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n")

    static let chunkedExpected: [ResponseOutcome] = [
        .head(HTTPResponseHead(version: .http1_1, status: 200, reason: "OK",
                               headers: HTTPHeaders([("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")]))),
        .body([UInt8](ascii: "Wikipedia in\r\n\r\nchunks.")),
        .end(HTTPHeaders([("Expires", "never"), ("X-Checksum", "abc")])),
    ]

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        #expect(parseResponse([Self.chunked]) == Self.chunkedExpected)
    }

    @Test func chunkedSplitAtEveryByteGivesTheSameResult() {
        for i in 0...Self.chunked.count {
            let pieces = [Array(Self.chunked[..<i]), Array(Self.chunked[i...])]
            #expect(parseResponse(pieces) == Self.chunkedExpected, "split at \(i)")
        }
        #expect(parseResponse(Self.chunked.map { [$0] }) == Self.chunkedExpected)
        var rng = SplitMix64(seed: 42)
        for _ in 0..<100 {
            #expect(parseResponse(randomChunks(Self.chunked, maxPiece: 9, rng: &rng)) == Self.chunkedExpected)
        }
    }

    static let fixed = [UInt8](ascii: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nServer: x\r\n\r\n0123456789")

    @Test func contentLengthBodySplitAtEveryByte() {
        let expected: [ResponseOutcome] = [
            .head(HTTPResponseHead(version: .http1_1, status: 200, reason: "OK",
                                   headers: HTTPHeaders([("Content-Length", "10"), ("Server", "x")]))),
            .body([UInt8](ascii: "0123456789")),
            .end(HTTPHeaders()),
        ]
        for i in 0...Self.fixed.count {
            #expect(parseResponse([Array(Self.fixed[..<i]), Array(Self.fixed[i...])]) == expected, "split at \(i)")
        }
        #expect(parseResponse(Self.fixed.map { [$0] }) == expected)
    }

    @Test func bodySlicesPointIntoTheInputWithoutCopying() throws {
        var p = HTTPResponseParser()
        try Self.fixed.withUnsafeBytes { raw in
            var consumed = 0
            guard case .head? = try p.next(raw, consumed: &consumed) else { Issue.record("no head"); return }
            guard case .body(let b)? = try p.next(raw, consumed: &consumed) else { Issue.record("no body"); return }
            #expect(b.baseAddress == raw.baseAddress! + (Self.fixed.count - 10))
            #expect(b.count == 10)
            guard case .end? = try p.next(raw, consumed: &consumed) else { Issue.record("no end"); return }
        }
        #expect(p.isComplete)
        #expect(p.bodyBytes == 10)
    }

    @Test func bytesAfterTheResponseAreCountedAndIgnored() throws {
        var p = HTTPResponseParser()
        let input = Self.fixed + [UInt8](ascii: "junk")
        try input.withUnsafeBytes { raw in
            var consumed = 0
            while try p.next(raw, consumed: &consumed) != nil {}
            #expect(consumed == raw.count)
        }
        #expect(p.extraBytes == 4)
        #expect(try p.finish() == nil)
    }

    @Test func readUntilCloseWhenNoLength() {
        let input = [UInt8](ascii: "HTTP/1.0 200 OK\r\n\r\nstream of bytes")
        #expect(parseResponse([input]) == [
            .head(HTTPResponseHead(version: .http1_0, status: 200, reason: "OK", headers: HTTPHeaders())),
            .body([UInt8](ascii: "stream of bytes")),
            .end(HTTPHeaders()),
        ])
        #expect(parseResponse([input], close: false).count == 2)
    }

    @Test func noBodyForHeadAnd204And304AndInterim100IsSkipped() {
        let headResp = parseResponse([[UInt8](ascii: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")], isHead: true)
        #expect(headResp.count == 2 && headResp.last == .end(HTTPHeaders()))
        for code in ["204 No Content", "304 Not Modified"] {
            let r = parseResponse([[UInt8](ascii: "HTTP/1.1 \(code)\r\nContent-Length: 50\r\n\r\n")])
            #expect(r.count == 2 && r.last == .end(HTTPHeaders()), "\(code)")
        }
        let cont = parseResponse([[UInt8](ascii: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")])
        #expect(cont == [
            .head(HTTPResponseHead(version: .http1_1, status: 200, reason: "OK", headers: HTTPHeaders([("Content-Length", "2")]))),
            .body([UInt8](ascii: "ok")), .end(HTTPHeaders()),
        ])
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012", HTTPResponseError.truncatedBody(received: 3, expected: 10)),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", .truncatedBody(received: 2, expected: nil)),
        ("HTTP/1.1 200 OK\r\nContent-Le", .truncatedHead),
        ("", .truncatedHead),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", .malformedChunkSize),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .malformedChunkSize),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", .malformedChunkSize),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", .chunkSizeTooLarge),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", .chunkSizeTooLarge),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", .malformedChunkEnd),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", .malformedTrailer),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding("gzip")),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding("gzip, chunked")),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", .unexpectedUpgrade),
        ("HTTP/2 200\r\n\r\n", .malformedStatusLine),
        ("HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
        ("HTTP/1.1 20 OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", .malformedHeader),
    ])
    func malformedOrTruncatedResponsesFailTyped(input: String, expected: HTTPResponseError) {
        let out = parseResponse([[UInt8](ascii: input)])
        #expect(out.last == .error(expected))
    }

    @Test func statusLineWithoutReasonIsAccepted() {
        let out = parseResponse([[UInt8](ascii: "HTTP/1.1 204\r\n\r\n")])
        #expect(out.first == .head(HTTPResponseHead(version: .http1_1, status: 204, reason: "", headers: HTTPHeaders())))
    }

    @Test func responseLimitsAreEnforced() {
        let small = HTTPResponseLimits(maxStatusLineLength: 20, maxHeaderLineLength: 30, maxHeaderBytes: 60,
                                       maxHeaderCount: 3, maxChunkLineLength: 10, maxTrailerBytes: 20)
        func last(_ s: String) -> ResponseOutcome? { parseResponse([[UInt8](ascii: s)], limits: small).last }
        #expect(last("HTTP/1.1 200 OK-and-more\r\n\r\n") == .error(.statusLineTooLong))
        #expect(last("HTTP/1.1 200 OK\r\nX: " + String(repeating: "v", count: 28) + "\r\n\r\n") == .error(.headersTooLarge))
        #expect(last("HTTP/1.1 200 OK\r\n" + String(repeating: "Xxxxxxxx: yyyyyyyyyy\r\n", count: 3) + "\r\n") == .error(.headersTooLarge))
        #expect(last("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n") == .error(.tooManyHeaders))
        #expect(last("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=longer\r\n") == .error(.chunkLineTooLong))
        #expect(last("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1234567890123456\r\n\r\n") == .error(.trailersTooLarge))
        // At the limit passes: 10-byte chunk line, 20-byte status line.
        let ok = parseResponse([[UInt8](ascii: "HTTP/1.1 200 OKOKOKO\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=abcd\r\nz\r\n0\r\n\r\n")],
                               limits: HTTPResponseLimits(maxStatusLineLength: 20, maxChunkLineLength: 10))
        #expect(ok.dropFirst() == [.body([UInt8](ascii: "z")), .end(HTTPHeaders())])
    }

    @Test func chunkLineWithoutNewlineFailsAtLimit() throws {
        var p = HTTPResponseParser(limits: HTTPResponseLimits(maxChunkLineLength: 8))
        let head = [UInt8](ascii: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try head.withUnsafeBytes { raw in
            var c = 0
            while try p.next(raw, consumed: &c) != nil {}
        }
        let flood = [UInt8](repeating: UInt8(ascii: "1"), count: 9) // may still end with CR: 8 is allowed
        try flood.withUnsafeBytes { raw in
            var c = 0
            let r = try p.next(raw, consumed: &c)
            #expect(r == nil)
        }
        #expect(throws: HTTPResponseError.chunkLineTooLong) {
            try [UInt8(ascii: ";")].withUnsafeBytes { raw in
                var c = 0
                _ = try p.next(raw, consumed: &c)
            }
        }
    }

    // MARK: - URL, request, decisions

    @Test func urlParsing() throws {
        #expect(try HTTPURL.parse("http://192.0.2.1:8080/f").get() == HTTPURL(host: "192.0.2.1", port: 8080, target: "/f"))
        #expect(try HTTPURL.parse("HTTP://example.test").get() == HTTPURL(host: "example.test", port: 80, target: "/"))
        #expect(try HTTPURL.parse("http://h?x=1#frag").get() == HTTPURL(host: "h", port: 80, target: "/?x=1"))
        #expect(try HTTPURL.parse("http://h/a b/é").get().target == "/a%20b/%C3%A9")
        #expect(try HTTPURL.parse("http://[2001:db8::1]:81/").get() == HTTPURL(host: "[2001:db8::1]", port: 81, target: "/"))
        #expect(HTTPURL.parse("https://h/") == .failure(.unsupportedScheme))
        #expect(HTTPURL.parse("192.0.2.1/f") == .failure(.unsupportedScheme))
        #expect(HTTPURL.parse("http:///f") == .failure(.missingHost))
        #expect(HTTPURL.parse("http://h:0/") == .failure(.invalidPort))
        #expect(HTTPURL.parse("http://h:65536/") == .failure(.invalidPort))
        #expect(HTTPURL.parse("http://h:+80/") == .failure(.invalidPort))
        #expect(HTTPURL.parse("http://u@h/") == .failure(.invalidCharacter))
        #expect(try HTTPURL.parse("http://192.0.2.1:8080/f").get().description == "http://192.0.2.1:8080/f")
    }

    @Test func getRequestIsExact() throws {
        let url = try HTTPURL.parse("http://192.0.2.1:8080/f?x").get()
        #expect(text(HTTPClientRequest.get(url)) ==
            "GET /f?x HTTP/1.1\r\nHost: 192.0.2.1:8080\r\nUser-Agent: swift-tcpip-fetch/1\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        let plain = try HTTPURL.parse("http://h/").get()
        #expect(text(HTTPClientRequest.get(plain, userAgent: "t")).hasPrefix("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n"))
        // Our own server parses our own request.
        let parsed = parseRequests(HTTPClientRequest.get(url))
        guard case .request(let r)? = parsed.first else { Issue.record("\(parsed)"); return }
        #expect(r.target == "/f?x" && !r.keepAlive && r.headers["host"] == "192.0.2.1:8080")
    }

    @Test func redirectsAreReportedNotFollowed() {
        let redirect = HTTPResponseHead(version: .http1_1, status: 301, reason: "Moved Permanently",
                                        headers: HTTPHeaders([("Location", "http://192.0.2.1/new")]))
        #expect(FetchDecision(redirect) == .redirect(status: 301, location: "http://192.0.2.1/new"))
        #expect(FetchDecision(redirect).message == "redirect 301 to http://192.0.2.1/new not followed")
        let ok = HTTPResponseHead(version: .http1_1, status: 200, reason: "OK", headers: HTTPHeaders([("Content-Length", "52428800")]))
        #expect(FetchDecision(ok) == .download(expectedLength: 52428800))
        let chunked = HTTPResponseHead(version: .http1_1, status: 200, reason: "OK", headers: HTTPHeaders([("Transfer-Encoding", "chunked")]))
        #expect(FetchDecision(chunked) == .download(expectedLength: nil))
        let missing = HTTPResponseHead(version: .http1_1, status: 404, reason: "Not Found", headers: HTTPHeaders())
        #expect(FetchDecision(missing) == .failure("server answered 404 Not Found"))
    }

    @Test func fetchOfOurOwnServerRoundTrips() throws {
        // The client's request through the server connection, the server's bytes through the client parser.
        let url = try HTTPURL.parse("http://192.0.2.2/logo.png").get()
        var conn = HTTPServerConnection(site: BuiltinSite())
        conn.receive(HTTPClientRequest.get(url))
        var wire: [UInt8] = []
        var closed = false
        while let a = conn.nextAction() {
            switch a {
            case .write(let b): wire += b
            case .close: closed = true
            default: Issue.record("unexpected action")
            }
        }
        #expect(closed)
        let out = parseResponse([wire])
        #expect(out.count == 3)
        #expect(out.dropFirst().first == .body(BuiltinSite.logoPNG))
        guard case .head(let h)? = out.first else { return }
        #expect(h.status == 200 && h.headers["content-type"] == "image/png" && h.contentLength == 148)
    }
}
