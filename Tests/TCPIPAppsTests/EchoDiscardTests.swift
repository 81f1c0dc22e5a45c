import Testing
@testable import TCPIPApps

@Suite struct EchoDiscardTests {
    @Test func echoReturnsBytesInOrderAcrossTheRingWrap() {
        let echo = EchoService(capacity: 8)
        #expect(echo.receiveWindow == 8)
        #expect(echo.receive([UInt8](ascii: "abcdef")) == 6)
        #expect(echo.receiveWindow == 2)
        let first = echo.withPendingOutput { Array($0) }
        #expect(text(first) == "abcdef")
        echo.didWrite(4)                      // peer took "abcd"; head now at 4
        #expect(echo.receiveWindow == 6)
        #expect(echo.receive([UInt8](ascii: "ghijklmn")) == 6) // only 6 fit; the caller keeps "mn"
        #expect(echo.buffered == 8)
        #expect(echo.receiveWindow == 0)
        // Output wraps: first the run to the end of storage, then the rest.
        #expect(text(echo.withPendingOutput { Array($0) }) == "efgh")
        echo.didWrite(4)
        #expect(text(echo.withPendingOutput { Array($0) }) == "ijkl")
        echo.didWrite(4)
        #expect(echo.buffered == 0)
        #expect(echo.bytesReceived == 12 && echo.bytesSent == 12)
    }

    @Test func echoNeverHoldsMoreThanCapacityWhenThePeerDoesNotRead() {
        let echo = EchoService(capacity: 1024)
        let block = [UInt8](repeating: 7, count: 300)
        var accepted = 0
        for _ in 0..<100 { accepted += echo.receive(block) }
        #expect(accepted == 1024)
        #expect(echo.buffered == 1024)
        #expect(echo.receiveWindow == 0)
        #expect(echo.receive(block) == 0)
    }

    @Test func echoStreamThroughSmallBufferIsExact() {
        let echo = EchoService(capacity: 37)
        var rng = SplitMix64(seed: 7)
        let input = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var sent = 0
        var output: [UInt8] = []
        var out = [UInt8](repeating: 0, count: 13)
        while output.count < input.count {
            let n = Int.random(in: 0...50, using: &rng)
            let end = min(input.count, sent + n)
            sent += input[sent..<end].withUnsafeBytes { echo.receive($0) }
            if sent == input.count { echo.receiveEnd() }
            let k = Int.random(in: 1...13, using: &rng)
            let copied = out.withUnsafeMutableBytes { echo.copyPendingOutput(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<k])) }
            output += out[0..<copied]
            #expect(echo.buffered <= 37)
        }
        #expect(output == input)
        #expect(echo.wantsClose)
    }

    @Test func echoClosesOnlyAfterDrainingOutput() {
        let echo = EchoService(capacity: 4)
        echo.receive([UInt8](ascii: "xy"))
        echo.receiveEnd()
        #expect(!echo.wantsClose)
        #expect(echo.receiveWindow == 0)
        #expect(echo.receive([UInt8](ascii: "z")) == 0)
        echo.didWrite(2)
        #expect(echo.wantsClose)
    }

    @Test func discardCountsEverythingAndNeverPushesBack() {
        var d = DiscardService()
        #expect(d.receiveWindow == Int.max)
        #expect(d.receive([UInt8](repeating: 1, count: 1000)) == 1000)
        #expect(d.receive([UInt8](repeating: 1, count: 24)) == 24)
        #expect(d.bytesDiscarded == 1024)
        #expect(!d.wantsClose)
        d.receiveEnd()
        #expect(d.wantsClose)
        #expect(d.receiveWindow == 0)
    }
}
