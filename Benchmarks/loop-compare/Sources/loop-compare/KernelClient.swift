// The kernel side of each workload: a blocking-socket client run inside the namespace
// (`ip netns exec NS loop-compare client rr|bulk ADDRESS PORT SECONDS`).
#if canImport(Glibc)
import Glibc
#endif

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Connects with 5 s send/receive timeouts (every blocking call is bounded).
func kernelConnect(address: String, port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_port = port.bigEndian
    inet_pton(AF_INET, address, &sa.sin_addr)
    let r = withUnsafePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    if r != 0 { close(fd); return -1 }
    return fd
}

/// Runs the client; returns the exit status. Prints one line of what it saw.
func runKernelClient(_ args: [String]) -> Int32 {
    guard args.count == 4, let port = UInt16(args[2]), let seconds = Double(args[3]) else {
        print("usage: loop-compare client rr|bulk ADDRESS PORT SECONDS")
        return 2
    }
    let fd = kernelConnect(address: args[1], port: port)
    guard fd >= 0 else { print("client: connect failed: errno \(errno)"); return 1 }
    defer { close(fd) }
    let end = monotonicSeconds() + seconds
    switch args[0] {
    case "rr":
        // One byte out, one byte back, as fast as the round trip allows.
        var b: UInt8 = 0x61
        var n = 0
        while monotonicSeconds() < end {
            guard write(fd, &b, 1) == 1 else { print("client: write failed: errno \(errno)"); return 1 }
            guard read(fd, &b, 1) == 1 else { print("client: read failed: errno \(errno) after \(n)"); return 1 }
            n += 1
        }
        print("client rr transactions=\(n)")
    case "bulk":
        let chunk = [UInt8](repeating: 0x62, count: 65536)
        var sent = 0
        while monotonicSeconds() < end {
            let w = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard w > 0 else { print("client: write failed: errno \(errno) after \(sent)"); return 1 }
            sent += w
        }
        print("client bulk bytes=\(sent)")
    default:
        print("client: unknown workload \(args[0])")
        return 2
    }
    return 0
}
