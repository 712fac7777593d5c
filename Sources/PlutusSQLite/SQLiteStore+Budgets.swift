import GRDB
import PlutusCore
import PlutusStore

/// Budgets on SQLite: created and disabled under the write lock; their spend is written with
/// the events (`MeteringWrites.budgetSpend`).
extension SQLiteStore {
    public func createBudget(_ request: BudgetRequest, at time: Timestamp) async throws -> Budget {
        try await groupWrite { db in
            let (organization, _, _, _) = try Self.lockedOrganization(db, request.organizationID)
            let (scopeID, label) = try Self.resolveScope(db, request, organization: organization, at: time)
            let budget = request.budget(scopeID: scopeID, label: label, at: time)
            try Self.insertBudget(db, budget)
            if let filter = budget.rollupFilter {
                let start = budget.period.start(at: time)
                let spent =
                    try Int64.fetchOne(
                        db,
                        sql: """
                            SELECT COALESCE(SUM(cost_micros), 0) FROM usage_days
                            WHERE org_id = ?1 AND day >= ?2 AND (?3 = '' OR workspace_id = ?3) AND (?4 = '' OR task_type = ?4)
                            """, arguments: [budget.organizationID.rawValue, start.epochDay, filter.workspace, filter.task]) ?? 0
                if spent > 0 {
                    try db.execute(
                        sql: "INSERT INTO budget_spend(budget_id, period_start, spent_micros) VALUES (?, ?, ?)",
                        arguments: [budget.id.rawValue, start.millis, spent])
                }
            }
            return budget
        }
    }

    public func budgets(_ organizationID: OrganizationID, at time: Timestamp, includingDisabled: Bool) async throws
        -> [BudgetStanding]
    {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Self.standings(
                db, organizationID, try Self.budgets(db, organizationID, includingDisabled: includingDisabled), at: time)
        }
    }

    public func disableBudget(_ organizationID: OrganizationID, _ id: BudgetID, at time: Timestamp) async throws -> Budget {
        try await groupWrite { db in
            guard var budget = try Self.budgets(db, organizationID, includingDisabled: true).first(where: { $0.id == id }) else {
                throw StoreError.budgetNotFound(id.rawValue)
            }
            guard budget.disabledAt == nil else { return budget }
            try db.execute(
                sql: "UPDATE budgets SET disabled_at = ? WHERE id = ? AND org_id = ?",
                arguments: [time.millis, id.rawValue, organizationID.rawValue])
            budget.disabledAt = time
            return budget
        }
    }

    /// What a budget's scope names, resolved to the stored id and a label.
    static func resolveScope(_ db: Database, _ request: BudgetRequest, organization: Organization, at time: Timestamp)
        throws -> (scopeID: String, label: String)
    {
        let reference = request.scopeReference
        switch request.scope {
        case .org:
            return ("", organization.name)
        case .workspace:
            if let found = try findWorkspace(db, organization.id, reference) { return (found.id.rawValue, found.name) }
            let count =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM workspaces WHERE org_id = ?", arguments: [organization.id.rawValue])
                ?? 0
            guard Metering.chooseWorkspace(found: false, workspaceCount: count, plan: organization.plan) == .create else {
                throw StoreError.invalid(
                    field: "scope_id",
                    problem: "names no workspace, and the \(organization.plan.displayName) plan's workspaces are all in use")
            }
            let created = try insertWorkspace(db, organization.id, name: reference, budget: nil, at: time)
            return (created.id.rawValue, created.name)
        case .key:
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM api_keys WHERE id = ? AND org_id = ?",
                    arguments: [reference, organization.id.rawValue])
                    ?? false
            else { throw StoreError.invalid(field: "scope_id", problem: "names no API key of this organization") }
            return (reference, reference)
        case .task, .run:
            return (reference, reference)
        }
    }

    static func insertBudget(_ db: Database, _ budget: Budget) throws {
        try db.execute(
            sql: """
                INSERT INTO budgets(id, org_id, scope, scope_id, label, limit_micros, period, mode, alert_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                budget.id.rawValue, budget.organizationID.rawValue, budget.scope.rawValue, budget.scopeID, budget.label,
                budget.limit.rawValue, budget.period.rawValue, budget.mode.rawValue, budget.alertAtText,
                budget.createdAt.millis,
            ])
    }

    static func budgets(_ db: Database, _ organizationID: OrganizationID, includingDisabled: Bool) throws -> [Budget] {
        try Row.fetchAll(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM budgets WHERE org_id = ? AND (? OR disabled_at IS NULL) ORDER BY created_at, rowid
                    """), arguments: [organizationID.rawValue, includingDisabled]
        ).map { row in
            Budget(
                id: BudgetID(rawValue: row["id"]), organizationID: organizationID,
                scope: try StoreError.decode(row["scope"], column: "budgets.scope"), scopeID: row["scope_id"],
                label: row["label"], limit: MicroDollars(rawValue: row["limit_micros"]),
                period: try StoreError.decode(row["period"], column: "budgets.period"),
                mode: try StoreError.decode(row["mode"], column: "budgets.mode"),
                alertAt: try Budget.alertAt(stored: row["alert_at"]), createdAt: Timestamp(rawValue: row["created_at"]),
                disabledAt: (row["disabled_at"] as Int64?).map { Timestamp(rawValue: $0) })
        }
    }

    static func budgetSpend(_ db: Database, _ key: MeteringWrites.BudgetSpendKey) throws -> Int64 {
        try Int64.fetchOne(
            try db.cachedStatement(sql: "SELECT spent_micros FROM budget_spend WHERE budget_id = ? AND period_start = ?"),
            arguments: [key.budgetID.rawValue, key.periodStart.millis]) ?? 0
    }

    /// The organization's holds active at `time`, summed by what they are attributed to.
    static func heldBySubject(_ db: Database, _ organizationID: OrganizationID, at time: Timestamp) throws -> HeldBySubject {
        HeldBySubject(
            rows: try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT workspace_id, api_key_id, task_type, run_id, SUM(amount_micros) AS held FROM holds
                        WHERE org_id = ? AND status = 'held' AND expires_at > ?
                        GROUP BY workspace_id, api_key_id, task_type, run_id
                        """), arguments: [organizationID.rawValue, time.millis]
            ).map { row in
                (
                    BudgetSubject(
                        workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)),
                        apiKeyID: (row["api_key_id"] as String?).map(APIKeyID.init(rawValue:)), taskType: row["task_type"],
                        runID: row["run_id"]), MicroDollars(rawValue: row["held"])
                )
            })
    }
}
