import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    /// The same checks as the SQLite store's `verify`, in one REPEATABLE READ snapshot so
    /// concurrent writers cannot make a clean ledger look broken.
    public func verify(progress: @escaping @Sendable (VerificationStage) -> Void) async throws -> VerificationReport {
        try await withConnection { connection in
            try await Self.within(connection, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger) {
                try await Self.verify(connection, progress: progress, logger: self.logger)
            }
        }
    }

    private static func verify(
        _ connection: PostgresConnection, progress: @Sendable (VerificationStage) -> Void, logger: Logger
    ) async throws -> VerificationReport {
        var problems: [String] = []
        progress(.balances)
        let accounts = try await connection.query(
            """
            WITH moves AS (
                SELECT credit_account_id AS account, amount_micros AS delta FROM entries
                UNION ALL SELECT debit_account_id, -amount_micros FROM entries)
            SELECT a.id, a.org_id, a.code, a.balance_micros, COALESCE(m.total, 0)::int8 AS computed
            FROM accounts a LEFT JOIN (SELECT account, SUM(delta) AS total FROM moves GROUP BY account) m ON m.account = a.id
            ORDER BY a.id
            """, logger: logger
        ).rows()
        var total: Int64 = 0
        for row in accounts {
            let stored = MicroDollars(rawValue: try row.int64("balance_micros"))
            let computed = MicroDollars(rawValue: try row.int64("computed"))
            total &+= stored.rawValue
            if stored != computed {
                problems.append(
                    "account \(try row.string("org_id"))/\(try row.string("code")): stored balance \(stored.decimalString) "
                        + "but its entries sum to \(computed.decimalString)")
            }
        }
        if total != 0 { problems.append("account balances sum to \(MicroDollars(rawValue: total).decimalString), not zero") }
        progress(.creditFlags)
        for row in try await connection.query(
            """
            SELECT o.id FROM organizations o
            WHERE o.ever_credited <> EXISTS(SELECT 1 FROM entries e WHERE e.org_id = o.id AND e.kind IN ('topup', 'grant'))
            """, logger: logger
        ).rows() {
            problems.append("organization \(try row.string("id")): 'has held credit' flag disagrees with its entries")
        }
        progress(.usageEntries)
        for row in try await connection.query(PostgresQuery(unsafeSQL: StoreVerification.unpaidUsageEvents), logger: logger)
            .rows()
        {
            problems.append(
                StoreVerification.unpaidUsageEventProblem(
                    id: try row.string("id"), cost: try row["cost_micros"].decode(Int64.self)))
        }
        for row in try await connection.query(PostgresQuery(unsafeSQL: StoreVerification.mismatchedUsageEntries), logger: logger)
            .rows()
        {
            problems.append(StoreVerification.mismatchedUsageEntryProblem(id: try row.string("id")))
        }
        // Month counters against the events they count, per organization and per workspace.
        progress(.monthCounters)
        for row in try await connection.query(
            """
            WITH computed AS (
                SELECT org_id, scope AS workspace_id, month, SUM(tokens)::int8 AS tokens, SUM(cost)::int8 AS cost,
                       SUM(events)::int8 AS events
                FROM (
                    SELECT org_id, to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
                           input_tokens + output_tokens + cache_read_tokens + cache_write_tokens + reasoning_tokens AS tokens,
                           cost_micros AS cost, 1 AS events, workspace_id
                    FROM usage_events) e
                CROSS JOIN LATERAL (VALUES (''), (e.workspace_id)) AS s(scope)
                WHERE s.scope IS NOT NULL
                GROUP BY 1, 2, 3)
            SELECT COALESCE(c.org_id, m.org_id) AS org_id, COALESCE(c.workspace_id, m.workspace_id) AS workspace_id,
                   COALESCE(c.month, m.month) AS month
            FROM computed c FULL JOIN usage_months m
                ON m.org_id = c.org_id AND m.workspace_id = c.workspace_id AND m.month = c.month
            WHERE c.tokens IS DISTINCT FROM m.tokens OR c.cost IS DISTINCT FROM m.cost_micros
               OR c.events IS DISTINCT FROM m.events
            ORDER BY 1, 2, 3
            """, logger: logger
        ).rows() {
            problems.append(
                "month counter \(try row.string("org_id"))/\(try row.string("workspace_id"))/\(try row.string("month")) "
                    + "does not match the events it counts")
        }
        progress(.dailyRollup)
        problems += try await verifyDailyRollup(connection, logger: logger)
        progress(.holds)
        for row in try await connection.query(PostgresQuery(unsafeSQL: StoreVerification.mismatchedHoldTotals), logger: logger)
            .rows()
        {
            problems.append(
                StoreVerification.mismatchedHoldTotalsProblem(
                    id: try row.string("id"), held: try row.int64("held_micros"), active: try row["active"].decode(Int64.self)))
        }
        for row in try await connection.query(
            PostgresQuery(unsafeSQL: StoreVerification.settledHoldsWithoutEvent), logger: logger
        ).rows() {
            problems.append("hold \(try row.string("id")): settled, but its event is not recorded")
        }
        progress(.creditLots)
        for row in try await connection.query(PostgresQuery(unsafeSQL: StoreVerification.mismatchedCreditLots), logger: logger)
            .rows()
        {
            problems.append(
                StoreVerification.mismatchedCreditLotsProblem(
                    id: try row.string("id"), balance: try row.int64("balance_micros"), lots: try row["lots"].decode(Int64.self)))
        }
        for row in try await connection.query(PostgresQuery(unsafeSQL: StoreVerification.badlyExpiredLots), logger: logger)
            .rows()
        {
            problems.append("credit \(try row.string("id")): expired, yet it kept something or expired more than once")
        }
        func count(_ table: String) async throws -> Int {
            Int(
                try await connection.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table)"), logger: logger)
                    .collect().first?.decode(Int64.self) ?? 0)
        }
        return VerificationReport(
            accountsChecked: accounts.count, entriesChecked: try await count("entries"),
            eventsChecked: try await count("usage_events"), problems: problems)
    }
}
