import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    public func usageSummary(_ organizationID: OrganizationID, days: Range<CivilDay>, workspace: WorkspaceID?) async throws
        -> UsageSummary
    {
        precondition(
            days.upperBound.daysSinceEpoch - days.lowerBound.daysSinceEpoch <= Limits.summaryDaysMax,
            "a summary spans at most Limits.summaryDaysMax days")
        return try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            let names = try Row.fetchAll(
                db, sql: "SELECT id, name FROM workspaces WHERE org_id = ?", arguments: [organizationID.rawValue])
            let rows = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT day, workspace_id, provider, model, task_type, events, input_tokens, output_tokens,
                            cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros
                        FROM usage_days
                        WHERE org_id = ? AND day >= ? AND day < ? AND (? IS NULL OR workspace_id = ?)
                        """),
                arguments: [
                    organizationID.rawValue, days.lowerBound.daysSinceEpoch, days.upperBound.daysSinceEpoch,
                    workspace?.rawValue, workspace?.rawValue,
                ])
            return UsageSummary(
                days: days, rows: rows.map(Self.usageDay),
                workspaceNames: Dictionary(
                    names.map { (WorkspaceID(rawValue: $0["id"]), $0["name"] as String) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    static func usageDay(_ row: Row) -> UsageDayRow {
        let workspace: String = row["workspace_id"]
        let model: String = row["model"]
        var tokens = TokenCounts.zero
        tokens.input = row["input_tokens"]
        tokens.output = row["output_tokens"]
        tokens.cacheRead = row["cache_read_tokens"]
        tokens.cacheWrite = row["cache_write_tokens"]
        tokens.reasoning = row["reasoning_tokens"]
        return UsageDayRow(
            day: CivilDay(daysSinceEpoch: row["day"]), workspaceID: workspace.isEmpty ? nil : WorkspaceID(rawValue: workspace),
            provider: row["provider"], model: model.isEmpty ? nil : model, taskType: row["task_type"],
            totals: UsageTotals(events: row["events"], tokens: tokens, cost: MicroDollars(rawValue: row["cost_micros"])))
    }

    public func creditStatement(_ organizationID: OrganizationID, from: Timestamp, to: Timestamp) async throws
        -> CreditStatement
    {
        precondition(from <= to, "a statement period must not end before it starts")
        return try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            // Each entry that touches the organization's credit account moves it by +amount
            // (credited) or −amount (debited).
            let movement = """
                SELECT e.kind, CASE WHEN e.credit_account_id = a.id THEN e.amount_micros ELSE -e.amount_micros END AS delta
                FROM entries e JOIN accounts a ON a.org_id = e.org_id AND a.code = 'credit'
                WHERE e.org_id = ? AND (e.credit_account_id = a.id OR e.debit_account_id = a.id)
                """
            let opening =
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(delta), 0) FROM (\(movement) AND e.ts < ?) m",
                    arguments: [organizationID.rawValue, from.millis]) ?? 0
            var byKind: [EntryKind: CreditStatement.Movement] = [:]
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT kind, SUM(delta) AS net, COUNT(*) AS entries FROM (\(movement) AND e.ts >= ? AND e.ts < ?) m GROUP BY kind",
                arguments: [organizationID.rawValue, from.millis, to.millis])
            {
                let kind: EntryKind = try StoreError.decode(row["kind"], column: "entries.kind")
                byKind[kind] = CreditStatement.Movement(
                    kind: kind, net: MicroDollars(rawValue: row["net"]), entries: row["entries"])
            }
            return CreditStatement(
                from: from, to: to, opening: MicroDollars(rawValue: opening),
                movements: EntryKind.allCases.compactMap { byKind[$0] })
        }
    }

    public func creditHistory(_ organizationID: OrganizationID, days: Range<CivilDay>) async throws -> CreditHistory {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            var opening: Int64 = 0
            var movements: [Int64: (net: Int64, topUps: Int64)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    WITH movement AS (
                        SELECT e.kind, e.ts, CASE WHEN e.credit_account_id = a.id THEN e.amount_micros ELSE -e.amount_micros END AS delta
                        FROM entries e JOIN accounts a ON a.org_id = e.org_id AND a.code = 'credit'
                        WHERE e.org_id = ?1 AND (e.credit_account_id = a.id OR e.debit_account_id = a.id))
                    SELECT NULL AS day, COALESCE(SUM(delta), 0) AS net, 0 AS topups FROM movement WHERE ts < ?2
                    UNION ALL
                    SELECT ts / 86400000, SUM(delta), SUM(CASE WHEN kind = 'topup' THEN delta ELSE 0 END)
                    FROM movement WHERE ts >= ?2 AND ts < ?3 GROUP BY ts / 86400000
                    """,
                arguments: [organizationID.rawValue, days.lowerBound.start.millis, days.upperBound.start.millis])
            {
                if let day = row["day"] as Int64? {
                    movements[day] = (row["net"], row["topups"])
                } else {
                    opening = row["net"]
                }
            }
            return CreditHistory(days: days, opening: MicroDollars(rawValue: opening), movements: movements)
        }
    }

    /// Daily rollup rows that differ from the events they add up (at most 20 named).
    static func verifyDailyRollup(_ db: Database) throws -> [String] {
        let mismatches = try Row.fetchAll(
            db,
            sql: """
                WITH computed AS (
                    SELECT org_id, ts / 86400000 AS day, COALESCE(workspace_id, '') AS workspace_id, provider,
                        COALESCE(model, '') AS model, task_type, COUNT(*) AS events, SUM(input_tokens) AS input_tokens,
                        SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
                        SUM(cache_write_tokens) AS cache_write_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
                        SUM(cost_micros) AS cost_micros
                    FROM usage_events
                    GROUP BY org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type),
                differences AS (
                    SELECT * FROM computed EXCEPT SELECT * FROM usage_days
                    UNION ALL
                    SELECT * FROM usage_days EXCEPT SELECT * FROM computed)
                SELECT DISTINCT org_id, day, workspace_id, provider, model, task_type FROM differences LIMIT 20
                """)
        return mismatches.map { row in
            let day = CivilDay(daysSinceEpoch: row["day"]).text
            let org: String = row["org_id"]
            let workspace: String = row["workspace_id"]
            let provider: String = row["provider"]
            let model: String = row["model"]
            let task: String = row["task_type"]
            return "daily rollup \(org)/\(day)/\(workspace)/\(provider)/\(model)/\(task) does not match the events it adds up"
        }
    }
}
