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

/// Writes a pcap file as packets arrive (a long capture of a TAP/TUN device), through a
/// `PcapWriter` buffer flushed to disk whenever it holds `flushThreshold` bytes.
/// Not thread-safe: one owner appends.
public final class PcapFileWriter {
    private let handle: FileHandle
    private var writer: PcapWriter
    public let path: String
    public let flushThreshold: Int
    public private(set) var packetsWritten = 0

    /// Creates (or truncates) `path` and writes the file header.
    public init(path: String, linkType: LinkType, snaplen: UInt32 = PcapFormat.defaultSnaplen,
                resolution: PcapTimestampResolution = .nanoseconds, flushThreshold: Int = 64 * 1024) throws(CaptureFile.IOError) {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let h = FileHandle(forWritingAtPath: path) else {
            throw CaptureFile.IOError(path: path, reason: "cannot create")
        }
        self.path = path
        self.handle = h
        self.flushThreshold = flushThreshold
        writer = PcapWriter(linkType: linkType, snaplen: snaplen, resolution: resolution,
                            reservingCapacity: flushThreshold + 2048)
        try write(writer.bytes)
        writer.removeAllRecords()
    }

    public func append(timestamp: Instant, packet: UnsafeRawBufferPointer, originalLength: Int? = nil) throws(CaptureFile.IOError) {
        writer.append(timestamp: timestamp, packet: packet, originalLength: originalLength)
        packetsWritten += 1
        if writer.bytes.count - PcapFormat.fileHeaderLength >= flushThreshold { try flush() }
    }

    public func append(timestamp: Instant, packet: [UInt8], originalLength: Int? = nil) throws(CaptureFile.IOError) {
        let r: Result<Void, CaptureFile.IOError> = packet.withUnsafeBytes { b in
            do throws(CaptureFile.IOError) {
                try append(timestamp: timestamp, packet: b, originalLength: originalLength)
                return .success(())
            } catch { return .failure(error) }
        }
        try r.get()
    }

    /// Writes the buffered records to the file.
    public func flush() throws(CaptureFile.IOError) {
        guard writer.bytes.count > PcapFormat.fileHeaderLength else { return }
        try write(writer.bytes[PcapFormat.fileHeaderLength...])
        writer.removeAllRecords()
    }

    /// Flushes and closes the file.
    public func close() throws(CaptureFile.IOError) {
        try flush()
        do { try handle.close() } catch { throw CaptureFile.IOError(path: path, reason: "\(error)") }
    }

    private func write(_ bytes: some Collection<UInt8>) throws(CaptureFile.IOError) {
        do { try handle.write(contentsOf: Data(bytes)) } catch {
            throw CaptureFile.IOError(path: path, reason: "\(error)")
        }
    }
}
