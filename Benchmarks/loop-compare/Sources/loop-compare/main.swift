// loop-compare: the runtime's poll(2) loop thread (`TCPStack`) against a SwiftNIO event
// loop driving the same sans-IO `Interface`/`IPv4Host`, on a TUN device in a network
// namespace, with the kernel as the peer. See BENCHMARKS.md, "Event loop: poll thread vs
// SwiftNIO".
//
//   swift run -c release loop-compare [--seconds S] [--runs N] [--workloads rr,bulk]
//                                     [--drivers poll,nio,nio-raw]
//
// Needs root (namespaces, TUN); prints SKIP and exits 0 otherwise.
import Foundation
import Synchronization
import TCPIP
import TCPIPDevices
import TCPIPRuntime
#if canImport(Glibc)
import Glibc
#endif

// MARK: the application, the same for every driver

protocol AppStream: Sendable {
    func read(maxBytes: Int) async throws -> [UInt8]
    func write(_ bytes: [UInt8]) async throws
    func close()
}

extension TCPStream: AppStream {}

/// Bytes the servers received (the measurement: sampled at the start and end of a window).
final class ByteCounter: Sendable {
    let value = Atomic<Int>(0)
    func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Echo (rr) or discard (bulk) on one stream until the peer closes.
func serve<S: AppStream>(_ s: S, echo: Bool, counter: ByteCounter) async {
    while true {
        guard let b = try? await s.read(maxBytes: 65536), !b.isEmpty else { break }
        counter.add(b.count)
        if echo {
            do { try await s.write(b) } catch { break }
        }
    }
    s.close()
}

// MARK: drivers

let ourAddress = IPv4Address(192, 0, 2, 2)
let kernelAddress = "192.0.2.1"
let mtu = 1500

func makeInterface(seed: UInt64) throws -> Interface {
    var config = TCPConfiguration.default
    config.maximumSegmentSize = min(config.maximumSegmentSize, mtu - 40)
    let host = IPv4Host(address: ourAddress, configuration: config, mtu: mtu, seed: seed)
    let ifc = InterfaceConfiguration(link: .ip, address: ourAddress, prefixLength: 24, mtu: mtu)
    return try Interface(configuration: ifc, host: host, seed: seed)
}

/// A running driver with a server on `port`; `stop` tears it down and returns its counters.
struct RunningServer {
    var stop: () async -> String
}

func startPoll(device: TunTapDevice, port: UInt16, echo: Bool, counter: ByteCounter) async throws -> RunningServer {
    let stack = try TCPStack(interface: device, processor: try makeInterface(seed: UInt64(port)))
    let listener = try await stack.listen(port: port)
    let acceptor = Task {
        while let s = try? await listener.accept() {
            Task { await serve(s, echo: echo, counter: counter) }
        }
    }
    return RunningServer(stop: {
        listener.close()
        acceptor.cancel()
        _ = await acceptor.value
        let st = await stack.statistics()
        await stack.shutdown(gracePeriod: .milliseconds(200))
        return "rounds=\(st.loopRounds) packets_in=\(st.host.packetsIn) packets_out=\(st.host.packetsOut) retransmits=\(st.retransmittedSegments) write_drops=\(st.deviceWriteDrops)"
    })
}

func startNIO(device: TunTapDevice, io: NIODeviceIO, port: UInt16, echo: Bool, counter: ByteCounter) async throws -> RunningServer {
    let fd = dup(device.fileDescriptor)
    guard fd >= 0 else { throw BenchError("dup: errno \(errno)") }
    let driver = NIODriver(processor: try makeInterface(seed: UInt64(port)), mtu: mtu, fd: fd, io: io)
    do {
        try await driver.start()
    } catch {
        close(fd)
        throw error
    }
    let listener = try await driver.listen(port: port)
    let acceptor = Task {
        while let s = try? await listener.accept() {
            Task { await serve(s, echo: echo, counter: counter) }
        }
    }
    return RunningServer(stop: {
        let counters = try? await driver.loop.submit { driver.host.counters }.get()
        let summary = await driver.stop()
        acceptor.cancel()
        _ = await acceptor.value
        let c = counters.map { "packets_in=\($0.packetsIn) packets_out=\($0.packetsOut)" } ?? ""
        return "\(summary) \(c)"
    })
}

// MARK: measurement

struct Sample {
    var value: Double      // trans/s (rr) or Gbit/s (bulk)
    var cpuPercent: Double // this process (stack + app), user + system, % of one core
    // Per transaction (rr) or per MB = 10^6 bytes received (bulk), over the same window:
    var cpuMicroseconds: Double  // CPU time of this process
    var switches: Double         // context switches (voluntary + involuntary), all threads
    var readWrites: Double       // read/write-family syscalls (/proc/self/io syscr + syscw)
}

/// Process-wide counters that do not depend on how busy the machine is (except the CPU time).
struct Usage {
    var cpu: Double = 0, switches: Double = 0, readWrites: Double = 0
    static func now() -> Usage {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        var r = Usage()
        r.cpu = Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
        r.switches = Double(u.ru_nvcsw + u.ru_nivcsw)
        if let io = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) {
            for l in io.split(separator: "\n") where l.hasPrefix("syscr:") || l.hasPrefix("syscw:") {
                r.readWrites += Double(l.split(separator: " ").last.flatMap { Double($0) } ?? 0)
            }
        }
        return r
    }
}

func measure(driver: String, workload: String, seconds: Double, port: UInt16,
             device: TunTapDevice, namespace: BenchNamespace, selfPath: String, verbose: Bool) async throws -> Sample {
    let counter = ByteCounter()
    let echo = workload == "rr"
    let server: RunningServer
    switch driver {
    case "poll": server = try await startPoll(device: device, port: port, echo: echo, counter: counter)
    case "nio": server = try await startNIO(device: device, io: .channel, port: port, echo: echo, counter: counter)
    case "nio-raw": server = try await startNIO(device: device, io: .raw, port: port, echo: echo, counter: counter)
    default: throw BenchError("unknown driver \(driver)")
    }
    let warmup = 0.5
    let clientSeconds = warmup + seconds + 0.5
    let client = try Child(["ip", "netns", "exec", namespace.name, selfPath, "client", workload,
                            "\(ourAddress)", "\(port)", "\(clientSeconds)"])
    // Wait for the first byte, then the warm-up, then measure one window.
    let firstDeadline = Date().addingTimeInterval(5)
    while counter.current == 0 && Date() < firstDeadline && client.process.isRunning {
        try await Task.sleep(for: .milliseconds(5))
    }
    guard counter.current > 0 else {
        _ = await client.wait(seconds: 1)
        let info = await server.stop()
        throw BenchError("\(driver) \(workload): no data arrived (client: \(client.text.trimmingCharacters(in: .whitespacesAndNewlines)); \(info))")
    }
    try await Task.sleep(for: .seconds(warmup))
    let b0 = counter.current, t0 = monotonicSeconds(), u0 = Usage.now()
    try await Task.sleep(for: .seconds(seconds))
    let b1 = counter.current, t1 = monotonicSeconds(), u1 = Usage.now()
    let status = await client.wait(seconds: clientSeconds + 10)
    let info = await server.stop()
    let wall = t1 - t0
    let value = echo ? Double(b1 - b0) / wall : Double(b1 - b0) * 8 / wall / 1e9
    if verbose {
        say("  [\(driver) \(workload) port \(port)] client exit \(status.map(String.init) ?? "killed"): \(client.text.trimmingCharacters(in: .whitespacesAndNewlines)); server: \(info)")
    }
    guard status == 0 else { throw BenchError("\(driver) \(workload): client failed: \(client.text)") }
    let ops = max(1, echo ? Double(b1 - b0) : Double(b1 - b0) / 1e6)
    return Sample(value: value, cpuPercent: (u1.cpu - u0.cpu) / wall * 100,
                  cpuMicroseconds: (u1.cpu - u0.cpu) * 1e6 / ops, switches: (u1.switches - u0.switches) / ops,
                  readWrites: (u1.readWrites - u0.readWrites) / ops)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func line(driver: String, workload: String, _ s: Sample, runs: Int? = nil, all: [Double]? = nil) -> String {
    var t = "loop-compare driver=\(driver) workload=\(workload)"
    let per = workload == "rr" ? "trans" : "mb"
    if workload == "rr" {
        t += " trans_s=\(Int(s.value.rounded())) mean_rtt_us=\(String(format: "%.1f", 1e6 / s.value))"
    } else {
        t += " gbit_s=\(String(format: "%.3f", s.value))"
    }
    t += " cpu_pct=\(Int(s.cpuPercent.rounded()))"
    t += " cpu_us_per_\(per)=\(String(format: "%.1f", s.cpuMicroseconds))"
    t += " csw_per_\(per)=\(String(format: "%.2f", s.switches))"
    t += " rw_syscalls_per_\(per)=\(String(format: "%.2f", s.readWrites))"
    if let runs { t += " runs=\(runs)" }
    if let all { t += " all=" + all.map { workload == "rr" ? "\(Int($0.rounded()))" : String(format: "%.3f", $0) }.joined(separator: ",") }
    return t
}

// MARK: main

/// One line to standard output at once (unbuffered: the lines appear as they come, also
/// in a file or a pipe).
func say(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { b in _ = Glibc.write(1, b.baseAddress, b.count) }
}

func mainBenchmark(_ args: [String]) async -> Int32 {
    var seconds = 3.0, runs = 3
    var workloads = ["rr", "bulk"], drivers = ["poll", "nio", "nio-raw"]
    var verbose = false
    var i = 0
    while i < args.count {
        let a = args[i]
        let next = i + 1 < args.count ? args[i + 1] : ""
        switch a {
        case "--seconds": seconds = Double(next) ?? seconds; i += 1
        case "--runs": runs = Int(next) ?? runs; i += 1
        case "--workloads": workloads = next.split(separator: ",").map(String.init); i += 1
        case "--drivers": drivers = next.split(separator: ",").map(String.init); i += 1
        case "--verbose", "-v": verbose = true
        default:
            say("usage: loop-compare [--seconds S] [--runs N] [--workloads rr,bulk] [--drivers poll,nio,nio-raw] [--verbose]")
            return 2
        }
        i += 1
    }
    guard getuid() == 0 else {
        say("SKIP loop-compare: needs root (a network namespace and a TUN device)")
        return 0
    }
    var pathBuf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &pathBuf, pathBuf.count - 1)
    guard n > 0 else { say("loop-compare: cannot read /proc/self/exe"); return 1 }
    let selfPath = String(decoding: pathBuf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)

    installSignalCleanup()
    let namespace: BenchNamespace
    do { namespace = try BenchNamespace() } catch { say("loop-compare: \(error)"); return 1 }
    namespaceToDelete = namespace.name
    defer { namespace.delete() }
    do {
        let device = try TunTapDevice(name: "lcmp\(namespace.suffix.prefix(8))", kind: .tun)
        defer { device.close() }
        try namespace.adopt(interface: device.name)
        _ = try? namespace.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try namespace.exec(["ip", "addr", "add", "\(kernelAddress)/24", "dev", device.name])
        try namespace.exec(["ip", "link", "set", device.name, "mtu", "\(mtu)", "up"])
        let cpuModel = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        say("loop-compare: namespace \(namespace.name), TUN \(device.name) mtu \(mtu), \(seconds) s per run, \(runs) runs, cpus \(ProcessInfo.processInfo.activeProcessorCount) (\(cpuModel)), load \(load)")
        var port: UInt16 = 7000
        for workload in workloads {
            var results: [String: [Sample]] = [:]
            for run in 1...runs {
                // Alternate, and rotate who goes first, so no driver always follows the same one.
                let k = (run - 1) % drivers.count
                for driver in drivers[k...] + drivers[..<k] {
                    port += 1
                    let s = try await measure(driver: driver, workload: workload, seconds: seconds, port: port,
                                              device: device, namespace: namespace, selfPath: selfPath, verbose: verbose)
                    results[driver, default: []].append(s)
                    say("  run \(run): " + line(driver: driver, workload: workload, s))
                }
            }
            for driver in drivers {
                let ss = results[driver] ?? []
                let m = Sample(value: median(ss.map(\.value)), cpuPercent: median(ss.map(\.cpuPercent)),
                               cpuMicroseconds: median(ss.map(\.cpuMicroseconds)), switches: median(ss.map(\.switches)),
                               readWrites: median(ss.map(\.readWrites)))
                say(line(driver: driver, workload: workload, m, runs: ss.count, all: ss.map(\.value)))
            }
            // Paired: each run's drivers ran back to back, so their ratio is less exposed to
            // the machine's load drifting between runs than the ratio of the medians.
            if let base = drivers.first, let b = results[base] {
                for driver in drivers.dropFirst() {
                    let ratios = zip(results[driver] ?? [], b).map { $0.value / $1.value }
                    say("loop-compare ratio workload=\(workload) \(driver)/\(base) median=\(String(format: "%.2f", median(ratios))) all="
                        + ratios.map { String(format: "%.2f", $0) }.joined(separator: ","))
                }
            }
        }
    } catch {
        say("loop-compare: FAILED: \(error)")
        return 1
    }
    return 0
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "client" {
    exit(runKernelClient(Array(arguments.dropFirst())))
}
let status = await mainBenchmark(arguments)
exit(status)
