import TCPIP
import TCPIPDevices
import TCPIPRuntime

/// The runtime example in README.md, compiled here so it stays true (it needs a real
/// device, so it is not run; KernelInteropTests runs the same calls against the kernel).
func readmeRuntimeExample() async throws {
    // --- README example begins ---
    let device = try TunTapDevice(name: "tap0", kind: .tap)      // or kind: .tun
    let stack = try TCPStack(interface: device, address: IPv4Address("192.0.2.2")!, prefixLength: 24)
    let listener = try await stack.listen(port: 7)
    for try await stream in listener {
        Task {
            while case let bytes = try await stream.read(maxBytes: 65536), !bytes.isEmpty {
                try await stream.write(bytes)          // suspends while the send buffer is full
            }
            stream.close()
        }
    }
    // --- README example ends ---
}
