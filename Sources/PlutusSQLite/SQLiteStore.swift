import CSQLiteTuning
import Foundation
import GRDB
import PlutusCore
import PlutusStore
import Synchronization

/// The embedded store: one SQLite file in WAL mode, `synchronous=FULL` (an acknowledged
/// write is on disk), foreign keys on, and every write in one `BEGIN IMMEDIATE`
/// transaction.
public final class SQLiteStore: BillingStore, Sendable {
    let pool: DatabasePool
    let catalog: Mutex<PriceCatalog>
    let committer: GroupCommitter
    let keyCache = APIKeyCache()
    public let path: String
    public var location: String { path }

    /// SQLite's process-wide memory statistics, switched off before the first connection
    /// opens: with them on, every allocation takes a global mutex (about a tenth of the
    /// writer's time on batches). Once SQLite has initialized the call is refused and
    /// changes nothing.
    private static let memoryStatisticsOff: Bool = plutus_sqlite_disable_memory_statistics() == 0

    /// How long a writer waits for another process's lock before giving up with `busy`.
    public static let busyTimeoutSecondsDefault: Double = 5

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    /// Refuses a file written by a newer Plutus.
    public init(
        path: String, busyTimeoutSeconds: Double = busyTimeoutSecondsDefault,
        writeQueueDepthMax: Int = GroupCommitter.queueDepthMaxDefault
    ) throws {
        precondition(busyTimeoutSeconds >= 0, "busy timeout must not be negative")
        _ = Self.memoryStatisticsOff
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        configuration.foreignKeysEnabled = true
        configuration.label = "plutus"
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            pool = try Self.durablePool(path: path, configuration: configuration)
            try Self.migrate(pool)
            let overlay = try pool.read { db in try Self.loadOverlay(db) }
            committer = GroupCommitter(pool: pool, queueDepthMax: writeQueueDepthMax, applyTogether: Self.applyTogether)
            catalog = Mutex(overlay.map { StoredCatalog.catalog($0.overlay, number: $0.number) } ?? .builtin)
        } catch {
            throw Self.translate(error)
        }
    }

    /// A line to show before opening `path` when doing so will rebuild a large table (schema
    /// v6 rewrites `usage_events`, about 7 s per million events on the project's machine);
    /// nil when there is nothing slow to do, or no file yet.
    public static func slowUpgradeNotice(path: String) -> String? {
        var readOnly = Configuration()
        readOnly.readonly = true
        guard FileManager.default.fileExists(atPath: path), let queue = try? DatabaseQueue(path: path, configuration: readOnly)
        else { return nil }
        let events: Int? = try? queue.read { db in
            guard try db.tableExists("grdb_migrations"), try db.tableExists("usage_events"),
                try !Bool.fetchOne(
                    db, sql: "SELECT EXISTS(SELECT 1 FROM grdb_migrations WHERE identifier = ?)",
                    arguments: [SQLiteSchema.leanUsageEventsMigration])!
            else { return nil }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_events")
        }
        guard let events, events >= slowUpgradeEventsMin else { return nil }
        return "upgrading \(path) to schema \(SQLiteSchema.version): rebuilding its \(events) usage events once "
            + "(about 7 s per million events)"
    }

    /// Events from which the one-time rebuild is announced.
    static let slowUpgradeEventsMin = 200_000

    /// A WAL pool whose writer commits durably. DatabasePool settles on synchronous=NORMAL
    /// when it opens; acknowledged writes must survive power loss, so FULL is set here and
    /// checked.
    package static func durablePool(path: String, configuration: Configuration) throws -> DatabasePool {
        let pool = try DatabasePool(path: path, configuration: configuration)
        let synchronous = try pool.writeWithoutTransaction { db -> Int in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The writer's statement journals (one per request savepoint, holding the pages
            // the request changed) stay in memory instead of spilling to a temp file past
            // 64 KiB: a group of 64 requests would otherwise write megabytes of page copies
            // through the kernel. Readers keep file-backed temp storage.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            return try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
        }
        guard synchronous == 2 else { throw StoreError.backend("PRAGMA synchronous reads back \(synchronous), not FULL") }
        return pool
    }

    private static func migrate(_ pool: DatabasePool) throws {
        let migrator = SQLiteSchema.migrator
        try pool.read { db in try refuseNewerSchema(db, migrator) }
        try migrator.migrate(pool)
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO plutus_meta(key, value) VALUES ('schema_version', ?)
                    ON CONFLICT(key) DO UPDATE SET value = excluded.value
                    """, arguments: [String(SQLiteSchema.version)])
        }
    }

    private static func refuseNewerSchema(_ db: Database, _ migrator: DatabaseMigrator) throws {
        if try migrator.hasBeenSuperseded(db) {
            let found = try Int.fetchOne(db, sql: "SELECT value FROM plutus_meta WHERE key = 'schema_version'") ?? -1
            throw StoreError.schemaTooNew(found: found, supported: SQLiteSchema.version)
        }
        if try db.tableExists("plutus_meta"),
            let stamped = try Int.fetchOne(db, sql: "SELECT value FROM plutus_meta WHERE key = 'schema_version'"),
            stamped > SQLiteSchema.version
        {
            throw StoreError.schemaTooNew(found: stamped, supported: SQLiteSchema.version)
        }
    }

    // MARK: transactions

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer and commits, or rolls
    /// back everything when it throws.
    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body` as one request of the next group commit: its own savepoint, shared
    /// transaction and fsync. For the hot write paths (ingest, holds, credits, Stripe
    /// events). A money request (`merge`) may instead be applied together with the other
    /// queued requests of its organization (`applyTogether`); `body` is then how it runs alone.
    func groupWrite<T: Sendable>(
        merge: GroupCommitter.Mergeable? = nil, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await committer.submit(merge: merge, body)
        } catch {
            throw Self.translate(error)
        }
    }

    /// Group commits so far: transactions, the requests they carried, and how money
    /// requests were applied.
    public var groupCommitCounts: GroupCommitCounts { committer.counts }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.translate(error)
        }
    }

    /// Backend errors become `StoreError`; the store's own and the core's typed errors pass.
    static func translate(_ error: any Error) -> any Error {
        if error is StoreError || error is UsageFieldError { return error }
        if let databaseError = error as? DatabaseError {
            switch databaseError.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: return StoreError.busy(retryAfterSeconds: 1)
            default: return StoreError.backend(String(reflecting: databaseError))
            }
        }
        return StoreError.backend(String(reflecting: error))
    }
}
