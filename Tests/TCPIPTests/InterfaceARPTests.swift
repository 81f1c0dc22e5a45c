import Testing
@testable import TCPIP

@Suite struct InterfaceARPTests {
    typealias F = IFX

    @Test func arpRequestForOurAddressGetsExactReply() throws {
        let i = try F.interface()
        let request = ARPPacket.request(from: F.macK, ip: F.ipK, asking: F.ipA).bytes()
        i.receive(F.ethernet(to: .broadcast, type: EtherType.arp, request), now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        let expected = bytes(fromHex: """
            020000000001 02000000000a 0806
            0001 0800 06 04 0002 02000000000a c0000202 020000000001 c0000201
            """)!
        #expect(out[0] == expected)
        #expect(i.counters.arpRequestsAnswered == 1)
        // The request was for us: the sender is learned (RFC 826 merge rule, create).
        #expect(i.arp.lookup(F.ipK, now: .zero) == F.macK)
    }

    @Test func exactRequestFrameWhenResolvingAndPendingPacketReleasedOnReply() throws {
        let i = try F.interface()
        // An echo request arrives before A knows K's MAC: the reply waits for ARP.
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, F.echoRequest(data: [1, 2, 3, 4]))), now: .zero)
        let first = F.drain(i)
        try #require(first.count == 1)
        let expectedRequest = bytes(fromHex: """
            ffffffffffff 02000000000a 0806
            0001 0800 06 04 0001 02000000000a c0000202 000000000000 c0000201
            """)!
        #expect(first[0] == expectedRequest)
        #expect(i.arp.count == 1)
        // K answers: the parked echo reply goes out, to K's MAC.
        let reply = ARPPacket.request(from: F.macA, ip: F.ipA, asking: F.ipK).reply(with: F.macK).bytes()
        i.receive(F.ethernet(to: F.macA, type: EtherType.arp, reply), now: Instant(nanoseconds: 1_000_000))
        let second = F.drain(i, now: Instant(nanoseconds: 1_000_000))
        try #require(second.count == 1)
        #expect(Array(second[0][0..<14]) == bytes(fromHex: "020000000001 02000000000a 0800")!)
        F.ipv4(of: second[0]) { ip in
            #expect(ip.protocol == IPProtocol.icmp)
            #expect(ip.destination == F.ipK)
            #expect(Array(ip.payload.prefix(1)) == [ICMPv4Type.echoReply])
        }
        #expect(i.counters.echoRepliesSent == 1)
        #expect(i.counters.drops.total == 0)
    }

    @Test func gratuitousARPAnnouncesOurAddressFirst() throws {
        let i = try F.interface(gratuitous: true)
        #expect(i.nextDeadline == .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        let expected = bytes(fromHex: """
            ffffffffffff 02000000000a 0806
            0001 0800 06 04 0001 02000000000a c0000202 000000000000 c0000202
            """)!
        #expect(out[0] == expected)
        #expect(F.drain(i).isEmpty)
        #expect(i.nextDeadline == nil)
    }

    @Test func requestsAreRetriedThenResolutionFailsAndIsReported() throws {
        let i = try F.interface()
        try i.sendPing(to: F.ipK, sequence: 1, size: 8, now: .zero)
        #expect(F.drain(i).count == 1)          // first request
        #expect(i.nextDeadline == .zero + .seconds(1))
        #expect(F.drain(i, now: .zero + .seconds(1)).count == 1)
        #expect(F.drain(i, now: .zero + .seconds(2)).count == 1)
        #expect(F.drain(i, now: .zero + .seconds(3)).isEmpty)   // three sent: give up
        #expect(i.counters.arpRequestsSent == 3)
        #expect(i.counters.arpResolutionsFailed == 1)
        #expect(i.counters.drops.arpUnresolved == 1)
        #expect(i.nextEvent() == .resolutionFailed(F.ipK, droppedPackets: 1))
        #expect(i.arp.count == 0)
    }

    @Test func unsolicitedReplyDoesNotCreateAnEntryButUpdatesOne() throws {
        let i = try F.interface()
        let other = IPv4Address(192, 0, 2, 77)
        let gratuitous = ARPPacket(operation: .request, senderHardwareAddress: F.macB, senderProtocolAddress: other,
                                   targetHardwareAddress: .zero, targetProtocolAddress: other).bytes()
        i.receive(F.ethernet(to: .broadcast, from: F.macB, type: EtherType.arp, gratuitous), now: .zero)
        #expect(i.arp.lookup(other, now: .zero) == nil)
        #expect(F.drain(i).isEmpty)
        // Known K moves to a new MAC: the existing entry is updated.
        F.introduceK(to: i)
        let moved = ARPPacket(operation: .request, senderHardwareAddress: F.macB, senderProtocolAddress: F.ipK,
                              targetHardwareAddress: .zero, targetProtocolAddress: F.ipK).bytes()
        i.receive(F.ethernet(to: .broadcast, from: F.macB, type: EtherType.arp, moved), now: .zero)
        #expect(i.arp.lookup(F.ipK, now: .zero) == F.macB)
    }

    @Test func someoneElseClaimingOurAddressIsCountedAndReported() throws {
        let i = try F.interface()
        let claim = ARPPacket(operation: .reply, senderHardwareAddress: F.macB, senderProtocolAddress: F.ipA,
                              targetHardwareAddress: .broadcast, targetProtocolAddress: F.ipA).bytes()
        i.receive(F.ethernet(to: .broadcast, from: F.macB, type: EtherType.arp, claim), now: .zero)
        #expect(i.counters.drops.arpAddressConflict == 1)
        #expect(i.nextEvent() == .addressConflict(F.macB))
    }

    @Test func frameForAnotherMACIsDroppedAndCounted() throws {
        let i = try F.interface()
        F.introduceK(to: i)
        let ping = try F.ip(IPProtocol.icmp, F.echoRequest(data: [9]))
        i.receive(F.ethernet(to: F.macB, type: EtherType.ipv4, ping), now: .zero)
        #expect(F.drain(i).isEmpty)
        #expect(i.counters.drops.notOurMAC == 1)
        #expect(i.counters.echoRepliesSent == 0)
    }

    @Test func vlanTaggedIPv6AndUnknownEtherTypesAreCounted() throws {
        let i = try F.interface()
        let ping = try F.ip(IPProtocol.icmp, F.echoRequest(data: [9]))
        var tagged = try EthernetFrameHeader(destination: F.macA, source: F.macK, etherType: EtherType.ipv4,
                                             vlan: VLANTag(identifier: 5)).bytes(payload: ping)
        i.receive(tagged, now: .zero)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv6, [UInt8](repeating: 0x60, count: 40)), now: .zero)
        i.receive(F.ethernet(to: F.macA, type: 0x88B5, [1, 2, 3]), now: .zero)
        tagged.removeLast(tagged.count - 10)   // shorter than a header
        i.receive(tagged, now: .zero)
        #expect(i.counters.drops.vlanTagged == 1)
        #expect(i.counters.drops.ipv6Unsupported == 1)
        #expect(i.counters.drops.unknownEtherType == 1)
        #expect(i.counters.drops.malformedFrame == 1)
        #expect(F.drain(i).isEmpty)
    }

    @Test func broadcastOnLinkGoesToBroadcastMACAndOffLinkViaGateway() throws {
        let r = IPv4Route(address: F.ipA, prefixLength: 24, gateway: F.ipK)
        #expect(r.nextHop(for: IPv4Address(192, 0, 2, 255)) == .broadcast)
        #expect(r.nextHop(for: .broadcast) == .broadcast)
        #expect(r.nextHop(for: IPv4Address(192, 0, 2, 9)) == .neighbor(IPv4Address(192, 0, 2, 9)))
        #expect(r.nextHop(for: IPv4Address(198, 51, 100, 7)) == .neighbor(F.ipK))
        #expect(IPv4Route(address: F.ipA, prefixLength: 24).nextHop(for: IPv4Address(198, 51, 100, 7)) == nil)
        #expect(r.nextHop(for: IPv4Address(224, 0, 0, 1)) == nil)

        // A ping off-link asks ARP for the gateway, not the destination.
        let i = try F.interface { $0.route.gateway = F.ipK }
        try i.sendPing(to: IPv4Address(198, 51, 100, 7), sequence: 1, size: 0, now: .zero)
        let out = F.drain(i)
        try #require(out.count == 1)
        #expect(Array(out[0][38..<42]) == [192, 0, 2, 1])
    }

    @Test func ipv6AndTransparentModeAreReservedSlots() throws {
        #expect(throws: InterfaceError.unsupported("IPv6")) { try F.interface { $0.networkProtocol = .ipv6 } }
        #expect(throws: InterfaceError.unsupported("transparent mode")) { try F.interface { $0.destinationPolicy = .transparent } }
        let tun = try F.interface(mac: nil)
        var v6 = [UInt8](repeating: 0, count: 40)
        v6[0] = 0x60
        tun.receive(v6, now: .zero)
        #expect(tun.counters.drops.ipv6Unsupported == 1)
    }
}

@Suite struct InterfaceNeighborConfirmationTests {
    typealias F = IFX

    @Test func trafficFromTheNeighborKeepsItsEntryAliveButNeverChangesIt() throws {
        let i = try F.interface()
        F.introduceK(to: i)                      // learned at 0 s, lifetime 60 s
        let t40 = Instant.zero + .seconds(40), t80 = Instant.zero + .seconds(80)
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, F.echoRequest(data: [1]))), now: t40)
        _ = F.drain(i, now: t40)
        #expect(i.arp.lookup(F.ipK, now: t80) == F.macK)
        // A frame claiming K's address from another MAC neither refreshes nor rewrites the entry.
        let j = try F.interface()
        F.introduceK(to: j)
        j.receive(F.ethernet(to: F.macA, from: F.macB, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, F.echoRequest(data: [1]))), now: t40)
        #expect(j.arp.lookup(F.ipK, now: t40) == F.macK)
        #expect(j.arp.lookup(F.ipK, now: t80) == nil)
    }

    @Test func packetFromOurOwnAddressIsABadSource() throws {
        let i = try F.interface()
        i.receive(F.ethernet(to: F.macA, type: EtherType.ipv4, try F.ip(IPProtocol.icmp, F.echoRequest(data: [1]), from: F.ipA)), now: .zero)
        #expect(i.counters.drops.badSource == 1)
        #expect(F.drain(i).isEmpty)
    }
}
