import PlutusStore
import PostgresNIO

/// Loading a whole database in, for `plutus migrate-data`.
extension PostgresStore {
    /// Plutus's tables (the migrations ledger left out).
    public func copyTables() async throws -> [String] {
        let names = try await withConnection { connection in
            try await connection.query(
                """
                SELECT table_name::text FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'plutus_migrations'
                ORDER BY 1
                """, logger: self.logger
            ).collect().map { try $0.decode(String.self) }
        }
        return TableCopy.order.filter(names.contains) + names.filter { !TableCopy.order.contains($0) }
    }

    /// Inserts pages of rows into empty tables, all in one transaction: either everything
    /// lands or nothing does. Identity columns keep the values copied, and their sequences
    /// continue after the largest. Refuses a database that already holds organizations.
    public func bulkLoad(_ body: @Sendable (BulkLoader) async throws -> Void) async throws {
        try await withConnection { connection in
            try await Self.within(connection, logger: self.logger) {
                let organizations =
                    try await connection.query("SELECT COUNT(*) FROM organizations", logger: self.logger)
                    .collect().first?.decode(Int64.self) ?? 0
                guard organizations == 0 else {
                    throw StoreError.invalid(
                        field: "to", problem: "already holds \(organizations) organizations; migrate into an empty database")
                }
                let loader = BulkLoader(
                    connection: connection, logger: self.logger, tables: try await self.columnTypes(connection))
                try await body(loader)
                try await loader.continueIdentities()
            }
        }
    }

    private func columnTypes(_ connection: PostgresConnection) async throws -> [String: [String: String]] {
        var tables: [String: [String: String]] = [:]
        for row in try await connection.query(
            """
            SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
            WHERE table_schema = current_schema()
            """, logger: logger
        ).rows() {
            tables[try row.string("table_name"), default: [:]][try row.string("column_name")] = try row.string("data_type")
        }
        return tables
    }

    /// Rows in `table`.
    public func rowCount(_ table: String) async throws -> Int {
        guard try await copyTables().contains(table) else {
            throw StoreError.invalid(field: "table", problem: "no table \(table)")
        }
        return try await withConnection { connection in
            Int(
                try await connection.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \"\(table)\""), logger: self.logger)
                    .collect().first?.decode(Int64.self) ?? 0)
        }
    }

    /// Every ledger account's balance, keyed `org_id/code`.
    public func accountBalances() async throws -> [String: Int64] {
        try await withConnection { connection in
            var balances: [String: Int64] = [:]
            for row in try await connection.query("SELECT org_id, code, balance_micros FROM accounts", logger: self.logger).rows()
            {
                balances["\(try row.string("org_id"))/\(try row.string("code"))"] = try row.int64("balance_micros")
            }
            return balances
        }
    }
}

/// Inserts copied rows inside `PostgresStore.bulkLoad`'s transaction.
public struct BulkLoader: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Column name → SQL data type, per table.
    let tables: [String: [String: String]]

    /// Bind parameters per statement at most (PostgreSQL allows 65,535).
    static let bindsMax = 30_000

    public func insert(table: String, columns: [String], rows: [[StoreValue]]) async throws {
        guard let types = tables[table] else {
            throw StoreError.invalid(field: "to", problem: "has no table \(table); run `plutus migrate` with this Plutus first")
        }
        for column in columns where types[column] == nil {
            throw StoreError.invalid(field: "to", problem: "table \(table) has no column \(column)")
        }
        let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let rowsPerStatement = max(1, Self.bindsMax / max(columns.count, 1))
        for start in stride(from: 0, to: rows.count, by: rowsPerStatement) {
            var bindings = PostgresBindings()
            var tuples: [String] = []
            for row in rows[start..<min(start + rowsPerStatement, rows.count)] {
                var marks: [String] = []
                for (column, value) in zip(columns, row) {
                    try Self.bind(value, as: types[column]!, into: &bindings)
                    marks.append("$\(bindings.count)")
                }
                tuples.append("(" + marks.joined(separator: ", ") + ")")
            }
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "INSERT INTO \"\(table)\" (\(list)) OVERRIDING SYSTEM VALUE VALUES \(tuples.joined(separator: ", "))",
                    binds: bindings),
                logger: logger)
        }
    }

    /// SQLite stores booleans as 0/1; everything else maps by storage type.
    private static func bind(_ value: StoreValue, as type: String, into bindings: inout PostgresBindings) throws {
        switch (value, type) {
        case (.null, _): bindings.appendNull()
        case (.integer(let integer), "boolean"): bindings.append(integer != 0)
        case (.integer(let integer), "integer"): bindings.append(Int32(clamping: integer))
        case (.integer(let integer), _): bindings.append(integer)
        case (.real(let real), _): bindings.append(real)
        case (.text(let text), _): bindings.append(text)
        case (.blob(let bytes), _): bindings.append(ByteBuffer(bytes: bytes))
        }
    }

    /// Identity sequences continue after the largest value copied.
    func continueIdentities() async throws {
        for row in try await connection.query(
            """
            SELECT table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND is_identity = 'YES'
            """, logger: logger
        ).rows() {
            let table = try row.string("table_name")
            let column = try row.string("column_name")
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT setval(pg_get_serial_sequence('"\(table)"', '\(column)'),
                                      COALESCE((SELECT MAX("\(column)") FROM "\(table)"), 0) + 1, false)
                        """), logger: logger)
        }
    }
}
