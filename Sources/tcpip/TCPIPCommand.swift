import ArgumentParser

@main
struct TCPIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcpip",
        abstract: "A userspace TCP/IP stack in Swift: tools around it.",
        subcommands: [Decode.self, Demo.self]
    )
}
