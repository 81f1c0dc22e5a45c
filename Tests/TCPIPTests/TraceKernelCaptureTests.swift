import Foundation
import Testing
import NetworkTestSupport
@testable import TCPIP

/// Golden tests on captures of the Linux kernel (scripts/capture-trace-fixtures.sh),
/// and a cross-check of the analysis against tshark's own on the same files.
@Suite struct TraceKernelCaptureTests {
    static let captures = ["trace-curl", "trace-refused", "trace-loss", "trace-zerowin", "trace-crossfin"]

    func conversations(_ name: String) throws -> [TraceConversation] {
        let bytes = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent(name + ".pcap")))
        let input = TraceInput(captureBytes: bytes)
        #expect(input.readError == nil)
        #expect(input.malformed.isEmpty)
        return TraceConversation.analyze(input.segments)
    }

    @Test(arguments: captures)
    func ladderOfKernelCaptureMatchesFixture(name: String) throws {
        let text = try conversations(name).map { LadderTextFormatter().render($0) }.joined(separator: "\n")
        #expect(text == (try TraceFixtures.expected(name + ".txt", actual: text)))
        for line in text.split(separator: "\n") { #expect(displayWidth(String(line)) <= 100, "\(line)") }
    }

    @Test func pcapngCopyGivesTheSameLadder() throws {
        let bytes = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent("trace-curl.pcapng")))
        let input = TraceInput(captureBytes: bytes)
        #expect(input.readError == nil)
        let text = TraceConversation.analyze(input.segments).map { LadderTextFormatter().render($0) }.joined(separator: "\n")
        #expect(text == (try TraceFixtures.text("trace-curl.txt")))
    }

    @Test func kernelFetchEndsWithServerInTimeWaitAndClientClosed() throws {
        let c = try #require(try conversations("trace-curl").first)
        #expect(c.initialClientState == .closed && c.initialServerState == .listen)
        #expect(c.events.last?.clientState == .closed)
        #expect(c.events.last?.serverState == .timeWait)
        #expect(c.summary.bytesServerToClient > 3000)
    }

    @Test func kernelRefusalIsAClosedPortReset() throws {
        let c = try #require(try conversations("trace-refused").first)
        #expect(c.events.count == 2)
        #expect(c.events[1].resetCause == .closedPort)
        #expect(c.summary.ending == .refused)
        #expect(c.events.map { [$0.clientState, $0.serverState] } == [[.synSent, .closed], [.closed, .closed]])
    }

    @Test func lossyTransferShowsRetransmissions() throws {
        let c = try #require(try conversations("trace-loss").first)
        #expect(c.summary.retransmissions > 0)
        #expect(c.events.last?.serverState == .timeWait || c.events.last?.clientState == .closed)
    }

    @Test func crossingFinsTakeTheClientThroughClosing() throws {
        let c = try #require(try conversations("trace-crossfin").first)
        let last = Array(c.events.suffix(4))
        // Server FIN (the client's first FIN was dropped after the capture point), client ACK,
        // the client's FIN again, the server's ACK.
        #expect(last.map { LadderTextFormatter.flagNames($0.segment.header.flags) } == ["FIN+ACK", "ACK", "FIN+ACK", "ACK"])
        #expect(last.map { $0.direction } == [.serverToClient, .clientToServer, .clientToServer, .serverToClient])
        #expect(last.map { [$0.clientState, $0.serverState] }
                == [[.closing, .finWait1], [.closing, .finWait2], [.closing, .timeWait], [.timeWait, .timeWait]])
        #expect(last[2].annotations.contains(.retransmission))
        #expect(c.summary.ending == .closed(firstFIN: nil, simultaneous: true))
    }

    @Test func stalledReaderShowsZeroWindow() throws {
        let c = try #require(try conversations("trace-zerowin").first)
        #expect(c.events.contains { $0.annotations.contains(.zeroWindow) })
    }

    // MARK: tshark

    /// Each field and the annotations any of which means it.
    static let fields: [(String, TraceAnnotations)] = [
        ("tcp.analysis.retransmission", [.retransmission, .fastRetransmission, .spuriousRetransmission]),
        ("tcp.analysis.fast_retransmission", .fastRetransmission),
        ("tcp.analysis.spurious_retransmission", .spuriousRetransmission),
        ("tcp.analysis.out_of_order", .outOfOrder),
        ("tcp.analysis.duplicate_ack", .duplicateAck),
        ("tcp.analysis.zero_window", .zeroWindow),
        ("tcp.analysis.zero_window_probe", .zeroWindowProbe),
        ("tcp.analysis.zero_window_probe_ack", .zeroWindowProbeAck),
        ("tcp.analysis.keep_alive", .keepAlive),
        ("tcp.analysis.keep_alive_ack", .keepAliveAck),
        ("tcp.analysis.lost_segment", .previousSegmentNotCaptured),
        ("tcp.analysis.ack_lost_segment", .ackedUnseenSegment),
        ("tcp.analysis.window_full", .windowFull),
        ("tcp.analysis.window_update", .windowUpdate),
    ]

    /// Runs tshark; nil (with a message) when it is not installed, a failure when CI=true.
    static func tshark(_ args: [String]) async throws -> String? {
        let candidates = ["/usr/bin/tshark", "/usr/local/bin/tshark"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("tshark is not installed (required when CI=true)")
            } else {
                print("skipping the tshark cross-check: tshark is not installed")
            }
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let data = try await offThePool { () throws -> Data in
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return data
        }
        return String(decoding: data, as: UTF8.self)
    }

    @Test(arguments: captures)
    func analysisFlagsTheSameFramesAsTshark(name: String) async throws {
        let file = TraceFixtures.directory.appendingPathComponent(name + ".pcap").path
        let convs = try conversations(name)
        let events = convs.flatMap(\.events)
        // One tshark run: frame number, stream, then a column per analysis field ("1" when set).
        var args = ["-r", file, "-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "tcp.stream"]
        for (field, _) in Self.fields { args += ["-e", field] }
        guard let out = try await Self.tshark(args) else { return }
        var rows: [[Substring]] = []
        for line in out.split(separator: "\n") {
            rows.append(line.split(separator: "\t", omittingEmptySubsequences: false))
        }
        #expect(rows.count == events.count, "\(name): frames")
        for (k, (field, test)) in Self.fields.enumerated() {
            let theirs = Set(rows.filter { $0.count > k + 2 && !$0[k + 2].isEmpty }.compactMap { Int($0[0]) })
            let ours = Set(events.filter { !$0.annotations.isDisjoint(with: test) }.map(\.segment.frame))
            #expect(ours == theirs, "\(name): \(field)")
        }
        // Stream numbers as tcp.stream.
        var theirs: [Int: Int] = [:]
        for p in rows where p.count >= 2 {
            if let f = Int(p[0]), let s = Int(p[1]) { theirs[f] = s }
        }
        var ours: [Int: Int] = [:]
        for c in convs { for e in c.events { ours[e.segment.frame] = c.stream.index } }
        #expect(ours == theirs, "\(name): tcp.stream")
    }
}
