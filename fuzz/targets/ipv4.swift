// IPv4 header: IPv4HeaderView in its three forms (plain, validating, quoted), options.
// Invariants: header/options/payload inside the input and consistent with the
// length fields; validating succeeds iff plain succeeds and the checksum verifies;
// validateOptions() and options() agree; parse(emit(value)) == value with a valid checksum.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    if let q = try? IPv4HeaderView(quoted: input) {
        require(within(q.bytes, input) && q.bytes.count >= q.headerLength, "quoted bytes")
        exercise(q, input)
        consume(q.quotedPorts?.source); consume(q.quotedTCPSequenceNumber)
    }
    let v: IPv4HeaderView
    do { v = try IPv4HeaderView(input) } catch {
        consume(error.description)
        require((try? IPv4HeaderView(validating: input)) == nil, "validating accepted what plain refused")
        return
    }
    require(v.bytes.count == v.totalLength && v.totalLength <= input.count, "bytes not bounded by total length")
    require(v.bytes.baseAddress == input.baseAddress, "view does not start at the input")
    require(v.version == 4 && v.headerLength >= 20 && v.headerLength <= 60 && v.headerLength <= v.totalLength, "lengths")
    exercise(v, input)
    let valid = v.checksumIsValid
    require((try? IPv4HeaderView(validating: input)) != nil ? valid : !valid, "validating disagrees with checksumIsValid")

    let optionsOK = (try? v.validateOptions()) != nil
    let options = try? v.options()
    require(optionsOK == (options != nil), "validateOptions and options() disagree")
    guard options != nil else { return }
    let value: IPv4Header
    do { value = try v.value() } catch { fatalError("value() failed after options() succeeded: \(error)") }
    consume(value)
    require(value.payloadLength == v.payload.count, "payload length")
    let out: [UInt8]
    do { out = try value.bytes(payload: Array(v.payload)) } catch { fatalError("emit of a parsed header failed: \(error)") }
    require(out.count == value.totalLength && value.headerLength <= v.headerLength, "emitted lengths")
    withBytes(out) { o in
        guard let back = try? IPv4HeaderView(validating: o) else { fatalError("emitted header does not parse or verify") }
        require((try? back.value()) == value, "parse(emit(value)) != value")
        require(sameBytes(back.payload, v.payload, count: v.payload.count), "payload changed")
        // Same bytes up to the options, checksum apart (IHL may shrink when an EOL ends the options).
        require(sameBytes(o, input, count: 20, except: [0, 2, 3, 10, 11]) && o[0] >> 4 == 4, "fixed header differs")
    }
}

func exercise(_ v: IPv4HeaderView, _ input: UnsafeRawBufferPointer) {
    consume(v.version); consume(v.headerLength); consume(v.dscp); consume(v.ecn); consume(v.totalLength)
    consume(v.identification); consume(v.reservedFlag); consume(v.dontFragment); consume(v.moreFragments)
    consume(v.fragmentOffset); consume(v.isFragment); consume(v.timeToLive); consume(v.protocol)
    consume(v.headerChecksum); consume(v.source); consume(v.destination); consume(v.source.description)
    consume(v.destination.isMulticast); consume(v.checksumIsValid)
    let h = v.header, o = v.optionBytes, p = v.payload
    require(within(h, input) && within(o, input) && within(p, input), "slices outside the input")
    require(h.count == v.headerLength && o.count == v.headerLength - 20 && p.count == v.bytes.count - v.headerLength, "slice lengths")
    require(v.fragmentOffset % 8 == 0 && v.fragmentOffset <= 65528, "fragment offset")
    consumeBytes(o); consumeBytes(p)
    if let opts = try? v.options() {
        var used = 0
        for opt in opts { consume(opt); consume(opt.description); used += opt.length }
        require(used <= o.count, "options longer than the option bytes")
    }
}
