import Foundation
import NetworkTestSupport
import Testing

/// A real browser on the kernel's TCP: headless Chromium, in the kernel's namespace, loads
/// a page and its image from `tcpip serve http --root DIR` over a TAP device. The page's
/// script writes the image's decoded size into the DOM when it has loaded, so the dumped
/// DOM proves the PNG came through intact; a screenshot is kept in
/// `artifacts/chromium/serve-http.png` at the package root (git-ignored) for people to look
/// at. Root and chromium required: skipped with a message otherwise, a failure when CI=true.
@Suite("Chromium loads a page from tcpip serve http", .serialized, .prioritized)
struct ChromiumServeHTTPTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/local/bin/chromium"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/chromium"
    static let window = (width: 640, height: 400)
    static let image = (width: 32, height: 16)

    /// A PNG (8-bit RGB, no interlace) of `width`×`height`: colour stripes, built by hand
    /// (IDAT is a zlib stream of stored deflate blocks).
    static func png(width: Int, height: Int) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(UInt32(data.count)) + body + be32(crc32(body))
        }
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width {
                let stripe = (x / 8 + y / 8) % 3
                raw += stripe == 0 ? [0xD0, 0x30, 0x30] : stripe == 1 ? [0x30, 0xA0, 0x40] : [0x30, 0x50, 0xD0]
            }
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let last: UInt8 = offset + n == raw.count ? 1 : 0
            zlib += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            zlib += raw[offset..<offset + n]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += be32(b << 16 | a)
        let header = be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    /// Width and height from a PNG's IHDR chunk; nil when the bytes are not a PNG.
    static func pngSize(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count > 24, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
              b[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be32(16), be32(20))
    }

    static let page = """
    <!DOCTYPE html>
    <html><head><meta charset="utf-8"><title>tcpip serve http</title></head>
    <body style="font: 24px sans-serif">
    <h1>Served by the userspace stack</h1>
    <p id="status">image pending</p>
    <img id="stripes" alt="stripes" width="320" height="160" style="image-rendering: pixelated">
    <script>
    const img = document.getElementById("stripes");
    img.onload = () => { document.getElementById("status").textContent = "image loaded " + img.naturalWidth + "x" + img.naturalHeight; };
    img.onerror = () => { document.getElementById("status").textContent = "image failed"; };
    img.src = "stripes.png";
    </script>
    </body></html>
    """

    /// Runs Chromium headless in `namespace` on `url`, bounded by coreutils' timeout;
    /// as root it needs --no-sandbox.
    static func runChromium(_ arguments: [String], url: String, in namespace: NetworkNamespace,
                            profile: URL) async throws -> CommandResult {
        try await runSeparately(["ip", "netns", "exec", namespace.name, "/usr/bin/timeout", "-k", "5", "60", chromium,
                                 "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                                 "--user-data-dir=\(profile.path)"] + arguments + [url], seconds: 70)
    }

    @Test func chromiumOverTAPLoadsThePageAndItsImageAndRendersThem() async throws {
        guard TCPIPCommand.ready("Chromium against tcpip serve http", tools: [Self.chromium, "/usr/bin/timeout"]) else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-chromium-serve-\(UUID().uuidString)")
        let site = dir.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let stripes = Self.png(width: Self.image.width, height: Self.image.height)
        try Data(stripes).write(to: site.appendingPathComponent("stripes.png"))
        try Data(Self.page.utf8).write(to: site.appendingPathComponent("index.html"))

        let served = try await ServedNamespace.start(service: "http", kind: "tap", device: "tapchrome0",
                                                     ["--port", "80", "--root", site.path], prefix: "tcpipchrome")
        // The image as the kernel's curl gets it: the very bytes written.
        let png = dir.appendingPathComponent("curl.png")
        let curl = try await served.namespace.run(["curl", "-sS", "--max-time", "10", "-o", png.path, "-w", "%{http_code} %{content_type}",
                                                   "http://192.0.2.2/stripes.png"])
        #expect(curl.output == "200 image/png", "\(curl.output)")
        #expect((try? Data(contentsOf: png)) == Data(stripes))

        let dom = try await Self.runChromium(["--dump-dom"], url: "http://192.0.2.2/index.html", in: served.namespace,
                                             profile: dir.appendingPathComponent("profile-dom"))
        #expect(dom.status == 0, "chromium exited with \(dom.status.map(String.init) ?? "timeout"): \(dom.stderr.suffix(2000))")
        let text = dom.stdoutText
        #expect(text.contains("<h1>Served by the userspace stack</h1>"), "\(text)")
        #expect(text.contains("<p id=\"status\">image loaded \(Self.image.width)x\(Self.image.height)</p>"), "\(text)")

        let shot = dir.appendingPathComponent("shot.png")
        let s = try await Self.runChromium(["--screenshot=\(shot.path)", "--window-size=\(Self.window.width),\(Self.window.height)"],
                                           url: "http://192.0.2.2/index.html", in: served.namespace,
                                           profile: dir.appendingPathComponent("profile-shot"))
        #expect(s.status == 0, "chromium exited with \(s.status.map(String.init) ?? "timeout"): \(s.stderr.suffix(2000))")
        let bytes = try [UInt8](Data(contentsOf: shot))
        let size = try #require(Self.pngSize(bytes), "the screenshot is not a PNG (\(bytes.count) bytes)")
        #expect(size.width == Self.window.width && size.height == Self.window.height, "\(size)")
        #expect(bytes.count > 1000, "\(bytes.count) bytes")

        // Keep it for people to look at.
        let artifacts = TCPIPCommand.packageRoot.appendingPathComponent("artifacts/chromium")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let kept = artifacts.appendingPathComponent("serve-http.png")
        try? FileManager.default.removeItem(at: kept)
        try FileManager.default.copyItem(at: shot, to: kept)

        let counters = try #require(await served.counters(), "no counters: \(served.server.output)")
        #expect(ServedNamespace.number(after: "RSTs sent for closed ports", in: counters) == 0, "\(counters)")
        #expect(await served.stop(), "exit 0 after SIGTERM: \(served.server.output)")
    }
}
