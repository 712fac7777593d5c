import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("plutus config, and every command reading the same settings")
struct ConfigCLITests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")

    @Test func theDocumentedTableIsEveryKey() throws {
        let keys = try CLI().run("config", "keys", "--markdown")
        #expect(keys.status == 0)
        let documented = try String(contentsOf: Self.docs, encoding: .utf8)
        #expect(
            documented.contains(keys.stdout.trimmingCharacters(in: .newlines)),
            "docs/configuration.md is `plutus config keys --markdown`")
    }

    @Test func showNamesEachValuesSourceAndMasksSecrets() throws {
        let cli = CLI()
        try "ingest:\n  rate_per_min: 300\nadmin:\n  token: admin-secret-token\n".write(
            toFile: cli.home + "/config.yaml", atomically: true, encoding: .utf8)
        let shown = try cli.json("config", "show")
        guard case .array(let settings)? = shown["settings"] else {
            Issue.record("no settings in \(shown)")
            return
        }
        func row(_ key: String) -> JSONValue? { settings.first { $0["key"]?.stringValue == key } }
        #expect(row("ingest.rate_per_min")?["value"] == .string("300"))
        #expect(row("ingest.rate_per_min")?["source"]?.stringValue == cli.home + "/config.yaml:2")
        #expect(row("admin.token")?["value"] == .string("admi••••en"))
        #expect(row("server.port")?["source"] == .string("default"))
        let overridden = try cli.run("config", "show", environment: ["PLUTUS_INGEST_RATE_PER_MIN": "90"])
        #expect(overridden.stdout.contains("env PLUTUS_INGEST_RATE_PER_MIN"))
        #expect(!overridden.stdout.contains("admin-secret-token"))
    }

    @Test func aBadFileStopsEveryCommandWithTheKeyAndLine() throws {
        let cli = CLI()
        try "pricing:\n  block_over_balance: maybe\n".write(toFile: cli.home + "/config.yaml", atomically: true, encoding: .utf8)
        for command in [["status"], ["balance"], ["config", "show"], ["verify"]] {
            let run = try cli.run(arguments: command)
            #expect(run.status == 2)
            #expect(run.stderr.contains("config.yaml:2: 'pricing.block_over_balance' must be true or false, got 'maybe'"))
        }
    }

    @Test func theFileDecidesWhatCommandsDo() throws {
        let cli = CLI()
        try cli.run("org", "create", "Acme", "--tier", "pro")
        try cli.run("grant", "--amount", "1")
        // The hard stop switched off in the file: a call past the credit is recorded.
        try "pricing:\n  block_over_balance: false\n".write(toFile: cli.home + "/config.yaml", atomically: true, encoding: .utf8)
        let meter = try cli.run("meter", "--provider", "p", "--cost", "5")
        #expect(meter.status == 0, "\(meter.stderr)")
        // And the environment beats the file.
        let refused = try cli.run("meter", "--provider", "p", "--cost", "5", environment: ["PLUTUS_BLOCK_OVER_BALANCE": "true"])
        #expect(refused.status == 3)
    }

    @Test func serveLaysThePricingOverridesOverTheCatalogOnce() async throws {
        let cli = CLI()
        try cli.run("init", "--org", "Acme")
        try """
        pricing:
          overrides:
            acme-ai:
              m1: {input: 2, output: 8, cache_read: 0.25}
        """.write(toFile: cli.home + "/config.yaml", atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let server = try ServeSession(cli)
            try await server.waitUntilUp()
            server.stop()
        }
        let prices = try cli.json("pricing", "show", "--provider", "acme-ai")
        #expect(prices.serialized().contains("\"m1\""))
        #expect(prices["version"]?.stringValue?.hasSuffix("+custom-1") == true, "the second start added no version: \(prices)")
    }
}
