// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-tcpip",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TCPIP", targets: ["TCPIP"]),
        .library(name: "TCPIPDevices", targets: ["TCPIPDevices"]),
        .library(name: "TCPIPRuntime", targets: ["TCPIPRuntime"]),
        .executable(name: "tcpip", targets: ["tcpip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Core: wire formats, TCP engine, stack, simulation. Sans-IO, no dependencies.
        .target(name: "TCPIP"),
        // The ioctls Swift cannot call (ioctl is variadic): TUNSETIFF, SIOCSIFMTU, ...
        .target(name: "CTCPIPShim"),
        // Real links: TAP/TUN devices (Linux), capture files.
        .target(name: "TCPIPDevices", dependencies: ["TCPIP", "CTCPIPShim"]),
        // The event loop (one thread per stack) and the async API: TCPListener, TCPStream.
        .target(name: "TCPIPRuntime", dependencies: ["TCPIP", "TCPIPDevices"]),
        .executableTarget(
            name: "tcpip",
            dependencies: [
                "TCPIP", "TCPIPDevices", "TCPIPRuntime", "TCPIPApps",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TCPIPTests", dependencies: ["TCPIP", "NetworkTestSupport"]),
        // Network namespaces, privileges and child processes for the tests that talk to the kernel.
        .target(name: "NetworkTestSupport", path: "Tests/NetworkTestSupport"),
        .testTarget(name: "TCPIPDevicesTests", dependencies: ["TCPIP", "TCPIPDevices", "NetworkTestSupport"]),
        .testTarget(name: "TCPIPRuntimeTests", dependencies: ["TCPIP", "TCPIPDevices", "TCPIPRuntime", "NetworkTestSupport"]),
        .testTarget(name: "tcpipTests", dependencies: ["TCPIP", "TCPIPDevices", "tcpip", "NetworkTestSupport"]),
        // Benchmarks: executables that print figures (see BENCHMARKS.md).
        .executableTarget(name: "checksum-bench", dependencies: ["TCPIP"], path: "Benchmarks/checksum-bench"),
        // Sans-IO application logic for `tcpip serve`/`tcpip fetch` (HTTP, echo, discard); no dependencies.
        .target(name: "TCPIPApps"),
        .testTarget(name: "TCPIPAppsTests", dependencies: ["TCPIPApps"]),
        .target(name: "MallocCounter", path: "Benchmarks/MallocCounter"),
        .executableTarget(name: "tcp-bench", dependencies: ["TCPIP", "MallocCounter"], path: "Benchmarks/tcp-bench"),
    ]
)
