import Foundation
import Testing
import TCPIP

/// `tcpip demo` run as a process: it prints exactly the core's `DemoScenario` lines,
/// writes a pcap holding every packet that crossed the link, and refuses bad faults.
@Suite struct DemoCommandTests {
    static var enabled: Bool { DecodeCommandTests.enabled }

    @Test(.enabled(if: enabled, "the tcpip binary is not built next to the tests; skipped (a failure with CI=true)"))
    func demoPrintsTheScenarioAndWritesItsCapture() async throws {
        let pcap = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-demo-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: pcap) }
        guard let r = try await DecodeCommandTests.run(["demo", "--isn-client", "100", "--isn-server", "2000",
                                                  "--bytes", "50000", "--seed", "4", "--pcap", pcap.path]) else { return }
        #expect(r.status == 0, "\(r.stderr)")

        var o = DemoScenario.Options()
        o.faults = FaultConfiguration(delay: .milliseconds(10))
        o.clientISN = 100
        o.serverISN = 2000
        o.bulkBytes = 50_000
        o.seed = 4
        var scenario = DemoScenario(options: o)
        var lines: [String] = []
        let summary = scenario.run { lines.append($0) }
        #expect(summary.succeeded)
        let packets = summary.segmentsAToB + summary.segmentsBToA
        lines.append("  pcap: \(packets) packets written to \(pcap.path)")
        #expect(r.stdout == lines.map { $0 + "\n" }.joined())
        #expect(r.stdout.contains("A → B   [S]    seq=100         ack=0 "))

        let bytes = try [UInt8](Data(contentsOf: pcap))
        var reader = try PcapReader(bytes: bytes)
        #expect(reader.linkType == .raw)
        var count = 0
        while let record = try reader.next() {
            count += 1
            #expect(record.bytes.withUnsafeBytes { LadderSegment(ipv4: $0) } != nil)
        }
        #expect(count == packets)
    }

    @Test(.enabled(if: enabled, "the tcpip binary is not built next to the tests; skipped (a failure with CI=true)"))
    func badFaultSpecificationIsRefused() async throws {
        guard let r = try await DecodeCommandTests.run(["demo", "--impair", "loss=200%"]) else { return }
        #expect(r.status != 0)
        #expect(r.stderr.contains("loss=200%: out of range"))
        #expect(r.stdout.isEmpty)
    }
}
