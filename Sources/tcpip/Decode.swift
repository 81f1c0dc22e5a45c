import ArgumentParser
import TCPIP
import TCPIPDevices

import Foundation

/// `tcpip decode FILE`: prints a pcap or pcapng capture one packet per line.
struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the packets of a pcap or pcapng file, one line each (tcpdump style).",
        discussion: """
            TCP sequence and acknowledgment numbers are relative to each direction's initial \
            sequence number, as Wireshark counts them (the SYN is 0, the first data byte 1). \
            A truncated file prints the packets read, then the error, and exits non-zero.
            """
    )

    @Argument(help: "The capture file (pcap or pcapng).")
    var file: String

    @Flag(name: .long, help: "Print raw sequence and acknowledgment numbers.")
    var absolute = false

    @Flag(name: .shortAndLong, help: "Print every field of every header, with checksum status.")
    var verbose = false

    func run() throws {
        let bytes: [UInt8]
        do { bytes = try CaptureFile.readBytes(path: file) } catch {
            printError("tcpip: \(error)")
            throw ExitCode.failure
        }
        var reader: CaptureReader
        do { reader = try CaptureReader(bytes: bytes) } catch {
            printError("tcpip: \(file): \(error)")
            throw ExitCode.failure
        }
        var describer = PacketDescriber(options: .init(absoluteSequenceNumbers: absolute, verbose: verbose))
        do throws(CaptureError) {
            while let record = try reader.next() {
                print(describer.describe(record))
            }
        } catch {
            printError("tcpip: \(file): \(error)")
            throw ExitCode.failure
        }
    }

    private func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
