import Foundation
import Logging
import PlutusCore
import PlutusStore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The scale-out store: PostgreSQL through postgres-nio's `PostgresClient`, shared by any
/// number of stateless `plutus serve` processes.
///
/// Every write is one transaction that first locks the organization's account rows
/// (`SELECT … FOR UPDATE`), so one organization's money moves one transaction at a time
/// across all processes; idempotency keys, client event ids, credit references and Stripe
/// event ids are claimed by unique constraints in that same transaction. Serialization
/// failures, deadlocks, lock timeouts and lost unique races are retried a bounded number
/// of times, then answered as `busy` (503 with Retry-After).
public final class PostgresStore: BillingStore, Service, Sendable {
    /// Attempts of one transaction before it is answered as busy.
    public static let transactionAttemptsMax = 5
    /// Waiting for another process's row lock gives up after this long (then retried).
    public static let lockTimeoutMillis = 2_000
    /// How long a process keeps its price catalog before checking for a newer import.
    public static let catalogRefreshMillis: Int64 = 2_000
    /// Connections per process at most.
    public static let connectionsMax = 16

    let client: PostgresClient
    let logger: Logger
    /// The task running the pool, for a store that runs it itself (one-shot commands); `nil`
    /// when the store runs as a service of the caller's ServiceGroup (`plutus serve`).
    private let runner: Task<Void, Never>?
    let catalog: Mutex<CatalogCache>
    let ingest = IngestGroups()
    let keyCache = APIKeyCache()
    public let location: String
    /// Migrations this process applied when it opened the database.
    public private(set) var migrationsApplied: [String] {
        get { applied.withLock { $0 } }
        set { applied.withLock { $0 = newValue } }
    }
    private let applied = Mutex<[String]>([])

    struct CatalogCache {
        var catalog: PriceCatalog
        var storedVersion: Int64
        var checkedAt: Int64
    }

    /// What opening does about migrations not yet applied.
    public enum MigrationPolicy: Sendable {
        /// Apply them (`plutus migrate`, or `serve --migrate`).
        case apply
        /// Refuse to open: a server never changes the schema unless asked.
        case refuse
        /// Open as the database is, for a caller that migrates it itself, step by step (prices
        /// are the built-in catalog until it is reopened).
        case leave
    }

    /// Who runs the connection pool.
    public enum Lifecycle: Sendable {
        /// The store starts it on a task of its own and stops it in `close()`.
        case ownTask
        /// The caller runs the store as a ServiceLifecycle service (`run()`), in the same
        /// ServiceGroup as the HTTP server, so the pool stops after the server has drained.
        case service
    }

    private init(client: PostgresClient, runner: Task<Void, Never>?, logger: Logger, location: String) {
        self.client = client
        self.runner = runner
        self.logger = logger
        self.location = location
        catalog = Mutex(CatalogCache(catalog: .builtin, storedVersion: 0, checkedAt: 0))
    }

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=disable|prefer|require`),
    /// checks the schema, and applies or refuses pending migrations.
    public static func open(
        url: String, migrations: MigrationPolicy, logger: Logger = Logger(label: "plutus.postgres"),
        lifecycle: Lifecycle = .ownTask
    ) async throws -> PostgresStore {
        let target = try PostgresURL(url)
        if lifecycle == .service {
            // The schema is checked (and migrated when asked) on a short-lived pool run in this
            // scope; the store's own pool is run later by the caller's ServiceGroup.
            let checker = PostgresClient(configuration: target.configuration(connectionsMax: 1), backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await checker.run() }
                defer { group.cancelAll() }
                let probe = PostgresStore(client: checker, runner: nil, logger: logger, location: target.redacted)
                try await probe.prepare(migrations: migrations)
            }
            let client = PostgresClient(
                configuration: target.configuration(connectionsMax: connectionsMax), backgroundLogger: logger)
            return PostgresStore(client: client, runner: nil, logger: logger, location: target.redacted)
        }
        let client = PostgresClient(configuration: target.configuration(connectionsMax: connectionsMax), backgroundLogger: logger)
        let runner = Task { await client.run() }
        let store = PostgresStore(client: client, runner: runner, logger: logger, location: target.redacted)
        do {
            try await store.prepare(migrations: migrations)
            // A database left unmigrated may have no catalog table yet: the built-in one serves.
            if migrations != .leave { try await store.refreshCatalog(force: true) }
            return store
        } catch {
            await store.close()
            throw translate(error)
        }
    }

    /// Refuses a database that needs migrations unless `migrations` says to apply them.
    private func prepare(migrations: MigrationPolicy) async throws {
        do {
            let pending = try await firstContact { try await self.pendingMigrations() }
            guard !pending.isEmpty, migrations != .leave else { return }
            guard migrations == .apply else {
                throw StoreError.invalid(
                    field: "database",
                    problem: "needs migrations \(pending.joined(separator: ", ")); run `plutus migrate --database-url …` first")
            }
            migrationsApplied = try await migrate()
        } catch {
            throw Self.translate(error)
        }
    }

    /// How long opening waits for the first answer from the server before saying it cannot
    /// connect (the pool would otherwise keep retrying for about a minute).
    public static let connectSecondsMax = 10

    /// `body`, or a clear failure when the server has not answered within `connectSecondsMax`.
    private func firstContact<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(Self.connectSecondsMax))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw StoreError.backend(
                    "cannot connect to PostgreSQL at \(self.location): no answer within \(Self.connectSecondsMax) s "
                        + "(check the URL, that the server is up, and its authentication)")
            }
            return value
        }
    }

    /// Runs the connection pool as a service until the group shuts down gracefully (after the
    /// services started later, such as the HTTP server, have stopped) or is cancelled.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    /// Stops the connection pool of a store that runs it itself. The store is unusable afterwards.
    public func close() async {
        guard let runner else { return }
        runner.cancel()
        await runner.value
    }

    // MARK: migrations

    /// Names of the migrations this database has not applied yet. Refuses a database that
    /// recorded a migration this Plutus does not know (written by a newer one).
    public func pendingMigrations() async throws -> [String] {
        try await withConnection { connection in
            let exists =
                try await connection.query(
                    "SELECT to_regclass('plutus_migrations') IS NOT NULL", logger: self.logger
                ).collect().first?.decode(Bool.self) ?? false
            guard exists else { return PostgresSchema.migrations.map(\.name) }
            let applied = try await Self.appliedMigrations(connection, logger: self.logger)
            let known = Set(PostgresSchema.migrations.map(\.name))
            if !applied.isSubset(of: known) {
                throw StoreError.schemaTooNew(found: applied.count, supported: PostgresSchema.version)
            }
            return PostgresSchema.migrations.map(\.name).filter { !applied.contains($0) }
        }
    }

    /// Applies pending migrations, each in its own transaction, under an advisory lock so
    /// two processes never migrate at once. Returns the names applied.
    public func migrate() async throws -> [String] { try await migrate(upTo: nil) }

    /// `migrate()`, stopping after the migration named `last` (for tests of migrations).
    package func migrate(upTo last: String?) async throws -> [String] {
        try await withConnection { connection in
            // Read, so a failed wait throws here (see `applyStripeEvent`), not at the next statement.
            _ = try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLockKey))", logger: self.logger).collect()
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS plutus_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                    logger: self.logger)
                let applied = try await Self.appliedMigrations(connection, logger: self.logger)
                var done: [String] = []
                let upTo = last.flatMap { name in PostgresSchema.migrations.firstIndex { $0.name == name } }
                for migration in PostgresSchema.migrations.prefix((upTo ?? PostgresSchema.migrations.count - 1) + 1)
                where !applied.contains(migration.name) {
                    try await Self.within(connection, logger: self.logger) {
                        for statement in PostgresSchema.statements(migration.sql) {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                        }
                        try await connection.query(
                            "INSERT INTO plutus_migrations(name, applied_at) VALUES (\(migration.name), \(Timestamp.now().millis))",
                            logger: self.logger)
                    }
                    done.append(migration.name)
                }
                _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLockKey))", logger: self.logger)
                    .collect()
                return done
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLockKey))", logger: self.logger)
                throw error
            }
        }
    }

    private static func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        Set(
            try await connection.query("SELECT name FROM plutus_migrations", logger: logger).collect().map {
                try $0.decode(String.self)
            })
    }

    /// How many migrations this Plutus knows.
    public static var schemaVersion: Int { PostgresSchema.version }

    static let migrationLockKey: Int64 = 0x706C_7574_7573  // "plutus"

    // MARK: transactions

    /// Runs `body` on `connection` between `begin` and COMMIT; rolls back and rethrows when
    /// anything fails.
    static func within<T>(
        _ connection: PostgresConnection, begin: PostgresQuery = "BEGIN", logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        try await connection.query(begin, logger: logger)
        do {
            let value = try await body()
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Runs `body` on one pooled connection, outside any transaction.
    func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body` in one READ COMMITTED transaction and commits; rolls back and retries on
    /// serialization failures, deadlocks, lock timeouts and lost unique races, at most
    /// `transactionAttemptsMax` times, then answers busy.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { connection in
                    try await Self.within(connection, logger: self.logger) { try await body(connection) }
                }
            } catch let error where Self.isRetryable(error) {
                guard attempt < Self.transactionAttemptsMax else { throw StoreError.busy(retryAfterSeconds: 1) }
                // Jittered backoff, so contending processes do not retry in lockstep.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << attempt))))
                attempt += 1
            } catch {
                throw Self.translate(error)
            }
        }
    }

    /// SQLSTATEs worth another attempt: serialization_failure, deadlock_detected,
    /// lock_not_available (lock_timeout), unique_violation (a concurrent insert won).
    static let retryableStates: Set<String> = ["40001", "40P01", "55P03", "23505"]

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    static func isRetryable(_ error: any Error) -> Bool {
        sqlState(error).map(retryableStates.contains) ?? false
    }

    /// Backend errors become `StoreError`; the store's own and the core's typed errors pass.
    static func translate(_ error: any Error) -> any Error {
        if error is StoreError || error is UsageFieldError { return error }
        if let psql = error as? PSQLError {
            if let state = psql.serverInfo?[.sqlState] {
                if retryableStates.contains(state) || state == "57P03" { return StoreError.busy(retryAfterSeconds: 1) }
                return StoreError.backend("PostgreSQL \(state): \(psql.serverInfo?[.message] ?? "")")
            }
            // No server answer: the connection failed or was lost. Nothing was acknowledged.
            return StoreError.busy(retryAfterSeconds: 1)
        }
        let detail = String(reflecting: error)
        if detail.contains("ConnectionPoolError") {
            // postgres-nio's pool gave up opening connections: the server is unreachable or
            // refused us. Its own description names only internal types.
            return StoreError.backend(
                "cannot connect to PostgreSQL: the connection was refused, timed out or was rejected "
                    + "(check the URL, that the server is up, and its authentication)")
        }
        return StoreError.backend(detail)
    }
}

/// Reading columns by name.
extension PostgresRandomAccessRow {
    func string(_ column: String) throws -> String { try self[column].decode(String.self) }
    func optionalString(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func int64(_ column: String) throws -> Int64 { try self[column].decode(Int64.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
    func bool(_ column: String) throws -> Bool { try self[column].decode(Bool.self) }
}

extension PostgresRowSequence {
    /// Every row, by column name.
    func rows() async throws -> [PostgresRandomAccessRow] {
        try await collect().map { $0.makeRandomAccess() }
    }
}

/// A `postgres://` URL, parsed.
struct PostgresURL {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var tls: String

    init(_ text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw StoreError.invalid(field: "database-url", problem: "must look like postgres://user:password@host:5432/database")
        }
        self.host = host
        port = components.port ?? 5432
        username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : path
        tls = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard ["disable", "prefer", "require"].contains(tls) else {
            throw StoreError.invalid(field: "database-url", problem: "sslmode must be disable, prefer or require")
        }
    }

    func configuration(connectionsMax: Int) -> PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS =
            switch tls {
            case "disable": .disable
            case "require": .require(.makeClientConfiguration())
            default: .prefer(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: mode)
        configuration.options.maximumConnections = connectionsMax
        configuration.options.connectTimeout = .seconds(5)
        // Waiting for another process's row lock gives up after this long; the
        // transaction is then retried (see `PostgresStore.transaction`).
        configuration.options.additionalStartupParameters = [("lock_timeout", String(PostgresStore.lockTimeoutMillis))]
        return configuration
    }

    /// The URL without its password, for banners and logs.
    var redacted: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database ?? "")"
    }
}
