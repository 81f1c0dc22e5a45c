// ARP for IPv4 over Ethernet: ARPPacketView.
// Invariants: the view is the first 28 bytes; the value re-emits them exactly;
// reply(with:) swaps the addresses.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let a: ARPPacketView
    do { a = try ARPPacketView(input) } catch { consume(error.description); return }
    require(a.bytes.count == ARPPacketView.length && within(a.bytes, input), "view not the first 28 bytes")
    consume(a.operation); consume(a.senderHardwareAddress); consume(a.senderProtocolAddress)
    consume(a.targetHardwareAddress); consume(a.targetProtocolAddress)
    consume(a.senderProtocolAddress.description); consume(a.targetHardwareAddress.description)
    let value = a.value()
    consume(value)
    let out = value.bytes()
    require(out.count == 28, "emitted \(out.count) bytes")
    withBytes(out) { o in require(sameBytes(o, input, count: 28), "emitted packet differs from input") }
    let back: ARPPacket? = withBytes(out) { o in try? ARPPacketView(o).value() }
    require(back == value, "parse(emit(value)) != value")
    let reply = value.reply(with: MACAddress(rawValue: 0x0200_0000_0001))
    require(reply.operation == .reply && reply.targetProtocolAddress == value.senderProtocolAddress
            && reply.senderProtocolAddress == value.targetProtocolAddress
            && reply.targetHardwareAddress == value.senderHardwareAddress, "reply addresses")
}
