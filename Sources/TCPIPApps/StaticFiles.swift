// The file-system piece of `tcpip serve http --root DIR` (the only file of TCPIPApps that
// touches the OS). Everything else in the module is sans-IO.
//
// Policy (what a request can reach):
// - The path arrives as decoded segments (HTTPRequestPath): never `..`, never `/` or NUL
//   inside a segment. So `..`, `%2e%2e` and friends are already 404 before we get here.
// - The candidate `root/seg/seg` is resolved with realpath(3) (every symlink followed) and
//   served only if the result is the root or below it (`root + "/"` prefix). A symlink
//   that leads out of the root -> 403 Forbidden (the name exists under the root, but what
//   it points to is not ours to serve). A name that does not exist -> 404; EACCES -> 403.
// - Directories: asked for without a trailing `/` -> 301 to the same path with `/` (query
//   kept), so relative links in its index page resolve inside it. With `/`: `index.html`
//   inside (same realpath + prefix check) if it is a regular file, else a generated HTML
//   listing (sorted by name, hrefs absolute and percent-encoded, names HTML-escaped; dot
//   files are listed and served like any other name).
// - Only regular files are served; FIFOs, sockets and devices -> 403 (opened with
//   O_NONBLOCK so a FIFO can never block us). A file path with a trailing `/` -> 404.
// - The file is opened once (O_NOFOLLOW on the already-resolved path) and its size taken
//   with fstat on that descriptor, so Content-Length and the streamed bytes agree even if
//   the name is replaced meanwhile. If the file shrinks while streaming, `FileChunkReader`
//   throws `.unexpectedEnd` and the caller must close the connection.
// - Files are streamed by `FileChunkReader`: one buffer of `chunkSize` bytes, allocated once
//   and reused for every pread(2), so a 1 GB file needs one chunk of memory.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file opened for serving. Closes its descriptor when released.
public final class OpenFile: @unchecked Sendable {
    public let descriptor: Int32
    /// Size from fstat at open time: the Content-Length promised.
    public let size: UInt64
    /// The resolved (realpath) path.
    public let path: String

    init(descriptor: Int32, size: UInt64, path: String) {
        self.descriptor = descriptor
        self.size = size
        self.path = path
    }

    /// Opens a regular file by path (no policy checks; for `tcpip fetch`-side tools and tests).
    public static func regularFile(atPath path: String) -> OpenFile? {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { _ = close(fd); return nil }
        return OpenFile(descriptor: fd, size: UInt64(st.st_size), path: path)
    }

    deinit { _ = close(descriptor) }
}

public enum StaticFileError: Error, Equatable, Sendable {
    /// The root does not exist or is not a directory.
    case invalidRoot(String)
    /// pread failed with this errno.
    case readFailed(Int32)
    /// The file ended before the promised length (it shrank while being served).
    case unexpectedEnd
}

/// Serves files under one root directory, following the policy at the top of this file.
public struct StaticDirectorySite: HTTPSite, Sendable {
    public typealias File = OpenFile

    /// The root as realpath resolved it at start.
    public let root: String

    public init(root: String) throws(StaticFileError) {
        guard let real = Self.realPath(root), Self.isDirectory(real) else { throw .invalidRoot(root) }
        self.root = real
    }

    public func resolve(_ path: HTTPRequestPath) -> HTTPSiteResource<OpenFile> {
        let candidate = path.segments.isEmpty ? root : root + "/" + path.segments.joined(separator: "/")
        guard let real = Self.realPath(candidate) else {
            return errno == EACCES ? .forbidden : .notFound
        }
        guard isInside(real) else { return .forbidden }
        var st = stat()
        guard stat(real, &st) == 0 else { return errno == EACCES ? .forbidden : .notFound }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            return directory(real, path: path)
        case S_IFREG:
            if path.hasTrailingSlash { return .notFound }
            return openRegular(real, name: path.segments.last ?? "")
        default:
            return .forbidden
        }
    }

    /// True when `real` (a realpath result) is the root or below it.
    public func isInside(_ real: String) -> Bool {
        if real == root { return true }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return real.hasPrefix(prefix)
    }

    private func directory(_ real: String, path: HTTPRequestPath) -> HTTPSiteResource<OpenFile> {
        if !path.segments.isEmpty && !path.hasTrailingSlash {
            let encoded = "/" + path.segments.map(percentEncodePathSegment).joined(separator: "/") + "/"
            return .redirect(location: encoded + (path.query.map { "?" + $0 } ?? ""))
        }
        if let index = Self.realPath(real + "/index.html") {
            guard isInside(index) else { return .forbidden }
            var st = stat()
            if stat(index, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
                return openRegular(index, name: "index.html")
            }
        }
        guard let names = Self.listDirectory(real) else { return errno == EACCES ? .forbidden : .failed }
        return .content(contentType: MediaType.html, body: Self.listingPage(segments: path.segments, entries: names))
    }

    private func openRegular(_ real: String, name: String) -> HTTPSiteResource<OpenFile> {
        let fd = real.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else { return errno == EACCES ? .forbidden : .notFound }
        var st = stat()
        guard fstat(fd, &st) == 0 else { _ = close(fd); return .failed }
        guard (st.st_mode & S_IFMT) == S_IFREG else { _ = close(fd); return .forbidden }
        let file = OpenFile(descriptor: fd, size: UInt64(st.st_size), path: real)
        return .file(file, contentType: MediaType.forFileName(name), size: file.size)
    }

    /// The listing page for a directory: entries are (name, isDirectory), listed sorted by name.
    /// Hrefs are absolute, percent-encoded per segment, then HTML-escaped.
    public static func listingPage(segments: [String], entries: [(name: String, isDirectory: Bool)]) -> [UInt8] {
        let base = "/" + segments.map(percentEncodePathSegment).joined(separator: "/")
        let title = htmlEscape("/" + segments.joined(separator: "/") + (segments.isEmpty ? "" : "/"))
        var html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of \(title)</title></head>\n"
        html += "<body><h1>Index of \(title)</h1>\n<ul>\n"
        if !segments.isEmpty {
            let parent = "/" + segments.dropLast().map(percentEncodePathSegment).joined(separator: "/")
            html += "<li><a href=\"\(htmlEscape(parent == "/" ? "/" : parent + "/"))\">../</a></li>\n"
        }
        let prefix = base == "/" ? "/" : base + "/"
        for e in entries.sorted(by: { $0.name < $1.name }) {
            let suffix = e.isDirectory ? "/" : ""
            html += "<li><a href=\"\(htmlEscape(prefix + percentEncodePathSegment(e.name)))\(suffix)\">\(htmlEscape(e.name))\(suffix)</a></li>\n"
        }
        html += "</ul>\n</body></html>\n"
        return Array(html.utf8)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func listDirectory(_ path: String) -> [(name: String, isDirectory: Bool)]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var out: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var st = stat()
            let isDir = stat(path + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            out.append((name, isDir))
        }
        return out
    }
}

/// Reads `length` bytes of a file from `offset` in chunks of at most `chunkSize` bytes into
/// one buffer allocated at init and reused for every chunk (the returned buffer is valid
/// until the next call). Memory stays at one chunk whatever the file size.
public final class FileChunkReader {
    public private(set) var file: OpenFile
    public let chunkSize: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var offset: UInt64
    private var remaining: UInt64
    /// Bytes handed out so far.
    public private(set) var bytesRead: UInt64 = 0

    public init(file: OpenFile, offset: UInt64 = 0, length: UInt64, chunkSize: Int = 64 * 1024) {
        precondition(chunkSize > 0, "chunkSize must be positive")
        self.file = file
        self.chunkSize = chunkSize
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        self.offset = offset
        self.remaining = length
    }

    deinit { buffer.deallocate() }

    /// Starts over on another file (or range), keeping the same buffer: one reader per
    /// connection serves every response of that connection.
    public func reset(file: OpenFile, offset: UInt64 = 0, length: UInt64) {
        self.file = file
        self.offset = offset
        self.remaining = length
        self.bytesRead = 0
    }

    /// The reused chunk buffer's address (tests check every chunk comes from it).
    public var bufferAddress: UnsafeRawPointer { UnsafeRawPointer(buffer.baseAddress!) }

    /// The next chunk, nil when `length` bytes were read.
    public func nextChunk() throws(StaticFileError) -> UnsafeRawBufferPointer? {
        guard remaining > 0 else { return nil }
        let want = Int(min(UInt64(chunkSize), remaining))
        var got = 0
        while got < want {
            let n = pread(file.descriptor, buffer.baseAddress! + got, want - got, off_t(offset + UInt64(got)))
            if n < 0 {
                if errno == EINTR { continue }
                throw .readFailed(errno)
            }
            if n == 0 { throw .unexpectedEnd }
            got += n
        }
        offset += UInt64(got)
        remaining -= UInt64(got)
        bytesRead += UInt64(got)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<got])
    }
}
