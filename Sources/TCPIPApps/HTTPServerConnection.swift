// One HTTP server connection as a sans-IO state machine: bytes in, actions out.
//
// Wiring it to a byte stream (the later TCPStream) is a loop:
//
//     var conn = HTTPServerConnection(site: site)
//     while let chunk = try await stream.read() {          // nil at end of input
//         conn.receive(chunk)
//         while let action = conn.nextAction(date: now) { try await perform(action) }
//         if conn.isClosed { break }
//     }
//     conn.receiveEnd(); while let action = conn.nextAction(date: now) { try await perform(action) }
//
// where `perform` writes `.write` bytes, streams `.sendFile` with `FileChunkReader`, and
// closes on `.close`. Perform each action before asking for the next: responses come out
// in request order (pipelining), one at a time, so nothing queues up inside.
//
// Routing order for a request: method (not GET/HEAD -> 405 with Allow), then target
// (malformed -> 400, traversal -> 404), then the site (404, 403, 500 or content).
// Parse errors (400, 414, 431, 501, 505) answer with `Connection: close` and close.
//
// On `.close` with unread input still arriving (a parse error mid-pipeline), a TCP close
// with unread data sends RST (RFC 9293 §3.6 / RFC 2525) and the client may lose the error
// response: the runtime should half-close (FIN after the response), then drain input for a
// short bounded time before the full close ("lingering close").

/// What a site has at a path.
public enum HTTPSiteResource<File> {
    case notFound
    case forbidden
    /// The site failed (I/O error): 500.
    case failed
    case content(contentType: String, body: [UInt8])
    case file(File, contentType: String, size: UInt64)
    /// 301 to `location` (an absolute path, already percent-encoded), e.g. a directory
    /// asked for without its trailing `/`, so relative links in its page resolve inside it.
    case redirect(location: String)
}

/// A set of resources addressed by decoded path segments.
public protocol HTTPSite {
    associatedtype File
    func resolve(_ path: HTTPRequestPath) -> HTTPSiteResource<File>
}

/// What the connection wants done, in order.
public enum HTTPServerAction<File> {
    /// Write these bytes.
    case write([UInt8])
    /// Write `length` bytes of the file from `offset` (the head was the previous `.write`).
    /// If the file yields fewer bytes, close the connection: the Content-Length was promised.
    case sendFile(File, offset: UInt64, length: UInt64)
    /// Close the connection (after everything before it was written).
    case close
}

public struct HTTPServerConnection<Site: HTTPSite> {
    public let site: Site
    public let writer: HTTPResponseWriter
    private var parser: HTTPRequestParser
    private var queued: [HTTPServerAction<Site.File>] = []
    private var inputEnded = false
    public private(set) var isClosed = false
    /// Responses produced so far (including error responses).
    public private(set) var responseCount = 0
    /// Status of the latest response (for access logs and counters).
    public private(set) var lastStatus: HTTPStatus?

    public init(site: Site, writer: HTTPResponseWriter = HTTPResponseWriter(), limits: HTTPRequestLimits = HTTPRequestLimits()) {
        self.site = site
        self.writer = writer
        self.parser = HTTPRequestParser(limits: limits)
    }

    /// Bytes from the client.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        if isClosed || inputEnded { return }
        parser.feed(bytes)
    }

    public mutating func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// The client closed its side: answer what is complete, then close.
    public mutating func receiveEnd() {
        inputEnded = true
    }

    /// Between requests with nothing pending: a keep-alive idle timeout may close now
    /// without cutting a request or response short.
    public var isIdle: Bool { !isClosed && queued.isEmpty && parser.isIdle }

    /// Body bytes of requests read and discarded.
    public var discardedBodyBytes: UInt64 { parser.discardedBodyBytes }

    /// The next thing to do, nil when more input is needed (or after `.close`).
    /// - Parameter date: seconds since the Unix epoch for the Date field (nil: no Date).
    public mutating func nextAction(date: Int64? = nil) -> HTTPServerAction<Site.File>? {
        if !queued.isEmpty { return queued.removeFirst() }
        if isClosed { return nil }
        let request: HTTPRequest
        do {
            guard let r = try parser.next() else {
                if inputEnded { isClosed = true; return .close }
                return nil
            }
            request = r
        } catch {
            let response = writer.errorResponse(error.status, keepAlive: false, date: date)
            record(response.status)
            isClosed = true
            queued.append(.close)
            return .write(response.bytes)
        }
        respond(to: request, date: date)
        if !request.keepAlive {
            isClosed = true
            queued.append(.close)
        }
        return queued.removeFirst()
    }

    private mutating func record(_ status: HTTPStatus) {
        responseCount += 1
        lastStatus = status
    }

    private mutating func respond(to request: HTTPRequest, date: Int64?) {
        let isHead = request.method == .head
        func error(_ status: HTTPStatus) -> HTTPServerAction<Site.File> {
            let r = writer.errorResponse(status, isHead: isHead, keepAlive: request.keepAlive,
                                         requestVersion: request.version, date: date)
            return .write(r.bytes)
        }
        guard request.method == .get || isHead else {
            record(.methodNotAllowed)
            queued.append(error(.methodNotAllowed))
            return
        }
        let path: HTTPRequestPath
        switch HTTPRequestPath.parse(request.target) {
        case .failure(let e):
            record(e.status)
            queued.append(error(e.status))
            return
        case .success(let p):
            path = p
        }
        switch site.resolve(path) {
        case .notFound:
            record(.notFound); queued.append(error(.notFound))
        case .forbidden:
            record(.forbidden); queued.append(error(.forbidden))
        case .failed:
            record(.internalServerError); queued.append(error(.internalServerError))
        case .content(let type, let body):
            let r = writer.response(status: .ok, contentType: type, body: body, isHead: isHead,
                                    keepAlive: request.keepAlive, requestVersion: request.version, date: date)
            record(.ok)
            queued.append(.write(r.bytes))
        case .redirect(let location):
            let r = writer.redirectResponse(location: location, isHead: isHead, keepAlive: request.keepAlive,
                                            requestVersion: request.version, date: date)
            record(.movedPermanently)
            queued.append(.write(r.bytes))
        case .file(let file, let type, let size):
            let head = writer.head(status: .ok, contentType: type, contentLength: size, keepAlive: request.keepAlive,
                                   requestVersion: request.version, date: date)
            record(.ok)
            queued.append(.write(head))
            if !isHead && size > 0 { queued.append(.sendFile(file, offset: 0, length: size)) }
        }
    }
}

/// The page served when no root directory is given: HTML with an inline SVG and an
/// `<img>` of a 16x16 PNG at `/logo.png`, so a browser test can check both render.
/// `/` and `/index.html` -> the page, `/logo.png`, `/logo.svg`; anything else 404.
public struct BuiltinSite: HTTPSite, Sendable {
    public typealias File = Never

    public init() {}

    public static let logoSVG: [UInt8] = Array("""
        <svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\
        <rect width="64" height="64" rx="12" fill="#F05138"/>\
        <path d="M14 40 L30 24 L34 28 L50 14" stroke="#FFFFFF" stroke-width="6" fill="none"/>\
        </svg>

        """.utf8)

    /// A 16x16 RGB PNG (orange with a white diagonal).
    public static let logoPNG: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68,
        0x36, 0x00, 0x00, 0x00, 0x5B, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x95, 0xD2, 0x0D, 0x0A, 0x00,
        0x10, 0x0C, 0x86, 0xE1, 0xF7, 0x58, 0xAE, 0xE1, 0xFE, 0x97, 0x70, 0x03, 0x44, 0x24, 0x3F, 0xDB,
        0x67, 0x11, 0x5B, 0x3D, 0x09, 0x23, 0xB7, 0x48, 0x31, 0x88, 0x83, 0x3C, 0x42, 0x05, 0x75, 0x7E,
        0x19, 0xFA, 0xA2, 0x1B, 0xE6, 0x4E, 0x34, 0xAC, 0x89, 0x62, 0xD8, 0x72, 0xD7, 0x70, 0x96, 0x6C,
        0xC3, 0xB5, 0x6A, 0x18, 0x5E, 0x47, 0xBF, 0x0C, 0xC6, 0xFD, 0xAE, 0x06, 0xFB, 0x11, 0x4F, 0x83,
        0xFB, 0x53, 0x9B, 0x41, 0x69, 0x87, 0xD5, 0x20, 0xF6, 0xDC, 0x34, 0xE8, 0x8D, 0xDD, 0x41, 0x01,
        0xCB, 0xD4, 0xBE, 0xC8, 0x06, 0xAF, 0xA8, 0xF9, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44,
        0xAE, 0x42, 0x60, 0x82,
    ]

    public static let indexHTML: [UInt8] = Array("""
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>swift-tcpip</title></head>
        <body>
        <h1 id="title">Hello from swift-tcpip</h1>
        <p id="message">This page was served over a TCP/IP stack written in Swift, running in user space.</p>
        <p><img id="logo" src="/logo.png" alt="swift-tcpip logo" width="64" height="64"></p>
        <p id="inline-logo">\(String(decoding: logoSVG, as: UTF8.self))</p>
        </body>
        </html>

        """.utf8)

    public func resolve(_ path: HTTPRequestPath) -> HTTPSiteResource<Never> {
        switch path.segments {
        case [], ["index.html"]: .content(contentType: MediaType.html, body: Self.indexHTML)
        case ["logo.png"]: .content(contentType: "image/png", body: Self.logoPNG)
        case ["logo.svg"]: .content(contentType: "image/svg+xml", body: Self.logoSVG)
        default: .notFound
        }
    }
}

extension HTTPSiteResource: Sendable where File: Sendable {}
extension HTTPServerAction: Sendable where File: Sendable {}
extension HTTPServerConnection: Sendable where Site: Sendable, Site.File: Sendable {}
