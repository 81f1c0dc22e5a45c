import Foundation
import Testing
import NetworkTestSupport
import TCPIP

/// `tcpip decode` run as a process on the kernel fixture: it prints exactly what the
/// core's `PacketDescriber` formats, and fails cleanly on a truncated or missing file.
@Suite struct DecodeCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = packageRoot.appendingPathComponent("Tests/Fixtures/kernel-curl.pcap")

    /// The built `tcpip` next to the test bundle (or in the package's .build/debug).
    static let binary: URL? = {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("tcpip"))
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tcpip"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/tcpip"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static var enabled: Bool { binary != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) async throws -> Run? {
        guard let binary else {
            Issue.record("CI=true but the tcpip binary was not found next to the tests")
            return nil
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        // Off the cooperative pool: the wait holds a thread for as long as the child runs.
        let (o, e, status) = try await offThePool { () throws -> (Data, Data, Int32) in
            try p.run()
            // Read both pipes to the end before waiting, so a full pipe cannot block the child.
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (o, e, p.terminationStatus)
        }
        return Run(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func expected(_ bytes: [UInt8], _ options: PacketDescriber.Options) -> String {
        PacketDescriber.describe(capture: bytes, options: options).packets.map { $0 + "\n" }.joined()
    }

    @Test(.enabled(if: enabled, "the tcpip binary is not built next to the tests; skipped (a failure with CI=true)"),
          arguments: [([String](), PacketDescriber.Options()),
                      (["-v"], PacketDescriber.Options(verbose: true)),
                      (["--absolute"], PacketDescriber.Options(absoluteSequenceNumbers: true)),
                      (["--verbose", "--absolute"], PacketDescriber.Options(absoluteSequenceNumbers: true, verbose: true))])
    func decodePrintsWhatTheFormatterFormats(flags: [String], options: PacketDescriber.Options) async throws {
        let bytes = try [UInt8](Data(contentsOf: DecodeCommandTests.fixture))
        guard let r = try await DecodeCommandTests.run(["decode"] + flags + [DecodeCommandTests.fixture.path]) else { return }
        #expect(r.status == 0)
        #expect(r.stderr == "")
        #expect(r.stdout == DecodeCommandTests.expected(bytes, options))
        #expect(r.stdout.split(separator: "\n").first?.hasPrefix("0.000000 ARP, Request who-has 192.0.2.2 tell 192.0.2.1") == true)
    }

    @Test(.enabled(if: enabled, "the tcpip binary is not built next to the tests; skipped (a failure with CI=true)"))
    func truncatedFilePrintsThePacketsThenTheErrorAndFails() async throws {
        let bytes = try [UInt8](Data(contentsOf: DecodeCommandTests.fixture))
        let cut = Array(bytes.dropLast(7))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-decode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("cut.pcap")
        try Data(cut).write(to: file)
        guard let r = try await DecodeCommandTests.run(["decode", file.path]) else { return }
        let described = PacketDescriber.describe(capture: cut)
        #expect(described.error == .truncatedRecord(index: described.packets.count))
        #expect(r.status == 1)
        #expect(r.stdout == DecodeCommandTests.expected(cut, .init()))
        #expect(r.stderr == "tcpip: \(file.path): truncated record (packet \(described.packets.count + 1))\n")

        guard let missing = try await DecodeCommandTests.run(["decode", dir.appendingPathComponent("none.pcap").path]) else { return }
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no such file"))
    }
}
