import Foundation
import Testing
import TCPIP
import NetworkTestSupport

/// The SVG and HTML of `tcpip trace` render in a real browser: headless Chromium loads
/// each (the kernel capture of a transfer under loss), takes a screenshot and dumps the
/// DOM it built. The page logs no console message (no script error, no uncaught
/// exception), the document parsed (no XML `parsererror`) into one `<g class="seg ...">`
/// per segment with the first segment's label, and the screenshot is a PNG of the
/// window's size holding far more than a blank page. Screenshots are kept in
/// `artifacts/trace/` at the package root (git-ignored) for people to look at.
@Suite(.serialized) struct TraceChromiumTests {
    static let executable: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/local/bin/chromium",
                                      "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    static var enabled: Bool { executable != nil || isCI }
    static let skipMessage: Comment = "chromium is not installed (apt-get install chromium): rendering check skipped (with CI=true this is a failure)"

    static let window = (width: 1400, height: 2000)

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs Chromium headless on `page` with `arguments`, bounded to 90 s;
    /// returns standard output and standard error. The wait runs off the cooperative pool.
    static func chromium(_ arguments: [String], page: URL, in dir: URL) async throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = try #require(executable, "CI=true but chromium is not installed")
        let out = dir.appendingPathComponent("chromium-\(UUID().uuidString).out")
        let err = dir.appendingPathComponent("chromium-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        // coreutils' timeout bounds the browser; it runs as root here, hence --no-sandbox.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["-k", "5", "90", exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                       "--no-first-run", "--user-data-dir=\(dir.appendingPathComponent("profile").path)",
                       "--enable-logging=stderr", "--v=0"] + arguments + [page.absoluteString]
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        let status = try await offThePool { () throws -> Int32 in
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        return (status,
                (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Width and height from a PNG's IHDR chunk; nil when the bytes are not a PNG.
    static func pngSize(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count > 24, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
              b[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be32(16), be32(20))
    }

    /// Takes a screenshot of `page`; returns the PNG's bytes and the browser's log.
    static func screenshot(_ page: URL, to png: URL, in dir: URL) async throws -> (png: [UInt8], log: String) {
        let r = try await chromium(["--screenshot=\(png.path)", "--window-size=\(window.width),\(window.height)"], page: page, in: dir)
        #expect(r.status == 0, "chromium exited with \(r.status): \(r.stderr.suffix(2000))")
        return (try [UInt8](Data(contentsOf: png)), r.stderr)
    }

    /// Lines of the browser's log that come from the page: console messages and uncaught exceptions.
    static func pageErrors(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
    }

    static func conversation() throws -> TraceConversation {
        let bytes = try [UInt8](Data(contentsOf: TraceFixtures.directory.appendingPathComponent("trace-loss.pcap")))
        let input = TraceInput(captureBytes: bytes)
        #expect(input.readError == nil)
        return try #require(TraceConversation.analyze(input.segments).first)
    }

    @Test(.enabled(if: enabled, skipMessage), arguments: ["svg", "html"])
    func ladderRendersInChromiumWithoutErrors(format: String) async throws {
        let conv = try Self.conversation()
        // The SVG plain, the HTML with the learners' sentences: both render paths are covered.
        let formatter = LadderSVGFormatter(absolute: false, explain: format == "html", language: .en)
        let document = format == "svg" ? formatter.svgDocument([conv]) : formatter.html([conv], title: "tcpip trace")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tcpip-chromium-\(getpid())-\(format)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("trace-loss.\(format)")
        try document.write(to: page, atomically: true, encoding: .utf8)

        // A blank page of the same size, for what an empty screenshot weighs; its script
        // fails, to show that a page's errors do reach the log this test reads.
        let blankPage = dir.appendingPathComponent("blank.html")
        try "<!DOCTYPE html><html><body><script>notDefinedAnywhere();</script></body></html>"
            .write(to: blankPage, atomically: true, encoding: .utf8)
        let blank = try await Self.screenshot(blankPage, to: dir.appendingPathComponent("blank.png"), in: dir)
        #expect(Self.pageErrors(blank.log).contains { $0.contains("notDefinedAnywhere") })

        let png = dir.appendingPathComponent("trace-loss-\(format).png")
        let shot = try await Self.screenshot(page, to: png, in: dir)
        #expect(Self.pageErrors(shot.log).isEmpty, "page errors: \(Self.pageErrors(shot.log))")
        let size = try #require(Self.pngSize(shot.png), "the screenshot is not a PNG")
        #expect(size.width == Self.window.width && size.height == Self.window.height)
        #expect(Self.pngSize(blank.png) != nil)
        // Line art and text over the whole window compress far worse than white.
        #expect(shot.png.count > 5 * blank.png.count, "screenshot \(shot.png.count) bytes, blank page \(blank.png.count)")

        // Keep it for people to look at.
        let artifacts = Self.packageRoot.appendingPathComponent("artifacts/trace")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let kept = artifacts.appendingPathComponent("trace-loss-\(format).png")
        try? FileManager.default.removeItem(at: kept)
        try FileManager.default.copyItem(at: png, to: kept)

        // What the browser built: parsed without error, one group per segment.
        let dom = try await Self.chromium(["--dump-dom"], page: page, in: dir)
        #expect(dom.status == 0)
        #expect(Self.pageErrors(dom.stderr).isEmpty, "page errors: \(Self.pageErrors(dom.stderr))")
        #expect(!dom.stdout.contains("parsererror"))
        #expect(dom.stdout.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let groups = dom.stdout.components(separatedBy: "<g class=\"seg ").count - 1
        #expect(groups == conv.events.count)
        let synLabel = "SYN seq=0 win=\(conv.events[0].segment.header.window)"
        #expect(conv.events[0].segment.header.flags == .syn)
        #expect(dom.stdout.contains(">\(synLabel)</text>"), "no \(synLabel) in the DOM")
        if format == "html" {
            #expect(dom.stdout.contains("<pre id=\"panel\""))
            #expect(dom.stdout.contains("SYN: the client asks to open a connection"))
        }
    }
}
