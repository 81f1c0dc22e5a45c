import TCPIPApps
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `tcpip serve http`: the glue between one `TCPStream` and the sans-IO
/// `HTTPServerConnection` (TCPIPApps). Read -> receive, then perform every action in order:
/// `.write` writes, `.sendFile` streams the file chunk by chunk (one `FileChunkReader`
/// buffer and one reused send array per connection, so memory stays at one chunk whatever
/// the file size), `.close` half-closes, drains what the client still sends (bounded), then
/// closes. Connections are kept alive between requests; a connection that sends nothing for
/// `idleTimeout` (between requests or inside one) is closed, one whose single write (at most
/// one chunk) does not fit in its send buffer within `idleTimeout` (it stopped reading) is reset.
enum ServeHTTP {
    /// Bytes per file chunk (and per write).
    static let chunkSize = 256 * 1024
    /// After `.close`: how long, and how many bytes, we read and discard before the full close.
    static let lingerTime: Duration = .seconds(2)
    static let lingerBytes = 256 * 1024

    static func handle<Site: HTTPSite>(_ stream: TCPStream, site: Site, idleTimeout: Duration) async where Site.File == OpenFile {
        var connection = HTTPServerConnection(site: site)
        var reader: FileChunkReader?
        // Reused for every chunk: once `write` returns, the stack holds no reference to it,
        // so clearing and refilling it keeps its storage (no reallocation per chunk).
        var chunk: [UInt8] = []
        chunk.reserveCapacity(chunkSize)

        /// Performs the pending actions; false once the connection is to close.
        func drain() async throws -> Bool {
            while let action = connection.nextAction(date: Int64(time(nil))) {
                switch action {
                case .write(let bytes):
                    guard try await write(stream, bytes, within: idleTimeout) else { stream.abort(); return false }
                case .sendFile(let file, let offset, let length):
                    if let reader { reader.reset(file: file, offset: offset, length: length) }
                    else { reader = FileChunkReader(file: file, offset: offset, length: length, chunkSize: chunkSize) }
                    do {
                        while let piece = try reader!.nextChunk() {
                            chunk.removeAll(keepingCapacity: true)
                            chunk.append(contentsOf: piece)
                            guard try await write(stream, chunk, within: idleTimeout) else { stream.abort(); return false }
                        }
                    } catch is StaticFileError {
                        // Fewer bytes than the Content-Length promised: the client must see
                        // the response cut short, so reset rather than close cleanly.
                        stream.abort()
                        return false
                    }
                case .close:
                    await linger(stream)
                    return false
                }
            }
            return true
        }

        do {
            while true {
                guard let bytes = try await read(stream, within: idleTimeout) else {
                    stream.close()
                    return
                }
                if bytes.isEmpty {
                    connection.receiveEnd()
                    if try await drain() { stream.close() }
                    return
                }
                connection.receive(bytes)
                if try await !drain() { return }
            }
        } catch {
            stream.abort()
        }
    }

    /// One read, or nil when nothing arrived within `timeout`.
    static func read(_ stream: TCPStream, within timeout: Duration) async throws -> [UInt8]? {
        try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await stream.read(maxBytes: 65536) }
            group.addTask { try await Task.sleep(for: timeout); return nil }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// One write, false when the client took none of it for `timeout` (it stopped reading:
    /// a zero window probed forever would otherwise hold the connection for good).
    static func write(_ stream: TCPStream, _ bytes: [UInt8], within timeout: Duration) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await stream.write(bytes); return true }
            group.addTask { try await Task.sleep(for: timeout); return false }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// "Lingering close": FIN after the response, then read and drop what the client still
    /// sends (a pipelined request after an error) until its FIN, `lingerBytes` or
    /// `lingerTime`, so the full close does not turn into a RST that could destroy the
    /// response before the client read it (RFC 9293 §3.6, RFC 2525 §2.17).
    static func linger(_ stream: TCPStream) async {
        stream.shutdownWrite()
        let deadline = ContinuousClock.now + lingerTime
        var dropped = 0
        while dropped < lingerBytes {
            let left = deadline - ContinuousClock.now
            guard left > .zero, let bytes = try? await read(stream, within: left), !bytes.isEmpty else { break }
            dropped += bytes.count
        }
        stream.close()
    }
}

/// `BuiltinSite` with the file type `OpenFile`, so one generic handler serves both sites.
struct BuiltinFileSite: HTTPSite, Sendable {
    typealias File = OpenFile
    let base = BuiltinSite()

    func resolve(_ path: HTTPRequestPath) -> HTTPSiteResource<OpenFile> {
        switch base.resolve(path) {
        case .notFound: return .notFound
        case .forbidden: return .forbidden
        case .failed: return .failed
        case .content(let type, let body): return .content(contentType: type, body: body)
        case .redirect(let location): return .redirect(location: location)
        case .file(let never, _, _): switch never {}
        }
    }
}
