// checksum-bench: per-byte and per-header CPU figures of the wire layer.
//
// Prints one line per measurement, `name key=value ...` (the same shape as
// shared/baselines/run), so scripts/bench-checksum.sh can set them beside the C
// reference and memcpy measured in the same run:
//
//   swift-checksum size=1500 runs=5 seconds=0.20 gb_s=31.2
//   swift-tcp-parse ns=4.1 ...
//
// Method: hot buffer (allocated once, 64-byte aligned, filled with pseudo-random
// bytes), a batch of iterations between clock reads, several runs, the best run
// reported. Each iteration flips one byte of the buffer (as the C reference does)
// so the compiler cannot hoist the work out of the loop, and every result goes
// into a sink that is printed at the end.
//
// Usage: checksum-bench [--seconds S] [--runs R] [--sizes 64,1500,65536] [--only checksum|tcp|vector|scalar]
//        checksum-bench --iterations N [--sizes 1500]   (instruction counts under callgrind)
// Build with `swift build -c release --product checksum-bench`.

import TCPIP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - options

nonisolated(unsafe) var seconds = 0.2
nonisolated(unsafe) var runs = 5
var sizes = [64, 1500, 65536]
var only = "all"
nonisolated(unsafe) var fixedIterations = 0
do {
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--seconds": seconds = Double(args.next() ?? "") ?? seconds
        case "--runs": runs = max(1, Int(args.next() ?? "") ?? runs)
        case "--sizes": sizes = (args.next() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        case "--only": only = args.next() ?? only
        case "--iterations": fixedIterations = max(1, Int(args.next() ?? "") ?? 1000)
        default:
            FileHandleStderr.write("""
                usage: checksum-bench [--seconds S] [--runs R] [--sizes 64,1500,65536] [--only checksum|tcp|vector|scalar]
                       checksum-bench --iterations N [--sizes 1500]   (no timing: exactly N checksums per size in
                                      bench_checksum_loop, for valgrind --tool=callgrind --toggle-collect=bench_checksum_loop)

                """)
            exit(2)
        }
    }
}

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        #if canImport(Glibc)
        s.withUTF8 { u in _ = Glibc.write(2, u.baseAddress, u.count) }
        #else
        s.withUTF8 { u in _ = Darwin.write(2, u.baseAddress, u.count) }
        #endif
    }
}

// MARK: - timing

@inline(never)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Sink for every result, printed at the end so no work is dead.
nonisolated(unsafe) var sink: UInt64 = 0

/// Runs `body(batch)` in batches until `seconds` have passed, `runs` times.
/// Returns the best (smallest) nanoseconds per iteration.
func bestNanosecondsPerIteration(batch: Int, _ body: (Int) -> UInt64) -> Double {
    var best = Double.infinity
    // Warm-up: one batch.
    sink &+= body(batch)
    for _ in 0..<runs {
        var iterations = 0
        let t0 = monotonicNanoseconds()
        let limit = t0 &+ UInt64(seconds * 1e9)
        var t = t0
        while t < limit {
            sink &+= body(batch)
            iterations += batch
            t = monotonicNanoseconds()
        }
        let ns = Double(t &- t0) / Double(iterations)
        best = min(best, ns)
    }
    return best
}

func fmt(_ x: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

// MARK: - reference

/// RFC 1071 the slow way: big-endian 16-bit words, 32-bit sum.
func naiveChecksum(_ p: UnsafeRawBufferPointer) -> UInt16 {
    var s: UInt64 = 0
    var i = 0
    while i + 1 < p.count {
        s &+= UInt64(p[i]) << 8 | UInt64(p[i + 1])
        i += 2
    }
    if p.count & 1 == 1 { s &+= UInt64(p[p.count - 1]) << 8 }
    while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
    return ~UInt16(truncatingIfNeeded: s)
}

// MARK: - buffers

let capacity = max(4096, (sizes.max() ?? 0) + 64)
let storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
defer { storage.deallocate() }
var rng = SeededRandom(seed: 1)
for i in 0..<capacity { storage.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: i, as: UInt8.self) }

func checksumOf(_ raw: UInt64) -> UInt16 { ~InternetChecksum.fold16(raw).byteSwapped }

// Correctness first (this is the release build): every length 0...2048 at alignments 0...7,
// for the checksum as used and both implementations.
if fixedIterations == 0 {
    for align in 0..<8 {
        for n in 0...2048 where align + n <= capacity {
            let b = UnsafeRawBufferPointer(start: storage + align, count: n)
            let want = naiveChecksum(b)
            if InternetChecksum.checksum(b) != want || checksumOf(InternetChecksum.rawSumVector(b)) != want
                || checksumOf(InternetChecksum.rawSumScalar(b)) != want {
                FileHandleStderr.write("checksum mismatch at length \(n) alignment \(align)\n")
                exit(1)
            }
        }
    }
}

// Instruction counts: exactly N checksums of each size, in one named function.
@_silgen_name("bench_checksum_loop")
@inline(never)
func benchChecksumLoop(_ p: UnsafeMutableRawPointer, _ n: Int, _ count: Int) -> UInt64 {
    checksumBatch(p, n, count)
}

if fixedIterations > 0 {
    for n in sizes {
        sink &+= benchChecksumLoop(storage, n, fixedIterations)
        print("swift-checksum-fixed size=\(n) iterations=\(fixedIterations)")
    }
    FileHandleStderr.write("sink \(sink)\n")
    exit(0)
}

// MARK: - checksum throughput

@inline(never)
func checksumBatch(_ p: UnsafeMutableRawPointer, _ n: Int, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeRawBufferPointer(start: p, count: n)
    for k in 0..<batch {
        let i = k % n
        p.storeBytes(of: p.load(fromByteOffset: i, as: UInt8.self) ^ 1, toByteOffset: i, as: UInt8.self)
        acc &+= UInt64(InternetChecksum.checksum(b))
    }
    return acc
}

@inline(never)
func vectorBatch(_ p: UnsafeMutableRawPointer, _ n: Int, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeRawBufferPointer(start: p, count: n)
    for k in 0..<batch {
        let i = k % n
        p.storeBytes(of: p.load(fromByteOffset: i, as: UInt8.self) ^ 1, toByteOffset: i, as: UInt8.self)
        acc &+= UInt64(checksumOf(InternetChecksum.rawSumVector(b)))
    }
    return acc
}

@inline(never)
func scalarBatch(_ p: UnsafeMutableRawPointer, _ n: Int, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeRawBufferPointer(start: p, count: n)
    for k in 0..<batch {
        let i = k % n
        p.storeBytes(of: p.load(fromByteOffset: i, as: UInt8.self) ^ 1, toByteOffset: i, as: UInt8.self)
        acc &+= UInt64(checksumOf(InternetChecksum.rawSumScalar(b)))
    }
    return acc
}

// "checksum" is InternetChecksum.checksum as the stack uses it; "vector" and "scalar"
// time the two implementations of rawSum on their own.
let checksumKinds: [(String, String, (UnsafeMutableRawPointer, Int, Int) -> UInt64)] = [
    ("checksum", "swift-checksum", checksumBatch),
    ("vector", "swift-checksum-vector", vectorBatch),
    ("scalar", "swift-checksum-scalar", scalarBatch),
]
for (kind, name, batchFunction) in checksumKinds where only == kind || (only == "all" && kind == "checksum") {
    for n in sizes {
        let batch = (1 << 20) / n + 1  // about 1 MB between clock reads, as the C reference
        let ns = bestNanosecondsPerIteration(batch: batch) { batchFunction(storage, n, $0) }
        print("\(name) size=\(n) runs=\(runs) seconds=\(fmt(seconds)) gb_s=\(fmt(Double(n) / ns))")
    }
}

// MARK: - TCP header parse / emit

/// A Linux-style data segment header: 20 bytes + NOP NOP TS (32 bytes).
let tsHeader: [UInt8] = {
    let h = TCPHeader(sourcePort: 40000, destinationPort: 5001,
                      sequenceNumber: SequenceNumber(0x1234_5678), acknowledgmentNumber: SequenceNumber(0x9ABC_DEF0),
                      flags: [.ack, .psh], window: 502,
                      options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 1000, echoReply: 2000))])
    var out = [UInt8](repeating: 0, count: 60)
    let len = out.withUnsafeMutableBytes { b in (try? h.emit(into: b)) ?? 0 }
    precondition(len == 32, "expected a 32-byte header")
    return Array(out[0..<32])
}()

@inline(never)
func parseBatch(_ p: UnsafeMutableRawPointer, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeRawBufferPointer(start: p, count: 32)
    for k in 0..<batch {
        // New TSval each time, as each arriving segment has.
        p.storeBytes(of: UInt32(truncatingIfNeeded: k).bigEndian, toByteOffset: 24, as: UInt32.self)
        do {
            let v = try TCPHeaderView(b)
            let o = try v.optionSet()
            acc &+= UInt64(v.sequenceNumber.rawValue) &+ UInt64(v.flags.rawValue) &+ UInt64(v.window)
            acc &+= UInt64(o.timestamps?.value ?? 7) &+ UInt64(v.payload.count)
        } catch {
            acc &+= 1_000_000
        }
    }
    return acc
}

@inline(never)
func emitValueBatch(_ h: inout TCPHeader, _ p: UnsafeMutableRawPointer, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeMutableRawBufferPointer(start: p, count: 60)
    for k in 0..<batch {
        h.sequenceNumber = SequenceNumber(UInt32(truncatingIfNeeded: k))
        let n = (try? h.emit(into: b)) ?? 0
        acc &+= UInt64(n) &+ UInt64(p.load(fromByteOffset: 7, as: UInt8.self))
    }
    return acc
}

@inline(__always)
func store16(_ p: UnsafeMutableRawPointer, _ v: UInt16, _ o: Int) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self) }
@inline(__always)
func store32(_ p: UnsafeMutableRawPointer, _ v: UInt32, _ o: Int) { p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self) }

@inline(never)
func emitOptionSetBatch(_ opts: TCPOptionSet, _ p: UnsafeMutableRawPointer, _ batch: Int) -> UInt64 {
    var acc: UInt64 = 0
    let b = UnsafeMutableRawBufferPointer(start: p, count: 60)
    var o = opts
    for k in 0..<batch {
        o.timestamps = TCPTimestamps(value: UInt32(truncatingIfNeeded: k), echoReply: 2000)
        let end = o.write(into: b, at: 20)
        // The fixed header, as the engine writes it around the options.
        store16(p, 40000, 0); store16(p, 5001, 2)
        store32(p, UInt32(truncatingIfNeeded: k) &* 1448, 4); store32(p, 0x9ABC_DEF0, 8)
        store16(p, UInt16(end / 4) << 12 | TCPFlags.ack.rawValue, 12)
        store16(p, 502, 14); store16(p, 0, 16); store16(p, 0, 18)
        acc &+= UInt64(end) &+ UInt64(p.load(fromByteOffset: 27, as: UInt8.self))
    }
    return acc
}

@inline(never)
func verifyBatch(_ p: UnsafeMutableRawPointer, _ n: Int, _ batch: Int) -> UInt64 {
    var valid: UInt64 = 0
    let src = IPv4Address(192, 0, 2, 1), dst = IPv4Address(192, 0, 2, 2)
    for _ in 0..<batch {
        // Flip one payload byte: every other iteration sees the original, valid segment.
        p.storeBytes(of: p.load(fromByteOffset: 100, as: UInt8.self) ^ 1, toByteOffset: 100, as: UInt8.self)
        let v = try? TCPHeaderView(UnsafeRawBufferPointer(start: p, count: n))
        if let v, v.checksumIsValid(source: src, destination: dst) { valid &+= 1 }
    }
    return valid
}

if only == "all" || only == "tcp" {
    let hp = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    defer { hp.deallocate() }
    tsHeader.withUnsafeBytes { hp.copyMemory(from: $0.baseAddress!, byteCount: 32) }
    let batch = 100_000

    let parse = bestNanosecondsPerIteration(batch: batch) { parseBatch(hp, $0) }
    print("swift-tcp-parse what=TCPHeaderView+optionSet header=32 ns=\(fmt(parse))")

    var value = TCPHeader(sourcePort: 40000, destinationPort: 5001,
                          sequenceNumber: SequenceNumber(1), acknowledgmentNumber: SequenceNumber(0x9ABC_DEF0),
                          flags: [.ack], window: 502,
                          options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 1000, echoReply: 2000))])
    let emitV = bestNanosecondsPerIteration(batch: batch) { emitValueBatch(&value, hp, $0) }
    print("swift-tcp-emit what=TCPHeader.emit header=32 ns=\(fmt(emitV))")

    let set = TCPOptionSet(timestamps: TCPTimestamps(value: 1000, echoReply: 2000))
    let emitS = bestNanosecondsPerIteration(batch: batch) { emitOptionSetBatch(set, hp, $0) }
    print("swift-tcp-emit what=TCPOptionSet.write+fixed header=32 ns=\(fmt(emitS))")

    // A valid 1500-byte segment (32-byte header + 1468 bytes of data).
    let segLen = 1500
    let payload = (0..<(segLen - 32)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let h = TCPHeader(sourcePort: 40000, destinationPort: 5001,
                      sequenceNumber: SequenceNumber(1), acknowledgmentNumber: SequenceNumber(2),
                      flags: [.ack], window: 502,
                      options: [.noOperation, .noOperation, .timestamps(TCPTimestamps(value: 1, echoReply: 2))])
    guard let seg = try? h.segmentBytes(payload: payload, source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(192, 0, 2, 2)),
          seg.count == segLen else { FileHandleStderr.write("could not build the segment\n"); exit(1) }
    let sp = UnsafeMutableRawPointer.allocate(byteCount: segLen, alignment: 64)
    defer { sp.deallocate() }
    seg.withUnsafeBytes { sp.copyMemory(from: $0.baseAddress!, byteCount: segLen) }
    // Exactly half of an even batch must verify.
    let check = verifyBatch(sp, segLen, 1000)
    if check != 500 { FileHandleStderr.write("verify: \(check) of 1000 valid, expected 500\n"); exit(1) }
    let verify = bestNanosecondsPerIteration(batch: 10_000) { verifyBatch(sp, segLen, $0) }
    print("swift-tcp-verify what=checksumIsValid segment=\(segLen) ns=\(fmt(verify)) gb_s=\(fmt(Double(segLen) / verify))")
}

FileHandleStderr.write("sink \(sink)\n")
