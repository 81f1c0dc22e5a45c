import Testing
@testable import TCPIPApps

/// Runs a fetch over the given server bytes in pieces, collecting the body.
func fetch(_ pieces: [[UInt8]], url: String = "http://192.0.2.1:8080/f") -> (body: [UInt8], result: Result<HTTPFetch, HTTPFetchError>) {
    var f = HTTPFetch(url: try! HTTPURL.parse(url).get())
    var body: [UInt8] = []
    do {
        for p in pieces { try f.receive(p) { body += $0 } }
        try f.receiveEnd { body += $0 }
        return (body, .success(f))
    } catch let e as HTTPFetchError {
        return (body, .failure(e))
    } catch {
        Issue.record("unexpected \(error)")
        return (body, .failure(.status(0, "")))
    }
}

@Suite struct HTTPFetchTests {
    @Test func contentLengthDownloadCompletes() throws {
        let (body, result) = fetch([[UInt8](ascii: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"), [UInt8](ascii: "cde")])
        let f = try result.get()
        #expect(text(body) == "abcde")
        #expect(f.isComplete && f.expectedLength == 5 && f.bodyBytes == 5)
        #expect(text(f.request) == "GET /f HTTP/1.1\r\nHost: 192.0.2.1:8080\r\nUser-Agent: swift-tcpip-fetch/1\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    }

    @Test func chunkedDownloadKeepsTrailersAndHasNoExpectedLength() throws {
        let (body, result) = fetch(HTTPClientTests.chunked.map { [$0] })
        let f = try result.get()
        #expect(text(body) == "Wikipedia in\r\n\r\nchunks.")
        #expect(f.expectedLength == nil)
        #expect(f.trailers["x-checksum"] == "abc")
    }

    @Test func untilCloseDownloadEndsAtClose() throws {
        let (body, result) = fetch([[UInt8](ascii: "HTTP/1.0 200 OK\r\n\r\nall of it")])
        #expect(try result.get().isComplete)
        #expect(text(body) == "all of it")
    }

    @Test func failuresHaveOneLineMessages() {
        let redirect = fetch([[UInt8](ascii: "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")])
        #expect(redirect.result.failureValue == (.redirect(status: 302, location: "/elsewhere")))
        #expect(HTTPFetchError.redirect(status: 302, location: "/elsewhere").message == "redirect 302 to /elsewhere not followed")
        let missing = fetch([[UInt8](ascii: "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!")])
        #expect(missing.result.failureValue == (.status(404, "Not Found")))
        #expect(missing.body.isEmpty)
        #expect(HTTPFetchError.status(404, "Not Found").message == "server answered 404 Not Found")
        let cut = fetch([[UInt8](ascii: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123")])
        #expect(cut.result.failureValue == (.response(.truncatedBody(received: 4, expected: 10))))
        #expect(HTTPFetchError.response(.truncatedBody(received: 4, expected: 10)).message == "connection closed after 4 of 10 body bytes")
        let nothing = fetch([])
        #expect(nothing.result.failureValue == (.response(.truncatedHead)))
        #expect(HTTPFetchError.response(.truncatedHead).message == "connection closed before a complete response head")
        let junk = fetch([[UInt8](ascii: "SSH-2.0-OpenSSH\r\n")])
        #expect(junk.result.failureValue == (.response(.malformedStatusLine)))
        #expect(HTTPFetchError.response(.malformedStatusLine).message == "invalid response: malformedStatusLine")
    }

    @Test func fetchFromOurServerOverAPipeOfRandomPieces() throws {
        // Server connection -> bytes cut into random pieces -> fetch: the built-in page arrives intact.
        var conn = HTTPServerConnection(site: BuiltinSite())
        var f = HTTPFetch(url: try HTTPURL.parse("http://192.0.2.2/").get())
        var rng = SplitMix64(seed: 99)
        for piece in randomChunks(f.request, maxPiece: 5, rng: &rng) { conn.receive(piece) }
        var wire: [UInt8] = []
        while let a = conn.nextAction(date: 0) {
            if case .write(let b) = a { wire += b }
        }
        var body: [UInt8] = []
        for piece in randomChunks(wire, maxPiece: 100, rng: &rng) { try f.receive(piece) { body += $0 } }
        try f.receiveEnd()
        #expect(body == BuiltinSite.indexHTML)
        #expect(f.head?.headers["Date"] == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(f.head?.headers["Connection"] == "close")
    }
}

extension Result {
    var failureValue: Failure? { if case .failure(let e) = self { e } else { nil } }
}
