import Foundation
import Testing
import NetworkTestSupport
import TCPIP
import TCPIPDevices
@testable import TCPIPRuntime

/// A processor that records what reaches it and sends what a test queues.
private final class RecordingProcessor: PacketProcessor {
    let tcpHost = IPv4Host(address: IPv4Address(192, 0, 2, 2), mtu: 1500, seed: 1)
    var maximumPacketSize: Int { 1500 }
    var received: [(at: Instant, bytes: [UInt8])] = []
    var toSend: [[UInt8]] = []
    var deadline: Instant? = nil
    func receive(packet: UnsafeRawBufferPointer, now: Instant) { received.append((now, Array(packet))) }
    func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard !toSend.isEmpty else { return 0 }
        let p = toSend.removeFirst()
        for (i, b) in p.enumerated() { buffer[i] = b }
        return p.count
    }
    var nextDeadline: Instant? { deadline }
}

/// `ImpairedProcessor` (faults between device and stack) and `DeviceTap` (pcap and
/// ladder lines at the device), driven by hand with exact times.
@Suite("Impaired processor and device tap", .prioritized)
struct ImpairedProcessorTests {
    static func ms(_ n: Double) -> Instant { Instant(nanoseconds: Int64(n * 1_000_000)) }
    static func packet(_ tag: UInt8) -> [UInt8] { [tag] + [UInt8](repeating: 0x5A, count: 59) }

    /// Polls like the loop: until 0; returns what was handed to the device.
    private static func drain(_ p: some PacketProcessor, at t: Instant) -> [[UInt8]] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: p.maximumPacketSize, alignment: 16)
        defer { buffer.deallocate() }
        var out: [[UInt8]] = []
        while true {
            let n = p.poll(now: t, into: buffer)
            if n == 0 { return out }
            out.append(Array(buffer[0..<n]))
        }
    }

    @Test func anInboundPacketReachesTheStackAtItsArrivalTime() throws {
        let inner = RecordingProcessor()
        let p = ImpairedProcessor(inner, faults: try FaultConfiguration(parsing: "delay=10ms"), seed: 1)
        Self.packet(1).withUnsafeBytes { p.receive(packet: $0, now: Self.ms(0)) }
        #expect(inner.received.isEmpty)
        #expect(p.nextDeadline == Self.ms(10))
        #expect(Self.drain(p, at: Self.ms(9)).isEmpty)
        #expect(inner.received.isEmpty)
        #expect(Self.drain(p, at: Self.ms(10)).isEmpty)
        #expect(inner.received.map(\.at) == [Self.ms(10)])
        #expect(inner.received.map(\.bytes) == [Self.packet(1)])
        #expect(p.nextDeadline == nil)
    }

    @Test func whatTheStackSendsReachesTheDeviceWhenDue() throws {
        let inner = RecordingProcessor()
        let p = ImpairedProcessor(inner, faults: try FaultConfiguration(parsing: "delay=10ms"), seed: 1)
        inner.toSend = [Self.packet(1), Self.packet(2)]
        #expect(Self.drain(p, at: Self.ms(0)).isEmpty)
        #expect(inner.toSend.isEmpty)
        inner.deadline = Self.ms(4)
        #expect(p.nextDeadline == Self.ms(4))
        inner.deadline = nil
        #expect(p.nextDeadline == Self.ms(10))
        #expect(Self.drain(p, at: Self.ms(10)) == [Self.packet(1), Self.packet(2)])
        #expect(p.impairmentCounters?.outbound.offered == 2)
        #expect(p.impairmentCounters?.inbound.offered == 0)
    }

    @Test func reorderAndLossApplyOnTheWayIn() throws {
        let inner = RecordingProcessor()
        let p = ImpairedProcessor(inner, faults: try FaultConfiguration(parsing: "reorder=100%"), seed: 5)
        for i in 1...4 { Self.packet(UInt8(i)).withUnsafeBytes { p.receive(packet: $0, now: Self.ms(0)) } }
        #expect(inner.received.map { $0.bytes[0] } == [2, 1, 4, 3])

        let lossy = RecordingProcessor()
        let q = ImpairedProcessor(lossy, inbound: try FaultConfiguration(parsing: "loss=100%"), outbound: .none, seed: 5)
        Self.packet(9).withUnsafeBytes { q.receive(packet: $0, now: Self.ms(0)) }
        lossy.toSend = [Self.packet(8)]
        #expect(Self.drain(q, at: Self.ms(0)) == [Self.packet(8)])
        #expect(lossy.received.isEmpty)
        #expect(q.impairmentCounters?.inbound.lost == 1)
    }

    @Test func pingGoesToTheWrappedInterface() throws {
        let host = IPv4Host(address: IPv4Address(192, 0, 2, 2), mtu: 1500, seed: 1)
        let iface = try Interface(configuration: InterfaceConfiguration(link: .ip, address: IPv4Address(192, 0, 2, 2),
                                                                        prefixLength: 24), host: host)
        let p = DeviceTap(ImpairedProcessor(iface, faults: .none, seed: 1), pcap: nil, trace: nil)
        #expect(p.pingInterface === iface)
        #expect(p.tcpHost === host)
        #expect(p.impairmentCounters == ImpairmentCounters())
        #expect(RecordingProcessor().pingInterface == nil)
        #expect(RecordingProcessor().impairmentCounters == nil)
    }

    /// An IPv4/TCP packet (checksums left zero) from `src` port `sport` to `dst` port `dport`.
    static func tcpPacket(from src: UInt8, _ sport: UInt16, to dst: UInt8, _ dport: UInt16, flags: TCPFlags) throws -> [UInt8] {
        let h = TCPHeader(sourcePort: sport, destinationPort: dport, sequenceNumber: SequenceNumber(100),
                          flags: flags, window: 1000)
        var tcp = [UInt8](repeating: 0, count: h.headerLength)
        _ = try tcp.withUnsafeMutableBytes { b throws(WireError) in try h.emit(into: b) }
        let total = 20 + tcp.count
        return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0x40, 0, 64, 6, 0, 0,
                192, 0, 2, src, 192, 0, 2, dst] + tcp
    }

    @Test func theTraceMarksWhatTheImpairmentDropped() throws {
        let inner = RecordingProcessor()
        let impaired = ImpairedProcessor(inner, faults: try FaultConfiguration(parsing: "loss=100%"), seed: 1)
        var lines: [String] = []
        let tap = DeviceTap(impaired, pcap: nil, trace: (linkType: .raw, sink: { lines.append($0) }))
        impaired.onDrop = { [unowned tap] in tap.noteDropped($0, packet: $1, now: $2) }
        try Self.tcpPacket(from: 1, 40000, to: 2, 80, flags: .syn).withUnsafeBytes { tap.receive(packet: $0, now: Self.ms(0)) }
        inner.toSend = [try Self.tcpPacket(from: 2, 80, to: 1, 40000, flags: [.syn, .ack])]
        #expect(Self.drain(tap, at: Self.ms(1)).isEmpty)
        #expect(inner.received.isEmpty)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("◀") == true && lines.first?.contains(" SYN seq=0 ") == true)
        #expect(lines.last?.contains("── SYN+ACK seq=0 ") == true)
        #expect(lines.allSatisfy { $0.hasSuffix("192.0.2.1:40000  [dropped by --impair]") })
        #expect(impaired.impairmentCounters?.inbound.lost == 1)
        #expect(impaired.impairmentCounters?.outbound.lost == 1)
    }

    @Test func theTapRecordsBothDirectionsToPcapAndTrace() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tap-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try PcapFileWriter(path: path, linkType: .raw)
        let inner = RecordingProcessor()
        var lines: [String] = []
        let tap = DeviceTap(inner, pcap: writer, trace: (linkType: .raw, sink: { lines.append($0) }))
        Self.packet(1).withUnsafeBytes { tap.receive(packet: $0, now: Self.ms(0)) }
        inner.toSend = [Self.packet(2)]
        #expect(Self.drain(tap, at: Self.ms(1)) == [Self.packet(2)])
        #expect(inner.received.map(\.bytes) == [Self.packet(1)])
        try writer.close()
        let read = try CaptureFile.read(path: path)
        #expect(read.error == nil)
        #expect(read.records.map(\.bytes) == [Self.packet(1), Self.packet(2)])
        // Wall-clock stamps: after 2020, 1 ms apart.
        #expect(read.records[0].timestamp.nanoseconds > 1_577_836_800_000_000_000)
        #expect(read.records[1].timestamp - read.records[0].timestamp == .milliseconds(1))
        // Not TCP/IPv4 (first byte is no IPv4 header): no ladder line.
        #expect(lines.isEmpty)
    }
}

/// Two stacks over a socket pair, the server's output through `ImpairedProcessor`: the loop
/// runs the wrapper like any processor (delayed packets wake it), and its counters reach
/// `TCPStack.statistics()`.
@Suite("Impaired stacks over a socket pair", .prioritized)
struct ImpairedStackTests {
    static let serverIP = IPv4Address(192, 0, 2, 1)
    static let clientIP = IPv4Address(192, 0, 2, 2)

    @Test func dataCrossesALossyDelayedLinkAndRetransmitsStayCountedAfterAReset() async throws {
        var config = TCPConfiguration()
        config.maximumSegmentLifetime = .milliseconds(50)
        let (a, b) = SocketPairEnd.pair()
        let client = try TCPStack(interface: a, processor: IPv4Host(address: Self.clientIP, configuration: config, seed: 1))
        let faults = try FaultConfiguration(parsing: "loss=5%,delay=2ms")
        let serverHost = IPv4Host(address: Self.serverIP, configuration: config, seed: 2)
        let server = try TCPStack(interface: b, processor: ImpairedProcessor(serverHost, inbound: .none, outbound: faults, seed: 9))
        let listener = try await server.listen(port: 9)
        let sent = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 9)) }
        let accepted = Task { try await listener.accept() }
        let c = try await within(10) { try await client.connect(to: Self.serverIP, port: 9, timeout: .seconds(5)) }
        let s = try await within(10) { try await accepted.value }
        let writer = Task { try await s.write(sent) }
        let got = try await within(30) {
            var got: [UInt8] = []
            while got.count < sent.count {
                let b = try await c.read(maxBytes: 65536)
                if b.isEmpty { break }
                got += b
            }
            return got
        }
        try await writer.value
        #expect(got == sent)
        // The client never closes: the server's FIN leaves it in FIN-WAIT-2 and the shutdown
        // resets it at the end of the grace period. Its counters must survive that.
        await server.shutdown(gracePeriod: .milliseconds(200))
        let stats = await server.statistics()
        let impairment = try #require(stats.impairment)
        #expect(impairment.outbound.lost > 0)
        var perfect = FaultCounters()
        perfect.offered = impairment.inbound.offered
        #expect(impairment.inbound == perfect)  // no faults that way: only counted
        #expect(stats.retransmittedSegments > 0)
        #expect(stats.description.contains("impairment out: offered=\(impairment.outbound.offered) lost=\(impairment.outbound.lost) "))
        c.abort()
        await client.shutdown(gracePeriod: .zero)
    }
}

/// A socket-pair end that says it carries the virtio-net header (as a TAP opened with
/// `--offload` does); only `virtioNetHeader` matters here.
private final class OffloadedEnd: PacketInterface, @unchecked Sendable {
    let inner: SocketPairEnd
    init(_ inner: SocketPairEnd) { self.inner = inner }
    var fileDescriptor: Int32 { inner.fileDescriptor }
    var virtioNetHeader: Bool { true }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? { try inner.read(into: buffer) }
    func write(_ packet: UnsafeRawBufferPointer) throws -> Bool { try inner.write(packet) }
}

@Suite("Offloaded devices and wrappers")
struct OffloadWrapperTests {
    @Test func aWrappedProcessorOnAnOffloadedDeviceIsRefusedAndTheBareHostIsTaken() async throws {
        let (a, _) = SocketPairEnd.pair()
        let host = IPv4Host(address: IPv4Address(192, 0, 2, 1), seed: 1)
        #expect(throws: TCPStackError.offloadNeedsUnwrappedInterface) {
            _ = try TCPStack(interface: OffloadedEnd(a), processor: ImpairedProcessor(host, faults: .none, seed: 1))
        }
        let (c, _) = SocketPairEnd.pair()
        let stack = try TCPStack(interface: OffloadedEnd(c), processor: IPv4Host(address: IPv4Address(192, 0, 2, 1), seed: 1))
        await stack.shutdown(gracePeriod: .zero)
    }
}
