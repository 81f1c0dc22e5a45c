import Testing
@testable import TCPIPApps

/// A site with fixed content and a fake "file" type, to test the connection without a disk.
struct FakeSite: HTTPSite {
    struct File: Equatable { var name: String }
    func resolve(_ path: HTTPRequestPath) -> HTTPSiteResource<File> {
        switch path.segments {
        case ["big.bin"]: .file(File(name: "big.bin"), contentType: MediaType.forFileName("big.bin"), size: 1 << 30)
        case ["empty.txt"]: .file(File(name: "empty.txt"), contentType: MediaType.forFileName("empty.txt"), size: 0)
        case ["secret"]: .forbidden
        case ["broken"]: .failed
        case ["dir"]: .redirect(location: "/dir/")
        default: BuiltinSite().resolve(path).mapNever()
        }
    }
}

extension HTTPSiteResource where File == Never {
    func mapNever<T>() -> HTTPSiteResource<T> {
        switch self {
        case .notFound: .notFound
        case .forbidden: .forbidden
        case .failed: .failed
        case .content(let t, let b): .content(contentType: t, body: b)
        case .redirect(let l): .redirect(location: l)
        }
    }
}

enum Step: Equatable {
    case write(String)
    case sendFile(String, offset: UInt64, length: UInt64)
    case close
}

/// Feeds `input`, then (optionally) EOF, collecting every action.
func run<S: HTTPSite>(_ conn: inout HTTPServerConnection<S>, _ input: [UInt8], end: Bool = false, date: Int64? = 784111777,
                      fileName: (S.File) -> String) -> [Step] {
    conn.receive(input)
    if end { conn.receiveEnd() }
    var steps: [Step] = []
    while let a = conn.nextAction(date: date) {
        switch a {
        case .write(let b): steps.append(.write(text(b)))
        case .sendFile(let f, let o, let l): steps.append(.sendFile(fileName(f), offset: o, length: l))
        case .close: steps.append(.close)
        }
    }
    return steps
}

func runFake(_ input: String, end: Bool = false, date: Int64? = 784111777) -> [Step] {
    var c = HTTPServerConnection(site: FakeSite())
    return run(&c, [UInt8](ascii: input), end: end, date: date, fileName: \.name)
}

@Suite struct HTTPServerConnectionTests {
    @Test func notFoundIsExact() {
        let steps = runFake("GET /nope HTTP/1.1\r\nHost: 192.0.2.2\r\n\r\n")
        #expect(steps == [.write(
            "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: swift-tcpip\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 106\r\n\r\n"
            + "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n")])
    }

    @Test func methodNotAllowedIsExactWithAllow() {
        let steps = runFake("DELETE /index.html HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        #expect(steps == [.write(
            "HTTP/1.1 405 Method Not Allowed\r\nServer: swift-tcpip\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 124\r\nAllow: GET, HEAD\r\n\r\n"
            + "<!DOCTYPE html>\n<html><head><title>405 Method Not Allowed</title></head><body><h1>405 Method Not Allowed</h1></body></html>\n")])
    }

    @Test func redirectIsExactAndHeadHasNoBody() {
        let get = runFake("GET /dir HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        let head = "HTTP/1.1 301 Moved Permanently\r\nServer: swift-tcpip\r\nContent-Type: text/html; charset=utf-8\r\n"
            + "Content-Length: 122\r\nLocation: /dir/\r\n\r\n"
        #expect(get == [.write(head
            + "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title></head><body><h1>301 Moved Permanently</h1></body></html>\n")])
        #expect(runFake("HEAD /dir HTTP/1.1\r\nHost: h\r\n\r\n", date: nil) == [.write(head)])
    }

    @Test func postWithBodyGets405AndConnectionStaysUsable() {
        let steps = runFake("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /logo.svg HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        #expect(steps.count == 2)
        guard steps.count == 2, case .write(let a) = steps[0], case .write(let b) = steps[1] else { return }
        #expect(a.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(b == "HTTP/1.1 200 OK\r\nServer: swift-tcpip\r\nContent-Type: image/svg+xml\r\nContent-Length: \(BuiltinSite.logoSVG.count)\r\n\r\n"
            + text(BuiltinSite.logoSVG))
    }

    @Test func headHasSameHeadersAsGetAndNoBody() {
        for path in ["/", "/logo.png", "/nope", "/big.bin", "/empty.txt", "/secret", "/dir", "/broken"] {
            let get = runFake("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            let head = runFake("HEAD \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            guard case .write(let g)? = get.first, case .write(let h)? = head.first, head.count == 1 else {
                Issue.record("unexpected steps for \(path): \(get) \(head)"); continue
            }
            let split = g.range(of: "\r\n\r\n")!.upperBound
            #expect(h == String(g[..<split]), "HEAD head differs for \(path)")
        }
    }

    @Test func fileIsHeadThenSendFileWithPromisedLength() {
        let steps = runFake("GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        #expect(steps == [
            .write("HTTP/1.1 200 OK\r\nServer: swift-tcpip\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n"),
            .sendFile("big.bin", offset: 0, length: 1 << 30),
        ])
        let empty = runFake("GET /empty.txt HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        #expect(empty == [.write("HTTP/1.1 200 OK\r\nServer: swift-tcpip\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n")])
    }

    @Test func pipelinedResponsesInOrderThenCloseOnConnectionClose() {
        let steps = runFake("GET /nope HTTP/1.1\r\nHost: h\r\n\r\nGET /secret HTTP/1.1\r\nHost: h\r\n\r\nGET /broken HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let statuses = steps.compactMap { s -> String? in if case .write(let w) = s { String(w.prefix(12)) } else { nil } }
        #expect(statuses == ["HTTP/1.1 404", "HTTP/1.1 403", "HTTP/1.1 500"])
        #expect(steps.last == .close)
        guard case .write(let third) = steps[2] else { return }
        #expect(third.contains("\r\nConnection: close\r\n"))
    }

    @Test func http10GetsKeepAliveOnlyWhenAsked() {
        let closeSteps = runFake("GET /logo.svg HTTP/1.0\r\n\r\n", date: nil)
        #expect(closeSteps.count == 2 && closeSteps.last == .close)
        guard case .write(let a) = closeSteps.first else { return }
        #expect(a.contains("\r\nConnection: close\r\n"))
        let keep = runFake("GET /logo.svg HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", date: nil)
        #expect(keep.count == 1)
        guard case .write(let b) = keep.first else { return }
        #expect(b.contains("\r\nConnection: keep-alive\r\n"))
    }

    @Test func parseErrorAnswersThenCloses() {
        let steps = runFake("GET / HTTP/1.1\r\n\r\n", date: nil)
        #expect(steps == [.write(
            "HTTP/1.1 400 Bad Request\r\nServer: swift-tcpip\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 110\r\nConnection: close\r\n\r\n"
            + "<!DOCTYPE html>\n<html><head><title>400 Bad Request</title></head><body><h1>400 Bad Request</h1></body></html>\n"), .close])
        let huge = runFake("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "x", count: 9000) + "\r\n\r\n", date: nil)
        guard case .write(let w)? = huge.first else { Issue.record("\(huge)"); return }
        #expect(w.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(huge.last == .close)
    }

    @Test func traversalTargetsAre404AndNulIs400() {
        for t in ["/../etc/passwd", "/%2e%2e/", "/a/../../x", "/%2e%2e%2fetc%2fpasswd"] {
            let s = runFake("GET \(t) HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
            guard case .write(let w)? = s.first else { Issue.record("\(t): \(s)"); continue }
            #expect(w.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(t)")
        }
        let nul = runFake("GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n", date: nil)
        guard case .write(let w)? = nul.first else { return }
        #expect(w.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(nul.count == 1) // no close: the message itself was well framed
    }

    @Test func idleOnlyBetweenRequests() {
        var c = HTTPServerConnection(site: FakeSite())
        #expect(c.isIdle)
        c.receive([UInt8](ascii: "GET /nope HTTP/1.1\r\nHo"))
        #expect(c.nextAction() == nil)
        #expect(!c.isIdle)
        c.receive([UInt8](ascii: "st: h\r\n\r\n"))
        #expect(!c.isIdle)
        guard case .write? = c.nextAction() else { Issue.record("no response"); return }
        #expect(c.isIdle)
        #expect(c.responseCount == 1 && c.lastStatus == .notFound)
    }

    @Test func endOfInputClosesAfterCompleteRequests() {
        let steps = runFake("GET /nope HTTP/1.1\r\nHost: h\r\n\r\nGET /partial HT", end: true, date: nil)
        #expect(steps.count == 2)
        #expect(steps.last == .close)
        var c = HTTPServerConnection(site: FakeSite())
        #expect(run(&c, [], end: true, fileName: \.name) == [.close])
        #expect(c.isClosed)
        #expect(c.nextAction() == nil)
    }

    @Test func builtinPageReferencesItsImages() {
        let page = text(BuiltinSite.indexHTML)
        #expect(page.contains("<img id=\"logo\" src=\"/logo.png\""))
        #expect(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(BuiltinSite.logoPNG.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(BuiltinSite().resolve(try! HTTPRequestPath.parse("/logo.png").get()) .isContent(type: "image/png", count: 148))
        #expect(BuiltinSite().resolve(try! HTTPRequestPath.parse("/index.html").get()) .isContent(type: MediaType.html, count: BuiltinSite.indexHTML.count))
    }

    @Test func dateIsIMFFixdate() {
        #expect(HTTPDate.format(unixSeconds: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(unixSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(unixSeconds: 951782400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(unixSeconds: 1764052800) == "Tue, 25 Nov 2025 06:40:00 GMT")
        #expect(HTTPDate.format(unixSeconds: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("A.HTM", "text/html; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
        ("p.png", "image/png"), ("p.JPG", "image/jpeg"), ("p.jpeg", "image/jpeg"), ("g.gif", "image/gif"),
        ("i.svg", "image/svg+xml"), ("r.txt", "text/plain; charset=utf-8"), ("d.json", "application/json"),
        ("m.wasm", "application/wasm"), ("noext", "application/octet-stream"), ("x.tar.gz", "application/octet-stream"),
        ("dir.d/file", "application/octet-stream"), (".bashrc", "application/octet-stream"),
    ])
    func contentTypeFromExtension(name: String, type: String) {
        #expect(MediaType.forFileName(name) == type)
    }
}

extension HTTPServerAction: Equatable where File: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.write(let x), .write(let y)): x == y
        case (.sendFile(let f, let o, let l), .sendFile(let g, let p, let m)): f == g && o == p && l == m
        case (.close, .close): true
        default: false
        }
    }
}

extension HTTPSiteResource {
    func isContent(type: String, count: Int) -> Bool {
        if case .content(let t, let b) = self { return t == type && b.count == count }
        return false
    }
}
