import ArgumentParser
import Foundation
import Logging
import PlutusCore
import PlutusPostgres
import PlutusSQLite
import PlutusStore

/// Where the books are: PostgreSQL when `--database-url` or `$PLUTUS_DATABASE_URL` is
/// given; else the SQLite file `--db`, else `$PLUTUS_DB`, else `$PLUTUS_HOME/plutus.db`,
/// else `~/.plutus/plutus.db`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Path of the SQLite database file.")
    var db: String?

    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL URL (postgres://user:password@host:5432/database); default $PLUTUS_DATABASE_URL.")
    var databaseURL: String?

    /// The PostgreSQL URL, when the books are in PostgreSQL.
    var postgresURL: String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        return Config.current.string("database.url")
    }

    static var home: String {
        let environment = ProcessInfo.processInfo.environment
        if let home = environment["PLUTUS_HOME"], !home.isEmpty { return home }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".plutus")
    }

    var path: String {
        if let db, !db.isEmpty { return (db as NSString).expandingTildeInPath }
        if let configured = Config.current.string("database.path") {
            return (configured as NSString).expandingTildeInPath
        }
        return (Self.home as NSString).appendingPathComponent("plutus.db")
    }

    /// Opens the store. PostgreSQL is never migrated here unless `migrations` says so: a
    /// database that needs migrations is refused with the command that applies them.
    /// With `lifecycle: .service`, a PostgreSQL store's pool is left for the caller to run in
    /// its ServiceGroup (`plutus serve`).
    func open(
        migrations: PostgresStore.MigrationPolicy = .refuse, lifecycle: PostgresStore.Lifecycle = .ownTask
    ) async throws -> any BillingStore {
        if let postgresURL {
            if db != nil { throw CLIFailure.usage("give --db or --database-url, not both") }
            return try await PostgresStore.open(
                url: postgresURL, migrations: migrations, logger: Self.quietLogger, lifecycle: lifecycle)
        }
        if let notice = SQLiteStore.slowUpgradeNotice(path: path) {
            FileHandle.standardError.write(Data("plutus: \(notice)\n".utf8))
        }
        return try SQLiteStore(path: path)
    }

    /// postgres-nio logs connection chatter at debug level; the CLI shows only errors.
    static var quietLogger: Logger {
        var logger = Logger(label: "plutus.postgres")
        logger.logLevel = .error
        return logger
    }
}

/// `--db` and `--org` for commands that act on one organization.
struct OrganizationOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Organization id, slug or name (optional when there is only one).") var org: String?

    /// Opens the store and finds the organization; call only after every argument is valid.
    func open() async throws -> (store: any BillingStore, organization: Organization) {
        let store = try await database.open()
        return (store, try await resolveOrganization(org, in: store))
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false
}

/// Metering policy from the environment: `PLUTUS_BLOCK_OVER_BALANCE` (default on),
/// `PLUTUS_BLOCK_OVER_FREE_LIMIT` (default off), `PLUTUS_LOW_BALANCE_USD` (default 10).
enum Settings {
    /// The metering policy from the configuration (`pricing.block_over_balance`,
    /// `pricing.block_over_free_limit`, `alerts.low_balance_usd`).
    static func policy() throws -> MeteringPolicy {
        let config = Config.current
        return MeteringPolicy(
            blockOverBalance: config.bool("pricing.block_over_balance") ?? true,
            blockOverFreeLimit: config.bool("pricing.block_over_free_limit") ?? false,
            lowBalanceThreshold: config.money("alerts.low_balance_usd") ?? MicroDollars.dollars(10)!)
    }
}

/// Parses a dollar amount given on the command line, exactly.
func money(_ text: String, option: String) throws -> MicroDollars {
    switch MicroDollars.parse(text.trimmingCharacters(in: .whitespaces)) {
    case .success(let amount): return amount
    case .failure(.notANumber): throw CLIFailure.usage("\(option) must be a dollar amount like 12.50, got '\(text)'")
    case .failure(.outOfRange): throw CLIFailure.usage("\(option) is out of range: '\(text)'")
    }
}

func parsePlan(_ text: String) throws -> Plan {
    guard let plan = Plan(rawValue: text.lowercased()) else {
        throw CLIFailure.usage("--tier must be one of \(Plan.allCases.map(\.rawValue).joined(separator: "|")), got '\(text)'")
    }
    return plan
}

/// The organization named by `--org` (id, slug or exact name); without it, the only one.
func resolveOrganization(_ reference: String?, in store: some BillingStore) async throws -> Organization {
    if let reference {
        guard let found = try await store.findOrganization(reference) else {
            throw CLIFailure.runtime("no organization matches '\(reference)' (see 'plutus org list')")
        }
        return found
    }
    let all = try await store.listOrganizations()
    switch all.count {
    case 0: throw CLIFailure.runtime("no organizations. Run `plutus init --org NAME` or `plutus org create NAME`.")
    case 1: return all[0].organization
    default:
        let names = all.prefix(5).map { "\($0.organization.name) (\($0.organization.slug))" }.joined(separator: ", ")
        throw CLIFailure.usage(
            "there are \(all.count) organizations (\(names)\(all.count > 5 ? ", …" : "")) — pass --org with one's id, slug or name"
        )
    }
}

func printJSON(_ value: JSONValue) { print(value.serialized()) }

/// Prints rows as left-aligned columns (right-aligned where `numeric`).
func printTable(_ header: [String], _ rows: [[String]], numeric: Set<Int> = []) {
    print(TextTable.render(header, rows, numeric: numeric))
}

extension Timestamp {
    /// `2026-11-25 10:00` UTC, for tables.
    var shortText: String {
        let iso = iso8601
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(5))
    }
}

func formatTokens(_ value: Int64) -> String {
    var out: [Character] = []
    for (offset, character) in String(value).reversed().enumerated() {
        if offset > 0 && offset % 3 == 0 && character != "-" { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}

/// "1 call", "1,400 calls": a count with its noun, singular for one.
func counted(_ value: Int64, _ noun: String, plural: String? = nil) -> String {
    "\(formatTokens(value)) \(value == 1 ? noun : plural ?? noun + "s")"
}
