// swift-tools-version: 6.1
// A separate package so the main package's `swift test` never builds SwiftNIO.
// Run: `swift run -c release loop-compare` as root (see BENCHMARKS.md, "Event loop: poll thread vs SwiftNIO").
import PackageDescription

let package = Package(
    name: "loop-compare",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-tcpip", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "loop-compare",
            dependencies: [
                .product(name: "TCPIP", package: "swift-tcpip"),
                .product(name: "TCPIPDevices", package: "swift-tcpip"),
                .product(name: "TCPIPRuntime", package: "swift-tcpip"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
