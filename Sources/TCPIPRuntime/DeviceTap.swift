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
/// one is recorded only once the impairment lets it out (lost ones never appear).
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

    public func receive(packet: UnsafeRawBufferPointer, now: Instant) {
        record(packet, now: now, direction: .received)
        inner.receive(packet: packet, now: now)
    }

    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = inner.poll(now: now, into: buffer)
        if n > 0 { record(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), now: now, direction: .sent) }
        return n
    }

    func record(_ packet: UnsafeRawBufferPointer, now: Instant, direction: LiveLadder.Direction) {
        if let pcap, captureError == nil {
            do throws(CaptureFile.IOError) {
                try pcap.append(timestamp: now + wallOffset, packet: packet)
            } catch {
                captureError = error
            }
        }
        if ladder != nil, let line = ladder!.line(time: now, direction: direction, packet: packet) {
            traceSink?(line)
        }
    }

    /// Writes what the capture buffered to its file (the caller closes it after the stack stopped).
    public func flushCapture() {
        guard let pcap, captureError == nil else { return }
        do throws(CaptureFile.IOError) { try pcap.flush() } catch { captureError = error }
    }
}
