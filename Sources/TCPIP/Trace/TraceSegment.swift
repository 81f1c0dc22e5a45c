/// One TCP segment as a trace sees it: when it passed the capture point, between
/// which addresses, its header as a value and how many payload bytes it carried
/// (from the IP total length, so a capture cut short by a snap length still
/// counts every byte that was on the wire).
public struct TraceSegment: Hashable, Sendable {
    /// Frame number in the capture, 1-based like Wireshark's `frame.number`.
    public var frame: Int
    public var time: Instant
    public var source: IPv4Address
    public var destination: IPv4Address
    public var header: TCPHeader
    public var payloadLength: Int
    /// Whether the TCP checksum verifies; nil when the capture kept too little to tell
    /// (or the segment was built from values).
    public var checksumValid: Bool?
    /// Whether the IPv4 header checksum verifies (offload never leaves it unset on Linux).
    public var ipChecksumValid: Bool

    public init(frame: Int, time: Instant, source: IPv4Address, destination: IPv4Address,
                header: TCPHeader, payloadLength: Int, checksumValid: Bool? = nil, ipChecksumValid: Bool = true) {
        self.frame = frame
        self.time = time
        self.source = source
        self.destination = destination
        self.header = header
        self.payloadLength = payloadLength
        self.checksumValid = checksumValid
        self.ipChecksumValid = ipChecksumValid
    }

    public var sourceEndpoint: TraceEndpoint { TraceEndpoint(address: source, port: header.sourcePort) }
    public var destinationEndpoint: TraceEndpoint { TraceEndpoint(address: destination, port: header.destinationPort) }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    public var sequenceLength: Int {
        payloadLength + (header.flags.contains(.syn) ? 1 : 0) + (header.flags.contains(.fin) ? 1 : 0)
    }

    /// The sequence number just past this segment.
    public var end: SequenceNumber { header.sequenceNumber + sequenceLength }
}

/// An address and port: one end of a TCP conversation.
public struct TraceEndpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }
    public var description: String { "\(address):\(port)" }
    public static func < (a: TraceEndpoint, b: TraceEndpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }
}

/// Why a captured frame gave no TCP segment.
public enum TraceSkipReason: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not IPv4, or IPv4 but not TCP: not an error, just not for a TCP trace.
    case notTCP
    /// A non-first IPv4 fragment, or a first fragment whose TCP length is unknown.
    case fragment
    /// The link, IP or TCP header is malformed or cut short.
    case malformed(String)

    public var description: String {
        switch self {
        case .notTCP: return "not TCP over IPv4"
        case .fragment: return "IPv4 fragment"
        case .malformed(let why): return "malformed: \(why)"
        }
    }
}

extension TraceSegment {
    /// Decodes one captured frame of the given link type into a segment.
    /// Frames that are not TCP/IPv4 or that are malformed give the reason instead.
    public static func decode(frame number: Int, time: Instant, linkType: LinkType,
                              bytes: [UInt8]) -> Result<TraceSegment, TraceSkipReason> {
        bytes.withUnsafeBytes { raw -> Result<TraceSegment, TraceSkipReason> in
            let location: NetworkLayerLocation
            do throws(LinkLayerError) {
                location = try locateNetworkLayer(linkType: linkType, frame: raw)
            } catch {
                return .failure(.malformed("\(error)"))
            }
            guard location.etherType == EtherType.ipv4 else { return .failure(.notTCP) }
            let ipBytes = UnsafeRawBufferPointer(rebasing: raw[location.offset...])
            let ip: IPv4HeaderView
            do throws(WireError) {
                // Lenient: a snap length may have cut the datagram short; the total
                // length in the header still tells how much payload there was.
                ip = try IPv4HeaderView(quoted: ipBytes)
            } catch {
                return .failure(.malformed("IPv4 \(error)"))
            }
            guard ip.protocol == IPProtocol.tcp else { return .failure(.notTCP) }
            guard !ip.isFragment else { return .failure(.fragment) }
            let tcpBytes = ip.payload
            let tcp: TCPHeaderView
            let header: TCPHeader
            do throws(WireError) {
                tcp = try TCPHeaderView(tcpBytes)
                header = try tcp.value()
            } catch {
                return .failure(.malformed("TCP \(error)"))
            }
            let payload = ip.totalLength - ip.headerLength - tcp.headerLength
            guard payload >= 0 else { return .failure(.malformed("TCP header longer than the IP datagram")) }
            // The checksum can be checked only when the whole segment was captured.
            let whole = tcp.headerLength + payload == tcpBytes.count
            let valid: Bool? = whole ? tcp.checksumIsValid(source: ip.source, destination: ip.destination) : nil
            return .success(TraceSegment(frame: number, time: time, source: ip.source, destination: ip.destination,
                                         header: header, payloadLength: payload, checksumValid: valid,
                                         ipChecksumValid: ip.checksumIsValid))
        }
    }
}

/// The TCP segments of a capture, and what could not be read.
public struct TraceInput: Sendable {
    public var segments: [TraceSegment]
    /// Frames that were malformed (frame number, reason). Non-TCP frames are only counted.
    public var malformed: [(frame: Int, reason: TraceSkipReason)]
    public var nonTCPFrames: Int
    /// Why reading stopped early, if it did (e.g. the file is truncated).
    public var readError: CaptureError?

    /// Decodes every record. Frame numbers count all records from 1.
    public init(records: [CaptureRecord], readError: CaptureError? = nil) {
        segments = []
        malformed = []
        nonTCPFrames = 0
        self.readError = readError
        for (i, r) in records.enumerated() {
            switch TraceSegment.decode(frame: i + 1, time: r.timestamp, linkType: r.linkType, bytes: r.bytes) {
            case .success(let s): segments.append(s)
            case .failure(.notTCP), .failure(.fragment): nonTCPFrames += 1
            case .failure(let why): malformed.append((i + 1, why))
            }
        }
    }

    /// Decodes a whole capture file's bytes (pcap or pcapng); reads as far as the file allows.
    public init(captureBytes: [UInt8]) {
        let result = CaptureReader.readAll(captureBytes)
        self.init(records: result.records, readError: result.error)
    }
}
