// Shared HTTP/1.x vocabulary for the server and client sides: versions, methods,
// status codes, header fields and the byte-level helpers both parsers use.
// Pure Swift, no Foundation: everything works on bytes.

/// HTTP version from the start line. Only major version 1 is spoken.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// Request method. Only GET and HEAD are served; anything else gets 405 with `Allow: GET, HEAD`.
public enum HTTPMethod: Hashable, Sendable, CustomStringConvertible {
    case get
    case head
    case other(String)

    public init(_ token: String) {
        switch token {
        case "GET": self = .get
        case "HEAD": self = .head
        default: self = .other(token)
        }
    }

    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .other(let s): s
        }
    }
}

/// A status code with its reason phrase.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public init(code: Int, reason: String) { self.code = code; self.reason = reason }

    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let movedPermanently = HTTPStatus(code: 301, reason: "Moved Permanently")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")

    public var description: String { "\(code) \(reason)" }
}

/// Header fields in arrival order. Names keep their original spelling; lookups are
/// case-insensitive (ASCII), as RFC 9110 §5.1 requires.
public struct HTTPHeaders: Equatable, Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(_ fields: [(String, String)]) {
        for (n, v) in fields { append(name: n, value: v) }
    }

    public var count: Int { fields.count }

    public mutating func append(name: String, value: String) { fields.append((name, value)) }

    /// Replaces every field called `name` with one field (appended at the end when absent).
    public mutating func set(name: String, value: String) {
        if let i = fields.firstIndex(where: { asciiCaseInsensitiveEqual($0.name, name) }) {
            fields[i].value = value
            var j = fields.count - 1
            while j > i {
                if asciiCaseInsensitiveEqual(fields[j].name, name) { fields.remove(at: j) }
                j -= 1
            }
        } else {
            fields.append((name, value))
        }
    }

    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEqual($0.name, name) }
    }

    /// First value of the field called `name`.
    public subscript(name: String) -> String? {
        fields.first { asciiCaseInsensitiveEqual($0.name, name) }?.value
    }

    /// Every value of the field called `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEqual($0.name, name) }.map(\.value)
    }

    /// Comma-separated list elements of every field called `name`, trimmed and lower-cased
    /// (for `Connection`, `Transfer-Encoding`).
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }
            .map { asciiLowercased(trimOWS(Substring($0))) }
            .filter { !$0.isEmpty }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

// MARK: - Byte helpers shared by the parsers

@usableFromInline let CR: UInt8 = 13
@usableFromInline let LF: UInt8 = 10
@usableFromInline let SP: UInt8 = 32
@usableFromInline let HTAB: UInt8 = 9

/// RFC 9110 `tchar`: the characters of a token (method, header name).
@inlinable func isTokenChar(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

/// Field-value bytes: visible ASCII, SP, HTAB and obs-text (0x80...0xFF). No CR, LF or NUL.
@inlinable func isFieldValueByte(_ b: UInt8) -> Bool {
    b == HTAB || (b >= 0x20 && b != 0x7F)
}

func asciiLowercased(_ s: some StringProtocol) -> String {
    String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
}

func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) {
        let lp = (p >= 65 && p <= 90) ? p + 32 : p
        let lq = (q >= 65 && q <= 90) ? q + 32 : q
        if lp != lq { return false }
    }
    return true
}

func trimOWS(_ s: Substring) -> String {
    var u = s.utf8[...]
    while let f = u.first, f == SP || f == HTAB { u = u.dropFirst() }
    while let l = u.last, l == SP || l == HTAB { u = u.dropLast() }
    return String(decoding: u, as: UTF8.self)
}

/// Strict decimal for Content-Length: 1...19 digits, no sign, no spaces, fits in Int64.
func parseDecimalLength(_ s: String) -> UInt64? {
    let u = s.utf8
    guard !u.isEmpty, u.count <= 19 else { return nil }
    var v: UInt64 = 0
    for b in u {
        guard b >= 48 && b <= 57 else { return nil }
        v = v * 10 + UInt64(b - 48)
    }
    return v <= UInt64(Int64.max) ? v : nil
}

/// Content-Length as RFC 9112 §6.3 allows it: one value, or a list/repeated fields that all
/// carry the same value. Returns nil when absent, throws when invalid or conflicting.
func contentLength(of headers: HTTPHeaders) -> Result<UInt64?, ContentLengthProblem> {
    let raw = headers.values("Content-Length")
    if raw.isEmpty { return .success(nil) }
    var found: UInt64?
    for field in raw {
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = parseDecimalLength(trimOWS(part)) else { return .failure(.invalid) }
            if let f = found, f != v { return .failure(.invalid) }
            found = v
        }
    }
    return .success(found)
}

enum ContentLengthProblem: Error { case invalid }

/// Line framing shared by the request and response parsers: a line ends at LF; an optional
/// CR right before it is part of the terminator; a CR anywhere else makes the line invalid.
/// `limit` counts the bytes before the terminator.
struct LineBuffer {
    var bytes: [UInt8] = []
    var start = 0
    /// Bytes before this index (from `start`) are known to hold no LF: a line fed one byte at
    /// a time is scanned once, not once per byte.
    private var scanned = 0

    var buffered: Int { bytes.count - start }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if start > 0 && start >= bytes.count / 2 {
            bytes.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
        bytes.append(contentsOf: chunk)
    }

    /// Position of the next LF at or after `start`.
    mutating func indexOfLF() -> Int? {
        var i = max(start, scanned)
        while i < bytes.count {
            if bytes[i] == LF { scanned = i; return i }
            i += 1
        }
        scanned = i
        return nil
    }

    /// Drops up to `n` buffered bytes; returns how many were dropped.
    mutating func skip(upTo n: UInt64) -> Int {
        let k = Int(min(UInt64(buffered), n))
        start += k
        if start == bytes.count { bytes.removeAll(keepingCapacity: true); start = 0; scanned = 0 }
        return k
    }

    /// Removes the line ending at `lf` and returns its content without the terminator,
    /// or nil (still consumed) when it holds a bare CR.
    mutating func takeLine(endingAt lf: Int) -> ArraySlice<UInt8>? {
        var end = lf
        if end > start && bytes[end - 1] == CR { end -= 1 }
        let line = bytes[start..<end]
        start = lf + 1
        if line.contains(CR) { return nil }
        return line
    }

    /// Length of the line ending at `lf`, without its terminator.
    func lineLength(endingAt lf: Int) -> Int {
        var end = lf
        if end > start && bytes[end - 1] == CR { end -= 1 }
        return end - start
    }
}

/// Parses `name: value` (RFC 9112 §5). Returns nil for anything malformed: empty or
/// non-token name, whitespace before the colon, obs-fold (leading whitespace), bad value bytes.
func parseHeaderLine(_ line: ArraySlice<UInt8>) -> (String, String)? {
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else { return nil }
    let name = line[line.startIndex..<colon]
    guard name.allSatisfy(isTokenChar) else { return nil }
    var v = line[(colon + 1)...]
    while let f = v.first, f == SP || f == HTAB { v = v.dropFirst() }
    while let l = v.last, l == SP || l == HTAB { v = v.dropLast() }
    guard v.allSatisfy(isFieldValueByte) else { return nil }
    return (String(decoding: name, as: UTF8.self), String(decoding: v, as: UTF8.self))
}

extension [UInt8] {
    mutating func appendASCII(_ s: String) { append(contentsOf: s.utf8) }
}
