// ICMPv4 message: ICMPv4MessageView, quoted datagram of error messages, values.
// Invariants: body is the input after 8 bytes; the value re-emits the input
// exactly (checksum apart), parses back to itself and verifies.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let m: ICMPv4MessageView
    do { m = try ICMPv4MessageView(input) } catch { consume(error.description); return }
    consume(m.type); consume(m.code); consume(m.checksum); consume(m.restOfHeader); consume(m.identifier)
    consume(m.sequenceNumber); consume(m.nextHopMTU); consume(m.pointer); consume(m.gateway); consume(m.isError)
    consume(m.checksumIsValid); consume(ICMPv4UnreachableCode(rawValue: m.code).description)
    let body = m.body
    require(body.count == input.count - 8 && within(body, input), "body")
    consumeBytes(body)
    do {
        let q = try m.quotedDatagram()
        require(m.isError, "quoted datagram from a non-error")
        require(within(q.bytes, body) && q.bytes.count >= q.headerLength, "quoted datagram outside the body")
        consume(q.source); consume(q.destination); consume(q.protocol); consume(q.totalLength); consume(q.checksumIsValid)
        require(within(q.payload, body) && within(q.optionBytes, body), "quoted slices")
        consume(q.quotedPorts?.destination); consume(q.quotedTCPSequenceNumber)
        if let opts = try? q.options() { for o in opts { consume(o) } }
    } catch {
        consume(error.description)
    }
    let value = m.value()
    consume(value); consume(value.type); consume(value.code); consume(value.restOfHeader)
    require(value.type == m.type && value.code == m.code && value.restOfHeader == m.restOfHeader, "value header fields")
    require(value.length == input.count, "value length")
    let out = value.bytes()
    require(out.count == input.count, "emitted \(out.count) of \(input.count) bytes")
    withBytes(out) { o in
        require(sameBytes(o, input, count: input.count, except: [2, 3]), "emitted message differs from input")
        guard let back = try? ICMPv4MessageView(o) else { fatalError("emitted message does not parse") }
        require(back.checksumIsValid, "emitted checksum does not verify")
        require(back.value() == value, "parse(emit(value)) != value")
    }
}
