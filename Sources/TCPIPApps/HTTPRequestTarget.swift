// Request-target -> decoded path segments (RFC 9112 §3.2, RFC 3986 §2.1).
//
// Decisions:
// - origin-form (`/a/b?q`) and absolute-form (`http://host[:port]/a/b?q`, scheme http or
//   https, case-insensitive) are accepted; asterisk-form and authority-form are 400 (they
//   only go with OPTIONS and CONNECT, which are 405 anyway when the method is checked first).
// - The path is split at `/` BEFORE percent-decoding, then every segment is decoded, so
//   `%2F` can never introduce a separator.
// - Malformed escapes (`%`, `%4`, `%zz`), a decoded NUL, or decoded bytes that are not UTF-8
//   -> 400 (`.malformed`, `.encodedNUL`).
// - A segment that decodes to `..` (`..`, `%2e%2e`, `.%2E`, ...) or contains a decoded `/`
//   -> 404 (`.traversal`): it names nothing under the root, and we do not say more. This holds
//   even when the `..` would stay inside the root (`/a/../b`): clients normalise dot segments
//   themselves (RFC 3986 §5.2.4), so a `..` on the wire is never needed.
// - `.` segments and empty segments (`//`) are dropped; a trailing `/` is remembered.

public enum HTTPTargetError: Error, Equatable, Sendable {
    case malformed
    case encodedNUL
    case traversal

    public var status: HTTPStatus {
        switch self {
        case .malformed, .encodedNUL: .badRequest
        case .traversal: .notFound
        }
    }
}

public struct HTTPRequestPath: Equatable, Sendable {
    /// Decoded segments, without empty and `.` segments; never `..`, never containing `/` or NUL.
    public var segments: [String]
    /// The target's path ended with `/` (and was not just `/`).
    public var hasTrailingSlash: Bool
    /// Raw query after `?`, not decoded.
    public var query: String?
    /// Authority from an absolute-form target.
    public var authority: String?

    public init(segments: [String], hasTrailingSlash: Bool = false, query: String? = nil, authority: String? = nil) {
        self.segments = segments
        self.hasTrailingSlash = hasTrailingSlash
        self.query = query
        self.authority = authority
    }

    /// `/` + segments joined with `/` (+ `/` when the target had a trailing slash).
    public var path: String {
        "/" + segments.joined(separator: "/") + (hasTrailingSlash && !segments.isEmpty ? "/" : "")
    }

    public static func parse(_ target: String) -> Result<HTTPRequestPath, HTTPTargetError> {
        var bytes = Array(target.utf8)[...]
        var authority: String?
        if bytes.first != UInt8(ascii: "/") {
            let lower = asciiLowercased(String(decoding: bytes.prefix(8), as: UTF8.self))
            let schemeLength: Int
            if lower.hasPrefix("http://") { schemeLength = 7 }
            else if lower.hasPrefix("https://") { schemeLength = 8 }
            else { return .failure(.malformed) }
            bytes = bytes.dropFirst(schemeLength)
            let end = bytes.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
            let auth = bytes[bytes.startIndex..<end]
            if auth.isEmpty || auth.contains(UInt8(ascii: "@")) { return .failure(.malformed) }
            authority = String(decoding: auth, as: UTF8.self)
            bytes = bytes[end...]
            if bytes.first != UInt8(ascii: "/") {
                // `http://h` or `http://h?q`: the path is `/`.
                bytes = [UInt8(ascii: "/")] + bytes
            }
        }
        if bytes.contains(UInt8(ascii: "#")) { return .failure(.malformed) }
        var query: String?
        if let q = bytes.firstIndex(of: UInt8(ascii: "?")) {
            query = String(decoding: bytes[(q + 1)...], as: UTF8.self)
            bytes = bytes[..<q]
        }
        let rawSegments = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var segments: [String] = []
        for raw in rawSegments {
            switch percentDecode(raw) {
            case .failure(let e):
                return .failure(e)
            case .success(let decoded):
                if decoded.isEmpty || decoded == [UInt8(ascii: ".")] { continue }
                if decoded == [UInt8(ascii: "."), UInt8(ascii: ".")] || decoded.contains(UInt8(ascii: "/")) {
                    return .failure(.traversal)
                }
                guard let s = String(validating: decoded, as: UTF8.self) else { return .failure(.malformed) }
                segments.append(s)
            }
        }
        let trailing = bytes.count > 1 && bytes.last == UInt8(ascii: "/")
        return .success(HTTPRequestPath(segments: segments, hasTrailingSlash: trailing, query: query, authority: authority))
    }
}

private func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
    default: nil
    }
}

func percentDecode(_ raw: ArraySlice<UInt8>) -> Result<[UInt8], HTTPTargetError> {
    var out: [UInt8] = []
    out.reserveCapacity(raw.count)
    var i = raw.startIndex
    while i < raw.endIndex {
        let b = raw[i]
        if b == UInt8(ascii: "%") {
            guard i + 2 < raw.endIndex,
                  let h = hexValue(raw[i + 1]), let l = hexValue(raw[i + 2]) else { return .failure(.malformed) }
            let v = h << 4 | l
            if v == 0 { return .failure(.encodedNUL) }
            out.append(v)
            i += 3
        } else {
            out.append(b)
            i += 1
        }
    }
    return .success(out)
}

/// Percent-encodes a path segment for use in a URL (unreserved characters and sub-delims
/// other than `/`, `?`, `#` and `%` stay as they are).
public func percentEncodePathSegment(_ segment: String) -> String {
    var out = ""
    for b in segment.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
            UInt8(ascii: ":"), UInt8(ascii: "@"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex: [Character] = Array("0123456789ABCDEF")
            out.append("%")
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
    }
    return out
}
