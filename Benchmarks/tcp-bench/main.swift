// tcp-bench: the TCP engine and the minimal IPv4 host in memory, on one thread.
// Two hosts over a perfect MemoryLink (no faults, no delay); the virtual clock only
// moves when nothing else can happen. Prints one line per measurement, in the
// baselines' `name key=value ...` format (see Benchmarks/../scripts/bench-tcp.sh).
//
//   tcp-bench [bulk|rr|cps|idle|all] [--seconds S] [--connections N] [--mss M] [--traffic (idle: 1 byte each way first)]
import MallocCounter
import TCPIP
#if canImport(Glibc)
import Glibc
#endif

let clock = ContinuousClock()

func elapsedSeconds(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) + Double(a) / 1e18
}

func fmt(_ v: Double, _ decimals: Int = 2) -> String {
    var m = 1.0
    for _ in 0..<decimals { m *= 10 }
    let r = Double(Int64(v * m + (v >= 0 ? 0.5 : -0.5))) / m
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    }
    return s
}

func rssBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    guard withUnsafeMutablePointer(to: &size, { sp in
        withUnsafeMutablePointer(to: &resident) { rp in
            withVaList([sp, rp]) { vfscanf(f, "%ld %ld", $0) }
        }
    }) == 2 else { return 0 }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func makePair(mss: Int, buffer: Int, noDelay: Bool = false) -> SimulatedNetwork {
    var c = TCPConfiguration()
    c.maximumSegmentSize = mss
    c.sendBufferSize = buffer
    c.receiveBufferSize = buffer
    c.noDelay = noDelay
    let a = IPv4Host(address: IPv4Address(192, 0, 2, 1), configuration: c, mtu: min(65535, mss + 40), seed: 1)
    let b = IPv4Host(address: IPv4Address(192, 0, 2, 2), configuration: c, mtu: min(65535, mss + 40), seed: 2)
    return SimulatedNetwork(a: a, b: b, link: MemoryLink(mtu: min(65535, mss + 40)))
}

func establish(_ net: SimulatedNetwork, port: UInt16 = 5001) -> (ConnectionHandle, ConnectionHandle) {
    try? net.b.listen(port: port, backlog: 1024)
    let c = try! net.a.connect(to: net.b.address, port: port, now: net.now)
    var s: ConnectionHandle?
    _ = net.run(until: { s = s ?? net.b.accept(port: port); return s != nil && net.a.connection(c)?.state == .established },
                timeLimit: .seconds(10))
    return (c, s!)
}

/// Bulk A → B for `seconds`: Gbit/s of payload, data segments/s, heap allocations per
/// segment (both directions, after a warm-up).
func bulk(mss: Int, seconds: Double) -> String {
    let buffer = bulkBuffer
    let net = makePair(mss: mss, buffer: buffer)
    let (ch, sh) = establish(net)
    let source = [UInt8](repeating: 0x5A, count: 1 << 20)
    let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { sink.deallocate() }
    var received = 0
    var offset = 0
    func round() {
        var wrote = 0
        while true {
            let n = source.withUnsafeBytes { net.a.write(ch, UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            if n == 0 { break }
            wrote += n
            offset = (offset + n) % source.count
        }
        let moved = net.settle()
        var got = 0
        while true {
            let n = net.b.read(sh, into: sink)
            if n == 0 { break }
            got += n
        }
        received += got
        if moved == 0 && wrote == 0 && got == 0 { net.step() }
    }
    // Warm-up: buffers, pool slabs and tables reach their steady size.
    let warm = clock.now
    while clock.now - warm < .milliseconds(300) { round() }
    if traceAllocations > 0 {
        malloc_counter_set_trace(Int32(traceAllocations))
        for _ in 0..<40 { round() }
        malloc_counter_set_trace(0)
    }
    let a = net.a.connection(ch)!, b = net.b.connection(sh)!
    let seg0 = a.counters.segmentsOut + b.counters.segmentsOut
    let data0 = a.counters.segmentsOut
    let alloc0 = malloc_counter_allocations()
    let bytes0 = received
    let start = clock.now
    var elapsed = 0.0
    repeat {
        for _ in 0..<16 { round() }
        elapsed = elapsedSeconds(clock.now - start)
    } while elapsed < seconds
    let allocs = malloc_counter_allocations() - alloc0
    let segs = a.counters.segmentsOut + b.counters.segmentsOut - seg0
    let dataSegs = a.counters.segmentsOut - data0
    let bytes = received - bytes0
    let gbit = Double(bytes) * 8 / elapsed / 1e9
    return "swift-tcpip-bulk mss=\(mss) buffer=\(buffer) mtu=\(min(65535, mss + 40)) seconds=\(fmt(elapsed)) gbit_s=\(fmt(gbit)) segments_s=\(Int(Double(dataSegs) / elapsed)) all_segments=\(segs) allocs_per_segment=\(fmt(Double(allocs) / Double(max(1, segs)), 3)) retrans=\(a.counters.retransmittedSegments)"
}

/// 1-byte request / 1-byte response on one connection (NODELAY), transactions/s.
func rr(seconds: Double) -> String {
    let net = makePair(mss: 1460, buffer: 256 << 10, noDelay: true)
    let (ch, sh) = establish(net)
    let one = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
    defer { one.deallocate() }
    one[0] = 1
    var tx = 0
    let alloc0 = malloc_counter_allocations()
    func transaction() {
        _ = net.a.write(ch, UnsafeRawBufferPointer(one))
        while net.b.read(sh, into: one) == 0 { if net.settle() == 0 { net.step() } }
        _ = net.b.write(sh, UnsafeRawBufferPointer(one))
        while net.a.read(ch, into: one) == 0 { if net.settle() == 0 { net.step() } }
        tx += 1
    }
    for _ in 0..<1000 { transaction() }   // warm-up
    if traceAllocations > 0 {
        malloc_counter_set_trace(Int32(traceAllocations))
        for _ in 0..<3 { transaction() }
        malloc_counter_set_trace(0)
    }
    let start = clock.now
    var elapsed = 0.0
    repeat {
        for _ in 0..<256 { transaction() }
        elapsed = elapsedSeconds(clock.now - start)
    } while elapsed < seconds
    let allocs = malloc_counter_allocations() - alloc0
    return "swift-tcpip-rr mss=1460 seconds=\(fmt(elapsed)) trans_s=\(Int(Double(tx) / elapsed)) mean_rtt_us=\(fmt(elapsed / Double(tx) * 1e6, 3)) allocs_per_trans=\(fmt(Double(allocs) / Double(tx), 2))"
}

/// Connect, accept, client abort (RST), as kernel-cps: connections/s.
func cps(seconds: Double) -> String {
    let net = makePair(mss: 1460, buffer: 256 << 10)
    try! net.b.listen(port: 5001, backlog: 1024)
    var n = 0, failed = 0
    let start = clock.now
    var elapsed = 0.0
    repeat {
        for _ in 0..<64 {
            guard let c = try? net.a.connect(to: net.b.address, port: 5001, now: net.now) else { failed += 1; continue }
            var s: ConnectionHandle?
            let ok = net.run(until: { s = s ?? net.b.accept(port: 5001); return s != nil && net.a.connection(c)?.state == .established },
                             timeLimit: .seconds(10))
            if !ok { failed += 1 }
            net.a.abort(c)
            net.settle()
            if net.b.connectionCount != 0 || net.a.connectionCount != 0 { failed += 1 }
            n += 1
        }
        elapsed = elapsedSeconds(clock.now - start)
    } while elapsed < seconds
    return "swift-tcpip-cps mss=1460 close=rst seconds=\(fmt(elapsed)) conn_s=\(Int(Double(n) / elapsed)) failed=\(failed)"
}

/// `count` established, idle connections between the two hosts: resident memory per
/// connection (both endpoints, table entries included) and per endpoint.
/// With `traffic`, every connection first moves one byte each way (both rings of both
/// ends allocate), then the hosts run 3 s of virtual time: the buffer trim must leave
/// them holding no buffer storage.
func idle(count: Int, traffic: Bool = false) -> String {
    let net = makePair(mss: 1460, buffer: 256 << 10)
    let ports = (count + 16_000) / 16_000
    for p in 0..<ports { try! net.b.listen(port: UInt16(5001 + p), backlog: count + 1) }
    let rss0 = rssBytes()
    let alloc0 = malloc_counter_allocations()
    var made = 0
    let start = clock.now
    var clients: [ConnectionHandle] = []
    var servers: [ConnectionHandle] = []
    while made < count {
        let batch = min(1000, count - made)
        for i in 0..<batch {
            let c = try! net.a.connect(to: net.b.address, port: UInt16(5001 + (made + i) % ports), now: net.now)
            if traffic { clients.append(c) }
        }
        made += batch
        net.settle()
        for p in 0..<ports { while let s = net.b.accept(port: UInt16(5001 + p)) { if traffic { servers.append(s) } } }
    }
    var peakBufferBytes = 0
    if traffic {
        // Server handles come back in accept order; match them by four-tuple.
        var byTuple: [FourTuple: ConnectionHandle] = [:]
        for s in servers { if let c = net.b.connection(s) { byTuple[c.tuple] = s } }
        var one: [UInt8] = [7]
        for c in clients {
            guard let t = net.a.connection(c)?.tuple else { continue }
            let back = FourTuple(localAddress: t.remoteAddress, localPort: t.remotePort, remoteAddress: t.localAddress, remotePort: t.localPort)
            guard let s = byTuple[back] else { continue }
            _ = net.a.write(c, one)
            net.settle()
            _ = one.withUnsafeMutableBytes { net.b.read(s, into: $0) }
            _ = net.b.write(s, one)
            net.settle()
            _ = one.withUnsafeMutableBytes { net.a.read(c, into: $0) }
        }
        peakBufferBytes = net.a.allocatedBufferBytes + net.b.allocatedBufferBytes
        net.run(for: .seconds(3))   // two trim intervals
    }
    net.run(for: .seconds(1))   // delayed ACKs and timers settle
    let established = net.a.connections.filter { $0.state == .established }.count
        + net.b.connections.filter { $0.state == .established }.count
    let rss = rssBytes() - rss0
    let allocs = malloc_counter_allocations() - alloc0
    let elapsed = elapsedSeconds(clock.now - start)
    let held = net.a.allocatedBufferBytes + net.b.allocatedBufferBytes
    return "swift-tcpip-idle\(traffic ? "-after-traffic" : "") connections=\(count) buffer_bytes_after_traffic=\(peakBufferBytes) buffer_bytes_now=\(held) established_endpoints=\(established) seconds=\(fmt(elapsed)) rss_delta_bytes=\(rss) bytes_per_connection=\(rss / count) bytes_per_endpoint=\(rss / (2 * count)) allocs_per_connection=\(fmt(Double(allocs) / Double(count), 1))"
}

// MARK: command line

var args = Array(CommandLine.arguments.dropFirst())
var what = "all"
var seconds = 2.0
var connections = 100_000
var msses = [1460, 8960, 65495]
var idleTraffic = false
/// `--buffer BYTES`: send and receive buffer size of the bulk connection (default 4 MiB).
nonisolated(unsafe) var bulkBuffer = 4 << 20
/// `--trace-allocations N`: print N-frame backtraces of the allocations of a few steady-state rounds.
nonisolated(unsafe) var traceAllocations = 0
var i = 0
while i < args.count {
    switch args[i] {
    case "--seconds": i += 1; seconds = Double(args[i]) ?? seconds
    case "--connections": i += 1; connections = Int(args[i]) ?? connections
    case "--trace-allocations": i += 1; traceAllocations = Int(args[i]) ?? 12
    case "--mss": i += 1; msses = args[i].split(separator: ",").compactMap { Int($0) }
    case "--traffic": idleTraffic = true
    case "--buffer": i += 1; bulkBuffer = Int(args[i]) ?? bulkBuffer
    case "bulk", "rr", "cps", "idle", "all": what = args[i]
    default:
        print("usage: tcp-bench [bulk|rr|cps|idle|all] [--seconds S] [--connections N] [--mss 1460,8960,65495]")
        exit(2)
    }
    i += 1
}
if what == "bulk" || what == "all" { for m in msses { print(bulk(mss: m, seconds: seconds)) } }
if what == "rr" || what == "all" { print(rr(seconds: seconds)) }
if what == "cps" || what == "all" { print(cps(seconds: seconds)) }
if what == "idle" || what == "all" { print(idle(count: connections, traffic: idleTraffic)) }
