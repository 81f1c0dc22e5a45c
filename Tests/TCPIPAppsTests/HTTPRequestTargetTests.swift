import Testing
@testable import TCPIPApps

@Suite struct HTTPRequestTargetTests {
    @Test func originFormIsSplitThenDecoded() throws {
        let p = try HTTPRequestPath.parse("/a%20b/c%2Bd/%C3%A9t%C3%A9.txt?q=%2F").get()
        #expect(p.segments == ["a b", "c+d", "été.txt"])
        #expect(p.query == "q=%2F")
        #expect(p.authority == nil)
        #expect(!p.hasTrailingSlash)
        #expect(p.path == "/a b/c+d/été.txt")
    }

    @Test func rootDotAndEmptySegmentsCollapse() throws {
        #expect(try HTTPRequestPath.parse("/").get() == HTTPRequestPath(segments: []))
        let p = try HTTPRequestPath.parse("//a/./b//").get()
        #expect(p.segments == ["a", "b"])
        #expect(p.hasTrailingSlash)
        #expect(p.path == "/a/b/")
    }

    @Test func absoluteFormTakesPathAndAuthority() throws {
        let p = try HTTPRequestPath.parse("HTTP://192.0.2.2:8080/dir/f.html?x").get()
        #expect(p.authority == "192.0.2.2:8080")
        #expect(p.segments == ["dir", "f.html"])
        #expect(p.query == "x")
        let bare = try HTTPRequestPath.parse("http://h").get()
        #expect(bare.segments == [] && bare.authority == "h" && bare.query == nil)
        let q = try HTTPRequestPath.parse("http://h?z").get()
        #expect(q.segments == [] && q.query == "z")
    }

    @Test(arguments: [
        ("/../etc/passwd", HTTPTargetError.traversal),
        ("/%2e%2e/", .traversal),
        ("/%2E%2e/etc/passwd", .traversal),
        ("/.%2e/x", .traversal),
        ("/a/../../x", .traversal),
        ("/a/..", .traversal),
        ("/a%2Fb", .traversal),
        ("/a%2f..%2fb", .traversal),
        ("http://h/../x", .traversal),
        ("/a%00b", .encodedNUL),
        ("/%00", .encodedNUL),
        ("/a%zz", .malformed),
        ("/a%4", .malformed),
        ("/a%", .malformed),
        ("/%C3%28", .malformed),
        ("*", .malformed),
        ("192.0.2.2:80", .malformed),
        ("ftp://h/x", .malformed),
        ("http:///x", .malformed),
        ("http://user@h/x", .malformed),
        ("/a#frag", .malformed),
    ])
    func rejectedTargets(target: String, expected: HTTPTargetError) {
        #expect(HTTPRequestPath.parse(target) == .failure(expected))
    }

    @Test func traversalIs404AndEncodingErrorsAre400() {
        #expect(HTTPTargetError.traversal.status.code == 404)
        #expect(HTTPTargetError.encodedNUL.status.code == 400)
        #expect(HTTPTargetError.malformed.status.code == 400)
    }

    @Test func dotsInsideNamesAreNotTraversal() throws {
        #expect(try HTTPRequestPath.parse("/..a/b..c/...").get().segments == ["..a", "b..c", "..."])
    }

    @Test func percentEncodingRoundTripsThroughParse() throws {
        let names = ["plain", "with space", "a#b?c%d", "été", "x/y"]
        for n in names where !n.contains("/") {
            let p = try HTTPRequestPath.parse("/" + percentEncodePathSegment(n)).get()
            #expect(p.segments == [n])
        }
        #expect(percentEncodePathSegment("a b#%") == "a%20b%23%25")
        #expect(percentEncodePathSegment("x/y") == "x%2Fy")
    }
}
