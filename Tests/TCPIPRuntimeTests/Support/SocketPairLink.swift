import Foundation
import TCPIPRuntime

/// One end of an AF_UNIX datagram socket pair as a `PacketInterface`: each datagram is one
/// IPv4 packet. Two stacks on the two ends talk without root, a kernel or a device.
final class SocketPairEnd: PacketInterface, @unchecked Sendable {
    let fileDescriptor: Int32
    /// When set, packets written are dropped (a cut link).
    let dropOutgoing: Bool

    init(fd: Int32, dropOutgoing: Bool = false) {
        fileDescriptor = fd
        self.dropOutgoing = dropOutgoing
    }

    deinit { close(fileDescriptor) }

    /// A connected pair, non-blocking, with room for a few hundred packets each way.
    static func pair(dropFromSecond: Bool = false) -> (SocketPairEnd, SocketPairEnd) {
        var fds: [Int32] = [-1, -1]
        let r = socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &fds)
        precondition(r == 0, "socketpair failed: errno \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var size: Int32 = 4 << 20
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        return (SocketPairEnd(fd: fds[0]), SocketPairEnd(fd: fds[1], dropOutgoing: dropFromSecond))
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let n = recv(fileDescriptor, buffer.baseAddress, buffer.count, 0)
        return n >= 0 ? n : nil
    }

    func write(_ packet: UnsafeRawBufferPointer) throws -> Bool {
        if dropOutgoing { return true }
        return send(fileDescriptor, packet.baseAddress, packet.count, 0) >= 0
    }
}
