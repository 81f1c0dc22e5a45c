// Client side of `tcpip fetch`: URL, request bytes, an incremental response parser, and the
// decision what to do with a response head. Sans-IO.
//
// The response parser hands body bytes out as slices of the caller's input buffer (no copy,
// nothing buffered for the body); only head, chunk-size lines and trailers are buffered, each
// under a limit. Body framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204, 304; else
// `Transfer-Encoding` ending in `chunked` -> chunked (any other coding -> error); else
// Content-Length; else read until the connection closes. Interim 1xx responses (except 101)
// are skipped. Redirects are reported (`FetchDecision.redirect`), never followed.

/// `http://host[:port][/path][?query]` as `tcpip fetch` accepts it.
public struct HTTPURL: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    /// Path and query as sent in the request line (always starts with `/`).
    public var target: String

    public init(host: String, port: UInt16 = 80, target: String = "/") {
        self.host = host
        self.port = port
        self.target = target
    }

    public enum ParseError: Error, Equatable, Sendable {
        case unsupportedScheme
        case missingHost
        case invalidPort
        case invalidCharacter
    }

    /// Parses an http URL. The scheme must be `http`; userinfo and fragments are not allowed
    /// (a fragment is dropped). Bytes that may not appear in a request-target (controls,
    /// space, non-ASCII) are percent-encoded.
    public static func parse(_ text: String) -> Result<HTTPURL, ParseError> {
        let lower = asciiLowercased(text.prefix(7))
        guard lower == "http://" else { return .failure(.unsupportedScheme) }
        var rest = Substring(text.dropFirst(7))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<end]
        var target = String(rest[end...])
        if target.isEmpty || target.first == "?" { target = "/" + target }
        guard !authority.contains("@") else { return .failure(.invalidCharacter) }
        var host = Substring(authority)
        var port: UInt16 = 80
        if authority.first == "[" {
            // IPv6 literal: [addr]:port
            guard let close = authority.firstIndex(of: "]") else { return .failure(.missingHost) }
            host = authority[authority.startIndex...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":", let p = UInt16(after.dropFirst()), p > 0 else { return .failure(.invalidPort) }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            let p = authority[authority.index(after: colon)...]
            if !p.isEmpty {
                guard p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt16(p), v > 0 else { return .failure(.invalidPort) }
                port = v
            }
        }
        guard !host.isEmpty, host != "[]" else { return .failure(.missingHost) }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .failure(.invalidCharacter) }
        var encoded = ""
        for b in target.utf8 {
            if b <= 0x20 || b >= 0x7F {
                let hex = Array("0123456789ABCDEF")
                encoded.append("%"); encoded.append(hex[Int(b >> 4)]); encoded.append(hex[Int(b & 15)])
            } else {
                encoded.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return .success(HTTPURL(host: String(host), port: port, target: encoded))
    }

    /// The Host field value: the host, with `:port` unless the port is 80.
    public var hostField: String { port == 80 ? host : "\(host):\(port)" }

    public var description: String { "http://\(hostField)\(target)" }
}

/// The request `tcpip fetch` sends.
public enum HTTPClientRequest {
    /// `GET <target> HTTP/1.1` with Host, User-Agent, Accept and `Connection: close`.
    public static func get(_ url: HTTPURL, userAgent: String = "swift-tcpip-fetch/1", method: HTTPMethod = .get) -> [UInt8] {
        var out: [UInt8] = []
        out.appendASCII("\(method) \(url.target) HTTP/1.1\r\n")
        out.appendASCII("Host: \(url.hostField)\r\n")
        out.appendASCII("User-Agent: \(userAgent)\r\n")
        out.appendASCII("Accept: */*\r\n")
        out.appendASCII("Connection: close\r\n")
        out.appendASCII("\r\n")
        return out
    }
}

public struct HTTPResponseHead: Equatable, Sendable {
    public var version: HTTPVersion
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders

    public init(version: HTTPVersion, status: Int, reason: String, headers: HTTPHeaders) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// Content-Length when the body is framed by it (nil for chunked / until-close / no body).
    public var contentLength: UInt64? {
        if case .success(let v) = TCPIPApps.contentLength(of: headers) { return v }
        return nil
    }
}

public enum HTTPResponseError: Error, Equatable, Sendable {
    case malformedStatusLine
    case statusLineTooLong
    case unsupportedVersion
    case malformedHeader
    case headersTooLarge
    case tooManyHeaders
    case invalidContentLength
    /// Transfer-Encoding other than (… ,) chunked.
    case unsupportedTransferEncoding(String)
    /// 101 Switching Protocols: nothing we can follow.
    case unexpectedUpgrade
    case malformedChunkSize
    case chunkSizeTooLarge
    case chunkLineTooLong
    /// The CRLF after a chunk's data is missing.
    case malformedChunkEnd
    case malformedTrailer
    case trailersTooLarge
    /// The connection ended inside the head.
    case truncatedHead
    /// The connection ended before the body's framing said it ends.
    case truncatedBody(received: UInt64, expected: UInt64?)
}

public struct HTTPResponseLimits: Sendable, Equatable {
    public var maxStatusLineLength: Int
    public var maxHeaderLineLength: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    /// Chunk-size line including extensions.
    public var maxChunkLineLength: Int
    public var maxTrailerBytes: Int

    public init(maxStatusLineLength: Int = 8192, maxHeaderLineLength: Int = 16384, maxHeaderBytes: Int = 65536,
                maxHeaderCount: Int = 200, maxChunkLineLength: Int = 4096, maxTrailerBytes: Int = 16384) {
        self.maxStatusLineLength = maxStatusLineLength
        self.maxHeaderLineLength = maxHeaderLineLength
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineLength = maxChunkLineLength
        self.maxTrailerBytes = maxTrailerBytes
    }
}

/// What the parser found, in order: one `.head`, any number of `.body`, one `.end`.
public enum HTTPResponseEvent: Equatable {
    case head(HTTPResponseHead)
    /// Body bytes: a slice of the input passed to `next` (valid while that buffer is).
    case body(UnsafeRawBufferPointer)
    case end(trailers: HTTPHeaders)

    public static func == (a: HTTPResponseEvent, b: HTTPResponseEvent) -> Bool {
        switch (a, b) {
        case (.head(let x), .head(let y)): x == y
        case (.body(let x), .body(let y)): x.elementsEqual(y)
        case (.end(let x), .end(let y)): x == y
        default: false
        }
    }
}

public struct HTTPResponseParser: Sendable {
    private enum State {
        case statusLine
        case headers
        case fixedBody(remaining: UInt64)
        case untilClose
        case chunkSize
        case chunkData(remaining: UInt64)
        case chunkDataEnd
        case trailers
        case done
        case failed(HTTPResponseError)
    }

    public let limits: HTTPResponseLimits
    public let isResponseToHead: Bool
    private var state: State = .statusLine
    private var lines = LineBuffer()
    private var head: HTTPResponseHead?
    private var headers = HTTPHeaders()
    private var headerBytes = 0
    private var trailerBytes = 0
    /// Body bytes handed out so far.
    public private(set) var bodyBytes: UInt64 = 0
    /// Bytes that arrived after the end of the response (ignored).
    public private(set) var extraBytes: UInt64 = 0

    public init(limits: HTTPResponseLimits = HTTPResponseLimits(), isResponseToHead: Bool = false) {
        self.limits = limits
        self.isResponseToHead = isResponseToHead
    }

    public var isComplete: Bool { if case .done = state { true } else { false } }

    /// The next event from `input`, starting at `consumed` (advanced past what was used).
    /// Returns nil once all of `input` is consumed and more is needed. Line-oriented parts
    /// (head, chunk lines, trailers) are buffered inside; body bytes are slices of `input`.
    public mutating func next(_ input: UnsafeRawBufferPointer, consumed: inout Int) throws(HTTPResponseError) -> HTTPResponseEvent? {
        while true {
            switch state {
            case .failed(let e):
                throw e
            case .done:
                extraBytes += UInt64(input.count - consumed)
                consumed = input.count
                return nil
            case .fixedBody(let remaining):
                if remaining == 0 { state = .done; return .end(trailers: HTTPHeaders()) }
                guard let slice = takeBody(input, &consumed, max: remaining) else { return nil }
                state = .fixedBody(remaining: remaining - UInt64(slice.count))
                return .body(slice)
            case .untilClose:
                guard let slice = takeBody(input, &consumed, max: .max) else { return nil }
                return .body(slice)
            case .chunkData(let remaining):
                if remaining == 0 { state = .chunkDataEnd; continue }
                guard let slice = takeBody(input, &consumed, max: remaining) else { return nil }
                state = .chunkData(remaining: remaining - UInt64(slice.count))
                return .body(slice)
            case .statusLine, .headers, .chunkSize, .chunkDataEnd, .trailers:
                // Line-oriented: move input into the line buffer up to the first LF.
                guard let line = try takeLine(input, &consumed) else { return nil }
                if let event = try handleLine(line) { return event }
            }
        }
    }

    /// The connection ended. Returns `.end` when the body was read until close; throws when
    /// the response was cut short; nil when it had already ended.
    public mutating func finish() throws(HTTPResponseError) -> HTTPResponseEvent? {
        switch state {
        case .done: return nil
        case .failed(let e): throw e
        case .untilClose:
            state = .done
            return .end(trailers: HTTPHeaders())
        case .statusLine, .headers:
            return try fail(.truncatedHead)
        case .fixedBody(let remaining):
            return try fail(.truncatedBody(received: bodyBytes, expected: bodyBytes + remaining))
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            return try fail(.truncatedBody(received: bodyBytes, expected: nil))
        }
    }

    private mutating func fail(_ e: HTTPResponseError) throws(HTTPResponseError) -> HTTPResponseEvent? {
        state = .failed(e)
        lines = LineBuffer()
        throw e
    }

    private mutating func takeBody(_ input: UnsafeRawBufferPointer, _ consumed: inout Int, max: UInt64) -> UnsafeRawBufferPointer? {
        let available = input.count - consumed
        guard available > 0 else { return nil }
        let n = Int(min(UInt64(available), max))
        let slice = UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + n)])
        consumed += n
        bodyBytes += UInt64(n)
        return slice
    }

    private var currentLineLimit: Int {
        switch state {
        case .statusLine: limits.maxStatusLineLength
        case .headers: limits.maxHeaderLineLength
        case .chunkSize, .chunkDataEnd: limits.maxChunkLineLength
        default: limits.maxHeaderLineLength
        }
    }

    private func lineTooLongError() -> HTTPResponseError {
        switch state {
        case .statusLine: .statusLineTooLong
        case .chunkSize, .chunkDataEnd: .chunkLineTooLong
        case .trailers: .trailersTooLarge
        default: .headersTooLarge
        }
    }

    /// Moves bytes up to and including the next LF from input into the line buffer.
    /// Returns the completed line (without terminator), or nil when input ran out.
    private mutating func takeLine(_ input: UnsafeRawBufferPointer, _ consumed: inout Int) throws(HTTPResponseError) -> ArraySlice<UInt8>? {
        let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
        let lfIndex = rest.firstIndex(of: LF)
        let take = lfIndex.map { $0 + 1 } ?? rest.count
        let limit = currentLineLimit
        lines.append(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
        consumed += take
        guard lfIndex != nil, let lf = lines.indexOfLF() else {
            // k bytes without LF: the line is at least k-1 bytes long (a CR may end it) and
            // takes at least k+1 bytes with its terminator.
            let k = lines.buffered
            if k - 1 > limit { _ = try fail(lineTooLongError()) }
            if case .headers = state, headerBytes + k + 1 > limits.maxHeaderBytes { _ = try fail(.headersTooLarge) }
            if case .trailers = state, trailerBytes + k + 1 > limits.maxTrailerBytes { _ = try fail(.trailersTooLarge) }
            return nil
        }
        let total = lf + 1 - lines.start
        if lines.lineLength(endingAt: lf) > limit { _ = try fail(lineTooLongError()) }
        switch state {
        case .headers:
            if headerBytes + total > limits.maxHeaderBytes { _ = try fail(.headersTooLarge) }
            headerBytes += total
        case .trailers:
            if trailerBytes + total > limits.maxTrailerBytes { _ = try fail(.trailersTooLarge) }
            trailerBytes += total
        default: break
        }
        guard let line = lines.takeLine(endingAt: lf) else {
            switch state {
            case .statusLine: _ = try fail(.malformedStatusLine)
            case .headers: _ = try fail(.malformedHeader)
            case .trailers: _ = try fail(.malformedTrailer)
            default: _ = try fail(.malformedChunkSize)
            }
            return nil
        }
        return line
    }

    private mutating func handleLine(_ line: ArraySlice<UInt8>) throws(HTTPResponseError) -> HTTPResponseEvent? {
        switch state {
        case .statusLine:
            // "HTTP/1.x SP 3DIGIT SP reason" (reason may be empty; "HTTP/1.1 200" tolerated).
            let b = Array(line)
            guard b.count >= 12, b[0..<5].elementsEqual("HTTP/".utf8), b[6] == UInt8(ascii: "."), b[8] == SP,
                  (48...57).contains(b[5]), (48...57).contains(b[7]),
                  b[9...11].allSatisfy({ (48...57).contains($0) }), b.count == 12 || b[12] == SP else {
                return try fail(.malformedStatusLine)
            }
            guard b[5] == UInt8(ascii: "1") else { return try fail(.unsupportedVersion) }
            let status = Int(b[9] - 48) * 100 + Int(b[10] - 48) * 10 + Int(b[11] - 48)
            let reason = b.count > 13 ? String(decoding: b[13...], as: UTF8.self) : ""
            head = HTTPResponseHead(version: HTTPVersion(major: 1, minor: Int(b[7] - 48)), status: status, reason: reason, headers: HTTPHeaders())
            headers = HTTPHeaders()
            headerBytes = 0
            state = .headers
            return nil
        case .headers:
            if !line.isEmpty {
                guard let (n, v) = parseHeaderLine(line) else { return try fail(.malformedHeader) }
                if headers.count == limits.maxHeaderCount { return try fail(.tooManyHeaders) }
                headers.append(name: n, value: v)
                return nil
            }
            guard var h = head else { return try fail(.malformedStatusLine) }
            h.headers = headers
            headers = HTTPHeaders()
            if h.status >= 100 && h.status < 200 {
                if h.status == 101 { return try fail(.unexpectedUpgrade) }
                state = .statusLine // interim response: skip it
                return nil
            }
            if isResponseToHead || h.status == 204 || h.status == 304 {
                state = .fixedBody(remaining: 0)
                return .head(h)
            }
            let codings = h.headers.tokens("Transfer-Encoding")
            if !codings.isEmpty {
                guard codings.last == "chunked" else { return try fail(.unsupportedTransferEncoding(codings.joined(separator: ", "))) }
                if codings.count > 1 { return try fail(.unsupportedTransferEncoding(codings.joined(separator: ", "))) }
                state = .chunkSize
                return .head(h)
            }
            switch contentLength(of: h.headers) {
            case .failure: return try fail(.invalidContentLength)
            case .success(let v?): state = .fixedBody(remaining: v)
            case .success(nil): state = .untilClose
            }
            return .head(h)
        case .chunkSize:
            // chunk-size [ chunk-ext ] ; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
            var i = line.startIndex
            var size: UInt64 = 0
            var digits = 0
            while i < line.endIndex, let d = hexDigit(line[i]) {
                if size > (UInt64.max >> 4) || digits >= 16 { return try fail(.chunkSizeTooLarge) }
                size = size << 4 | UInt64(d)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return try fail(.malformedChunkSize) }
            if size > UInt64(Int64.max) { return try fail(.chunkSizeTooLarge) }
            let ext = line[i...]
            if !ext.isEmpty {
                let trimmed = ext.drop { $0 == SP || $0 == HTAB }
                guard trimmed.first == UInt8(ascii: ";"),
                      ext.allSatisfy({ $0 == HTAB || ($0 >= 0x20 && $0 != 0x7F) }) else { return try fail(.malformedChunkSize) }
            }
            if size == 0 {
                trailerBytes = 0
                headers = HTTPHeaders()
                state = .trailers
            } else {
                state = .chunkData(remaining: size)
            }
            return nil
        case .chunkDataEnd:
            guard line.isEmpty else { return try fail(.malformedChunkEnd) }
            state = .chunkSize
            return nil
        case .trailers:
            if line.isEmpty {
                state = .done
                let t = headers
                headers = HTTPHeaders()
                return .end(trailers: t)
            }
            guard let (n, v) = parseHeaderLine(line) else { return try fail(.malformedTrailer) }
            if headers.count == limits.maxHeaderCount { return try fail(.trailersTooLarge) }
            headers.append(name: n, value: v)
            return nil
        default:
            return nil
        }
    }
}

private func hexDigit(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - 48
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - 87
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - 55
    default: nil
    }
}

/// What `tcpip fetch` does with a response head.
public enum FetchDecision: Equatable, Sendable {
    /// 2xx: save the body.
    case download(expectedLength: UInt64?)
    /// 3xx: report, do not follow (location nil when the server sent none).
    case redirect(status: Int, location: String?)
    /// 4xx/5xx (or anything else): fail with this one-line message.
    case failure(String)

    public init(_ head: HTTPResponseHead) {
        switch head.status {
        case 200..<300:
            self = .download(expectedLength: head.headers.values("Transfer-Encoding").isEmpty ? head.contentLength : nil)
        case 300..<400:
            self = .redirect(status: head.status, location: head.headers["Location"])
        default:
            self = .failure("server answered \(head.status)\(head.reason.isEmpty ? "" : " " + head.reason)")
        }
    }

    /// One line for the terminal.
    public var message: String {
        switch self {
        case .download(let n): n.map { "downloading \($0) bytes" } ?? "downloading (length unknown)"
        case .redirect(let s, let l): "redirect \(s) to \(l ?? "(no Location)") not followed"
        case .failure(let m): m
        }
    }
}

/// Why a fetch failed. `message` is the one-line error `tcpip fetch` prints before exiting non-zero.
public enum HTTPFetchError: Error, Equatable, Sendable {
    case response(HTTPResponseError)
    case redirect(status: Int, location: String?)
    case status(Int, String)

    public var message: String {
        switch self {
        case .response(let e):
            switch e {
            case .truncatedHead: "connection closed before a complete response head"
            case .truncatedBody(let got, let expected?): "connection closed after \(got) of \(expected) body bytes"
            case .truncatedBody(let got, nil): "connection closed inside the chunked body after \(got) bytes"
            default: "invalid response: \(e)"
            }
        case .redirect(let s, let l): FetchDecision.redirect(status: s, location: l).message
        case .status(let code, let reason): "server answered \(code)\(reason.isEmpty ? "" : " " + reason)"
        }
    }
}

/// The client side of one `tcpip fetch`, sans-IO: send `request`, feed what arrives to
/// `receive`, call `receiveEnd` when the server closes. Body bytes go to the sink in order, as
/// slices of the input (no copy). A non-2xx head ends the fetch with an `HTTPFetchError`
/// (redirects reported, not followed).
///
///     var fetch = HTTPFetch(url: url)
///     try await stream.write(fetch.request)
///     while let bytes = try await stream.read() { try fetch.receive(bytes) { file.write($0) } }
///     try fetch.receiveEnd { file.write($0) }
public struct HTTPFetch: Sendable {
    public let url: HTTPURL
    public let request: [UInt8]
    private var parser: HTTPResponseParser
    public private(set) var head: HTTPResponseHead?
    /// Content-Length when the server sent one (for the progress line's total and ETA).
    public private(set) var expectedLength: UInt64?
    public private(set) var trailers = HTTPHeaders()
    public private(set) var isComplete = false

    public init(url: HTTPURL, userAgent: String = "swift-tcpip-fetch/1", limits: HTTPResponseLimits = HTTPResponseLimits()) {
        self.url = url
        self.request = HTTPClientRequest.get(url, userAgent: userAgent)
        self.parser = HTTPResponseParser(limits: limits)
    }

    /// Body bytes delivered so far.
    public var bodyBytes: UInt64 { parser.bodyBytes }

    /// Feeds bytes from the connection. Throws `HTTPFetchError`, or what `sink` throws.
    public mutating func receive(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var consumed = 0
        while true {
            let event: HTTPResponseEvent?
            do { event = try parser.next(input, consumed: &consumed) } catch { throw HTTPFetchError.response(error) }
            guard let event else { return }
            try handle(event, sink: sink)
        }
    }

    public mutating func receive(_ input: [UInt8], sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try input.withUnsafeBytes { try receive($0, sink: sink) }
    }

    /// The server closed the connection: completes a read-until-close body, or throws when
    /// the response was cut short.
    public mutating func receiveEnd(sink: (UnsafeRawBufferPointer) throws -> Void = { _ in }) throws {
        let event: HTTPResponseEvent?
        do { event = try parser.finish() } catch { throw HTTPFetchError.response(error) }
        if let event { try handle(event, sink: sink) }
        if !isComplete { throw HTTPFetchError.response(.truncatedHead) }
    }

    private mutating func handle(_ event: HTTPResponseEvent, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch event {
        case .head(let h):
            head = h
            switch FetchDecision(h) {
            case .download(let length): expectedLength = length
            case .redirect(let s, let l): throw HTTPFetchError.redirect(status: s, location: l)
            case .failure: throw HTTPFetchError.status(h.status, h.reason)
            }
        case .body(let bytes):
            try sink(bytes)
        case .end(let t):
            trailers = t
            isComplete = true
        }
    }
}
