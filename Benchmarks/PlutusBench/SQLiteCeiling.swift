import Foundation
import GRDB
import PlutusCore
import PlutusSQLite
import PlutusStore

/// The floors under every SQLite figure in `plutus bench`, in WAL mode with
/// `synchronous=FULL`, on the same disk as the store. No metering, no JSON, no HTTP.
public enum SQLiteCeiling {
    public struct Figures: Sendable {
        /// Commits per second, and rows per second, over the run.
        public var commitsPerSecond: Double
        public var rowsPerSecond: Double
    }

    /// What each row is.
    public enum Rows: Sendable {
        /// One small row into a table with an integer key and no indexes.
        case plain
        /// One usage event row as the store writes it, into the store's own schema: the
        /// `usage_events` table with its keys, indexes, checks and foreign keys, so the
        /// figure is what SQLite alone allows for events before any metering work (the
        /// usage entries, balances, counters and rollups the store also writes).
        case usageEvents
    }

    /// Inserts `rowsPerCommit` rows per transaction, commit after commit, for `seconds`.
    public static func measure(directory: String, rows: Rows = .plain, rowsPerCommit: Int, seconds: Double) throws -> Figures {
        precondition(rowsPerCommit > 0 && seconds > 0, "a run needs rows and time")
        let path = (directory as NSString).appendingPathComponent("ceiling-\(rows)-\(rowsPerCommit).db")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        switch rows {
        case .plain:
            try queue.write { db in
                try db.execute(sql: plainTable)
            }
        case .usageEvents:
            try SQLiteSchema.migrator.migrate(queue)
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO organizations(id, name, slug, created_at) VALUES (?, 'Ceiling', 'ceiling', 0)",
                    arguments: [organization])
            }
        }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        var commits = 0
        try queue.writeWithoutTransaction { db in
            let insert = rows == .plain ? try db.makeStatement(sql: plainInsert) : nil
            while ContinuousClock.now < deadline {
                try db.inTransaction(.immediate) {
                    let first = commits * rowsPerCommit
                    switch rows {
                    case .plain:
                        for number in first..<(first + rowsPerCommit) {
                            try insert!.execute(arguments: [organization, 63_000, number])
                        }
                    case .usageEvents:
                        // The store's own multi-row statement and binding path.
                        try SQLiteStore.EventInsert.statement.insert(db, first..<(first + rowsPerCommit)) { number, row in
                            bindEvent(number, entry: commits, into: &row)
                        }
                    }
                    return .commit
                }
                commits += 1
            }
        }
        let elapsed = ContinuousClock.now - start
        let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Figures(
            commitsPerSecond: Double(commits) / elapsedSeconds,
            rowsPerSecond: Double(commits * rowsPerCommit) / elapsedSeconds)
    }

    private static let organization = "org_0123456789abcdef"

    private static let plainTable =
        "CREATE TABLE rows(id INTEGER PRIMARY KEY, org TEXT NOT NULL, cost INTEGER NOT NULL, ts INTEGER NOT NULL)"
    private static let plainInsert = "INSERT INTO rows(org, cost, ts) VALUES (?, ?, ?)"

    /// One event's 19 values in `SQLiteStore.EventInsert`'s column order, as the store
    /// binds a priced event with no workspace and no client `event_id`.
    private static func bindEvent(_ number: Int, entry: Int, into row: inout RawStatement) {
        row.text(identifier("evt_", number))
        row.text(organization)
        row.text(nil as String?)
        row.text(nil as String?)
        row.text("openai")
        row.text("gpt-5-mini")
        row.text("default")
        row.integer(800)
        row.integer(200)
        row.integer(0)
        row.integer(0)
        row.integer(0)
        row.integer(600)
        row.text("estimated")
        row.text("builtin")
        row.text("api")
        row.integer(1_764_600_000_000 + Int64(number))
        row.integer(1_764_600_000_000 + Int64(number))
        row.text(identifier("ent_", entry))
    }

    /// An id as long as the store's (`evt_` and 24 hex digits), ascending with `number`.
    private static func identifier(_ prefix: String, _ number: Int) -> String {
        let hex = String(number, radix: 16)
        return prefix + "0190" + String(repeating: "0", count: max(0, 20 - hex.count)) + hex
    }
}

extension SQLiteCeiling {
    /// One small row per request, written through the store's group committer (a savepoint
    /// per request, one durable commit per group) and acknowledged once on disk: what a
    /// durable single write costs on this disk and this machine, with no metering, ledger,
    /// JSON or authentication. `plutus bench` serves it over HTTP beside the trivial route.
    public final class GroupCommittedRows: Sendable {
        private let committer: GroupCommitter

        /// Creates `ceiling-group-committed.db` in `directory`, with the store's durability
        /// settings (WAL, `synchronous=FULL`).
        public init(directory: String) throws {
            let path = (directory as NSString).appendingPathComponent("ceiling-group-committed.db")
            let pool = try SQLiteStore.durablePool(path: path, configuration: Configuration())
            try pool.write { db in try db.execute(sql: SQLiteCeiling.plainTable) }
            committer = GroupCommitter(pool: pool) { _, _ in preconditionFailure("the ceiling submits no ingest requests") }
        }

        /// Writes one row; returns once its commit is durable.
        public func write() async throws {
            let time = Timestamp.now().millis
            try await committer.submit { db in
                var insert = RawStatement(try db.cachedStatement(sql: SQLiteCeiling.plainInsert))
                try insert.run { row in
                    row.text(SQLiteCeiling.organization)
                    row.integer(63_000)
                    row.integer(time)
                }
            }
        }

        /// Transactions and the requests they carried so far.
        public var counts: GroupCommitCounts { committer.counts }
    }
}
