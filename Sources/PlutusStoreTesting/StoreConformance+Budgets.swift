import PlutusCore
import PlutusStore
import Testing

/// Budgets: what every store must do with them.
extension StoreConformance {
    static func budget(
        _ store: some BillingStore, _ org: OrganizationID, _ scope: BudgetScope, _ reference: String = "", limit: String,
        period: BudgetPeriod = .month, mode: BudgetMode = .hard, alertAt: [Int] = Budgets.defaultAlertAt,
        at time: Timestamp = now
    ) async throws -> Budget {
        try await store.createBudget(
            BudgetRequest(
                organizationID: org, scope: scope, scopeReference: reference, limit: dollars(limit), period: period, mode: mode,
                alertAt: alertAt), at: time)
    }

    static func spend(
        _ store: some BillingStore, _ org: OrganizationID, _ cost: String, workspace: String? = nil, task: String = "general",
        run: String? = nil, key: APIKeyID? = nil, at time: Timestamp = now
    ) async throws -> EventOutcome {
        let event = UsageEventInput(
            provider: "p", taskType: task, workspace: workspace, exactCost: dollars(cost), runID: run)
        let result = try await store.recordUsage(
            UsageBatch(organizationID: org, events: [event], receivedAt: time, apiKeyID: key))
        return outcome(result)!.events[0]
    }

    /// A hard workspace budget of $10 a month: spend and holds in the workspace fit in it up to
    /// exactly the limit, counting what is held; other workspaces are not limited by it.
    public static func hardBudgetsRefuseSpendAndHoldsPastTheirLimit(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        // Named before it exists: the workspace is created with the budget.
        let research = try await budget(store, org, .workspace, "research", limit: "10")
        #expect(research.label == "research" && research.scope == .workspace)
        #expect(try await store.listWorkspaces(org).map(\.name) == ["research"])
        #expect(try await spend(store, org, "6", workspace: "research").status == .recorded)
        let refused = try await spend(store, org, "5", workspace: "research")
        #expect(refused.status == .rejected(.overBudget))
        #expect(refused.budgetRefusal?.standing.spent == dollars("6"))
        #expect(refused.budgetRefusal?.standing.budget.id == research.id)
        #expect(
            refused.budgetRefusal?.sentence
                == "budget exceeded: workspace research, $10.00 monthly, spent $6.00, this call $5.00, resets 2026-12-01T00:00:00Z"
        )
        #expect(try await spend(store, org, "5", workspace: "ops").status == .recorded)
        // A hold of exactly what is left fits; then nothing more does, spend or hold.
        let held = placed(try await hold(store, org, "4", workspace: "research"))
        #expect(held?.workspaceID?.rawValue == research.scopeID)
        #expect(try await spend(store, org, "0.000001", workspace: "research").status == .rejected(.overBudget))
        guard case .refusedByBudget(let holdRefusal) = try await hold(store, org, "0.01", workspace: "research") else {
            Issue.record("a hold past the budget was not refused by it")
            return
        }
        #expect(holdRefusal.standing.held == dollars("4"))
        // The settle is charged in full; its hold no longer counts.
        guard let held else { return }
        _ = try await settle(store, org, held.id, event(cost: "3"))
        #expect(try await spend(store, org, "1", workspace: "research").status == .recorded)
        let standing = try await store.budgets(org, at: now, includingDisabled: false).first { $0.budget.id == research.id }
        #expect(standing?.spent == dollars("10") && standing?.held == .zero && standing?.remaining == .zero)
        #expect(standing?.resetsAt == Timestamp.parseISO8601("2026-12-01T00:00:00Z"))
        #expect(try await store.verify().isClean)
    }

    /// Budgets on an API key, a task type and a run limit only what they cover; the
    /// organization's budget limits everything; a disabled budget limits nothing.
    public static func budgetsCoverTheirOwnScopeOnly(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        let key = try await store.createAPIKey(org, name: "bot").info.id
        _ = try await budget(store, org, .key, key.rawValue, limit: "1")
        _ = try await budget(store, org, .task, "research", limit: "2")
        _ = try await budget(store, org, .run, "run-7", limit: "3")
        #expect(try await spend(store, org, "1.5", key: key).status == .rejected(.overBudget))
        #expect(try await spend(store, org, "1.5").status == .recorded)
        #expect(try await spend(store, org, "2.5", task: "research").status == .rejected(.overBudget))
        #expect(try await spend(store, org, "2.5", task: "chat").status == .recorded)
        #expect(try await spend(store, org, "3.5", run: "run-7").status == .rejected(.overBudget))
        #expect(try await spend(store, org, "3.5", run: "run-8").status == .recorded)
        let whole = try await budget(store, org, .org, limit: "10", period: .total)
        #expect(try await spend(store, org, "3").status == .rejected(.overBudget))
        _ = try await store.disableBudget(org, whole.id, at: now)
        #expect(try await spend(store, org, "3").status == .recorded)
        let listed = try await store.budgets(org, at: now, includingDisabled: true)
        #expect(listed.count == 4 && listed.filter { $0.budget.disabledAt != nil }.map(\.budget.id) == [whole.id])
        #expect(try await store.budgets(org, at: now, includingDisabled: false).count == 3)
        await #expect(throws: StoreError.self) { _ = try await budget(store, org, .key, "key_0000000000000000", limit: "1") }
        await #expect(throws: StoreError.budgetNotFound("bgt_0000000000000000")) {
            _ = try await store.disableBudget(org, BudgetID(rawValue: "bgt_0000000000000000"), at: now)
        }
        #expect(try await store.verify().isClean)
    }

    /// A soft budget records past its limit and alerts at each threshold once per period;
    /// a new period alerts again.
    public static func softBudgetsAlertOncePerPeriod(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        _ = try await budget(store, org, .org, limit: "1", period: .day, mode: .soft, alertAt: [500, 1_000])
        #expect(try await spend(store, org, "0.6").alerts.map(\.kind) == [.budgetWarn])
        #expect(try await spend(store, org, "0.6").alerts.map(\.kind) == [.budgetCap])
        let past = try await spend(store, org, "5")
        #expect(past.status == .recorded && past.alerts.isEmpty)
        let tomorrow = now.adding(seconds: 86_400)
        #expect(try await spend(store, org, "0.7", at: tomorrow).alerts.map(\.kind) == [.budgetWarn])
        #expect(
            try await store.recentAlerts(org, limit: 10).filter { $0.kind == .budgetWarn || $0.kind == .budgetCap }.count == 3)
    }

    /// A daily budget resets at midnight, but a hold placed before it still counts after.
    public static func aBudgetThatResetsMidHoldStillCountsTheHold(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        let evening = Timestamp.parseISO8601("2026-11-20T23:59:50Z")!
        let morning = Timestamp.parseISO8601("2026-11-21T00:00:10Z")!
        _ = try await budget(store, org, .org, limit: "1", period: .day, at: evening)
        #expect(try await spend(store, org, "0.1", at: evening).status == .recorded)
        #expect(placed(try await hold(store, org, "0.8", ttl: 600, at: evening)) != nil)
        #expect(try await spend(store, org, "0.2", at: evening).status == .rejected(.overBudget))
        // The day's spend starts again from zero; the hold is still held.
        #expect(try await spend(store, org, "0.3", at: morning).status == .rejected(.overBudget))
        #expect(try await spend(store, org, "0.2", at: morning).status == .recorded)
        let standing = try await store.budgets(org, at: morning, includingDisabled: false)[0]
        #expect(standing.spent == dollars("0.2") && standing.held == dollars("0.8"))
        #expect(standing.periodStart == Timestamp.parseISO8601("2026-11-21T00:00:00Z"))
    }

    /// A budget counts a call when it is received: a call reported late, dated yesterday,
    /// cannot spend yesterday's unused room once today's is used up.
    public static func lateCallsCountInThePeriodTheyArrive(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        _ = try await budget(store, org, .org, limit: "1", period: .day)
        #expect(try await spend(store, org, "1").status == .recorded)
        let yesterday = UsageEventInput(
            provider: "p", exactCost: dollars("0.5"), timestamp: Timestamp(rawValue: now.millis - 86_400_000))
        let late = outcome(try await store.recordUsage(UsageBatch(organizationID: org, events: [yesterday], receivedAt: now)))
        #expect(late?.events[0].status == .rejected(.overBudget))
        #expect(try await store.verify().isClean)
    }

    /// 64 concurrent holds of $0.10 in a workspace with a $1.00 hard budget and plenty of
    /// credit: exactly 10 are placed.
    public static func concurrentHoldsNeverOverspendABudget(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        let research = try await budget(store, org, .workspace, "research", limit: "1")
        let placedCount = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask { placed(try await hold(store, org, "0.1", workspace: "research")) == nil ? 0 : 1 }
            }
            return try await group.reduce(0, +)
        }
        #expect(placedCount == 10)
        let standing = try await store.budgets(org, at: now, includingDisabled: false).first { $0.budget.id == research.id }
        #expect(standing?.held == dollars("1") && standing?.remaining == .zero)
        #expect(try await store.balance(org, at: now).available == dollars("99"))
        #expect(try await store.verify().isClean)
    }

    /// A workspace's monthly budget is a soft monthly budget of that workspace.
    public static func workspaceMonthlyBudgetsAreSoftBudgets(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let workspace = try await store.createWorkspace(org, name: "ci", monthlyBudget: dollars("150"))
        let budgets = try await store.budgets(org, at: now, includingDisabled: false).map(\.budget)
        #expect(budgets.count == 1)
        #expect(budgets.first?.scope == .workspace && budgets.first?.scopeID == workspace.id.rawValue)
        #expect(budgets.first?.mode == .soft && budgets.first?.period == .month && budgets.first?.alertAt == [500, 800, 1_000])
        #expect(budgets.first?.limit == dollars("150"))
    }
}
