// Response heads and small complete responses (error pages, generated pages), as bytes.
//
// Every response is `HTTP/1.1` (RFC 9110 §6.2: a server sends its own highest version).
// Header order: Date (only when a time is given), Server, Content-Type, Content-Length,
// extra fields (e.g. Allow), Connection. `Connection: close` when the connection ends after
// this response; `Connection: keep-alive` when a 1.0 client asked for keep-alive; nothing
// otherwise (1.1 keeps the connection by default). A HEAD response carries exactly the
// head a GET would (same Content-Length), and no body.

/// Content-Type for a file name, from its extension (ASCII case-insensitive).
public enum MediaType {
    public static let html = "text/html; charset=utf-8"
    public static let octetStream = "application/octet-stream"

    public static func forFileName(_ name: String) -> String {
        let base = name.split(separator: "/").last ?? Substring(name)
        guard let dot = base.lastIndex(of: ".") else { return octetStream }
        let ext = asciiLowercased(base[base.index(after: dot)...])
        switch ext {
        case "html", "htm": return html
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "svg": return "image/svg+xml"
        case "txt": return "text/plain; charset=utf-8"
        case "json": return "application/json"
        case "wasm": return "application/wasm"
        default: return octetStream
        }
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7) from seconds since 1970-01-01T00:00:00Z, without Foundation.
public enum HTTPDate {
    public static func format(unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86400 : (unixSeconds - 86399) / 86400
        let secondsOfDay = unixSeconds - days * 86400
        // Civil-from-days (proleptic Gregorian calendar, era of 400 years).
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int(((days % 7) + 7 + 4) % 7) // 1970-01-01 was a Thursday
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let h = secondsOfDay / 3600, m = (secondsOfDay % 3600) / 60, s = secondsOfDay % 60
        return "\(names[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) \(two(h)):\(two(m)):\(two(s)) GMT"
    }
}

/// A complete small response: head bytes and body bytes (empty for HEAD).
public struct HTTPResponse: Equatable, Sendable {
    public var status: HTTPStatus
    public var head: [UInt8]
    public var body: [UInt8]
    public var bytes: [UInt8] { head + body }
}

public struct HTTPResponseWriter: Sendable {
    public var serverName: String

    public init(serverName: String = "swift-tcpip") {
        self.serverName = serverName
    }

    /// The head of a response whose body is `contentLength` bytes.
    /// - Parameters:
    ///   - keepAlive: whether the connection stays open after this response.
    ///   - requestVersion: the request's version (1.0 clients get `Connection: keep-alive`).
    ///   - date: seconds since the Unix epoch for the Date field; nil leaves Date out.
    public func head(status: HTTPStatus, contentType: String?, contentLength: UInt64, keepAlive: Bool,
                     requestVersion: HTTPVersion = .http1_1, date: Int64? = nil,
                     extraHeaders: HTTPHeaders = HTTPHeaders()) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.appendASCII("HTTP/1.1 \(status.code) \(status.reason)\r\n")
        if let date { out.appendASCII("Date: \(HTTPDate.format(unixSeconds: date))\r\n") }
        out.appendASCII("Server: \(serverName)\r\n")
        if let contentType { out.appendASCII("Content-Type: \(contentType)\r\n") }
        out.appendASCII("Content-Length: \(contentLength)\r\n")
        for (n, v) in extraHeaders { out.appendASCII("\(n): \(v)\r\n") }
        if !keepAlive {
            out.appendASCII("Connection: close\r\n")
        } else if requestVersion.minor == 0 {
            out.appendASCII("Connection: keep-alive\r\n")
        }
        out.appendASCII("\r\n")
        return out
    }

    /// A complete response with an in-memory body; HEAD gets the same head and no body.
    public func response(status: HTTPStatus, contentType: String, body: [UInt8], isHead: Bool, keepAlive: Bool,
                         requestVersion: HTTPVersion = .http1_1, date: Int64? = nil,
                         extraHeaders: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let h = head(status: status, contentType: contentType, contentLength: UInt64(body.count), keepAlive: keepAlive,
                     requestVersion: requestVersion, date: date, extraHeaders: extraHeaders)
        return HTTPResponse(status: status, head: h, body: isHead ? [] : body)
    }

    /// The HTML body of an error page (and of a redirect).
    public static func errorPageBody(_ status: HTTPStatus) -> [UInt8] {
        Array("<!DOCTYPE html>\n<html><head><title>\(status.code) \(status.reason)</title></head><body><h1>\(status.code) \(status.reason)</h1></body></html>\n".utf8)
    }

    /// An error page (400, 403, 404, 405, 414, 431, 500, 501, 505). 405 carries `Allow: GET, HEAD`.
    public func errorResponse(_ status: HTTPStatus, isHead: Bool = false, keepAlive: Bool,
                              requestVersion: HTTPVersion = .http1_1, date: Int64? = nil) -> HTTPResponse {
        var extra = HTTPHeaders()
        if status.code == 405 { extra.append(name: "Allow", value: "GET, HEAD") }
        return response(status: status, contentType: MediaType.html, body: Self.errorPageBody(status), isHead: isHead,
                        keepAlive: keepAlive, requestVersion: requestVersion, date: date, extraHeaders: extra)
    }
}

extension HTTPResponseWriter {
    /// 301 Moved Permanently with `Location: location` and the standard small HTML body.
    public func redirectResponse(location: String, isHead: Bool = false, keepAlive: Bool,
                                 requestVersion: HTTPVersion = .http1_1, date: Int64? = nil) -> HTTPResponse {
        var extra = HTTPHeaders()
        extra.append(name: "Location", value: location)
        return response(status: .movedPermanently, contentType: MediaType.html, body: Self.errorPageBody(.movedPermanently),
                        isHead: isHead, keepAlive: keepAlive, requestVersion: requestVersion, date: date, extraHeaders: extra)
    }
}

/// Escapes text for HTML element content and attribute values.
public func htmlEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}
