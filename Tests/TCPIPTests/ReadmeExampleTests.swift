import Testing
import TCPIP

/// The library example in README.md, kept compiling and true here.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleMovesHelloAcrossALossyLink() throws {
        // --- README example begins ---
        let client = IPv4Host(address: IPv4Address(192, 0, 2, 1), seed: 1)
        let server = IPv4Host(address: IPv4Address(192, 0, 2, 2), seed: 2)
        let link = MemoryLink(faults: try FaultConfiguration(parsing: "loss=5%,delay=10ms"), seed: 7)
        let net = SimulatedNetwork(a: client, b: server, link: link)

        try server.listen(port: 80)
        let c = try client.connect(to: server.address, port: 80, now: net.now)
        _ = client.write(c, Array("hello, TCP".utf8))   // queued; sent once the handshake completes

        var received: [UInt8] = []
        var closed = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        var s: ConnectionHandle?
        _ = net.run(until: {
            // close() in SYN-SENT would drop the connection (RFC 9293 §3.10.4): wait for ESTABLISHED.
            if !closed, client.connection(c)?.state == .established { client.close(c); closed = true }
            if s == nil { s = server.accept(port: 80) }
            if let s {
                let n = buffer.withUnsafeMutableBytes { server.read(s, into: $0) }
                received += buffer[0..<n]
                if server.connection(s)?.state == .closeWait { server.close(s) }
            }
            return client.connectionCount == 0 && server.connectionCount == 0
        }, timeLimit: .seconds(120))
        print(String(decoding: received, as: UTF8.self))   // hello, TCP
        // --- README example ends ---
        #expect(received == Array("hello, TCP".utf8))
        #expect(client.connectionCount == 0 && server.connectionCount == 0)
    }
}
