import Foundation
import PlutusCore
import Testing

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
