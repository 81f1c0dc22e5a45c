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
}

extension TunTapDevice: PacketInterface {}

/// The monotonic clock as the core's `Instant` (CLOCK_MONOTONIC: never steps back,
/// unaffected by wall-clock changes).
public enum MonotonicClock {
    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}
