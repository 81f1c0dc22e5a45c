import Testing
@testable import TCPIP

/// MemoryLink's zero-copy send: the sender writes into a link slot; the packet travels
/// exactly as one given to `send(from:packet:now:)`.
@Suite struct SimulationInPlaceSendTests {
    @Test func packetsWrittenInPlaceArriveIntactInOrder() {
        let link = MemoryLink(mtu: 100)
        #expect(link.sendsInPlace(from: .a))
        for i in 0..<3 {
            let n = link.send(from: .a, now: .zero) { slot in
                #expect(slot.count == 100)
                for j in 0..<(10 + i) { slot[j] = UInt8(i * 16 + j) }
                return 10 + i
            }
            #expect(n == 10 + i)
        }
        #expect(link.packetsInFlight(from: .a) == 3)
        for i in 0..<3 {
            let d = link.deliver(now: .zero)
            #expect(d?.to == .b)
            #expect(d.map { Array($0.packet) } == (0..<(10 + i)).map { UInt8(i * 16 + $0) })
        }
        #expect(link.deliver(now: .zero) == nil)
        #expect(link.delivered(from: .a) == 3)
    }

    @Test func writingNothingGivesTheSlotBack() {
        let link = MemoryLink(mtu: 100)
        let before = link.slotsInUse
        #expect(link.send(from: .b, now: .zero) { _ in 0 } == 0)
        #expect(link.slotsInUse == before)
        #expect(link.packetsInFlight(from: .b) == 0)
        #expect(link.faultCounters(from: .b).offered == 0)
    }

    @Test func faultyOrCapturingDirectionsDoNotSendInPlace() {
        let faulty = MemoryLink(mtu: 100, aToB: FaultConfiguration(loss: 0.5), bToA: .none)
        #expect(!faulty.sendsInPlace(from: .a))
        #expect(faulty.sendsInPlace(from: .b))
        let capturing = MemoryLink(mtu: 100, capture: true)
        #expect(!capturing.sendsInPlace(from: .a) && !capturing.sendsInPlace(from: .b))
    }
}
