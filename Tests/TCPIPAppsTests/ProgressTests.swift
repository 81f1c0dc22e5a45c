import Testing
@testable import TCPIPApps

@Suite struct ProgressTests {
    static let total: UInt64 = 50 << 20          // 50.0 MiB
    static let bytes: UInt64 = 23_592_960        // 22.5 MiB = 45 %, 9 of 20 bar cells
    static let elapsed: Duration = .milliseconds(4500) // 5.0 MiB/s; 27.5 MiB left -> 5.5 s -> ETA 0:06

    @Test func terminalLineIsExact() {
        let f = ProgressFormatter(total: Self.total, isTerminal: true)
        #expect(f.line(bytes: Self.bytes, elapsed: Self.elapsed)
            == "\r[#########...........]   45%  22.5 MiB / 50.0 MiB  5.0 MiB/s  ETA 0:06\u{1B}[K")
    }

    @Test func plainLineIsExact() {
        let f = ProgressFormatter(total: Self.total, isTerminal: false)
        #expect(f.line(bytes: Self.bytes, elapsed: Self.elapsed) == " 45% 22.5 MiB / 50.0 MiB 5.0 MiB/s ETA 0:06\n")
    }

    @Test func unknownTotalAndNoElapsedTime() {
        #expect(ProgressFormatter(total: nil, isTerminal: false).line(bytes: Self.bytes, elapsed: Self.elapsed) == "22.5 MiB 5.0 MiB/s\n")
        #expect(ProgressFormatter(total: nil, isTerminal: true).line(bytes: 512, elapsed: .zero) == "\r512 B  --\u{1B}[K")
        #expect(ProgressFormatter(total: Self.total, isTerminal: false).line(bytes: 0, elapsed: .zero)
            == "  0% 0 B / 50.0 MiB -- ETA --:--\n")
    }

    @Test func completeAndOvershootClampAt100() {
        let f = ProgressFormatter(total: 1000, isTerminal: true, barWidth: 4)
        #expect(f.line(bytes: 1000, elapsed: .seconds(1)) == "\r[####]  100%  1000 B / 1000 B  1000 B/s  ETA 0:00\u{1B}[K")
        #expect(f.line(bytes: 1500, elapsed: .seconds(1)) == "\r[####]  100%  1.5 KiB / 1000 B  1.5 KiB/s  ETA --:--\u{1B}[K")
        let empty = ProgressFormatter(total: 0, isTerminal: false)
        #expect(empty.line(bytes: 0, elapsed: .seconds(1)) == "100% 0 B / 0 B 0 B/s ETA --:--\n")
    }

    @Test func finishedLine() {
        #expect(ProgressFormatter(total: Self.total, isTerminal: false).finished(bytes: Self.total, elapsed: .seconds(10))
            == "done: 50.0 MiB in 10.0 s (5.0 MiB/s)\n")
        #expect(ProgressFormatter(total: nil, isTerminal: true).finished(bytes: 0, elapsed: .zero)
            == "\rdone: 0 B in 0.0 s (--)\u{1B}[K\n")
    }

    @Test func byteUnitsAndDurations() {
        #expect(ProgressFormatter.formatBytes(0) == "0 B")
        #expect(ProgressFormatter.formatBytes(1023) == "1023 B")
        #expect(ProgressFormatter.formatBytes(1024) == "1.0 KiB")
        #expect(ProgressFormatter.formatBytes(1536) == "1.5 KiB")
        #expect(ProgressFormatter.formatBytes(1_048_575) == "1.0 MiB")
        #expect(ProgressFormatter.formatBytes(1 << 30) == "1.0 GiB")
        #expect(ProgressFormatter.formatBytes(5 << 40) == "5.0 TiB")
        #expect(ProgressFormatter.formatDuration(seconds: 0) == "0:00")
        #expect(ProgressFormatter.formatDuration(seconds: 59) == "0:59")
        #expect(ProgressFormatter.formatDuration(seconds: 600) == "10:00")
        #expect(ProgressFormatter.formatDuration(seconds: 3725) == "1:02:05")
    }

    @Test func throttleEmitsAtMostOncePerInterval() {
        var t = ProgressThrottle(interval: .milliseconds(100))
        let times: [Duration] = [.zero, .milliseconds(50), .milliseconds(100), .milliseconds(150), .milliseconds(199), .milliseconds(250)]
        #expect(times.map { t.shouldEmit(at: $0) } == [true, false, true, false, false, true])
    }
}
