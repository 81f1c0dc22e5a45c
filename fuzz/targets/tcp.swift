// TCP header and options: TCPHeaderView, optionSet() and options(), TCPOptionSet.write.
// Invariants: option bytes and payload inside the input; optionSet() succeeds iff
// options() does; parse(emit(value)) == value and the emitted header equals the
// input (checksum apart) up to an EOL; an option set written in the Linux layout
// parses back to itself (SACK blocks cut to what fits).
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let t: TCPHeaderView
    do { t = try TCPHeaderView(input) } catch { consume(error.description); return }
    consume(t.sourcePort); consume(t.destinationPort); consume(t.sequenceNumber); consume(t.acknowledgmentNumber)
    consume(t.dataOffset); consume(t.reserved); consume(t.flags); consume(t.flags.description); consume(t.flags.names)
    consume(t.window); consume(t.checksum); consume(t.urgentPointer); consume(t.sequenceLength)
    consume(t.checksumIsValid(source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(192, 0, 2, 2)))
    let hl = t.headerLength
    require(hl >= 20 && hl <= 60 && hl <= input.count && hl == t.dataOffset * 4, "header length \(hl)")
    let ob = t.optionBytes, p = t.payload
    require(ob.count == hl - 20 && within(ob, input), "option bytes")
    require(p.count == input.count - hl && within(p, input), "payload")
    consumeBytes(ob); consumeBytes(p)
    let f = t.flags
    require(t.sequenceLength == p.count + (f.contains(.syn) ? 1 : 0) + (f.contains(.fin) ? 1 : 0), "sequence length")

    let set = try? t.optionSet()
    let list = try? t.options()
    require((set != nil) == (list != nil), "optionSet() and options() disagree")
    guard let set, let list else { return }

    // The option set, and its own encoding.
    consume(set)
    consume(set.maximumSegmentSize); consume(set.windowScale); consume(set.sackPermitted); consume(set.timestamps)
    consume(set.sackBlocks.description)
    require(set.sackBlocks.count <= SACKBlocks.capacity, "too many SACK blocks")
    for b in set.sackBlocks { consume(b); consume(b.description) }
    let n = set.encodedLength
    require(n % 4 == 0 && n <= 40, "encoded length \(n)")
    var buf = [UInt8](repeating: 0xEE, count: 40)
    let end = buf.withUnsafeMutableBytes { set.write(into: $0, at: 0) }
    require(end == n, "write wrote \(end), encodedLength \(n)")
    withBytes(buf) { b in
        guard let back = try? TCPOptionSet(parsing: UnsafeRawBufferPointer(rebasing: b[0..<n])) else {
            fatalError("written option set does not parse")
        }
        var want = set
        want.sackBlocks = SACKBlocks(set.sackBlocks.prefix(set.sackBlocksThatFit))
        require(back == want, "option set round trip")
    }
    require(set.options.reduce(0) { $0 + $1.length } == n, "options list of the set vs encodedLength")

    // The header as a value, and back.
    var used = 0
    for o in list { consume(o); consume(o.description); used += o.length }
    require(used <= ob.count, "options longer than the option bytes")
    let value: TCPHeader
    do { value = try t.value() } catch { fatalError("value() failed after options() succeeded: \(error)") }
    consume(value)
    require(value.options == list && value.headerLength <= hl, "value options")
    let seg: [UInt8]
    let src = IPv4Address(10, 0, 0, 1), dst = IPv4Address(10, 0, 0, 2)
    do { seg = try value.segmentBytes(payload: Array(p), source: src, destination: dst) } catch {
        fatalError("emit of a parsed header failed: \(error)")
    }
    withBytes(seg) { s in
        guard let back = try? TCPHeaderView(s) else { fatalError("emitted segment does not parse") }
        require(back.checksumIsValid(source: src, destination: dst), "emitted checksum")
        require((try? back.value()) == value, "parse(emit(value)) != value")
        require(sameBytes(back.payload, p, count: p.count) && back.payload.count == p.count, "payload changed")
        if !list.contains(.endOfList) {
            require(back.headerLength == hl, "header length changed without an EOL")
            require(sameBytes(s, input, count: hl, except: [16, 17]), "emitted header differs from input")
        } else {
            require(sameBytes(s, input, count: 20 + used, except: [12, 16, 17]), "emitted header differs before the EOL")
        }
    }
}
