// Big-endian field access over raw buffers. Callers check lengths once
// (views validate on construction); these helpers do no further checks in
// release builds beyond the standard library's debug preconditions.

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    func be8(_ offset: Int) -> UInt8 { self[offset] }

    @inlinable @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always)
    func put8(_ value: UInt8, at offset: Int) { self[offset] = value }

    @inlinable @inline(__always)
    func put16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    func put32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// Formats bytes as lowercase hex, two digits a byte, no separators.
public func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}

/// Parses hex digits into bytes; whitespace is ignored. Returns nil on any other character
/// or an odd number of digits. For tests and the CLI, not for hot paths.
public func bytes(fromHex hex: String) -> [UInt8]? {
    var out: [UInt8] = []
    var high: UInt8? = nil
    for ch in hex.utf8 {
        let v: UInt8
        switch ch {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = ch - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): v = ch - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): v = ch - UInt8(ascii: "A") + 10
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"): continue
        default: return nil
        }
        if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
    }
    return high == nil ? out : nil
}

/// Allocates `count` zero bytes and lets `body` write into them (the `bytes(...)`
/// conveniences of the wire values use this; not for hot paths).
@usableFromInline
func emittedBytes(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(WireError) -> Void) throws(WireError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    let r: Result<Void, WireError> = out.withUnsafeMutableBytes { b in
        do throws(WireError) { try body(b); return .success(()) } catch { return .failure(error) }
    }
    try r.get()
    return out
}

extension UnsafeMutableRawBufferPointer {
    /// Copies `source` to `offset` (which must leave room for it).
    @inlinable @inline(__always)
    func copy(_ source: [UInt8], to offset: Int) {
        guard !source.isEmpty else { return }
        source.withUnsafeBytes { s in
            UnsafeMutableRawBufferPointer(rebasing: self[offset..<(offset + s.count)]).copyMemory(from: s)
        }
    }
}
