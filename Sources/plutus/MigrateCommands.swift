import ArgumentParser
import Foundation
import PlutusCore
import PlutusPostgres
import PlutusSQLite
import PlutusStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations to a PostgreSQL database.",
        discussion: """
            Servers never change the schema on their own: run this once after installing a new Plutus, before \
            starting `plutus serve --database-url …` (or start one server with --migrate). Migrations are named, \
            append-only and recorded in plutus_migrations; concurrent runs wait for each other. The embedded SQLite \
            store migrates itself when it opens.
            """)

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL; default $PLUTUS_DATABASE_URL.") var databaseURL: String?

    func run() async throws {
        guard let url = databaseURL ?? Config.current.string("database.url"), !url.isEmpty else {
            throw CLIFailure.usage("--database-url (or PLUTUS_DATABASE_URL) is required")
        }
        let store = try await PostgresStore.open(url: url, migrations: .apply, logger: DatabaseOptions.quietLogger)
        for name in store.migrationsApplied { print("  applied \(name)") }
        print(
            "✓ \(store.location) is at schema \(PostgresStore.schemaVersion)"
                + (store.migrationsApplied.isEmpty ? " (nothing to do)" : ""))
        await store.close()
    }
}

struct MigrateDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-data",
        abstract: "Move an embedded SQLite install to PostgreSQL, and prove the copy.",
        discussion: """
            Copies every table of the SQLite file into an empty PostgreSQL database (migrating it first) in one \
            transaction, so a failure leaves it empty. Then proves the copy: row counts of every table, every \
            account balance, and `verify` on both sides. Stop writers to the SQLite file first.
            """)

    @Option(help: "The SQLite database file to copy.") var from: String
    @Option(help: "PostgreSQL URL of an empty database.") var to: String

    func run() async throws {
        let path = (from as NSString).expandingTildeInPath
        guard FileManager.default.fileExists(atPath: path) else { throw CLIFailure.usage("--from: no file at \(path)") }
        let source = try SQLiteStore(path: path)
        let target = try await PostgresStore.open(url: to, migrations: .apply, logger: DatabaseOptions.quietLogger)
        let tables = try await source.copyTables()
        let targetTables = try await target.copyTables()
        if let missing = tables.first(where: { !targetTables.contains($0) }) {
            throw CLIFailure.runtime("PostgreSQL has no table \(missing); this Plutus cannot copy it")
        }
        print("copying \(path) → \(target.location)")
        try await target.bulkLoad { loader in
            for table in tables {
                var after: Int64?
                var copied = 0
                repeat {
                    let page = try await source.exportRows(table: table, after: after, limit: TableCopy.pageRowsMax)
                    try await loader.insert(table: table, columns: page.columns, rows: page.rows)
                    copied += page.rows.count
                    after = page.nextAfter
                    if after != nil { print("  \(table): \(copied) rows …") }
                } while after != nil
                print("  \(table): \(copied) rows")
            }
        }
        try await prove(source: source, target: target, tables: tables)
        await target.close()
    }

    private func prove(source: SQLiteStore, target: PostgresStore, tables: [String]) async throws {
        var rows: [[String]] = []
        var mismatched = false
        for table in tables {
            let (before, after) = (try await source.rowCount(table), try await target.rowCount(table))
            mismatched = mismatched || before != after
            rows.append([table, String(before), String(after), before == after ? "✓" : "✗"])
        }
        print("")
        printTable(["TABLE", "SQLITE", "POSTGRESQL", ""], rows, numeric: [1, 2])
        let (balancesBefore, balancesAfter) = (try await source.accountBalances(), try await target.accountBalances())
        let balancesMatch = balancesBefore == balancesAfter
        print("\naccount balances: \(balancesBefore.count) on each side, " + (balancesMatch ? "all equal ✓" : "DIFFERENT ✗"))
        let (verifiedBefore, verifiedAfter) = (try await source.verify(), try await target.verify())
        print("verify SQLite: " + (verifiedBefore.isClean ? "clean ✓" : verifiedBefore.problems.joined(separator: "; ")))
        print("verify PostgreSQL: " + (verifiedAfter.isClean ? "clean ✓" : verifiedAfter.problems.joined(separator: "; ")))
        guard !mismatched, balancesMatch, verifiedAfter.isClean, verifiedBefore.isClean else {
            throw CLIFailure.runtime("the copy does not match its source")
        }
        print("✓ \(target.location) now holds everything \(source.location) held")
    }
}
