import Testing
import TCPIP

@Suite struct EthernetTests {
    let untagged = "ffffffffffff 020000000001 0806 deadbeef"
    // 802.1Q: TPID 8100, TCI = PCP 5 (101), DEI 1, VID 0x123 -> 1011 0001 0010 0011 = b123
    let tagged = "0200000000aa 020000000001 8100 b123 0800 4500"

    @Test func untaggedFrameParsesToItsFields() throws {
        let r = parse(hex(untagged)) { p throws(WireError) in
            let v = try EthernetFrameView(p)
            return (v.value(), v.headerLength, Array(v.payload), v.isTagged)
        }
        let (h, len, payload, isTagged) = try #require(r.success)
        #expect(h == EthernetFrameHeader(destination: .broadcast, source: MACAddress(2, 0, 0, 0, 0, 1), etherType: EtherType.arp))
        #expect(len == 14)
        #expect(payload == [0xde, 0xad, 0xbe, 0xef])
        #expect(!isTagged)
        #expect(h.vlan == nil)
    }

    @Test func taggedFrameExposesPriorityDropEligibleAndVLANIdentifier() throws {
        let r = parse(hex(tagged)) { p throws(WireError) in
            let v = try EthernetFrameView(p)
            return (v.value(), v.headerLength, Array(v.payload))
        }
        let (h, len, payload) = try #require(r.success)
        #expect(h.destination == MACAddress(2, 0, 0, 0, 0, 0xaa))
        #expect(h.etherType == EtherType.ipv4)
        #expect(h.vlan == VLANTag(priority: 5, dropEligible: true, identifier: 0x123))
        #expect(h.vlan?.controlInformation == 0xb123)
        #expect(len == 18)
        #expect(payload == [0x45, 0x00])
    }

    @Test func valuesEmitExactBytes() throws {
        let a = EthernetFrameHeader(destination: .broadcast, source: MACAddress(2, 0, 0, 0, 0, 1), etherType: EtherType.arp)
        #expect(try a.bytes(payload: [0xde, 0xad, 0xbe, 0xef]) == hex(untagged))
        let b = EthernetFrameHeader(destination: MACAddress(2, 0, 0, 0, 0, 0xaa), source: MACAddress(2, 0, 0, 0, 0, 1),
                                    etherType: EtherType.ipv4, vlan: VLANTag(priority: 5, dropEligible: true, identifier: 0x123))
        #expect(try b.bytes(payload: [0x45, 0x00]) == hex(tagged))
        let c = EthernetFrameHeader(destination: .zero, source: .zero, etherType: EtherType.ipv6,
                                    vlan: VLANTag(priority: 0, dropEligible: false, identifier: 4095))
        #expect(try c.bytes() == hex("000000000000 000000000000 8100 0fff 86dd"))
    }

    @Test func etherTypeConstantsAreTheAssignedNumbers() {
        #expect(EtherType.ipv4 == 0x0800)
        #expect(EtherType.arp == 0x0806)
        #expect(EtherType.vlan == 0x8100)
        #expect(EtherType.ipv6 == 0x86DD)
    }

    @Test func vlanTagMasksFieldsToTheirWidths() {
        let t = VLANTag(priority: 0xFF, dropEligible: false, identifier: 0xFFFF)
        #expect(t.priority == 7)
        #expect(t.identifier == 0xFFF)
        #expect(t.controlInformation == 0xEFFF)
        #expect(VLANTag(controlInformation: 0x1001) == VLANTag(priority: 0, dropEligible: true, identifier: 1))
    }

    @Test func stackedTagIsUnsupportedOnParseAndEmit() {
        let r = parse(hex("ffffffffffff 020000000001 8100 0001 8100 0002 0800")) { p throws(WireError) in try EthernetFrameView(p) }
        #expect(r.failure == .unsupported("stacked VLAN tags"))
        let h = EthernetFrameHeader(destination: .zero, source: .zero, etherType: EtherType.vlan, vlan: VLANTag(identifier: 1))
        #expect(throws: WireError.unsupported("stacked VLAN tags")) { try h.bytes() }
    }

    @Test func emitIntoShortBufferIsTruncated() {
        let h = EthernetFrameHeader(destination: .zero, source: .zero, etherType: EtherType.ipv4, vlan: VLANTag(identifier: 9))
        var buf = [UInt8](repeating: 0, count: 17)
        let r: Result<Int, WireError> = buf.withUnsafeMutableBytes { b in
            do throws(WireError) { return .success(try h.emit(into: b)) } catch { return .failure(error) }
        }
        #expect(r.failure == .truncated)
    }

    @Test func everyTruncationIsTruncated() {
        for frame in [hex(untagged), hex(tagged)] {
            let needed = frame[12] == 0x81 ? 18 : 14
            for n in 0..<needed {
                let r = parse(Array(frame[0..<n])) { p throws(WireError) in try EthernetFrameView(p).etherType }
                #expect(r.failure == .truncated, "length \(n)")
            }
            #expect(parse(Array(frame[0..<needed])) { p throws(WireError) in try EthernetFrameView(p).payload.count }.success == 0)
        }
    }

    @Test func randomHeadersRoundTrip() throws {
        var rng = SeededRandom(seed: 0xE7)
        for _ in 0..<3000 {
            var type = rng.u16()
            if type == EtherType.vlan { type = EtherType.ipv4 }
            let vlan = rng.bool() ? VLANTag(priority: rng.u8(), dropEligible: rng.bool(), identifier: rng.u16()) : nil
            let h = EthernetFrameHeader(destination: rng.mac(), source: rng.mac(), etherType: type, vlan: vlan)
            let payload = rng.bytes(rng.int(0...64))
            let frame = try h.bytes(payload: payload)
            #expect(frame.count == h.headerLength + payload.count)
            let r = parse(frame) { p throws(WireError) in
                let v = try EthernetFrameView(p)
                return (v.value(), Array(v.payload))
            }
            let (back, body) = try #require(r.success)
            #expect(back == h)
            #expect(body == payload)
        }
    }
}
