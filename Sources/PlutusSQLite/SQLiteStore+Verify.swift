import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    /// Recomputes every account balance from the entries and checks the invariants:
    /// stored balances equal their entries; all balances sum to zero; each organization's
    /// "has held credit" flag matches its entries; every priced usage event has exactly
    /// one usage entry of its cost and every usage entry an event; usage event ids are
    /// unique (no index enforces it here, see schema v6); month counters equal the events
    /// they count, and so do the daily rollup rows.
    public func verify(progress: @escaping @Sendable (VerificationStage) -> Void) async throws -> VerificationReport {
        try await read { db in
            var problems: [String] = []
            progress(.balances)
            let accounts = try Row.fetchAll(
                db,
                sql: """
                    WITH moves AS (
                        SELECT credit_account_id AS account, amount_micros AS delta FROM entries
                        UNION ALL SELECT debit_account_id, -amount_micros FROM entries)
                    SELECT a.id, a.org_id, a.code, a.balance_micros, COALESCE(m.total, 0) AS computed
                    FROM accounts a LEFT JOIN (SELECT account, SUM(delta) AS total FROM moves GROUP BY account) m
                        ON m.account = a.id
                    ORDER BY a.id
                    """)
            var total: Int64 = 0
            for row in accounts {
                let stored = MicroDollars(rawValue: row["balance_micros"])
                let computed = MicroDollars(rawValue: row["computed"])
                total &+= stored.rawValue
                if stored != computed {
                    let org: String = row["org_id"]
                    let code: String = row["code"]
                    problems.append(
                        "account \(org)/\(code): stored balance \(stored.decimalString) but its entries sum to \(computed.decimalString)"
                    )
                }
            }
            if total != 0 {
                problems.append("account balances sum to \(MicroDollars(rawValue: total).decimalString), not zero")
            }
            progress(.creditFlags)
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT o.id, o.ever_credited, EXISTS(
                        SELECT 1 FROM entries e WHERE e.org_id = o.id AND e.kind IN ('topup', 'grant')) AS credited
                    FROM organizations o WHERE o.ever_credited <> credited
                    """)
            {
                let org: String = row["id"]
                problems.append("organization \(org): 'has held credit' flag disagrees with its entries")
            }
            progress(.usageEntries)
            for row in try Row.fetchAll(db, sql: StoreVerification.unpaidUsageEvents) {
                let id: String = row["id"]
                problems.append(StoreVerification.unpaidUsageEventProblem(id: id, cost: row["cost_micros"]))
            }
            for row in try Row.fetchAll(db, sql: StoreVerification.mismatchedUsageEntries) {
                let id: String = row["id"]
                problems.append(StoreVerification.mismatchedUsageEntryProblem(id: id))
            }
            for id in try String.fetchAll(
                db, sql: "SELECT id FROM usage_events GROUP BY id HAVING COUNT(*) > 1 ORDER BY id LIMIT 20")
            {
                problems.append("usage event id \(id) is used by more than one event")
            }
            progress(.monthCounters)
            problems += try Self.verifyMonthCounters(db)
            progress(.dailyRollup)
            problems += try Self.verifyDailyRollup(db)
            progress(.holds)
            for row in try Row.fetchAll(db, sql: StoreVerification.mismatchedHoldTotals) {
                problems.append(
                    StoreVerification.mismatchedHoldTotalsProblem(id: row["id"], held: row["held_micros"], active: row["active"]))
            }
            for id in try String.fetchAll(db, sql: StoreVerification.settledHoldsWithoutEvent) {
                problems.append("hold \(id): settled, but its event is not recorded")
            }
            progress(.creditLots)
            for row in try Row.fetchAll(db, sql: StoreVerification.mismatchedCreditLots) {
                problems.append(
                    StoreVerification.mismatchedCreditLotsProblem(
                        id: row["id"], balance: row["balance_micros"], lots: row["lots"]))
            }
            for id in try String.fetchAll(db, sql: StoreVerification.badlyExpiredLots) {
                problems.append("credit \(id): expired, yet it kept something or expired more than once")
            }
            return VerificationReport(
                accountsChecked: accounts.count,
                entriesChecked: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries") ?? 0,
                eventsChecked: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_events") ?? 0, problems: problems)
        }
    }

    private static func verifyMonthCounters(_ db: Database) throws -> [String] {
        struct Counter: Equatable {
            var tokens: Int64
            var cost: Int64
            var events: Int64
        }
        var stored: [String: Counter] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM usage_months") {
            let key = "\(row["org_id"] as String)/\(row["workspace_id"] as String)/\(row["month"] as String)"
            stored[key] = Counter(tokens: row["tokens"], cost: row["cost_micros"], events: row["events"])
        }
        var computed: [String: Counter] = [:]
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT org_id, COALESCE(workspace_id, '') AS workspace_id,
                       strftime('%Y-%m', ts / 1000, 'unixepoch') AS month,
                       SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens + reasoning_tokens) AS tokens,
                       SUM(cost_micros) AS cost, COUNT(*) AS events
                FROM usage_events GROUP BY 1, 2, 3
                """)
        for row in rows {
            let org: String = row["org_id"]
            let workspace: String = row["workspace_id"]
            let month: String = row["month"]
            let counter = Counter(tokens: row["tokens"], cost: row["cost"], events: row["events"])
            var scopes = ["\(org)//\(month)"]
            if !workspace.isEmpty { scopes.append("\(org)/\(workspace)/\(month)") }
            for key in scopes {
                var sum = computed[key] ?? Counter(tokens: 0, cost: 0, events: 0)
                sum.tokens += counter.tokens
                sum.cost += counter.cost
                sum.events += counter.events
                computed[key] = sum
            }
        }
        var problems: [String] = []
        for key in Set(stored.keys).union(computed.keys).sorted() where stored[key] != computed[key] {
            problems.append("month counter \(key) does not match the events it counts")
        }
        return problems
    }
}
