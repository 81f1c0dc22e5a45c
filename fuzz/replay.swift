// Replays fuzz inputs without libFuzzer, for debugging a crash with a trace:
//   swiftc -Onone -g -parse-as-library -D FUZZ_TRACE -module-name fuzz_replay \
//     $(find Sources/TCPIP -name '*.swift') fuzz/FuzzSupport.swift fuzz/targets/<target>.swift \
//     fuzz/replay.swift -o /tmp/replay && /tmp/replay fuzz/out/<target>-crash-...
// (targets print their trace under FUZZ_TRACE where they have one).
import Foundation

@main
struct Replay {
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)  // the trace up to a crash
        for path in CommandLine.arguments.dropFirst() {
            guard let d = FileManager.default.contents(atPath: path) else { print("cannot read \(path)"); continue }
            print("== \(path) (\(d.count) bytes)")
            d.withUnsafeBytes { fuzzOne($0) }
        }
    }
}
