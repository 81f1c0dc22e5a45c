import Testing
import TCPIP

@Suite struct InstantTests {
    @Test func descriptionPrintsSecondsWithSixDecimalsOnBothSidesOfTheOrigin() {
        #expect(Instant(nanoseconds: 12_000_345_678).description == "12.000345")
        #expect(Instant(nanoseconds: -1_500).description == "-0.000001")
        #expect(Instant(nanoseconds: -2_500_000_000).description == "-2.500000")
        #expect(Instant.zero.description == "0.000000")
    }

    @Test func arithmeticWithDurationsIsExact() {
        let t = Instant.zero + .milliseconds(1500)
        #expect(t.nanoseconds == 1_500_000_000)
        #expect(t - Instant.zero == .milliseconds(1500))
        #expect((t - .seconds(2)).nanoseconds == -500_000_000)
        #expect(t.milliseconds == 1500)
        #expect(Duration.seconds(Int64.max).nanosecondsClamped == .max)
    }
}
