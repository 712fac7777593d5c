import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    public func recordUsage(_ batch: UsageBatch) async throws -> UsageBatchResult {
        let priced = try Self.price(batch.events, with: catalog.withLock { $0 })
        switch try await groupWrite({ db in try Self.recordUsage(db, batch, priced: priced) }) {
        case .replayed(let stored): return .replayed(stored)
        case .committed(let outcome, let stored?): return .committed(outcome, stored)
        case .committed(let outcome, nil):
            // Without an idempotency key nothing stores the response: render it here, off
            // the single writer thread.
            return .committed(outcome, UsageResponse.render(outcome, upgradeURL: batch.upgradeURL))
        }
    }

    /// What one ingest transaction produced; the response is rendered inside it only when
    /// an idempotency key needs it stored.
    enum BatchWrite: Sendable {
        case committed(UsageBatchOutcome, StoredResponse?)
        case replayed(StoredResponse)
    }

    /// Prices every event before the transaction opens, so an event whose estimate is out
    /// of range fails the whole batch before anything is written.
    static func price(_ events: [UsageEventInput], with catalog: PriceCatalog) throws(UsageFieldError) -> [PricedCost] {
        var priced: [PricedCost] = []
        priced.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            guard
                let cost = catalog.price(
                    provider: event.provider, model: event.model, tokens: event.tokens, exactCost: event.exactCost)
            else {
                throw UsageFieldError(
                    index: index, field: "tokens", code: .tooLarge,
                    rule: "the estimated cost must be at most \(Limits.eventCostMax.decimalString)",
                    found: "more than \(Limits.eventCostMax.formatted) at list price")
            }
            priced.append(cost)
        }
        return priced
    }

    /// One ingest request inside one write transaction: the idempotency claim, each event's
    /// quota and hard-stop decision read from the same snapshot it updates, the event and
    /// entry inserts, counters, alerts and the stored response.
    static func recordUsage(_ db: Database, _ batch: UsageBatch, priced: [PricedCost]) throws -> BatchWrite {
        let organization = try requireOrganization(db, batch.organizationID)
        if let claim = batch.idempotency,
            let stored = try Row.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT request_hash, status, response FROM idempotency_records WHERE org_id = ? AND idem_key = ?"),
                arguments: [organization.id.rawValue, claim.key])
        {
            guard stored["request_hash"] == claim.requestHash else { throw StoreError.idempotencyConflict(key: claim.key) }
            return .replayed(StoredResponse(status: stored["status"], body: stored["response"]))
        }
        let accounts = try accountRows(db, organization.id)
        var run = BatchRun(
            db: db, organization: organization, accounts: accounts.mapValues(\.id),
            balance: MicroDollars(rawValue: accounts[.credit]!.balance), usageBalance: accounts[.usage]!.balance,
            batch: batch)
        var outcomes: [EventOutcome] = []
        outcomes.reserveCapacity(batch.events.count)
        for (index, event) in batch.events.enumerated() {
            outcomes.append(try run.apply(event, priced: priced[index]))
        }
        try run.flush()
        let outcome = UsageBatchOutcome(
            organizationID: organization.id, plan: organization.plan,
            trackedTokensThisMonth: try run.monthTokens(batch.receivedAt.month), events: outcomes)
        guard let claim = batch.idempotency else { return .committed(outcome, nil) }
        let response = UsageResponse.render(outcome, upgradeURL: batch.upgradeURL)
        try db.cachedStatement(
            sql: """
                INSERT INTO idempotency_records(org_id, idem_key, request_hash, status, response, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            organization.id.rawValue, claim.key, claim.requestHash, response.status, response.body,
            batch.receivedAt.millis,
        ])
        return .committed(outcome, response)
    }

    public func usageEvents(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<UsageEventRecord> {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e
                    LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?
                    """, arguments: [organizationID.rawValue, page.before ?? Int64.max, page.limit + 1])
            return Self.page(rows.map(Self.usageEvent), limit: page.limit, sequence: \.sequence)
        }
    }

    public func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int
    ) async throws -> [UsageEventRecord] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e
                    LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = ? AND e.seq > ? AND e.ts >= ? AND e.ts < ?
                    ORDER BY e.seq LIMIT ?
                    """,
                arguments: [
                    organizationID.rawValue, after ?? 0, from?.millis ?? Int64.min, to?.millis ?? Int64.max,
                    min(max(limit, 1), Limits.pageRowsMax),
                ]
            ).map(Self.usageEvent)
        }
    }

    static func usageEvent(_ row: Row) -> UsageEventRecord {
        UsageEventRecord(
            sequence: row["seq"], id: UsageEventID(rawValue: row["id"]),
            organizationID: OrganizationID(rawValue: row["org_id"]),
            workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)),
            workspaceName: row["workspace_name"], clientEventID: row["client_event_id"], provider: row["provider"],
            model: row["model"], taskType: row["task_type"],
            tokens: TokenCounts(
                input: row["input_tokens"], output: row["output_tokens"], cacheRead: row["cache_read_tokens"],
                cacheWrite: row["cache_write_tokens"], reasoning: row["reasoning_tokens"]),
            cost: MicroDollars(rawValue: row["cost_micros"]), costKind: CostKind(rawValue: row["cost_kind"]) ?? .estimated,
            priceVersion: row["price_version"], source: row["source"], timestamp: Timestamp(rawValue: row["ts"]),
            recordedAt: Timestamp(rawValue: row["recorded_at"]))
    }
}

/// The running state of one batch inside its transaction: the balance and month counters
/// each decision reads are the ones the previous events of the batch left behind.
///
/// Account balances and month counters are kept here and written once, by `flush`, at the
/// end of the batch and inside its transaction, instead of once per event.
private struct BatchRun {
    struct Counter {
        var tokens: Int64 = 0
        var cost: Int64 = 0
        var events: Int64 = 0
    }

    struct CounterKey: Hashable {
        var workspace: String
        var month: CivilMonth
    }

    /// A row of the daily rollup (`usage_days`); '' stands for no workspace or model.
    struct DayKey: Hashable {
        var day: Int64
        var workspace: String
        var provider: String
        var model: String
        var taskType: String
    }

    let db: Database
    let organization: Organization
    let accounts: [AccountCode: Int64]
    var balance: MicroDollars
    /// The usage account's balance, moved in step with `balance`.
    var usageBalance: Int64
    let batch: UsageBatch
    var tokensByMonth: [CivilMonth: Int64] = [:]
    /// Counter increments not yet written, per workspace ('' = the organization) and month.
    var pendingCounters: [CounterKey: Counter] = [:]
    /// Workspace month spend as stored before this batch (read once per workspace and month).
    var storedWorkspaceSpend: [CounterKey: Int64] = [:]
    /// Daily rollup increments not yet written.
    var pendingDays: [DayKey: UsageTotals] = [:]
    var entriesWritten = false

    init(
        db: Database, organization: Organization, accounts: [AccountCode: Int64], balance: MicroDollars,
        usageBalance: Int64, batch: UsageBatch
    ) {
        self.db = db
        self.organization = organization
        self.accounts = accounts
        self.balance = balance
        self.usageBalance = usageBalance
        self.batch = batch
    }

    /// Writes the batch's account balances and month counters.
    func flush() throws {
        if entriesWritten {
            let set = try db.cachedStatement(sql: "UPDATE accounts SET balance_micros = ? WHERE id = ?")
            try set.execute(arguments: [balance.rawValue, accounts[.credit]!])
            try set.execute(arguments: [usageBalance, accounts[.usage]!])
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO usage_months(org_id, workspace_id, month, tokens, cost_micros, events)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(org_id, workspace_id, month) DO UPDATE SET
                    tokens = tokens + excluded.tokens, cost_micros = cost_micros + excluded.cost_micros,
                    events = events + excluded.events
                """)
        for (key, counter) in pendingCounters {
            try upsert.execute(arguments: [
                organization.id.rawValue, key.workspace, key.month.text, counter.tokens, counter.cost, counter.events,
            ])
        }
        let upsertDay = try db.cachedStatement(
            sql: """
                INSERT INTO usage_days(org_id, day, workspace_id, provider, model, task_type, events, input_tokens,
                    output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(org_id, day, workspace_id, provider, model, task_type) DO UPDATE SET
                    events = usage_days.events + excluded.events,
                    input_tokens = usage_days.input_tokens + excluded.input_tokens,
                    output_tokens = usage_days.output_tokens + excluded.output_tokens,
                    cache_read_tokens = usage_days.cache_read_tokens + excluded.cache_read_tokens,
                    cache_write_tokens = usage_days.cache_write_tokens + excluded.cache_write_tokens,
                    reasoning_tokens = usage_days.reasoning_tokens + excluded.reasoning_tokens,
                    cost_micros = usage_days.cost_micros + excluded.cost_micros
                """)
        for (key, totals) in pendingDays {
            try upsertDay.execute(arguments: [
                organization.id.rawValue, key.day, key.workspace, key.provider, key.model, key.taskType, totals.events,
                totals.tokens.input, totals.tokens.output, totals.tokens.cacheRead, totals.tokens.cacheWrite,
                totals.tokens.reasoning, totals.cost.rawValue,
            ])
        }
    }

    mutating func monthTokens(_ month: CivilMonth) throws -> Int64 {
        if let cached = tokensByMonth[month] { return cached }
        let tokens = try Int64.fetchOne(
            try db.cachedStatement(
                sql: "SELECT tokens FROM usage_months WHERE org_id = ? AND workspace_id = '' AND month = ?"),
            arguments: [organization.id.rawValue, month.text]) ?? 0
        tokensByMonth[month] = tokens
        return tokens
    }

    mutating func apply(_ event: UsageEventInput, priced: PricedCost) throws -> EventOutcome {
        if let duplicate = try previouslyRecorded(event) { return duplicate }
        let time = event.timestamp ?? batch.receivedAt
        let month = time.month
        let tokensBefore = try monthTokens(month)
        let snapshot = OrganizationSnapshot(
            plan: organization.plan, balance: balance, everCredited: organization.everCredited,
            hardStopExempt: organization.hardStopExempt, monthTrackedTokens: tokensBefore)
        switch Metering.decide(snapshot: snapshot, tokens: event.tokens, cost: priced.cost, policy: batch.policy) {
        case .reject(let rejection):
            var alerts: [AlertDraft] = []
            if rejection == .overBalance {
                alerts = try log([Alerting.hardStopAlert(balance: balance, at: batch.receivedAt)])
            }
            return EventOutcome(
                status: .rejected(rejection), eventID: nil, cost: rejection == .overFreeLimit ? .zero : priced.cost,
                costKind: priced.kind, balanceAfter: balance, overFreeLimit: rejection == .overFreeLimit,
                workspaceID: nil, alerts: alerts)
        case .record(let balanceAfter, let overFreeLimit):
            let workspace = try resolveWorkspace(event.workspace)
            let eventID = UsageEventID.timeOrdered(at: batch.receivedAt)
            try insert(event, id: eventID, workspace: workspace, priced: priced, at: time)
            if priced.cost.isPositive {
                // Usage: debit the organization's credit, credit its usage account.
                usageBalance += priced.cost.rawValue
                try SQLiteStore.insertEntry(
                    db, organizationID: organization.id, kind: .usage, debitAccountID: accounts[.credit]!,
                    creditAccountID: accounts[.usage]!, amount: priced.cost, reference: eventID.rawValue,
                    externalReference: nil, memo: "\(event.provider)/\(event.model ?? "-") \(event.taskType)",
                    debitBalanceAfter: balanceAfter.rawValue, creditBalanceAfter: usageBalance, at: time)
                entriesWritten = true
            }
            balance = balanceAfter
            let tokensAfter = tokensBefore + event.tokens.tracked
            tokensByMonth[month] = tokensAfter
            try count(event, cost: priced.cost, workspace: workspace?.id, month: month)
            let dayKey = DayKey(
                day: time.day.daysSinceEpoch, workspace: workspace?.id.rawValue ?? "", provider: event.provider,
                model: event.model ?? "", taskType: event.taskType)
            pendingDays[dayKey, default: .zero] = pendingDays[dayKey, default: .zero]
                + UsageTotals(events: 1, tokens: event.tokens, cost: priced.cost)
            var drafts: [AlertDraft] = []
            if let draft = Alerting.balanceAlert(
                balanceAfter: balanceAfter, everCredited: organization.everCredited, policy: batch.policy,
                at: batch.receivedAt)
            {
                drafts.append(draft)
            }
            if let workspace, let budget = workspace.monthlyBudget,
                let draft = Alerting.budgetAlert(
                    workspaceID: workspace.id, workspaceName: workspace.name, budget: budget,
                    spent: try workspaceSpend(workspace.id, month: month), policy: batch.policy, month: month)
            {
                drafts.append(draft)
            }
            if let draft = Alerting.quotaAlert(
                plan: organization.plan, tokensAfter: tokensAfter, policy: batch.policy, month: month)
            {
                drafts.append(draft)
            }
            return EventOutcome(
                status: .recorded, eventID: eventID, cost: priced.cost, costKind: priced.kind,
                balanceAfter: balanceAfter, overFreeLimit: overFreeLimit, workspaceID: workspace?.id,
                alerts: try log(drafts))
        }
    }

    /// A client `event_id` seen before for this organization: nothing new is written.
    private func previouslyRecorded(_ event: UsageEventInput) throws -> EventOutcome? {
        guard let clientEventID = event.clientEventID else { return nil }
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT id, cost_micros, cost_kind, workspace_id FROM usage_events
                        WHERE org_id = ? AND client_event_id = ?
                        """), arguments: [organization.id.rawValue, clientEventID])
        else { return nil }
        return EventOutcome(
            status: .duplicate, eventID: UsageEventID(rawValue: row["id"]), cost: MicroDollars(rawValue: row["cost_micros"]),
            costKind: CostKind(rawValue: row["cost_kind"]) ?? .estimated, balanceAfter: balance, overFreeLimit: false,
            workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)), alerts: [])
    }

    /// Finds the named workspace, or folds into the earliest at the plan's cap, or creates it.
    /// Only called for events that are recorded, so a refused event never creates one.
    private func resolveWorkspace(_ reference: String?) throws -> Workspace? {
        guard let reference else { return nil }
        if let found = try SQLiteStore.findWorkspace(db, organization.id, reference) { return found }
        let count = try Int.fetchOne(
            try db.cachedStatement(sql: "SELECT COUNT(*) FROM workspaces WHERE org_id = ?"),
            arguments: [organization.id.rawValue]) ?? 0
        switch Metering.chooseWorkspace(found: false, workspaceCount: count, plan: organization.plan) {
        case .existing:
            preconditionFailure("a workspace that was not found cannot be existing")
        case .foldIntoEarliest:
            return try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT * FROM workspaces WHERE org_id = ? ORDER BY created_at, rowid LIMIT 1"),
                arguments: [organization.id.rawValue]
            ).map(SQLiteStore.workspace)
        case .create:
            return try SQLiteStore.insertWorkspace(db, organization.id, name: reference, budget: nil, at: batch.receivedAt)
        }
    }

    private func insert(_ event: UsageEventInput, id: UsageEventID, workspace: Workspace?, priced: PricedCost, at time: Timestamp)
        throws
    {
        try db.cachedStatement(
            sql: """
                INSERT INTO usage_events(id, org_id, workspace_id, client_event_id, provider, model, task_type,
                    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                    cost_micros, cost_kind, price_version, source, ts, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            id.rawValue, organization.id.rawValue, workspace?.id.rawValue, event.clientEventID, event.provider,
            event.model, event.taskType, event.tokens.input, event.tokens.output, event.tokens.cacheRead,
            event.tokens.cacheWrite, event.tokens.reasoning, priced.cost.rawValue, priced.kind.rawValue,
            priced.catalogVersion, event.source, time.millis, batch.receivedAt.millis,
        ])
    }

    /// Adds the event to the organization's and its workspace's month counters (written by `flush`).
    private mutating func count(_ event: UsageEventInput, cost: MicroDollars, workspace: WorkspaceID?, month: CivilMonth) throws {
        for scope in [""] + (workspace.map { [$0.rawValue] } ?? []) {
            pendingCounters[CounterKey(workspace: scope, month: month), default: Counter()].tokens += event.tokens.tracked
            pendingCounters[CounterKey(workspace: scope, month: month), default: Counter()].cost += cost.rawValue
            pendingCounters[CounterKey(workspace: scope, month: month), default: Counter()].events += 1
        }
    }

    /// The workspace's month spend: as stored before this batch, plus this batch's events.
    private mutating func workspaceSpend(_ workspace: WorkspaceID, month: CivilMonth) throws -> MicroDollars {
        let key = CounterKey(workspace: workspace.rawValue, month: month)
        if storedWorkspaceSpend[key] == nil {
            storedWorkspaceSpend[key] = try Int64.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT cost_micros FROM usage_months WHERE org_id = ? AND workspace_id = ? AND month = ?"),
                arguments: [organization.id.rawValue, workspace.rawValue, month.text]) ?? 0
        }
        return MicroDollars(rawValue: storedWorkspaceSpend[key]! + (pendingCounters[key]?.cost ?? 0))
    }

    /// Logs alerts not yet raised for their (kind, subject, period); returns those logged.
    private func log(_ drafts: [AlertDraft]) throws -> [AlertDraft] {
        try drafts.filter { draft in
            try SQLiteStore.logAlert(db, organization.id, draft, at: batch.receivedAt)
        }
    }
}

extension SQLiteStore {
    /// Inserts an alert unless the same (kind, subject, period) was raised already.
    static func logAlert(_ db: Database, _ organizationID: OrganizationID, _ draft: AlertDraft, at time: Timestamp) throws
        -> Bool
    {
        try db.cachedStatement(
            sql: """
                INSERT INTO alerts(id, org_id, workspace_id, kind, subject, period, message, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id, kind, subject, period) DO NOTHING
                """
        ).execute(arguments: [
            AlertID.random().rawValue, organizationID.rawValue, draft.workspaceID?.rawValue, draft.kind.rawValue,
            draft.subject, draft.period, draft.message, time.millis,
        ])
        return db.changesCount == 1
    }
}
