import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("plutus alerts, run as a real process")
struct AlertCommandTests {
    @Test func testNeedsAConfiguredKnownChannel() throws {
        let cli = CLI()
        let unconfigured = try cli.run("alerts", "test", "--channel", "slack")
        #expect(unconfigured.status == 2)
        #expect(unconfigured.stderr == "plutus: the slack channel is not configured (see 'plutus alerts --help')\n")
        let unknown = try cli.run("alerts", "test", "--channel", "pager")
        #expect(unknown.status == 2 && unknown.stderr.contains("--channel must be one of webhook|slack|discord|ntfy|email"))
        let unsigned = try cli.run(
            "alerts", "test", "--channel", "webhook", environment: ["PLUTUS_ALERT_WEBHOOK_URL": "http://127.0.0.1:1/hook"])
        #expect(unsigned.status == 2 && unsigned.stderr.contains("PLUTUS_ALERT_WEBHOOK_SECRET is required"))
    }

    @Test func aFailedTestSaysWhyOnOneLineAndExitsOne() throws {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let result = try CLI().run(
            "alerts", "test", "--channel", "slack", environment: ["PLUTUS_ALERT_SLACK_URL": "http://127.0.0.1:1/slack"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("plutus: slack: test alert not delivered: request failed"))
        #expect(result.stderr.filter { $0 == "\n" }.count == 1)
    }

    @Test func anUnreachableMailServerIsNamed() throws {
        let result = try CLI().run(
            "alerts", "test", "--channel", "email",
            environment: [
                "PLUTUS_SMTP_HOST": "127.0.0.1", "PLUTUS_SMTP_PORT": "1", "PLUTUS_SMTP_TLS": "none",
                "PLUTUS_SMTP_USERNAME": "u", "PLUTUS_SMTP_PASSWORD": "p", "PLUTUS_SMTP_FROM": "p@example.test",
                "PLUTUS_SMTP_TO": "ops@example.test",
            ])
        // Nothing listens on port 1: the error names the server, not the credentials.
        #expect(result.status == 1)
        #expect(result.stderr.contains("could not connect to 127.0.0.1:1") && !result.stderr.contains("p@"))
    }

    @Test func logIsEmptyOnAFreshDatabase() throws {
        let cli = CLI()
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("alerts", "log").stdout == "no delivery attempts yet\n")
        let json = try cli.run("alerts", "log", "--json")
        #expect(json.status == 0 && json.stdout == "[]\n")
    }
}

@Suite("plutus serve delivers alerts in the background")
struct ServeAlertTests {
    @Test(.timeLimit(.minutes(1))) func servePostsAPendingAlertAndLogsTheAttempt() async throws {
        let cli = CLI()
        #expect(try cli.run("init", "--org", "Acme").status == 0)
        #expect(try cli.run("topup", "--amount", "20", "--reference", "cs_1").status == 0)
        let metered = try cli.run("meter", "--provider", "anthropic", "--cost", "15")
        #expect(metered.stdout.contains("low_balance"), "\(metered.stdout) \(metered.stderr)")
        // The alert goes to the server's own /healthz, which refuses a POST: a permanent
        // failure, logged as abandoned after one attempt.
        let port = try ServeTests.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--port", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = cli.home
        environment["PLUTUS_ALERT_SLACK_URL"] = "http://127.0.0.1:\(port)/healthz"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var log: JSONValue = .array([])
        for _ in 0..<200 where log == .array([]) {
            try await Task.sleep(for: .milliseconds(100))
            log = try JSONValue.parse(try cli.run("alerts", "log", "--json").stdout)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let banner = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(banner.contains("alerts     slack"))
        guard case .array(let rows) = log, let row = rows.first else {
            Issue.record("no delivery attempt logged")
            return
        }
        #expect(row["channel"] == .string("slack") && row["status"] == .string("abandoned"))
        #expect(row["reply"] == .string("HTTP 405"))
    }
}
