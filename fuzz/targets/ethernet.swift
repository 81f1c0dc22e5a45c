// Ethernet II frame (with at most one 802.1Q tag): EthernetFrameView.
// Invariants: header length 14/18, payload is the rest of the input, the value
// re-emits the input's header bytes exactly and parses back to itself.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let f: EthernetFrameView
    do { f = try EthernetFrameView(input) } catch { consume(error.description); return }
    consume(f.destination); consume(f.source); consume(f.isTagged); consume(f.etherType)
    consume(f.destination.description); consume(f.destination.isMulticast); consume(f.source.isBroadcast)
    if let tag = f.vlan {
        require(f.isTagged, "vlan without isTagged")
        consume(tag.description)
        require(VLANTag(controlInformation: tag.controlInformation) == tag, "VLAN TCI round trip")
    }
    let hl = f.headerLength
    require(hl == (f.isTagged ? 18 : 14), "header length \(hl)")
    let p = f.payload
    require(p.count == input.count - hl && within(p, input), "payload outside the frame")
    consumeBytes(p)
    require(f.etherType != EtherType.vlan || !f.isTagged, "stacked tag accepted")

    let value = f.value()
    consume(value)
    var out = [UInt8](repeating: 0, count: 18)
    let n: Int
    do { n = try out.withUnsafeMutableBytes { b throws(WireError) in try value.emit(into: b) } } catch {
        fatalError("emit of a parsed header failed: \(error)")
    }
    require(n == hl && n == value.headerLength, "emitted length \(n) vs \(hl)")
    withBytes(out) { o in require(sameBytes(o, input, count: n), "emitted header differs from input") }
    let back: EthernetFrameHeader? = withBytes(out) { o in try? EthernetFrameView(UnsafeRawBufferPointer(rebasing: o[0..<n])).value() }
    require(back == value, "parse(emit(value)) != value")
}
