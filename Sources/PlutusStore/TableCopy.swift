/// Raw rows, for moving a whole database from one backend to another
/// (`plutus migrate-data`). Values keep the storage type they had.
public enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One page of a table's rows, in a stable order; `nextAfter` continues it.
public struct TableRows: Sendable {
    public var columns: [String]
    public var rows: [[StoreValue]]
    public var nextAfter: Int64?

    public init(columns: [String], rows: [[StoreValue]], nextAfter: Int64?) {
        self.columns = columns
        self.rows = rows
        self.nextAfter = nextAfter
    }
}

public enum TableCopy {
    /// Tables in an order where every row's foreign keys point at rows already copied.
    /// Tables a backend has that are not listed here are copied after these.
    public static let order = [
        "organizations", "users", "memberships", "workspaces", "api_keys", "accounts", "entries", "usage_events",
        "usage_months", "idempotency_records", "alerts", "stripe_events", "price_catalogs", "holds", "budgets",
        "budget_spend", "credit_lots",
    ]

    /// Rows per page read and written.
    public static let pageRowsMax = 2_000
}
