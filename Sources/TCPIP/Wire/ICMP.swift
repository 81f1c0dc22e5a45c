/// ICMPv4 message types (RFC 792 and IANA) used here.
public enum ICMPv4Type {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let sourceQuench: UInt8 = 4
    public static let redirect: UInt8 = 5
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
    public static let timestampRequest: UInt8 = 13
    public static let timestampReply: UInt8 = 14

    /// Whether messages of this type report an error about a datagram and quote it.
    @inlinable
    public static func isError(_ type: UInt8) -> Bool {
        switch type {
        case destinationUnreachable, sourceQuench, redirect, timeExceeded, parameterProblem: return true
        default: return false
        }
    }
}

/// Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
/// Any code is representable; these are the named ones.
@frozen
public struct ICMPv4UnreachableCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let network = Self(rawValue: 0)
    public static let host = Self(rawValue: 1)
    public static let `protocol` = Self(rawValue: 2)
    public static let port = Self(rawValue: 3)
    /// Fragmentation needed and DF set; the message carries the next-hop MTU (RFC 1191).
    public static let fragmentationNeeded = Self(rawValue: 4)
    public static let sourceRouteFailed = Self(rawValue: 5)
    public static let networkUnknown = Self(rawValue: 6)
    public static let hostUnknown = Self(rawValue: 7)
    public static let sourceHostIsolated = Self(rawValue: 8)
    public static let networkProhibited = Self(rawValue: 9)
    public static let hostProhibited = Self(rawValue: 10)
    public static let networkUnreachableForTOS = Self(rawValue: 11)
    public static let hostUnreachableForTOS = Self(rawValue: 12)
    public static let communicationProhibited = Self(rawValue: 13)
    public static let hostPrecedenceViolation = Self(rawValue: 14)
    public static let precedenceCutoff = Self(rawValue: 15)

    public var description: String {
        let names = ["net", "host", "protocol", "port", "frag-needed", "source-route-failed", "net-unknown",
                     "host-unknown", "source-isolated", "net-prohibited", "host-prohibited", "net-tos",
                     "host-tos", "admin-prohibited", "precedence-violation", "precedence-cutoff"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "code-\(rawValue)"
    }
}

/// Time exceeded codes (RFC 792).
@frozen
public struct ICMPv4TimeExceededCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let timeToLiveExceeded = Self(rawValue: 0)
    public static let reassemblyTimeExceeded = Self(rawValue: 1)
}

/// A zero-copy view of an ICMPv4 message (RFC 792): the IP payload, 8 header
/// bytes (type, code, checksum, rest of header) then the body.
///
/// Construction checks only the 8-byte header; the checksum is checked when asked.
/// For error messages the quoted datagram is a lenient `IPv4HeaderView`
/// (`quotedDatagram()`).
@frozen
public struct ICMPv4MessageView {
    public let bytes: UnsafeRawBufferPointer

    public static let headerLength = 8

    @inlinable
    public init(_ message: UnsafeRawBufferPointer) throws(WireError) {
        guard message.count >= ICMPv4MessageView.headerLength else { throw .truncated }
        bytes = message
    }

    @inlinable public var type: UInt8 { bytes[0] }
    @inlinable public var code: UInt8 { bytes[1] }
    @inlinable public var checksum: UInt16 { bytes.be16(2) }
    /// Header bytes 4–7 as one number.
    @inlinable public var restOfHeader: UInt32 { bytes.be32(4) }

    /// Echo request/reply identifier.
    @inlinable public var identifier: UInt16 { bytes.be16(4) }
    /// Echo request/reply sequence number.
    @inlinable public var sequenceNumber: UInt16 { bytes.be16(6) }
    /// Destination unreachable, fragmentation needed: the next-hop MTU (RFC 1191; 0 from old routers).
    @inlinable public var nextHopMTU: UInt16 { bytes.be16(6) }
    /// Parameter problem: the offset of the octet in error.
    @inlinable public var pointer: UInt8 { bytes[4] }
    /// Redirect: the gateway to use.
    @inlinable public var gateway: IPv4Address { bytes.ipv4(4) }

    /// Everything after the 8 header bytes: echo data, or the quoted datagram.
    @inlinable public var body: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[ICMPv4MessageView.headerLength...])
    }

    @inlinable public var isError: Bool { ICMPv4Type.isError(type) }

    /// Whether the checksum verifies over the whole message.
    @inlinable public var checksumIsValid: Bool {
        var c = InternetChecksum()
        c.add(bytes)
        return c.verifies
    }

    /// The datagram an error message quotes: its IPv4 header (whole) and at least the
    /// first 8 bytes of its payload. `unsupported` for a message that is not an error.
    @inlinable
    public func quotedDatagram() throws(WireError) -> IPv4HeaderView {
        guard isError else { throw .unsupported("ICMP type \(type) quotes no datagram") }
        return try IPv4HeaderView(quoted: body)
    }

    /// The message as a value. Echo messages with code 0, destination unreachable and
    /// time exceeded with their unused header bytes zero get their own cases; anything
    /// else is `.other`, so re-emitting the value gives back the same bytes.
    public func value() -> ICMPv4Message {
        let body = Array(self.body)
        switch (type, code) {
        case (ICMPv4Type.echoRequest, 0):
            return .echoRequest(identifier: identifier, sequenceNumber: sequenceNumber, data: body)
        case (ICMPv4Type.echoReply, 0):
            return .echoReply(identifier: identifier, sequenceNumber: sequenceNumber, data: body)
        case (ICMPv4Type.destinationUnreachable, _) where bytes.be16(4) == 0:
            return .destinationUnreachable(code: ICMPv4UnreachableCode(rawValue: code), nextHopMTU: nextHopMTU, quoted: body)
        case (ICMPv4Type.timeExceeded, _) where restOfHeader == 0:
            return .timeExceeded(code: ICMPv4TimeExceededCode(rawValue: code), quoted: body)
        default:
            return .other(type: type, code: code, restOfHeader: restOfHeader, body: body)
        }
    }
}

extension IPv4HeaderView {
    /// The ports of a quoted TCP or UDP datagram (its first 4 payload bytes), if present.
    @inlinable
    public var quotedPorts: (source: UInt16, destination: UInt16)? {
        guard self.protocol == IPProtocol.tcp || self.protocol == IPProtocol.udp, payload.count >= 4 else { return nil }
        let p = payload
        return (p.be16(0), p.be16(2))
    }

    /// The sequence number of a quoted TCP segment (payload bytes 4–7), if present.
    @inlinable
    public var quotedTCPSequenceNumber: SequenceNumber? {
        guard self.protocol == IPProtocol.tcp, payload.count >= 8 else { return nil }
        return SequenceNumber(payload.be32(4))
    }
}

/// An ICMPv4 message as a value (header and body). The checksum is computed on emit.
public enum ICMPv4Message: Hashable, Sendable {
    case echoRequest(identifier: UInt16, sequenceNumber: UInt16, data: [UInt8])
    case echoReply(identifier: UInt16, sequenceNumber: UInt16, data: [UInt8])
    /// `nextHopMTU` is meaningful for `.fragmentationNeeded` and zero otherwise;
    /// `quoted` is the original IPv4 header and at least 8 bytes of its payload.
    case destinationUnreachable(code: ICMPv4UnreachableCode, nextHopMTU: UInt16, quoted: [UInt8])
    case timeExceeded(code: ICMPv4TimeExceededCode, quoted: [UInt8])
    /// Any other message, kept as type, code, header bytes 4–7 and body.
    case other(type: UInt8, code: UInt8, restOfHeader: UInt32, body: [UInt8])

    public var type: UInt8 {
        switch self {
        case .echoRequest: return ICMPv4Type.echoRequest
        case .echoReply: return ICMPv4Type.echoReply
        case .destinationUnreachable: return ICMPv4Type.destinationUnreachable
        case .timeExceeded: return ICMPv4Type.timeExceeded
        case .other(let t, _, _, _): return t
        }
    }

    public var code: UInt8 {
        switch self {
        case .echoRequest, .echoReply: return 0
        case .destinationUnreachable(let c, _, _): return c.rawValue
        case .timeExceeded(let c, _): return c.rawValue
        case .other(_, let c, _, _): return c
        }
    }

    public var restOfHeader: UInt32 {
        switch self {
        case .echoRequest(let id, let seq, _), .echoReply(let id, let seq, _): return UInt32(id) << 16 | UInt32(seq)
        case .destinationUnreachable(_, let mtu, _): return UInt32(mtu)
        case .timeExceeded: return 0
        case .other(_, _, let r, _): return r
        }
    }

    public var body: [UInt8] {
        switch self {
        case .echoRequest(_, _, let d), .echoReply(_, _, let d): return d
        case .destinationUnreachable(_, _, let q), .timeExceeded(_, let q): return q
        case .other(_, _, _, let b): return b
        }
    }

    /// Header plus body, in bytes.
    public var length: Int { ICMPv4MessageView.headerLength + body.count }

    /// Writes the whole message, checksum included, at the start of `buffer`; returns its length.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let body = self.body
        let len = ICMPv4MessageView.headerLength + body.count
        guard buffer.count >= len else { throw .truncated }
        buffer[0] = type
        buffer[1] = code
        buffer.put16(0, at: 2)
        buffer.put32(restOfHeader, at: 4)
        buffer.copy(body, to: ICMPv4MessageView.headerLength)
        ICMPv4Message.fillChecksum(message: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<len]))
        return len
    }

    /// Writes an 8-byte header (checksum zero) without building a value, for messages
    /// whose body is copied in place (an echo reply from a request's data, a quote
    /// from a received datagram); finish with `fillChecksum(message:)`. Returns 8.
    @inlinable
    public static func writeHeader(type: UInt8, code: UInt8, restOfHeader: UInt32,
                                   into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard buffer.count >= ICMPv4MessageView.headerLength else { throw .truncated }
        buffer[0] = type
        buffer[1] = code
        buffer.put16(0, at: 2)
        buffer.put32(restOfHeader, at: 4)
        return ICMPv4MessageView.headerLength
    }

    /// Computes and stores the checksum of a whole message (header then body).
    @inlinable
    public static func fillChecksum(message: UnsafeMutableRawBufferPointer) {
        message.put16(0, at: 2)
        var c = InternetChecksum()
        c.add(UnsafeRawBufferPointer(message))
        message.put16(c.value, at: 2)
    }

    public func bytes() -> [UInt8] {
        (try? emittedBytes(count: length) { b throws(WireError) in _ = try emit(into: b) }) ?? []
    }
}
