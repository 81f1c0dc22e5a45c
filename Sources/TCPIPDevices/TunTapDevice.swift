import CTCPIPShim
#if canImport(Glibc)
import Glibc
#endif

/// An error from a device, with the errno the kernel gave.
public struct DeviceError: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32

    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// A Linux TAP (Ethernet frames) or TUN (IPv4 packets) device, opened through
/// /dev/net/tun. Non-blocking: `read` returns nil when nothing is waiting.
///
/// A device with the given name that already exists (made with `ip tuntap add`,
/// configured by the caller) is attached to; otherwise the kernel creates it,
/// and it disappears when the descriptor is closed.
public final class TunTapDevice: @unchecked Sendable {
    public enum Kind: Sendable { case tap, tun }

    public let kind: Kind
    /// The interface name the kernel gave (the one asked for, or its own choice).
    public let name: String
    public private(set) var fileDescriptor: Int32
    /// Opened with IFF_VNET_HDR and TUNSETOFFLOAD (checksum and TCPv4 segmentation
    /// offload): every frame read or written starts with a 10-byte `VirtioNetHeader`.
    public let virtioNetHeader: Bool

    /// Opens (or attaches to) the device `name` ("" or "tap%d" lets the kernel choose).
    ///
    /// `offload`: open with the virtio-net header (IFF_VNET_HDR) and let the kernel hand
    /// over partial checksums and TCP super-segments of up to 64 KiB both ways
    /// (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4); `read` and `write` then carry the header.
    public init(name: String, kind: Kind, offload: Bool = false) throws {
        var out = [CChar](repeating: 0, count: Int(TCPIP_IFNAMSIZ))
        let fd = tcpip_tun_open_offload(name, kind == .tap ? 1 : 0, offload ? 1 : 0, &out)
        guard fd >= 0 else {
            throw DeviceError("open \(name) (/dev/net/tun, TUNSETIFF\(offload ? ", TUNSETOFFLOAD" : ""))", errno: -fd)
        }
        self.kind = kind
        self.virtioNetHeader = offload
        self.fileDescriptor = fd
        self.name = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { close() }

    public func close() {
        if fileDescriptor >= 0 {
            _ = Glibc.close(fileDescriptor)
            fileDescriptor = -1
        }
    }

    /// The interface MTU (IP packet size, without the Ethernet header).
    public func mtu() throws -> Int {
        var m: Int32 = 0
        let r = tcpip_if_get_mtu(name, &m)
        guard r == 0 else { throw DeviceError("SIOCGIFMTU \(name)", errno: -r) }
        return Int(m)
    }

    public func setMTU(_ mtu: Int) throws {
        let r = tcpip_if_set_mtu(name, Int32(mtu))
        guard r == 0 else { throw DeviceError("SIOCSIFMTU \(name) \(mtu)", errno: -r) }
    }

    /// Brings the kernel's side of the interface up.
    public func setUp() throws {
        let r = tcpip_if_set_up(name)
        guard r == 0 else { throw DeviceError("SIOCSIFFLAGS \(name) up", errno: -r) }
    }

    /// Reads one frame (TAP) or packet (TUN) into `buffer`: its length, or nil when
    /// nothing is waiting. The buffer should hold MTU + 14 bytes (TAP) at least;
    /// a longer frame is truncated by the kernel.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let n = Glibc.read(fileDescriptor, buffer.baseAddress, buffer.count)
        if n >= 0 { return n }
        let e = errno
        if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return nil }
        throw DeviceError("read \(name)", errno: e)
    }

    /// Writes one frame or packet. Returns false when the kernel's queue is full
    /// (EAGAIN/ENOBUFS: the frame is dropped, as a NIC would).
    @discardableResult
    public func write(_ frame: UnsafeRawBufferPointer) throws -> Bool {
        while true {
            let n = Glibc.write(fileDescriptor, frame.baseAddress, frame.count)
            if n >= 0 { return true }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS { return false }
            throw DeviceError("write \(name)", errno: e)
        }
    }

    /// Waits until a frame can be read or `timeoutMilliseconds` pass: true when readable.
    public func waitReadable(timeoutMilliseconds: Int) throws -> Bool {
        let r = tcpip_wait_readable(fileDescriptor, Int32(clamping: timeoutMilliseconds))
        guard r >= 0 else { throw DeviceError("poll \(name)", errno: -r) }
        return r == 1
    }
}
