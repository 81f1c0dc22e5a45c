import Foundation
import Testing
import TCPIP
import TCPIPDevices

@Suite struct CaptureFileTests {
    @Test func writtenCaptureReadsBackFromDisk() throws {
        var w = PcapWriter(linkType: .ipv4, snaplen: 16, resolution: .nanoseconds)
        w.append(timestamp: Instant(nanoseconds: 1_000_000_123), packet: Array(0..<20))
        w.append(timestamp: Instant(nanoseconds: 2_000_000_456), packet: [0x45, 0])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-capture-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CaptureFile.write(w, to: path)
        #expect(try CaptureFile.readBytes(path: path) == w.bytes)
        let r = try CaptureFile.read(path: path)
        #expect(r.error == nil)
        #expect(r.records == [
            CaptureRecord(timestamp: Instant(nanoseconds: 1_000_000_123), originalLength: 20, bytes: Array(0..<16), linkType: .ipv4),
            CaptureRecord(timestamp: Instant(nanoseconds: 2_000_000_456), originalLength: 2, bytes: [0x45, 0], linkType: .ipv4),
        ])
    }

    @Test func missingFileIsAnError() {
        #expect(throws: CaptureFile.IOError.self) { try CaptureFile.read(path: "/nonexistent/tcpip/none.pcap") }
    }
}

@Suite struct PcapFileWriterTests {
    @Test func streamedCaptureEqualsTheInMemoryOne() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-stream-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try PcapFileWriter(path: path, linkType: .ethernet, resolution: .microseconds, flushThreshold: 100)
        var memory = PcapWriter(linkType: .ethernet, resolution: .microseconds)
        for k in 0..<50 {
            let packet = (0..<(k * 7 % 90)).map { UInt8(truncatingIfNeeded: $0 &+ k) }
            let t = Instant(nanoseconds: Int64(k) * 1_001_000)
            try file.append(timestamp: t, packet: packet)
            memory.append(timestamp: t, packet: packet)
        }
        // Before close, what was flushed is a readable prefix.
        let partial = CaptureReader.readAll(try CaptureFile.readBytes(path: path))
        #expect(partial.error == nil && partial.records.count < 50 && partial.records.count > 0)
        try file.close()
        #expect(file.packetsWritten == 50)
        #expect(try CaptureFile.readBytes(path: path) == memory.bytes)
    }
}
