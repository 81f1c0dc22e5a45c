import TCPIP
import TCPIPDevices
#if canImport(Glibc)
import Glibc
#endif

/// A `PacketProcessor` that records every packet or frame crossing the device, then
/// passes it on unchanged: to a pcap file (`--pcap`) and/or as one ladder line per TCP
/// segment (`--trace`, `LiveLadder`).
///
/// It sits outermost, right at the device: what it records is what the loop read from
/// the device and what it handed the device to write, i.e. what the kernel really
/// received and sent. With an `ImpairedProcessor` inside it, an inbound packet the
/// impairment then drops is still recorded (it did cross the device), and an outbound
/// one is recorded only once the impairment lets it out. Wired to the impairment's
/// `onDrop` (`noteDropped`), the trace marks both kinds `[dropped by --impair]`; the
/// pcap file never holds an outbound one (it did not cross the device).
///
/// Timestamps in the pcap file are wall-clock time (the monotonic instant of the event
/// plus the wall-minus-monotonic offset taken when the tap was made). A write error
/// stops the recording (kept in `captureError`); the traffic goes on.
public final class DeviceTap<Inner: PacketProcessor>: PacketProcessor {
    public let inner: Inner
    let pcap: PcapFileWriter?
    var ladder: LiveLadder?
    let traceSink: ((String) -> Void)?
    let wallOffset: Duration
    /// Why the capture stopped, if it did.
    public private(set) var captureError: CaptureFile.IOError?

    /// - Parameters:
    ///   - pcap: where to record (its link type must match the device: `.ethernet` for a
    ///     TAP, `.raw` for a TUN); nil for none.
    ///   - trace: the link type to decode for ladder lines and where each line goes; nil
    ///     for none. The sink runs on the loop thread.
    public init(_ inner: Inner, pcap: PcapFileWriter?, trace: (linkType: LinkType, sink: (String) -> Void)?) {
        self.inner = inner
        self.pcap = pcap
        self.ladder = trace.map { LiveLadder(linkType: $0.linkType) }
        self.traceSink = trace?.sink
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let mono = MonotonicClock.now()
        wallOffset = .nanoseconds(Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec) - mono.nanoseconds)
    }

    public var tcpHost: IPv4Host { inner.tcpHost }
    public var maximumPacketSize: Int { inner.maximumPacketSize }
    public var pingInterface: Interface? { inner.pingInterface }
    public var impairmentCounters: ImpairmentCounters? { inner.impairmentCounters }
    public var nextDeadline: Instant? { inner.nextDeadline }

    /// Set by `noteDropped` while `inner.receive` runs: the packet being received was dropped.
    var receivedWasDropped = false
    static var dropNote: String { "  [dropped by --impair]" }

    public func receive(packet: UnsafeRawBufferPointer, now: Instant) {
        let line = record(packet, now: now, direction: .received)
        receivedWasDropped = false
        inner.receive(packet: packet, now: now)
        if let line { traceSink?(receivedWasDropped ? line + DeviceTap.dropNote : line) }
    }

    /// An impairment inside the tap dropped `packet` (see `ImpairedProcessor.onDrop`): the
    /// trace says so, on the line of the received packet, or on a line of its own for one
    /// the stack sent (which never reaches the device, so the pcap file does not hold it).
    public func noteDropped(_ direction: LiveLadder.Direction, packet: UnsafeRawBufferPointer, now: Instant) {
        switch direction {
        case .received:
            receivedWasDropped = true
        case .sent:
            if ladder != nil, let line = ladder!.line(time: now, direction: .sent, packet: packet) {
                traceSink?(line + DeviceTap.dropNote)
            }
        }
    }

    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = inner.poll(now: now, into: buffer)
        if n > 0, let line = record(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), now: now, direction: .sent) {
            traceSink?(line)
        }
        return n
    }

    /// Writes the packet to the pcap file; returns its ladder line when tracing.
    func record(_ packet: UnsafeRawBufferPointer, now: Instant, direction: LiveLadder.Direction) -> String? {
        if let pcap, captureError == nil {
            do throws(CaptureFile.IOError) {
                try pcap.append(timestamp: now + wallOffset, packet: packet)
            } catch {
                captureError = error
            }
        }
        guard ladder != nil else { return nil }
        return ladder!.line(time: now, direction: direction, packet: packet)
    }

    /// Writes what the capture buffered to its file (the caller closes it after the stack stopped).
    public func flushCapture() {
        guard let pcap, captureError == nil else { return }
        do throws(CaptureFile.IOError) { try pcap.flush() } catch { captureError = error }
    }
}
