import TCPIP
import TCPIPDevices
#if canImport(Glibc)
import Glibc
#endif

/// What the event loop reads IPv4 packets from and writes them to.
///
/// A TUN device is one as it is (`TunTapDevice` of kind `.tun`). A TAP device needs an
/// Ethernet/ARP layer between the frames and the packets; that layer will be another
/// `PacketInterface` wrapping the TAP device, so the loop stays unchanged.
///
/// The loop calls these only from its own thread. The descriptor must be non-blocking:
/// the loop sleeps in poll(2) on it.
public protocol PacketInterface: AnyObject, Sendable {
    /// The descriptor the loop waits on for readability.
    var fileDescriptor: Int32 { get }
    /// Reads one IPv4 packet into `buffer`: its length, or nil when nothing is waiting.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int?
    /// Writes one IPv4 packet; false when the link dropped it (queue full).
    func write(_ packet: UnsafeRawBufferPointer) throws -> Bool
    /// Every packet read or written starts with a 10-byte `VirtioNetHeader` (a TUN/TAP
    /// opened with IFF_VNET_HDR): the loop strips and completes arriving ones, and puts the
    /// processor's `lastPacketOffload` in front of each packet it writes.
    var virtioNetHeader: Bool { get }
}

extension PacketInterface {
    public var virtioNetHeader: Bool { false }
}

extension TunTapDevice: PacketInterface {}

/// The sans-IO side the loop feeds: packets (or frames) in, packets out, and when to
/// poll again. `IPv4Host` is one (raw IPv4, TCP only: a TUN link). The full `Interface`
/// (Ethernet/ARP/ICMP/UDP, for TAP as well as TUN) slots in with the same calls, so the
/// loop does not change when it comes.
public protocol PacketProcessor: AnyObject {
    /// The TCP host behind it: listeners and connections live there.
    var tcpHost: IPv4Host { get }
    /// The largest packet or frame `poll` writes (the output buffer's size).
    var maximumPacketSize: Int { get }
    /// Processes one arriving packet or frame.
    func receive(packet: UnsafeRawBufferPointer, now: Instant)
    /// Writes the next packet or frame to send; 0 when nothing is due.
    func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int
    /// When `poll` should run next; nil when idle.
    var nextDeadline: Instant? { get }
    /// What the link must do with the packet the last `poll` wrote (segmentation, partial
    /// checksum); `.none` unless the processor was set up for offloads.
    var lastPacketOffload: VirtioNetHeader { get }
    /// The `Interface` that answers `TCPStack.ping` (itself, or the one a wrapper such as
    /// `ImpairedProcessor` holds); nil for a bare `IPv4Host`.
    var pingInterface: Interface? { get }
    /// What an impairment between the device and the stack did, if there is one.
    var impairmentCounters: ImpairmentCounters? { get }
}

extension PacketProcessor {
    public var pingInterface: Interface? { self as? Interface }
    public var impairmentCounters: ImpairmentCounters? { nil }
}

/// The full interface (Ethernet + ARP on a TAP, or bare IP on a TUN; ICMP, UDP,
/// fragments) around an `IPv4Host`: what `TCPStack` runs by default.
extension PacketProcessor {
    /// No offloads unless the processor says otherwise.
    public var lastPacketOffload: VirtioNetHeader { .none }
}

extension Interface: PacketProcessor {
    public var lastPacketOffload: VirtioNetHeader { lastFrameOffload }
}

extension IPv4Host: PacketProcessor {
    public var tcpHost: IPv4Host { self }
    public var maximumPacketSize: Int { mtu }
}

/// The monotonic clock as the core's `Instant` (CLOCK_MONOTONIC: never steps back,
/// unaffected by wall-clock changes).
public enum MonotonicClock {
    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}
