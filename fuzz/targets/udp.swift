// UDP datagram: UDPHeaderView.
// Invariants: bytes bounded by the length field, payload inside; the value with
// the same payload re-emits the ports and length and verifies over a pseudo-header.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let u: UDPHeaderView
    do { u = try UDPHeaderView(input) } catch { consume(error.description); return }
    consume(u.sourcePort); consume(u.destinationPort); consume(u.length); consume(u.checksum); consume(u.hasChecksum)
    require(u.bytes.count == u.length && u.length >= 8 && u.length <= input.count, "length")
    require(u.bytes.baseAddress == input.baseAddress, "view does not start at the input")
    let p = u.payload
    require(p.count == u.length - 8 && within(p, input), "payload")
    consumeBytes(p)
    let src = IPv4Address(192, 0, 2, 1), dst = IPv4Address(198, 51, 100, 7)
    consume(u.checksumIsValid(source: src, destination: dst))
    if !u.hasChecksum { require(u.checksumIsValid(source: src, destination: dst), "no checksum must be valid") }
    let value = u.value()
    consume(value)
    require(value.payloadLength == p.count && value.length == u.length, "value lengths")
    let out: [UInt8]
    do { out = try value.bytes(payload: Array(p), source: src, destination: dst) } catch { fatalError("emit failed: \(error)") }
    withBytes(out) { o in
        require(sameBytes(o, input, count: u.length, except: [6, 7]), "emitted datagram differs from input")
        guard let back = try? UDPHeaderView(o) else { fatalError("emitted datagram does not parse") }
        require(back.hasChecksum && back.checksumIsValid(source: src, destination: dst), "emitted checksum")
        require(back.value() == value, "parse(emit(value)) != value")
    }
}
