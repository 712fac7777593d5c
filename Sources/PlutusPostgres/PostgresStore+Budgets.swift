import PlutusCore
import PlutusStore
import PostgresNIO

/// Budgets on PostgreSQL: created and disabled with the organization's accounts locked, as
/// every spend is; their spend is written with the events.
extension PostgresStore {
    public func createBudget(_ request: BudgetRequest, at time: Timestamp) async throws -> Budget {
        try await transaction { connection in
            let logger = self.logger
            let (organization, _, _, _) = try await Self.lockOrganization(connection, request.organizationID, logger: logger)
            let scopeID: String
            let label: String
            let reference = request.scopeReference
            switch request.scope {
            case .org:
                (scopeID, label) = ("", organization.name)
            case .workspace:
                let existing = try await Self.workspaces(connection, organization.id, logger: logger)
                if let found = WorkspaceMatch.find(reference, in: existing) {
                    (scopeID, label) = (found.id.rawValue, found.name)
                } else {
                    guard
                        Metering.chooseWorkspace(found: false, workspaceCount: existing.count, plan: organization.plan)
                            == .create
                    else {
                        throw StoreError.invalid(
                            field: "scope_id",
                            problem:
                                "names no workspace, and the \(organization.plan.displayName) plan's workspaces are all in use")
                    }
                    let created = WorkspaceMatch.new(
                        name: reference, organizationID: organization.id, budget: nil, at: time, among: existing)
                    try await Self.insertWorkspaces(connection, [created], logger: logger)
                    (scopeID, label) = (created.id.rawValue, created.name)
                }
            case .key:
                let found = try await connection.query(
                    "SELECT 1 FROM api_keys WHERE id = \(reference) AND org_id = \(organization.id.rawValue)", logger: logger
                ).collect()
                guard !found.isEmpty else {
                    throw StoreError.invalid(field: "scope_id", problem: "names no API key of this organization")
                }
                (scopeID, label) = (reference, reference)
            case .task, .run:
                (scopeID, label) = (reference, reference)
            }
            let budget = request.budget(scopeID: scopeID, label: label, at: time)
            try await Self.insertBudget(connection, budget, logger: logger)
            if let filter = budget.rollupFilter {
                let start = budget.period.start(at: time)
                try await connection.query(
                    """
                    INSERT INTO budget_spend(budget_id, period_start, spent_micros)
                    SELECT \(budget.id.rawValue), \(start.millis), SUM(cost_micros) FROM usage_days
                    WHERE org_id = \(budget.organizationID.rawValue) AND day >= \(start.epochDay)
                      AND (\(filter.workspace) = '' OR workspace_id = \(filter.workspace))
                      AND (\(filter.task) = '' OR task_type = \(filter.task))
                    HAVING SUM(cost_micros) > 0
                    """, logger: logger)
            }
            return budget
        }
    }

    public func budgets(_ organizationID: OrganizationID, at time: Timestamp, includingDisabled: Bool) async throws
        -> [BudgetStanding]
    {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let budgets = try await Self.budgets(
                connection, organizationID, includingDisabled: includingDisabled, logger: self.logger)
            return try await Self.standings(connection, organizationID, budgets, at: time, logger: self.logger)
        }
    }

    public func disableBudget(_ organizationID: OrganizationID, _ id: BudgetID, at time: Timestamp) async throws -> Budget {
        try await transaction { connection in
            _ = try await Self.lockOrganization(connection, organizationID, logger: self.logger)
            guard
                var budget = try await Self.budgets(connection, organizationID, includingDisabled: true, logger: self.logger)
                    .first(where: { $0.id == id })
            else { throw StoreError.budgetNotFound(id.rawValue) }
            guard budget.disabledAt == nil else { return budget }
            try await connection.query(
                "UPDATE budgets SET disabled_at = \(time.millis) WHERE id = \(id.rawValue) AND org_id = \(organizationID.rawValue)",
                logger: self.logger)
            budget.disabledAt = time
            return budget
        }
    }

    static func insertBudget(_ connection: PostgresConnection, _ budget: Budget, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO budgets(id, org_id, scope, scope_id, label, limit_micros, period, mode, alert_at, created_at)
            VALUES (\(budget.id.rawValue), \(budget.organizationID.rawValue), \(budget.scope.rawValue), \(budget.scopeID),
                    \(budget.label), \(budget.limit.rawValue), \(budget.period.rawValue), \(budget.mode.rawValue),
                    \(budget.alertAtText), \(budget.createdAt.millis))
            """, logger: logger)
    }

    static func budgets(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, includingDisabled: Bool, logger: Logger
    )
        async throws -> [Budget]
    {
        try await connection.query(
            """
            SELECT * FROM budgets WHERE org_id = \(organizationID.rawValue) AND (\(includingDisabled) OR disabled_at IS NULL)
            ORDER BY created_at, id
            """, logger: logger
        ).rows().map { row in
            Budget(
                id: BudgetID(rawValue: try row.string("id")), organizationID: organizationID,
                scope: try StoreError.decode(try row.string("scope"), column: "budgets.scope"),
                scopeID: try row.string("scope_id"), label: try row.string("label"),
                limit: MicroDollars(rawValue: try row.int64("limit_micros")),
                period: try StoreError.decode(try row.string("period"), column: "budgets.period"),
                mode: try StoreError.decode(try row.string("mode"), column: "budgets.mode"),
                alertAt: try Budget.alertAt(stored: try row.string("alert_at")),
                createdAt: Timestamp(rawValue: try row.int64("created_at")),
                disabledAt: try row.optionalInt64("disabled_at").map { Timestamp(rawValue: $0) })
        }
    }

    /// The budgets with their spend in the period holding `time` and their holds.
    static func standings(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ budgets: [Budget], at time: Timestamp,
        logger: Logger
    ) async throws -> [BudgetStanding] {
        guard !budgets.isEmpty else { return [] }
        let keys = budgets.map { MeteringWrites.BudgetSpendKey(budgetID: $0.id, periodStart: $0.period.start(at: time)) }
        var spent: [MeteringWrites.BudgetSpendKey: Int64] = [:]
        for row in try await connection.query(
            """
            SELECT budget_id, period_start, spent_micros FROM budget_spend
            WHERE (budget_id, period_start) IN (
                SELECT * FROM unnest(\(keys.map(\.budgetID.rawValue))::text[], \(keys.map(\.periodStart.millis))::int8[]))
            """, logger: logger
        ).rows() {
            spent[
                MeteringWrites.BudgetSpendKey(
                    budgetID: BudgetID(rawValue: try row.string("budget_id")),
                    periodStart: Timestamp(rawValue: try row.int64("period_start")))] = try row.int64("spent_micros")
        }
        let held = try await heldBySubject(connection, organizationID, at: time, logger: logger)
        return zip(budgets, keys).map { budget, key in
            BudgetStanding(
                budget: budget, spent: MicroDollars(rawValue: spent[key] ?? 0), held: held.held(for: budget),
                periodStart: key.periodStart, resetsAt: budget.period.resetsAt(time))
        }
    }

    /// The organization's holds active at `time`, summed by what they are attributed to.
    static func heldBySubject(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, at time: Timestamp, logger: Logger
    ) async throws -> HeldBySubject {
        HeldBySubject(
            rows: try await connection.query(
                """
                SELECT workspace_id, api_key_id, task_type, run_id, SUM(amount_micros)::int8 AS held FROM holds
                WHERE org_id = \(organizationID.rawValue) AND status = 'held' AND expires_at > \(time.millis)
                GROUP BY workspace_id, api_key_id, task_type, run_id
                """, logger: logger
            ).rows().map { row in
                (
                    BudgetSubject(
                        workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)),
                        apiKeyID: try row.optionalString("api_key_id").map(APIKeyID.init(rawValue:)),
                        taskType: try row.optionalString("task_type"), runID: try row.optionalString("run_id")),
                    MicroDollars(rawValue: try row.int64("held"))
                )
            })
    }
}
