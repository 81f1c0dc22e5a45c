import ArgumentParser

@main
struct TCPIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcpip",
        abstract: "A userspace TCP/IP stack in Swift: tools around it.",
        subcommands: [Demo.self, Decode.self, Trace.self, Serve.self, Fetch.self, Ping.self]
    )
}
