import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The CLI and serve say what happened, in words")
struct PolishTests {
    @Test func serveLogsRefusalsAlertsWithoutAChannelAndItsStop() async throws {
        let cli = CLI()
        try cli.run("init", "--org", "Acme", "--tier", "pro")
        try cli.run("grant", "--amount", "1")
        let key = try #require(try cli.json("keys", "create")["secret"]?.stringValue)
        let server = try ServeSession(cli)
        try await server.waitUntilUp()
        _ = try ServeTests.curl("http://127.0.0.1:\(server.port)/v1/nothing-here")
        let refused = try LoopbackClientShim.post(port: server.port, key: key, body: #"{"provider": "p", "cost_usd": 5}"#)
        #expect(refused == 402)
        // Draining the credit raises the exhausted alert, with no channel configured.
        #expect(try LoopbackClientShim.post(port: server.port, key: key, body: #"{"provider": "p", "cost_usd": 1}"#) == 200)
        var logged = false
        for _ in 0..<100 where !logged {
            try await Task.sleep(for: .milliseconds(100))
            logged = try cli.run("alerts", "log", "--json").stdout.contains(#""channel":"log""#)
        }
        let (stdout, stderr) = server.stop()
        #expect(stdout.contains("alerts     logged only (no channel configured)"))
        #expect(stderr.contains("GET /v1/nothing-here 404 "), "\(stderr)")
        #expect(stderr.contains("POST /v1/usage 402 "))
        #expect(!stderr.contains("POST /v1/usage 200 "), "successes are not logged")
        #expect(stderr.contains("not sent: no alert channel is configured"))
        #expect(stderr.contains("plutus stopped"))
        #expect(server.process.terminationStatus == 0)
    }

    @Test func aBusyPortIsSaidBeforeAnyBanner() async throws {
        let cli = CLI()
        try cli.run("init", "--org", "Acme")
        let first = try ServeSession(cli)
        try await first.waitUntilUp()
        let second = try cli.run("serve", "--port", String(first.port))
        _ = first.stop()
        #expect(second.status == 1)
        #expect(second.stderr == "plutus: port \(first.port) is in use — pass --port (or stop what is listening there)\n")
        #expect(second.stdout.isEmpty, "no banner before the failure")
    }

    @Test func libraryTextNeverReachesTheUser() throws {
        let cli = CLI()
        let run = try cli.run("status", "--database-url", "postgres://nobody@127.0.0.1:1/none")
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot connect to PostgreSQL"))
        for fragment in ["errno", "ConnectionPool", "_Module", "descriptor:", "PSQLError"] {
            #expect(!run.stderr.contains(fragment), "\(run.stderr)")
        }
    }

    @Test func reportInATerminalWritesAFileInsteadOfMarkup() throws {
        let cli = CLI()
        try cli.run("init", "--org", "Acme")
        let month = Timestamp.now().month.text
        // `script` gives the command a terminal for its standard output.
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        script.arguments = ["-qec", "\(CLI.binary) report --org acme", "/dev/null"]
        script.currentDirectoryURL = URL(fileURLWithPath: cli.home)
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = cli.home
        script.environment = environment
        let output = Pipe()
        script.standardOutput = output
        try script.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        #expect(script.terminationStatus == 0, "\(text)")
        #expect(!text.contains("<html") && text.contains("wrote plutus-acme-\(month).html"))
        #expect(FileManager.default.fileExists(atPath: cli.home + "/plutus-acme-\(month).html"))
        // Piped, the statement goes to standard output as before.
        #expect(try cli.run("report", "--org", "acme", "--format", "csv").stdout.hasPrefix("section,key,label"))
    }

    @Test func alertsTestTakesTheDatabaseOptionLikeItsSiblings() throws {
        let cli = CLI()
        let run = try cli.run("alerts", "test", "--channel", "slack", "--db", cli.database)
        #expect(run.status == 2)
        #expect(run.stderr.contains("the slack channel is not configured"), "\(run.stderr)")
    }
}

/// A POST to /v1/usage with curl, answering the status.
enum LoopbackClientShim {
    static func post(port: Int, key: String, body: String) throws -> Int {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-H", "Authorization: Bearer \(key)",
            "-H", "Content-Type: application/json", "-d", body, "http://127.0.0.1:\(port)/v1/usage",
        ]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return Int(text) ?? 0
    }
}
