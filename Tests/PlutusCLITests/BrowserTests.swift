import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The dashboard served by `plutus serve --demo`, loaded by a real headless Chromium: the
/// DOM must show the balance, the chart and the feed, and a screenshot is kept at
/// `.build/dashboard.png` for people to look at. Skipped only when Chromium is missing
/// outside CI; with `CI=true` a missing Chromium fails.
@Suite("The dashboard in headless Chromium")
struct BrowserTests {
    static let chromium: String? = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap { name in
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }.first
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    /// How long one Chromium run may take.
    static let chromiumSecondsMax = 60

    static let screenshotPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/dashboard.png").path

    /// Runs Chromium headless on `url` with `arguments`, bounded in time; returns stdout.
    static func chromium(_ chromium: String, _ arguments: [String], _ url: String, profile: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments =
            [
                "--kill-after=5", String(chromiumSecondsMax), chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--hide-scrollbars", "--user-data-dir=\(profile)",
            ] + arguments + [url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(
        .enabled(
            if: chromium != nil || inCI,
            "chromium is not installed (apt-get install chromium; scripts/test installs it); set CI=true to fail instead"))
    func theDemoDashboardRendersInChromium() async throws {
        let chromium = try #require(Self.chromium, "CI=true but chromium is not installed; scripts/test installs it")
        let cli = CLI()
        let server = try ServeSession(cli, arguments: ["--demo"])
        defer { server.stop() }
        try await server.waitUntilUp()
        let url = server.base + "/"
        let (status, dom) = try Self.chromium(chromium, ["--dump-dom"], url, profile: cli.home + "/chromium-dom")
        #expect(status == 0)
        #expect(dom.contains("Acme Agents"))
        #expect(dom.range(of: #"id="balance">-?\$[0-9,]+\.[0-9]{2}<"#, options: .regularExpression) != nil)
        #expect(dom.contains("<svg class=\"chart\"") && dom.contains("<rect class=\"bar\""))
        #expect(dom.contains("id=\"feed\"") && dom.contains("anthropic ·"))
        try? FileManager.default.removeItem(atPath: Self.screenshotPath)
        let (shotStatus, _) = try Self.chromium(
            chromium, ["--window-size=1400,2400", "--screenshot=\(Self.screenshotPath)"], url,
            profile: cli.home + "/chromium-shot")
        #expect(shotStatus == 0)
        let png = try #require(FileManager.default.contents(atPath: Self.screenshotPath))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
    }

    static let narrowViewportScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("narrow_viewport.py").path

    /// Every page of the demo at 400 px (a phone): nothing scrolls sideways, and every
    /// right-aligned cell (the money and counts) is on screen without swiping inside a table.
    @Test(
        .enabled(
            if: chromium != nil || inCI,
            "chromium is not installed (apt-get install chromium; scripts/test installs it); set CI=true to fail instead"))
    func everyPageFitsA400PixelScreen() async throws {
        let chromium = try #require(Self.chromium, "CI=true but chromium is not installed; scripts/test installs it")
        let cli = CLI()
        let server = try ServeSession(cli, arguments: ["--demo"])
        defer { server.stop() }
        try await server.waitUntilUp()
        let orgs = try ServeTests.curl(server.base + "/api/orgs")
        let listing = try JSONValue.parse(try #require(orgs, "plutus serve --demo did not answer"))
        guard case .array(let all) = listing["orgs"], let org = all.first?["id"]?.stringValue else {
            Issue.record("no organization in \(listing)")
            return
        }
        let workspace = try cli.json("workspace", "list", "--db", cli.home + "/demo.db")["workspaces"]
        let workspaceID: String? = if case .array(let items)? = workspace { items.first?["id"]?.stringValue } else { nil }
        let base = server.base
        let month = Timestamp.now().month.text
        let pages = [
            "/", "/?org=\(org)", "/?org=\(org)&workspace=\(workspaceID ?? "")", "/pricing",
            "/report?org=\(org)&month=\(month)&format=html", "/billing", "/billing?org=\(org)", "/billing/success",
            "/billing/cancel", "/no-such-page",
        ].map { base + $0 }
        let python = ProcessInfo.processInfo.environment["PLUTUS_TEST_PYTHON"] ?? "/usr/bin/python3"
        let measure = Process()
        measure.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        measure.arguments = ["--kill-after=5", "180", python, Self.narrowViewportScript, chromium, "400"] + pages
        let output = Pipe()
        let errors = Pipe()
        measure.standardOutput = output
        measure.standardError = errors
        try measure.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        measure.waitUntilExit()
        #expect(measure.terminationStatus == 0, "\(failure)")
        let lines = text.split(separator: "\n")
        #expect(lines.count == pages.count, "one measurement per page: \(text)")
        for line in lines {
            let figures = try JSONValue.parse(String(line))
            let url = figures["url"]?.stringValue ?? "?"
            guard case .number(let scroll)? = figures["scrollWidth"], case .number(let inner)? = figures["innerWidth"],
                let scrollWidth = Int(scroll), let innerWidth = Int(inner)
            else {
                Issue.record("no figures for \(url): \(line)")
                continue
            }
            #expect(innerWidth == 400, "\(url) is laid out at the device's width")
            #expect(scrollWidth <= innerWidth, "\(url) scrolls sideways at 400 px (\(scrollWidth) > \(innerWidth))")
            if case .array(let cells)? = figures["cells"] {
                let offscreen = cells.compactMap { cell -> Int? in
                    guard case .number(let edge) = cell, let right = Int(edge), right > innerWidth else { return nil }
                    return right
                }
                #expect(offscreen.isEmpty, "\(url): \(offscreen.count) amounts past the screen's edge")
            }
        }
    }
}
