import Testing
import TCPIP

@Suite struct AddressesTests {
    @Test func ipv4DottedQuadParsesAndPrints() {
        #expect(IPv4Address("192.0.2.1") == IPv4Address(192, 0, 2, 1))
        #expect(IPv4Address("192.0.2.1")?.rawValue == 0xC000_0201)
        #expect(IPv4Address(198, 51, 100, 255).description == "198.51.100.255")
        for bad in ["192.0.2", "192.0.2.1.5", "192.0.2.256", "192.0..1", "a.b.c.d", "+1.0.0.0", "1.0.0.0001", ""] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
        #expect(IPv4Address(224, 0, 0, 1).isMulticast)
        #expect(!IPv4Address(192, 0, 2, 1).isMulticast)
    }

    @Test func macParsesOnlyTwoHexDigitsPerOctet() {
        #expect(MACAddress("02:00:00:00:00:01") == MACAddress(2, 0, 0, 0, 0, 1))
        #expect(MACAddress("02-AA-bb-00-00-01") == MACAddress(2, 0xaa, 0xbb, 0, 0, 1))
        #expect(MACAddress(2, 0xaa, 0xbb, 0, 0, 1).description == "02:aa:bb:00:00:01")
        #expect(MACAddress(2, 0xaa, 0xbb, 0, 0, 1).bytes == [2, 0xaa, 0xbb, 0, 0, 1])
        // A sign is not a hex digit, though UInt8(_:radix:) would accept "+1".
        for bad in ["+1:00:00:00:00:00", "02:00:00::00:00:01", ":02:00:00:00:00:01", "02:00:00:00:00", "02:00:00:00:00:01:02", "002:00:00:00:00:01", "0g:00:00:00:00:01"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
        #expect(MACAddress.broadcast.isBroadcast)
        #expect(MACAddress(0x01, 0, 0x5e, 0, 0, 1).isMulticast)
        #expect(!MACAddress(2, 0, 0, 0, 0, 1).isMulticast)
    }
}
