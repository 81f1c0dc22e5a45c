/// Why a sequence of bytes is not a valid header of the kind asked for.
///
/// Every parser in `Wire/` reports malformed input with one of these cases;
/// none traps and none silently accepts.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the header (or the length it announces) needs.
    case truncated
    /// A header-length field (IPv4 IHL, TCP data offset) below its minimum or past the buffer.
    case badHeaderLength
    /// A total-length field that is shorter than the header or longer than the buffer.
    case badTotalLength
    /// A version field that is not the one this parser reads (IPv4: 4).
    case badVersion
    /// The checksum does not verify.
    case badChecksum
    /// A TCP or IPv4 option whose length byte is below 2, runs past the header,
    /// or does not match the fixed length of its kind.
    case badOptionLength
    /// A field holds a value this format does not allow (ARP hardware type, ...).
    case unsupported(String)

    public var description: String {
        switch self {
        case .truncated: return "truncated"
        case .badHeaderLength: return "bad header length"
        case .badTotalLength: return "bad total length"
        case .badVersion: return "bad version"
        case .badChecksum: return "bad checksum"
        case .badOptionLength: return "bad option length"
        case .unsupported(let what): return "unsupported \(what)"
        }
    }
}
