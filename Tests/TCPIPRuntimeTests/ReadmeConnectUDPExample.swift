import TCPIP
import TCPIPRuntime

/// The "Connecting, UDP and a lingering close" example in README.md, compiled here so it
/// stays true (not run: it needs peers; ConnectAndCloseTests and UDPSocketTests run the same calls).
func readmeConnectUDPExample(stack: TCPStack, query: [UInt8]) async throws {
    // --- README example begins ---
    let web = try await stack.connect(to: IPv4Address(192, 0, 2, 1), port: 80, timeout: .seconds(5))
    // throws TCPStreamError .noRoute (at once), .connectionRefused (RST or ICMP port
    // unreachable), .hostUnreachable (other ICMP unreachable), .timedOut, ...
    try await web.write(Array("GET / HTTP/1.0\r\n\r\n".utf8))
    try await web.closeAndWait()   // returns once the peer has ACKed everything and our FIN
                                   // (TCPConfiguration.linger: .zero resets at once; N resets after N)

    let dns = try await stack.bindUDP()                     // port 0: ephemeral
    try await dns.send(query, to: IPv4Address(192, 0, 2, 53), port: 53)
    let (answer, from, port) = try await dns.receive()      // UDPSocketError.portUnreachable if ICMP said so
    // --- README example ends ---
    _ = (answer, from, port)
}
