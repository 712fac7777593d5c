import ArgumentParser
import Foundation
import PlutusCore
import PlutusSQLite
import PlutusStore

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage ingest API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mint a key. The secret is shown once.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "A label for the key.") var name: String?

        func run() async throws {
            let (store, organization) = try await scope.open()
            let created = try await store.createAPIKey(organization.id, name: name)
            if output.json {
                return printJSON(
                    .object([
                        ("id", .string(created.info.id.rawValue)), ("org_id", .string(organization.id.rawValue)),
                        ("name", .optionalString(created.info.name)), ("secret", .string(created.secret)),
                    ]))
            }
            print("✓ key \(created.info.id) for \(organization.name)")
            print("  secret: \(created.secret)")
            print("  It is shown only now; Plutus keeps only its SHA-256.")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (store, organization) = try await scope.open()
            let keys = try await store.listAPIKeys(organization.id)
            if output.json {
                return printJSON(
                    .object([("org_id", .string(organization.id.rawValue)), ("keys", .array(keys.map(RecordJSON.key)))]))
            }
            printTable(
                ["ID", "PREFIX", "NAME", "CREATED", "LAST USED", "STATUS"],
                keys.map { key in
                    [
                        key.id.rawValue, key.prefix + "…", key.name ?? "", key.createdAt.shortText,
                        key.lastUsedAt?.shortText ?? "never", key.revokedAt.map { "revoked \($0.shortText)" } ?? "active",
                    ]
                })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; it stops working at once.")
        @OptionGroup var scope: OrganizationOptions
        @Argument(help: "The key id (key_…).") var keyID: String

        func run() async throws {
            guard APIKeyID.isWellFormed(keyID) else { throw CLIFailure.usage("KEY_ID must look like key_0123456789abcdef") }
            let (store, organization) = try await scope.open()
            guard try await store.revokeAPIKey(organization.id, keyID: APIKeyID(rawValue: keyID)) else {
                throw CLIFailure.runtime("no active key \(keyID) in \(organization.name)")
            }
            print("✓ revoked \(keyID)")
        }
    }
}

struct PricingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pricing", abstract: "Plans and the model price catalog.", subcommands: [Show.self, Import.self],
        defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show plans and prices (USD per million tokens).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this provider.") var provider: String?

        func run() async throws {
            let catalog = try await database.open().priceCatalog()
            let rows = catalog.rows.filter { provider == nil || $0.provider == provider!.lowercased() }
            if output.json {
                return printJSON(
                    .object([
                        ("version", .string(catalog.version)), ("as_of", .string(catalog.asOf)),
                        (
                            "plans",
                            .array(
                                Plan.allCases.map { plan in
                                    .object([
                                        ("key", .string(plan.rawValue)), ("name", .string(plan.displayName)),
                                        ("price_usd", plan.monthlyPrice.map(JSONValue.money) ?? .null),
                                        ("tracked_tokens_per_month", plan.trackedTokensPerMonth.map(JSONValue.int) ?? .null),
                                        ("workspaces", plan.workspacesMax.map(JSONValue.int) ?? .null),
                                    ])
                                })
                        ),
                        (
                            "prices",
                            .array(
                                rows.map { row in
                                    .object([
                                        ("provider", .string(row.provider)), ("model", .string(row.model)),
                                        ("input", .money(row.price.input)), ("output", .money(row.price.output)),
                                        ("cache_read", .money(row.price.cacheRead)),
                                        ("cache_write", .money(row.price.cacheWrite)),
                                        ("reasoning", .money(row.price.reasoning)),
                                    ])
                                })
                        ),
                    ]))
            }
            printTable(
                ["PLAN", "PRICE/MO", "TRACKED TOKENS/MO", "WORKSPACES"],
                Plan.allCases.map { plan in
                    [
                        plan.displayName, plan.monthlyPrice?.formatted ?? "custom",
                        plan.trackedTokensPerMonth.map(formatTokens) ?? "unlimited",
                        plan.workspacesMax.map(String.init) ?? "unlimited",
                    ]
                }, numeric: [1, 2, 3])
            print("\nprices \(catalog.version), as of \(catalog.asOf) — USD per million tokens\n")
            printTable(
                ["PROVIDER", "MODEL", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "REASONING"],
                rows.map { row in
                    [row.provider, row.model]
                        + [
                            row.price.input, row.price.output, row.price.cacheRead, row.price.cacheWrite,
                            row.price.reasoning,
                        ].map { $0.formatted(decimals: 3) }
                }, numeric: [2, 3, 4, 5, 6])
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lay your own prices over the catalog (plutus JSON, or LiteLLM's price map).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A JSON file.") var file: String
        @Option(help: "plutus or litellm.") var format = "plutus"

        func run() async throws {
            guard let chosen = PriceOverlay.Format(rawValue: format) else {
                throw CLIFailure.usage("--format must be plutus or litellm, got '\(format)'")
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIFailure.usage("cannot read \(file)")
            }
            guard data.count <= 64 * 1_048_576 else { throw CLIFailure.usage("\(file) is larger than 64 MiB") }
            let overlay: PriceOverlay
            do {
                overlay = try PriceOverlay.parse(try JSONValue.parse(Array(data)), format: chosen)
            } catch let error as JSONParseError {
                throw CLIFailure.usage("\(file) is not JSON: \(error)")
            } catch let error as PriceOverlay.ImportError {
                throw CLIFailure.usage("\(file): \(error)")
            }
            let catalog = try await database.open().importPrices(
                overlay, label: "\(chosen.rawValue):\((file as NSString).lastPathComponent)", at: Timestamp.now())
            print("✓ imported \(overlay.rows.count) prices from \(file); new events are priced with \(catalog.version)")
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Seed a realistic month of agent spend into a fresh demo database and show it.")
    @Option(help: "Demo database path (default $PLUTUS_HOME/demo.db; replaced on every run).") var db: String?

    static func path(_ db: String?) -> String {
        db.map { ($0 as NSString).expandingTildeInPath } ?? (DatabaseOptions.home as NSString).appendingPathComponent("demo.db")
    }

    /// Deletes any previous demo database at `path` and seeds a new one.
    static func seedFreshDemo(at path: String) async throws -> (store: SQLiteStore, summary: DemoSeeder.Summary) {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.removeItem(atPath: path + suffix)
        }
        let store = try SQLiteStore(path: path)
        return (store, try await DemoSeeder(now: Timestamp.now()).seed(into: store))
    }

    func run() async throws {
        let path = Self.path(db)
        print("seeding \(counted(Int64(DemoSeeder.eventCount), "agent call")) over \(DemoSeeder.daysCovered) days into \(path) …")
        let (store, summary) = try await Self.seedFreshDemo(at: path)
        let organization = summary.organization
        let snapshot = try await store.balance(organization.id, at: Timestamp.now())
        print(
            "✓ \(organization.name) · \(organization.plan.displayName) plan · \(counted(Int64(summary.eventsRecorded), "call")) recorded"
        )
        print("  balance \(snapshot.balance.formatted) · \(snapshot.month.text) spend \(snapshot.monthSpend.formatted)")
        for alert in try await store.recentAlerts(organization.id, limit: 3) { print("  ▲ \(alert.message)") }
        let report = try await store.verify()
        print(report.isClean ? "✓ ledger verified" : "✗ ledger problems: \(report.problems)")
        print("Try: plutus status --db \(path)   ·   plutus events --db \(path)   ·   plutus serve --demo")
    }
}
