import Foundation
import PlutusConfig
import PlutusCore
import Testing

@Suite("Configuration: defaults, then the original's config.yaml, then the environment")
struct PlutusConfigTests {
    func home(_ yaml: String?) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let yaml { try yaml.write(toFile: directory + "/config.yaml", atomically: true, encoding: .utf8) }
        return directory
    }

    func load(_ yaml: String?, environment: [String: String] = [:]) throws -> PlutusConfig {
        try PlutusConfig.load(environment: environment, home: try home(yaml))
    }

    func failure(_ yaml: String?, environment: [String: String] = [:]) throws -> String? {
        let directory = try home(yaml)
        do {
            _ = try PlutusConfig.load(environment: environment, home: directory)
            return nil
        } catch {
            return error.message.replacingOccurrences(of: directory + "/", with: "")
        }
    }

    /// The original's documented keys, as an operator's existing file has them.
    static let original = """
        server:
          host: 127.0.0.1
          port: 8420
          allow_insecure: false
        auth:
          enabled: false
          google_client_id: ""
          base_url: https://billing.example.com
          allowed_emails: [ops@example.com]
          max_new_orgs_per_day: 50
        billing:
          stripe_secret_key: sk_test_abc
          stripe_price_pro: price_123
          currency: usd
          success_url: http://localhost:8420/billing/success
        alerts:
          enabled: true
          low_balance_usd: 25.5
          budget_warn_pct: 80
          smtp_host: smtp.example.com
          smtp_port: 587
          from_addr: plutus@example.com
          to_addrs: [a@example.com, b@example.com]
        monitor:
          enabled: false
          allowed_binaries: []
        ingest:
          rate_per_min: 300
          burst: 50
        admin:
          token: admin-secret-token
        pricing:
          block_over_free_limit: true
          block_over_balance: true
          overrides:
            anthropic:
              claude-opus-4-8: {input: 12, output: 60, cache_read: 1.2}
        """

    @Test func theOriginalsFileLoadsUnchanged() throws {
        let config = try load(Self.original)
        #expect(config.integer("ingest.rate_per_min") == 300)
        #expect(config.integer("ingest.burst") == 50)
        #expect(config.money("alerts.low_balance_usd") == MicroDollars.parse("25.5").success)
        #expect(config.list("alerts.to_addrs") == ["a@example.com", "b@example.com"])
        #expect(config.bool("pricing.block_over_free_limit") == true)
        #expect(config.string("auth.base_url") == "https://billing.example.com")
        #expect(config.value("server.port")?.source == .file(path: config.file, line: 3))
        #expect(config.environment["STRIPE_SECRET_KEY"] == "sk_test_abc")
        #expect(config.environment["PLUTUS_SMTP_TO"] == "a@example.com,b@example.com")
        let overrides = try JSONValue.parse(try #require(config.string("pricing.overrides")))
        #expect(overrides["anthropic"]?["claude-opus-4-8"]?["input"] == .number("12"))
        let shown = config.rendered(showUnset: false)
        #expect(shown.first { $0.key == "admin.token" }?.value == "admi••••en")
        #expect(!shown.contains { $0.value.contains("admin-secret-token") || $0.value.contains("sk_test_abc") })
        #expect(shown.first { $0.key == "monitor.enabled" }?.source.hasSuffix("(not used by this Plutus)") == true)
    }

    @Test func theEnvironmentBeatsTheFileAndTheFileBeatsTheDefaults() throws {
        let config = try load("ingest:\n  rate_per_min: 300\n", environment: ["PLUTUS_INGEST_RATE_PER_MIN": "90"])
        #expect(config.integer("ingest.rate_per_min") == 90)
        #expect(config.value("ingest.rate_per_min")?.source == .environment("PLUTUS_INGEST_RATE_PER_MIN"))
        #expect(config.value("server.port")?.source == .builtIn && config.integer("server.port") == 8420)
        let none = try load(nil)
        #expect(!none.fileExists && none.bool("pricing.block_over_balance") == true)
    }

    @Test(arguments: [
        ("server:\n  prot: 9000\n", "config.yaml:2: unknown key 'server.prot' (did you mean 'server.port'?"),
        ("serve:\n  port: 9000\n", "config.yaml:1: unknown key 'serve'"),
        ("server:\n  port: ninety\n", "config.yaml:2: 'server.port' must be an integer from 0 to 65535, got 'ninety'"),
        ("server:\n  port: 70000\n", "config.yaml:2: 'server.port' must be an integer"),
        (
            "pricing:\n  block_over_balance: maybe\n",
            "config.yaml:2: 'pricing.block_over_balance' must be true or false, got 'maybe'"
        ),
        ("alerts:\n  low_balance_usd: -3\n", "config.yaml:2: 'alerts.low_balance_usd' must be a non-negative amount of dollars"),
        ("alerts:\n  smtp_tls: ssl\n", "config.yaml:2: 'alerts.smtp_tls' must be starttls, implicit, none, got 'ssl'"),
        ("pricing:\n  overrides: 5\n", "config.yaml:2: 'pricing.overrides' must be a mapping"),
        ("server: [1, 2]\n", "config.yaml:1: unknown key 'server'"),
        ("- just\n- a list\n", "config.yaml:1: the file must be a mapping of sections"),
        ("server:\n  port: [1\n", "config.yaml: not valid YAML"),
    ])
    func aWrongFileStopsWithTheKeyAndItsLine(yaml: String, message: String) throws {
        let found = try #require(try failure(yaml))
        #expect(found.hasPrefix(message), "\(found)")
    }

    @Test func aWrongEnvironmentVariableIsNamed() throws {
        let found = try failure(nil, environment: ["PLUTUS_PORT": "abc"])
        #expect(found == "env PLUTUS_PORT: 'server.port' must be an integer from 0 to 65535, got 'abc'")
        let missing = try failure(nil, environment: ["PLUTUS_CONFIG": "/nonexistent/plutus.yaml"])
        #expect(missing == "PLUTUS_CONFIG names /nonexistent/plutus.yaml, which does not exist")
    }

    @Test func emailAlertsCanBeTurnedOffAsInTheOriginal() throws {
        let on = try load("alerts:\n  smtp_host: smtp.example.com\n")
        #expect(on.environment["PLUTUS_SMTP_HOST"] == "smtp.example.com")
        let off = try load("alerts:\n  enabled: false\n  smtp_host: smtp.example.com\n")
        #expect(off.environment["PLUTUS_SMTP_HOST"] == nil)
    }

    @Test func everyKeyHasOneVariableAndAKnownSection() {
        let names = ConfigKey.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(Set(ConfigKey.all.map(\.environment)).count == names.count)
        let sections: Set<Substring> = [
            "server", "database", "admin", "ingest", "gateway", "pricing", "auth", "alerts", "billing", "monitor",
        ]
        #expect(ConfigKey.all.allSatisfy { sections.contains($0.name.split(separator: ".")[0]) })
    }
}

extension Result {
    var success: Success? { try? get() }
}
