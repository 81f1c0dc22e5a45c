import Testing
@testable import TCPIP

@Suite struct ARPCacheTests {
    let peer = IPv4Address(192, 0, 2, 1)
    let mac = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    let t0 = Instant.zero

    @Test func firstPacketToAnUnknownAddressAsksOnceAndQueuesTheRest() {
        var c = ARPCache()
        #expect(c.lookup(peer, now: t0) == nil)
        #expect(c.enqueue([1], for: peer, now: t0) == true)
        #expect(c.enqueue([2], for: peer, now: t0) == false)
        #expect(c.counters.requestsSent == 1)
        // The reply releases both packets in order and resolves the address.
        #expect(c.learn(peer, is: mac, now: t0 + .milliseconds(5), create: false) == [[1], [2]])
        #expect(c.lookup(peer, now: t0 + .milliseconds(5)) == mac)
    }

    @Test func unansweredRequestIsRetriedEverySecondThenFailsDroppingThePackets() {
        var c = ARPCache()
        _ = c.enqueue([1], for: peer, now: t0)
        _ = c.enqueue([2], for: peer, now: t0)
        #expect(c.poll(now: t0 + .milliseconds(999)) == [])
        #expect(c.poll(now: t0 + .seconds(1)) == [.request(peer)])
        #expect(c.poll(now: t0 + .seconds(2)) == [.request(peer)])
        #expect(c.poll(now: t0 + .seconds(3)) == [.failed(peer, droppedPackets: 2)])
        #expect(c.count == 0)
        #expect(c.counters.requestsSent == 3 && c.counters.packetsDroppedUnresolved == 2)
    }

    @Test func pendingQueueIsBoundedPerAddress() {
        var cfg = ARPCache.Configuration()
        cfg.maximumPendingPerAddress = 2
        var c = ARPCache(configuration: cfg)
        _ = c.enqueue([1], for: peer, now: t0)
        _ = c.enqueue([2], for: peer, now: t0)
        _ = c.enqueue([3], for: peer, now: t0)
        #expect(c.counters.packetsDroppedPendingFull == 1)
        #expect(c.learn(peer, is: mac, now: t0, create: false) == [[1], [2]])
    }

    @Test func entryExpiresAfterItsLifetime() {
        var c = ARPCache()
        _ = c.learn(peer, is: mac, now: t0, create: true)
        #expect(c.lookup(peer, now: t0 + .seconds(59)) == mac)
        #expect(c.lookup(peer, now: t0 + .seconds(60)) == nil)
        #expect(c.nextDeadline == t0 + .seconds(60))
        _ = c.poll(now: t0 + .seconds(60))
        #expect(c.count == 0)
    }

    @Test func packetNotAddressedToUsOnlyUpdatesExistingEntries() {
        var c = ARPCache()
        _ = c.learn(peer, is: mac, now: t0, create: false)
        #expect(c.lookup(peer, now: t0) == nil)
        _ = c.learn(peer, is: mac, now: t0, create: true)
        let moved = MACAddress(0x02, 0, 0, 0, 0, 0x09)
        _ = c.learn(peer, is: moved, now: t0 + .seconds(1), create: false)
        #expect(c.lookup(peer, now: t0 + .seconds(1)) == moved)
    }

    @Test func broadcastOrZeroSenderIsNeverLearned() {
        var c = ARPCache()
        _ = c.learn(peer, is: .broadcast, now: t0, create: true)
        _ = c.learn(peer, is: .zero, now: t0, create: true)
        _ = c.learn(.any, is: mac, now: t0, create: true)
        #expect(c.count == 0)
    }

    @Test func fullTableEvictsTheOldestResolvedEntryAndNeverGrowsPastItsBound() {
        var cfg = ARPCache.Configuration()
        cfg.maximumEntries = 3
        var c = ARPCache(configuration: cfg)
        for i in 1...3 { _ = c.learn(IPv4Address(192, 0, 2, UInt8(i)), is: mac, now: t0 + .seconds(i), create: true) }
        _ = c.learn(IPv4Address(192, 0, 2, 4), is: mac, now: t0 + .seconds(4), create: true)
        #expect(c.count == 3)
        #expect(c.lookup(IPv4Address(192, 0, 2, 1), now: t0 + .seconds(4)) == nil)
        #expect(c.counters.entriesEvicted == 1)
        // A flood of resolutions cannot grow the table either.
        for i in 10..<200 { _ = c.enqueue([0], for: IPv4Address(198, 51, 100, UInt8(i)), now: t0 + .seconds(5)) }
        #expect(c.count == 3)
        #expect(c.counters.resolutionsRefused > 0)
    }
}
