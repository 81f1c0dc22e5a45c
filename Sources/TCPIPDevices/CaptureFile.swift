// File I/O for captures lives here; the formats themselves are in the core (TCPIP/Capture).
import Foundation
import TCPIP

/// Reading and writing capture files on disk. The parsing and encoding are the
/// core's `CaptureReader` and `PcapWriter`; this only moves bytes.
public enum CaptureFile {
    /// Why a capture file could not be opened or written.
    public struct IOError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// The whole file's bytes.
    public static func readBytes(path: String) throws(IOError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw IOError(path: path, reason: exists ? "cannot read" : "no such file")
        }
        return [UInt8](data)
    }

    /// Every packet of a pcap or pcapng file, with the error that stopped reading early, if any.
    public static func read(path: String) throws(IOError) -> CaptureReadResult {
        CaptureReader.readAll(try readBytes(path: path))
    }

    /// Writes bytes (a `PcapWriter`'s buffer) to `path`, replacing any file there.
    public static func write(_ bytes: [UInt8], to path: String) throws(IOError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw IOError(path: path, reason: "\(error)")
        }
    }

    /// Writes the capture a `PcapWriter` has collected to `path`.
    public static func write(_ writer: PcapWriter, to path: String) throws(IOError) {
        try write(writer.bytes, to: path)
    }
}
