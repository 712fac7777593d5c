import Foundation
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
        process.arguments = [
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
        let port = try ServeTests.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLI.binary)
        server.arguments = ["serve", "--demo", "--port", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = cli.home
        environment.removeValue(forKey: "PLUTUS_ADMIN_TOKEN")
        server.environment = environment
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.waitUntilExit()
        }
        var health: String?
        for _ in 0..<150 where health == nil {
            health = try ServeTests.curl("http://127.0.0.1:\(port)/healthz")
            if health == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(health != nil, "plutus serve --demo did not answer /healthz")
        let url = "http://127.0.0.1:\(port)/"
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
}
