// Incremental HTTP/1.x request parser (RFC 9112), sans-IO: feed it byte chunks of any
// size, pull complete requests out. Pipelined requests come out one by one, in order.
//
// Decisions (documented here and in the tests):
// - Request line longer than `maxRequestLineLength` -> 414 (RFC 9112 §3 says MUST 414 for
//   an over-long request-target; the request line is what we can measure incrementally).
// - One header line longer than `maxHeaderLineLength`, or all header lines together longer
//   than `maxHeaderBytes` -> 431; more than `maxHeaderCount` fields -> 431.
// - Limits are checked as bytes arrive, before a line ends, so a peer that never sends LF
//   cannot make us buffer more than the limit. The same input gives the same result
//   whatever the chunking (length checks run before syntax checks).
// - Empty lines before a request line are skipped (RFC 9112 §2.2).
// - Bare LF is accepted as a line end; a CR anywhere but right before LF is a 400.
// - obs-fold (a header line starting with whitespace), whitespace before the colon -> 400.
// - HTTP/1.1 without exactly one Host -> 400 (RFC 9112 §3.2). Major version != 1 -> 505.
// - `Transfer-Encoding` on a request -> 501 (we do not decode request bodies; with TE we
//   cannot find the end of the body, so the connection closes after the 501).
// - `Content-Length` body: the request is returned as soon as its head is complete; the
//   body's bytes are then read and discarded (counted in `discardedBodyBytes`).
// - Invalid or conflicting Content-Length -> 400.
// Every error is final: the parser stays failed and the server answers and closes.
// Memory: the parser holds what was fed and not yet consumed. Feed one read at a time and
// call `next()` until nil before feeding again; then it holds at most the head limits plus
// one read (body bytes are dropped as they come).

/// Limits on what one request head may hold.
public struct HTTPRequestLimits: Sendable, Equatable {
    public var maxRequestLineLength: Int
    public var maxHeaderLineLength: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int

    public init(maxRequestLineLength: Int = 8192, maxHeaderLineLength: Int = 8192,
                maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100) {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderLineLength = maxHeaderLineLength
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// Why a request could not be parsed; every case maps to the status the server answers with.
public enum HTTPRequestError: Error, Equatable, Sendable {
    case malformedRequestLine
    case requestLineTooLong
    case unsupportedVersion
    case malformedHeader
    case headerFieldsTooLarge
    case tooManyHeaders
    case missingOrDuplicateHost
    case invalidContentLength
    case transferEncodingNotImplemented

    public var status: HTTPStatus {
        switch self {
        case .malformedRequestLine, .malformedHeader, .missingOrDuplicateHost, .invalidContentLength: .badRequest
        case .requestLineTooLong: .uriTooLong
        case .headerFieldsTooLarge, .tooManyHeaders: .requestHeaderFieldsTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .transferEncodingNotImplemented: .notImplemented
        }
    }
}

/// One request head.
public struct HTTPRequest: Equatable, Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as sent (origin-form `/p?q`, absolute-form `http://h/p`, ...).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// Whether the connection stays open after the response (1.1 unless `Connection: close`;
    /// 1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool
    /// Body bytes that follow the head (the parser discards them).
    public var contentLength: UInt64

    public init(method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders,
                keepAlive: Bool, contentLength: UInt64) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
        self.contentLength = contentLength
    }
}

public struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        case requestLine
        case headers
        case body(remaining: UInt64)
        case failed(HTTPRequestError)
    }

    public let limits: HTTPRequestLimits
    private var state: State = .requestLine
    private var buffer = LineBuffer()
    private var pending: (method: HTTPMethod, target: String, version: HTTPVersion)?
    private var headers = HTTPHeaders()
    private var headerBytes = 0
    /// Body bytes read and thrown away so far, over all requests.
    public private(set) var discardedBodyBytes: UInt64 = 0

    public init(limits: HTTPRequestLimits = HTTPRequestLimits()) {
        self.limits = limits
    }

    /// Bytes fed but not yet consumed.
    public var bufferedBytes: Int { buffer.buffered }

    /// True between requests with nothing buffered: closing now loses nothing.
    public var isIdle: Bool {
        if case .requestLine = state { return buffer.buffered == 0 }
        return false
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if case .failed = state { return }
        buffer.append(bytes)
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next complete request head, nil when more bytes are needed.
    /// After an error, every call throws the same error.
    public mutating func next() throws(HTTPRequestError) -> HTTPRequest? {
        while true {
            switch state {
            case .failed(let e):
                throw e
            case .body(let remaining):
                let n = buffer.skip(upTo: remaining)
                discardedBodyBytes += UInt64(n)
                if UInt64(n) < remaining {
                    state = .body(remaining: remaining - UInt64(n))
                    return nil
                }
                state = .requestLine
            case .requestLine:
                guard let lf = buffer.indexOfLF() else {
                    // A line of k bytes without LF is at least k-1 bytes long (a CR may end it).
                    if buffer.buffered - 1 > limits.maxRequestLineLength { return try fail(.requestLineTooLong) }
                    return nil
                }
                if buffer.lineLength(endingAt: lf) > limits.maxRequestLineLength { return try fail(.requestLineTooLong) }
                guard let line = buffer.takeLine(endingAt: lf) else { return try fail(.malformedRequestLine) }
                if line.isEmpty { continue }
                switch parseRequestLine(line) {
                case .success(let p): pending = p
                case .failure(let e): return try fail(e)
                }
                headers = HTTPHeaders()
                headerBytes = 0
                state = .headers
            case .headers:
                guard let lf = buffer.indexOfLF() else {
                    let k = buffer.buffered
                    if k - 1 > limits.maxHeaderLineLength || headerBytes + k + 1 > limits.maxHeaderBytes {
                        return try fail(.headerFieldsTooLarge)
                    }
                    return nil
                }
                let length = buffer.lineLength(endingAt: lf)
                let total = lf + 1 - buffer.start
                if length > limits.maxHeaderLineLength || headerBytes + total > limits.maxHeaderBytes {
                    return try fail(.headerFieldsTooLarge)
                }
                guard let line = buffer.takeLine(endingAt: lf) else { return try fail(.malformedHeader) }
                headerBytes += total
                if line.isEmpty {
                    return try finishHead()
                }
                guard let (name, value) = parseHeaderLine(line) else { return try fail(.malformedHeader) }
                if headers.count == limits.maxHeaderCount { return try fail(.tooManyHeaders) }
                headers.append(name: name, value: value)
            }
        }
    }

    private mutating func fail(_ e: HTTPRequestError) throws(HTTPRequestError) -> HTTPRequest? {
        state = .failed(e)
        buffer = LineBuffer()
        throw e
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) -> Result<(HTTPMethod, String, HTTPVersion), HTTPRequestError> {
        let parts = line.split(separator: SP, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformedRequestLine) }
        let (m, t, v) = (parts[0], parts[1], parts[2])
        guard !m.isEmpty, m.allSatisfy(isTokenChar),
              !t.isEmpty, t.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .failure(.malformedRequestLine) }
        // "HTTP/" DIGIT "." DIGIT
        let vb = Array(v)
        guard vb.count == 8, vb[0..<5].elementsEqual("HTTP/".utf8), vb[6] == UInt8(ascii: "."),
              (48...57).contains(vb[5]), (48...57).contains(vb[7]) else { return .failure(.malformedRequestLine) }
        let version = HTTPVersion(major: Int(vb[5] - 48), minor: Int(vb[7] - 48))
        guard version.major == 1 else { return .failure(.unsupportedVersion) }
        return .success((HTTPMethod(String(decoding: m, as: UTF8.self)), String(decoding: t, as: UTF8.self), version))
    }

    private mutating func finishHead() throws(HTTPRequestError) -> HTTPRequest? {
        guard let (method, target, version) = pending else { return try fail(.malformedRequestLine) }
        pending = nil
        let hosts = headers.values("Host").count
        if hosts > 1 || (hosts == 0 && version.minor >= 1) { return try fail(.missingOrDuplicateHost) }
        if !headers.values("Transfer-Encoding").isEmpty { return try fail(.transferEncodingNotImplemented) }
        let length: UInt64
        switch contentLength(of: headers) {
        case .success(let v): length = v ?? 0
        case .failure: return try fail(.invalidContentLength)
        }
        let connection = headers.tokens("Connection")
        let keepAlive = connection.contains("close") ? false
            : (version.minor >= 1 ? true : connection.contains("keep-alive"))
        state = length > 0 ? .body(remaining: length) : .requestLine
        let request = HTTPRequest(method: method, target: target, version: version, headers: headers,
                                  keepAlive: keepAlive, contentLength: length)
        headers = HTTPHeaders()
        return request
    }
}
