// Shared by every fuzz target. scripts/fuzz.sh compiles the core sources
// (Sources/TCPIP/**/*.swift), this file and one file of targets/ into one module
// with `swiftc -sanitize=fuzzer,address -parse-as-library`; each target file
// defines `fuzzOne(_:)`. Internal declarations of the core are visible here.
//
// A broken invariant is a `fatalError`, which libFuzzer reports as a crash (the
// message is on stderr), exactly like a trap inside a parser.

/// Everything a target reads goes here, so no accessor is optimised away.
nonisolated(unsafe) var fuzzSink: Int = 0

@inline(never)
func consume<T: Hashable>(_ value: T) {
    fuzzSink &+= value.hashValue
}

@inline(never)
func consumeBytes(_ b: UnsafeRawBufferPointer) {
    var c = InternetChecksum()
    c.add(b)
    fuzzSink &+= Int(c.value)
}

/// Traps with a message when an invariant does not hold.
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError("invariant: \(message())", file: file, line: line) }
}

/// Whether `inner` lies inside `outer` (an empty buffer lies anywhere).
func within(_ inner: UnsafeRawBufferPointer, _ outer: UnsafeRawBufferPointer) -> Bool {
    guard inner.count > 0 else { return true }
    guard let i = inner.baseAddress, let o = outer.baseAddress else { return false }
    return i >= o && i + inner.count <= o + outer.count
}

/// `a[0..<n] == b[0..<n]` over raw bytes, skipping the offsets in `except`.
func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, count n: Int, except: Set<Int> = []) -> Bool {
    guard a.count >= n, b.count >= n else { return false }
    for i in 0..<n where !except.contains(i) && a[i] != b[i] { return false }
    return true
}

/// Runs `body` over a copy of `bytes` (for emitted arrays).
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    bytes.withUnsafeBytes(body)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Runs the packet decoder (what `tcpip decode` prints) over every record, plain and
/// verbose with absolute sequence numbers; each record gives one non-empty text.
func describeAll(_ records: [CaptureRecord]) {
    var plain = PacketDescriber()
    var verbose = PacketDescriber(options: .init(absoluteSequenceNumbers: true, verbose: true))
    for r in records {
        let a = plain.describe(r), b = verbose.describe(r)
        require(!a.isEmpty && !b.isEmpty, "empty description")
        consume(a); consume(b)
    }
}
