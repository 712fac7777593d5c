import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    public func usageSummary(_ organizationID: OrganizationID, days: Range<CivilDay>, workspace: WorkspaceID?) async throws
        -> UsageSummary
    {
        precondition(
            days.upperBound.daysSinceEpoch - days.lowerBound.daysSinceEpoch <= Limits.summaryDaysMax,
            "a summary spans at most Limits.summaryDaysMax days")
        return try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            var names: [WorkspaceID: String] = [:]
            for row in try await connection.query(
                "SELECT id, name FROM workspaces WHERE org_id = \(organizationID.rawValue)", logger: self.logger
            ).rows() {
                names[WorkspaceID(rawValue: try row.string("id"))] = try row.string("name")
            }
            let rows = try await connection.query(
                """
                SELECT day, workspace_id, provider, model, task_type, events, input_tokens, output_tokens,
                    cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros
                FROM usage_days
                WHERE org_id = \(organizationID.rawValue) AND day >= \(days.lowerBound.daysSinceEpoch)
                  AND day < \(days.upperBound.daysSinceEpoch) AND (\(workspace?.rawValue)::text IS NULL OR workspace_id = \(workspace?.rawValue))
                """, logger: self.logger
            ).rows().map(Self.usageDay)
            return UsageSummary(days: days, rows: rows, workspaceNames: names)
        }
    }

    static func usageDay(_ row: PostgresRandomAccessRow) throws -> UsageDayRow {
        let workspace = try row.string("workspace_id")
        let model = try row.string("model")
        var tokens = TokenCounts.zero
        tokens.input = try row.int64("input_tokens")
        tokens.output = try row.int64("output_tokens")
        tokens.cacheRead = try row.int64("cache_read_tokens")
        tokens.cacheWrite = try row.int64("cache_write_tokens")
        tokens.reasoning = try row.int64("reasoning_tokens")
        return UsageDayRow(
            day: CivilDay(daysSinceEpoch: try row.int64("day")),
            workspaceID: workspace.isEmpty ? nil : WorkspaceID(rawValue: workspace),
            provider: try row.string("provider"), model: model.isEmpty ? nil : model, taskType: try row.string("task_type"),
            totals: UsageTotals(
                events: try row.int64("events"), tokens: tokens, cost: MicroDollars(rawValue: try row.int64("cost_micros"))))
    }

    public func creditStatement(_ organizationID: OrganizationID, from: Timestamp, to: Timestamp) async throws
        -> CreditStatement
    {
        precondition(from <= to, "a statement period must not end before it starts")
        return try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            // Each entry that touches the organization's credit account moves it by +amount
            // (credited) or −amount (debited).
            let rows = try await connection.query(
                """
                WITH movement AS (
                    SELECT e.kind, e.ts,
                           CASE WHEN e.credit_account_id = a.id THEN e.amount_micros ELSE -e.amount_micros END AS delta
                    FROM entries e JOIN accounts a ON a.org_id = e.org_id AND a.code = 'credit'
                    WHERE e.org_id = \(organizationID.rawValue) AND (e.credit_account_id = a.id OR e.debit_account_id = a.id))
                SELECT '' AS kind, COALESCE(SUM(delta), 0)::int8 AS net, COUNT(*)::int8 AS entries
                FROM movement WHERE ts < \(from.millis)
                UNION ALL
                SELECT kind, SUM(delta)::int8, COUNT(*)::int8 FROM movement
                WHERE ts >= \(from.millis) AND ts < \(to.millis) GROUP BY kind
                """, logger: self.logger
            ).rows()
            var opening = MicroDollars.zero
            var byKind: [EntryKind: CreditStatement.Movement] = [:]
            for row in rows {
                let net = MicroDollars(rawValue: try row.int64("net"))
                let label = try row.string("kind")
                if label.isEmpty {
                    opening = net
                } else {
                    let kind: EntryKind = try StoreError.decode(label, column: "entries.kind")
                    byKind[kind] = CreditStatement.Movement(kind: kind, net: net, entries: try row.int64("entries"))
                }
            }
            return CreditStatement(from: from, to: to, opening: opening, movements: EntryKind.allCases.compactMap { byKind[$0] })
        }
    }

    public func creditHistory(_ organizationID: OrganizationID, days: Range<CivilDay>) async throws -> CreditHistory {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let from = days.lowerBound.start.millis
            let to = days.upperBound.start.millis
            var opening: Int64 = 0
            var movements: [Int64: (net: Int64, topUps: Int64)] = [:]
            for row in try await connection.query(
                """
                WITH movement AS (
                    SELECT e.kind, e.ts,
                           CASE WHEN e.credit_account_id = a.id THEN e.amount_micros ELSE -e.amount_micros END AS delta
                    FROM entries e JOIN accounts a ON a.org_id = e.org_id AND a.code = 'credit'
                    WHERE e.org_id = \(organizationID.rawValue) AND (e.credit_account_id = a.id OR e.debit_account_id = a.id))
                SELECT NULL::int8 AS day, COALESCE(SUM(delta), 0)::int8 AS net, 0::int8 AS topups FROM movement WHERE ts < \(from)
                UNION ALL
                SELECT (ts / 86400000)::int8, SUM(delta)::int8, SUM(CASE WHEN kind = 'topup' THEN delta ELSE 0 END)::int8
                FROM movement WHERE ts >= \(from) AND ts < \(to) GROUP BY ts / 86400000
                """, logger: self.logger
            ).rows() {
                if let day = try row.optionalInt64("day") {
                    movements[day] = (try row.int64("net"), try row.int64("topups"))
                } else {
                    opening = try row.int64("net")
                }
            }
            return CreditHistory(days: days, opening: MicroDollars(rawValue: opening), movements: movements)
        }
    }

    /// Daily rollup rows that differ from the events they add up (at most 20 named).
    static func verifyDailyRollup(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.query(
            """
            WITH computed AS (
                SELECT org_id, ts / 86400000 AS day, COALESCE(workspace_id, '') AS workspace_id, provider,
                    COALESCE(model, '') AS model, task_type, COUNT(*)::int8 AS events, SUM(input_tokens)::int8,
                    SUM(output_tokens)::int8, SUM(cache_read_tokens)::int8, SUM(cache_write_tokens)::int8,
                    SUM(reasoning_tokens)::int8, SUM(cost_micros)::int8
                FROM usage_events
                GROUP BY org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type),
            differences AS (
                (SELECT * FROM computed EXCEPT SELECT * FROM usage_days)
                UNION ALL
                (SELECT * FROM usage_days EXCEPT SELECT * FROM computed))
            SELECT DISTINCT org_id, day, workspace_id, provider, model, task_type FROM differences LIMIT 20
            """, logger: logger
        ).rows().map { row in
            let day = CivilDay(daysSinceEpoch: try row.int64("day")).text
            return
                "daily rollup \(try row.string("org_id"))/\(day)/\(try row.string("workspace_id"))/\(try row.string("provider"))/"
                + "\(try row.string("model"))/\(try row.string("task_type")) does not match the events it adds up"
        }
    }
}
