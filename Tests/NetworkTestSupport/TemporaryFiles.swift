// Files the kernel-side tools serve or write during a test.
import Foundation

/// A fresh directory under the system's temporary directory, removed with everything in it
/// when the value goes away (also when the test fails).
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    /// `prefix` names the test in the directory's name (`prefix-UUID`).
    public init(prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// The path of `name` (which may hold slashes) inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to `name`, making the folders on the way; returns its path.
    @discardableResult
    public func write(_ bytes: some Sequence<UInt8>, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
        return file.path
    }
}

/// `count` bytes from the system's random number generator, drawn 8 at a time.
public func randomBytes(count: Int) -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset + 8 <= raw.count {
            raw.storeBytes(of: rng.next() as UInt64, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < raw.count {
            raw[offset] = rng.next()
            offset += 1
        }
    }
    return bytes
}
