import GRDB
import PlutusStore

/// Reading the whole database out, for `plutus migrate-data`.
extension SQLiteStore {
    /// Plutus's tables in copy order (GRDB's and SQLite's own bookkeeping left out).
    public func copyTables() async throws -> [String] {
        let names = try await read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                    AND name NOT IN ('grdb_migrations', 'plutus_meta') ORDER BY name
                    """)
        }
        return TableCopy.order.filter(names.contains) + names.filter { !TableCopy.order.contains($0) }
    }

    /// Up to `limit` rows of `table` after the row with `rowid` `after`, in rowid order.
    /// Tables without rowids come whole in one page.
    public func exportRows(table: String, after: Int64?, limit: Int) async throws -> TableRows {
        guard try await copyTables().contains(table) else {
            throw StoreError.invalid(field: "table", problem: "no table \(table)")
        }
        return try await read { db in
            let hasRowID =
                try Row.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table])
                .map { !(($0["sql"] as String?) ?? "").uppercased().contains("WITHOUT ROWID") } ?? true
            let columns = try db.columns(in: table).map(\.name)
            let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            let rows =
                hasRowID
                ? try Row.fetchAll(
                    db, sql: "SELECT rowid AS plutus_rowid, \(list) FROM \"\(table)\" WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    arguments: [after ?? Int64.min, limit])
                : try Row.fetchAll(db, sql: "SELECT \(list) FROM \"\(table)\" ORDER BY 1, 2, 3")
            let values = rows.map { row in columns.map { Self.storeValue(row[$0] as DatabaseValue) } }
            let next: Int64? = hasRowID && rows.count == limit ? rows.last?["plutus_rowid"] : nil
            return TableRows(columns: columns, rows: values, nextAfter: next)
        }
    }

    private static func storeValue(_ value: DatabaseValue) -> StoreValue {
        switch value.storage {
        case .null: .null
        case .int64(let integer): .integer(integer)
        case .double(let real): .real(real)
        case .string(let text): .text(text)
        case .blob(let data): .blob(Array(data))
        }
    }

    /// Rows in `table`.
    public func rowCount(_ table: String) async throws -> Int {
        guard try await copyTables().contains(table) else {
            throw StoreError.invalid(field: "table", problem: "no table \(table)")
        }
        return try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\"") ?? 0 }
    }

    /// Every ledger account's balance, keyed `org_id/code`.
    public func accountBalances() async throws -> [String: Int64] {
        try await read { db in
            var balances: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT org_id, code, balance_micros FROM accounts") {
                balances["\(row["org_id"] as String)/\(row["code"] as String)"] = row["balance_micros"]
            }
            return balances
        }
    }
}
