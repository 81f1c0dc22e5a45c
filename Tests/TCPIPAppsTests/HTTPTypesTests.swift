import Testing
@testable import TCPIPApps

@Suite struct HTTPTypesTests {
    @Test func headerLookupIsCaseInsensitiveAndKeepsOrder() {
        var h = HTTPHeaders([("Content-Type", "a"), ("X-One", "1"), ("content-type", "b")])
        #expect(h["CONTENT-TYPE"] == "a")
        #expect(h.values("Content-type") == ["a", "b"])
        h.set(name: "Content-Type", value: "c")
        #expect(h.fields.map(\.name) == ["Content-Type", "X-One"])
        #expect(h["content-type"] == "c")
        h.set(name: "New", value: "n")
        #expect(h.fields.map(\.value) == ["c", "1", "n"])
        h.remove(name: "x-one")
        #expect(h.count == 2 && h["X-One"] == nil)
    }

    @Test func tokensSplitListsAndLowercase() {
        let h = HTTPHeaders([("Connection", " Keep-Alive , Upgrade"), ("connection", "CLOSE,,")])
        #expect(h.tokens("Connection") == ["keep-alive", "upgrade", "close"])
    }

    @Test func contentLengthRules() {
        func cl(_ values: [String]) -> UInt64?? {
            switch contentLength(of: HTTPHeaders(values.map { ("Content-Length", $0) })) {
            case .success(let v): return .some(v)
            case .failure: return .none
            }
        }
        #expect(cl([]) == .some(nil))
        #expect(cl(["0"]) == .some(0))
        #expect(cl(["42", "42"]) == .some(42))
        #expect(cl(["42, 42"]) == .some(42))
        #expect(cl(["9223372036854775807"]) == .some(UInt64(Int64.max)))
        #expect(cl(["9223372036854775808"]) == .none)
        #expect(cl(["+1"]) == .none)
        #expect(cl([""]) == .none)
        #expect(cl(["1 2"]) == .none)
        #expect(cl(["42", "43"]) == .none)
    }

    @Test func htmlEscapingCoversMarkupCharacters() {
        #expect(htmlEscape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}
