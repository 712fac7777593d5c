import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    public func recordUsage(_ batch: UsageBatch) async throws -> UsageBatchResult {
        let priced = try catalog.withLock { $0 }.priceBatch(batch.events)
        let ingest = GroupCommitter.Ingest(batch: batch, priced: priced)
        switch try await groupWrite(merge: .usage(ingest), { db in try Self.recordUsage(db, batch, priced: priced) }) {
        case .replayed(let stored): return .replayed(stored)
        case .committed(let outcome, let stored?): return .committed(outcome, stored)
        case .committed(let outcome, nil):
            // Without an idempotency key nothing stores the response: render it here, off
            // the single writer thread.
            return .committed(
                outcome,
                batch.rendersResponse
                    ? UsageResponse.render(outcome, upgradeURL: batch.upgradeURL) : UsageResponse.statusOnly(outcome))
        }
    }

    /// What one ingest request produced; the response is rendered inside the transaction
    /// only when an idempotency key needs it stored.
    enum BatchWrite: Sendable {
        case committed(UsageBatchOutcome, StoredResponse?)
        case replayed(StoredResponse)
    }

    typealias IngestRequest = IngestGroup<SQLiteMeteringSource>.Request

    /// One ingest request on its own (in its own savepoint). Holds past their expiry are
    /// released first, so the request spends against the holds of this moment.
    static func recordUsage(_ db: Database, _ batch: UsageBatch, priced: [PricedCost]) throws -> BatchWrite {
        let (organization, accounts, holds) = try lockForMoney(db, batch.organizationID, now: batch.receivedAt)
        return try recordUsage(
            db, [IngestRequest(batch: batch, priced: priced)], organization: organization, accounts: accounts, held: holds.held
        ).answers[0].get()
    }

    /// Ingest requests of one organization inside one write transaction, for an
    /// organization locked and read already, with `held` set aside by its holds: decided by
    /// `IngestGroup` from what is read here under the write lock, the rows written together
    /// (events, usage entries, balances, counters, rollups), then each request's alerts and
    /// kept response. A key used before with another body fails its request alone; any
    /// other failure throws, for the caller to roll back. Also returns the credit balance
    /// the requests leave.
    static func recordUsage(
        _ db: Database, _ requests: [IngestRequest], organization: Organization,
        accounts: [AccountCode: (id: Int64, balance: Int64)], held: MicroDollars
    ) throws -> (answers: [Result<BatchWrite, StoreError>], creditBalance: MicroDollars) {
        var group = IngestGroup(
            organization: organization, source: SQLiteMeteringSource(db: db, organizationID: organization.id),
            creditBalance: MicroDollars(rawValue: accounts[.credit]!.balance), usageBalance: accounts[.usage]!.balance,
            held: held)
        try group.decide(requests) { key in try storedResponse(db, organization.id, key: key) }
        try write(db, group.writes, organization: organization.id, accounts: accounts.mapValues(\.id))
        let spent = group.writes.entries.reduce(Int64(0)) { $0 + $1.amount.rawValue }
        if spent > 0 { try consumeLots(db, organization.id, MicroDollars(rawValue: spent)) }
        var newAlerts: [Int: Set<String>] = [:]
        for (index, draft, time) in group.alertsToLog(requests) where try logAlert(db, organization.id, draft, at: time) {
            newAlerts[index, default: []].insert(MeteringRun<SQLiteMeteringSource>.alertKey(draft))
        }
        let (answers, kept) = group.finish(requests, newAlerts: newAlerts)
        for keep in kept { try keepResponse(db, organization.id, keep.claim, keep.response, at: keep.at) }
        let writes = answers.map { answer in
            answer.map { answer -> BatchWrite in
                switch answer {
                case .committed(let outcome, let response): .committed(outcome, response)
                case .replayed(let stored): .replayed(stored)
                }
            }
        }
        return (writes, group.writes.creditBalance)
    }

    /// Keeps a response under its Idempotency-Key, in the transaction that produced it.
    static func keepResponse(
        _ db: Database, _ organizationID: OrganizationID, _ claim: UsageBatch.IdempotencyClaim, _ response: StoredResponse,
        at time: Timestamp
    ) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO idempotency_records(org_id, idem_key, request_hash, status, response, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            organizationID.rawValue, claim.key, claim.requestHash, response.status, response.body, time.millis,
        ])
    }

    /// The response stored under an Idempotency-Key, with the fingerprint of its body.
    static func storedResponse(_ db: Database, _ organizationID: OrganizationID, key: String) throws
        -> (hash: String, response: StoredResponse)?
    {
        try Row.fetchOne(
            try db.cachedStatement(
                sql: "SELECT request_hash, status, response FROM idempotency_records WHERE org_id = ? AND idem_key = ?"),
            arguments: [organizationID.rawValue, key]
        ).map { row in (row["request_hash"], StoredResponse(status: row["status"], body: row["response"])) }
    }

    /// The organization and its ledger accounts (id and balance of each), in one query read
    /// through the C API. Writers call it under the write lock: nothing changes them until
    /// the transaction ends.
    static func lockedOrganization(_ db: Database, _ id: OrganizationID) throws
        -> (
            organization: Organization, accounts: [AccountCode: (id: Int64, balance: Int64)], holds: HoldTotals,
            lotExpiry: Timestamp?
        )
    {
        var query = RawStatement(
            try db.cachedStatement(
                sql: """
                    SELECT o.id, o.name, o.slug, o.plan, o.hard_stop_exempt, o.ever_credited, o.stripe_customer_id,
                           o.created_at, a.id, a.code, a.balance_micros, a.held_micros, a.hold_expiry_next,
                           a.lot_expiry_next
                    FROM organizations o JOIN accounts a ON a.org_id = o.id WHERE o.id = ?
                    """))
        var organization: Organization?
        var accounts: [AccountCode: (id: Int64, balance: Int64)] = [:]
        var holds = HoldTotals.none
        var lotExpiry: Timestamp?
        try query.query({ $0.text(id.rawValue) }) { row in
            if row.text(9) == AccountCode.credit.rawValue {
                holds = HoldTotals(
                    held: MicroDollars(rawValue: row.integer(11)),
                    nextExpiry: row.optionalInteger(12).map { Timestamp(rawValue: $0) })
                lotExpiry = row.optionalInteger(13).map { Timestamp(rawValue: $0) }
            }
            if organization == nil {
                organization = Organization(
                    id: OrganizationID(rawValue: row.text(0) ?? ""), name: row.text(1) ?? "", slug: row.text(2) ?? "",
                    plan: try StoreError.decode(row.text(3) ?? "", column: "organizations.plan"),
                    hardStopExempt: row.integer(4) != 0,
                    everCredited: row.integer(5) != 0, stripeCustomerID: row.text(6),
                    createdAt: Timestamp(rawValue: row.integer(7)))
            }
            if let code = row.text(9).flatMap(AccountCode.init(rawValue:)) { accounts[code] = (row.integer(8), row.integer(10)) }
        }
        guard let organization, accounts.count == AccountCode.allCases.count else {
            throw StoreError.organizationNotFound(id.rawValue)
        }
        return (organization, accounts, holds, lotExpiry)
    }

    /// Writes the rows metering runs gathered (alerts are logged by the caller, request by request).
    private static func write(
        _ db: Database, _ writes: MeteringWrites, organization: OrganizationID, accounts: [AccountCode: Int64]
    ) throws {
        try EventInsert.statement.insert(db, writes.events) { event, row in
            EventInsert.bind(event, organization: organization, into: &row)
        }
        // Usage entries: from the organization's credit account to its usage account.
        try insertEntries(
            db,
            writes.entries.map { entry in
                EntryRow(
                    id: entry.id, organizationID: organization, kind: .usage, debitAccountID: accounts[.credit]!,
                    creditAccountID: accounts[.usage]!, amount: entry.amount, reference: entry.reference,
                    externalReference: nil, memo: entry.memo, debitBalanceAfter: entry.creditBalanceAfter.rawValue,
                    creditBalanceAfter: entry.usageBalanceAfter, time: entry.timestamp)
            })
        if !writes.entries.isEmpty {
            var set = RawStatement(try db.cachedStatement(sql: "UPDATE accounts SET balance_micros = ? WHERE id = ?"))
            for (balance, account) in [
                (writes.creditBalance.rawValue, accounts[.credit]!), (writes.usageBalance, accounts[.usage]!),
            ] {
                try set.run { row in
                    row.integer(balance)
                    row.integer(account)
                }
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO usage_months(org_id, workspace_id, month, tokens, cost_micros, events)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(org_id, workspace_id, month) DO UPDATE SET
                    tokens = tokens + excluded.tokens, cost_micros = cost_micros + excluded.cost_micros,
                    events = events + excluded.events
                """)
        var upsertMonth = RawStatement(upsert)
        for (key, counter) in writes.counters {
            try upsertMonth.run { row in
                row.text(organization.rawValue)
                row.text(key.workspace)
                row.text(key.month.text)
                row.integer(counter.tokens)
                row.integer(counter.cost)
                row.integer(counter.events)
            }
        }
        if !writes.budgetSpend.isEmpty {
            let upsertSpend = try db.cachedStatement(
                sql: """
                    INSERT INTO budget_spend(budget_id, period_start, spent_micros) VALUES (?, ?, ?)
                    ON CONFLICT(budget_id, period_start) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros
                    """)
            for (key, amount) in writes.budgetSpend {
                try upsertSpend.execute(arguments: [key.budgetID.rawValue, key.periodStart.millis, amount])
            }
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
        var upsertDayRow = RawStatement(upsertDay)
        for (key, totals) in writes.days {
            try upsertDayRow.run { row in
                row.text(organization.rawValue)
                row.integer(key.day)
                row.text(key.workspace)
                row.text(key.provider)
                row.text(key.model)
                row.text(key.taskType)
                row.integer(totals.events)
                row.integer(totals.tokens.input)
                row.integer(totals.tokens.output)
                row.integer(totals.tokens.cacheRead)
                row.integer(totals.tokens.cacheWrite)
                row.integer(totals.tokens.reasoning)
                row.integer(totals.cost.rawValue)
            }
        }
    }

    /// The multi-row INSERT of usage events.
    package enum EventInsert {
        package static let statement = ChunkedInsert(
            """
            INSERT INTO usage_events(id, org_id, workspace_id, client_event_id, provider, model, task_type,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                cost_micros, cost_kind, price_version, source, ts, recorded_at, entry_id)
            """, columns: 19)

        /// Binds one row's 19 values, in the column order above.
        static func bind(_ event: MeteringWrites.Event, organization: OrganizationID, into row: inout RawStatement) {
            // Fields are read through `event` (a local copy of `event.input` would retain and
            // release each of its strings).
            row.text(event.id.rawValue)
            row.text(organization.rawValue)
            row.text(event.workspaceID?.rawValue)
            row.text(event.input.clientEventID)
            row.text(event.input.provider)
            row.text(event.input.model)
            row.text(event.input.taskType)
            row.integer(event.input.tokens.input)
            row.integer(event.input.tokens.output)
            row.integer(event.input.tokens.cacheRead)
            row.integer(event.input.tokens.cacheWrite)
            row.integer(event.input.tokens.reasoning)
            row.integer(event.priced.cost.rawValue)
            row.text(event.priced.kind.rawValue)
            row.text(event.priced.catalogVersion)
            row.text(event.input.source)
            row.integer(event.timestamp.millis)
            row.integer(event.recordedAt.millis)
            row.text(event.entryID?.rawValue)
        }
    }

    public func usageEvents(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<UsageEventRecord> {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e
                    LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = ? AND e.seq < ? AND (?3 IS NULL OR e.workspace_id = ?3) ORDER BY e.seq DESC LIMIT ?4
                    """, arguments: [organizationID.rawValue, page.before ?? Int64.max, page.workspace?.rawValue, page.limit + 1])
            return Page(pageOf: try rows.map(Self.usageEvent), limit: page.limit, sequence: \.sequence)
        }
    }

    public func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int,
        order: SequenceOrder
    ) async throws -> [UsageEventRecord] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e
                    LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = ? AND e.seq \(order.comparison) ? AND e.ts >= ? AND e.ts < ?
                    ORDER BY e.seq \(order.keyword) LIMIT ?
                    """,
                arguments: [
                    organizationID.rawValue, order.start(after), from?.millis ?? Int64.min, to?.millis ?? Int64.max,
                    min(max(limit, 1), Limits.pageRowsMax),
                ]
            ).map(Self.usageEvent)
        }
    }

    static func usageEvent(_ row: Row) throws -> UsageEventRecord {
        UsageEventRecord(
            sequence: row["seq"], id: UsageEventID(rawValue: row["id"]),
            organizationID: OrganizationID(rawValue: row["org_id"]),
            workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)),
            workspaceName: row["workspace_name"], clientEventID: row["client_event_id"], provider: row["provider"],
            model: row["model"], taskType: row["task_type"],
            tokens: TokenCounts(
                input: row["input_tokens"], output: row["output_tokens"], cacheRead: row["cache_read_tokens"],
                cacheWrite: row["cache_write_tokens"], reasoning: row["reasoning_tokens"]),
            cost: MicroDollars(rawValue: row["cost_micros"]),
            costKind: try StoreError.decode(row["cost_kind"], column: "usage_events.cost_kind"),
            priceVersion: row["price_version"], source: row["source"], timestamp: Timestamp(rawValue: row["ts"]),
            recordedAt: Timestamp(rawValue: row["recorded_at"]),
            entryID: (row["entry_id"] as String?).map(EntryID.init(rawValue:)))
    }
}

/// What a metering run reads, read lazily inside the SQLite write transaction. When
/// several requests are decided together, what the earlier ones will write is absorbed
/// here (their rows are written only after the last is decided), so each later request
/// reads it as if it were stored.
struct SQLiteMeteringSource: MeteringSource {
    let db: Database
    let organizationID: OrganizationID
    /// Events recorded by earlier requests of the group, by client `event_id`.
    private var recordedInGroup: [String: RecordedEvent] = [:]
    /// Month counters as stored, each read once.
    private var storedCounters: [MeteringWrites.CounterKey: (tokens: Int64, cost: Int64)] = [:]
    /// What earlier requests of the group add to the month counters.
    private var groupCounters: [MeteringWrites.CounterKey: (tokens: Int64, cost: Int64)] = [:]
    /// Workspaces looked up in this transaction, by the reference events named them with
    /// (`nil`: no such workspace). Nothing else changes workspaces before commit, and the
    /// ones this group creates are added as they are, so a batch naming a workspace on every
    /// event reads it once instead of once per event.
    private var workspaces: [String: Workspace?] = [:]
    /// The organization's earliest workspace, once read (events fold into it at the plan's cap).
    private var earliest: Workspace??
    /// Client event ids looked up ahead for the request about to be decided: those recorded
    /// before this transaction, and those known not to be.
    private var recordedBefore: [String: RecordedEvent] = [:]
    private var notRecordedBefore: Set<String> = []
    /// The organization's budgets in force, once read.
    private var activeBudgets: [Budget]?
    /// Budget spend as stored, each read once; and what earlier requests of the group add.
    private var storedSpend: [MeteringWrites.BudgetSpendKey: Int64] = [:]
    private var groupSpend: [MeteringWrites.BudgetSpendKey: Int64] = [:]
    /// Active holds by what they are attributed to, once read.
    private var holds: HeldBySubject?

    init(db: Database, organizationID: OrganizationID) {
        self.db = db
        self.organizationID = organizationID
    }

    /// Folds in what a run of the same group will write.
    mutating func absorb(_ writes: MeteringWrites) {
        writes.fold(counters: &groupCounters, recorded: &recordedInGroup, budgetSpend: &groupSpend)
    }

    mutating func budgets() throws -> [Budget] {
        if let activeBudgets { return activeBudgets }
        let found = try SQLiteStore.budgets(db, organizationID, includingDisabled: false)
        activeBudgets = found
        return found
    }

    mutating func storedBudgetSpend(_ key: MeteringWrites.BudgetSpendKey) throws -> MicroDollars {
        if storedSpend[key] == nil { storedSpend[key] = try SQLiteStore.budgetSpend(db, key) }
        return MicroDollars(rawValue: storedSpend[key]! + (groupSpend[key] ?? 0))
    }

    mutating func budgetHeld(_ budget: Budget, at time: Timestamp) throws -> MicroDollars {
        if holds == nil { holds = try SQLiteStore.heldBySubject(db, organizationID, at: time) }
        return holds!.held(for: budget)
    }

    /// Looks up a request's client event ids in one query per 500, instead of one per event.
    mutating func expect(clientEventIDs: [String]) throws {
        let unknown = Array(Set(clientEventIDs.filter { recordedInGroup[$0] == nil && recordedBefore[$0] == nil }))
        for start in stride(from: 0, to: unknown.count, by: 500) {
            let chunk = Array(unknown[start..<min(start + 500, unknown.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            var found: Set<String> = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT client_event_id, id, cost_micros, cost_kind, workspace_id FROM usage_events
                    WHERE org_id = ? AND client_event_id IN (\(marks))
                    """, arguments: StatementArguments([organizationID.rawValue] + chunk))
            {
                let id: String = row["client_event_id"]
                found.insert(id)
                recordedBefore[id] = RecordedEvent(
                    id: UsageEventID(rawValue: row["id"]), cost: MicroDollars(rawValue: row["cost_micros"]),
                    costKind: try StoreError.decode(row["cost_kind"], column: "usage_events.cost_kind"),
                    workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)))
            }
            notRecordedBefore.formUnion(chunk.filter { !found.contains($0) })
        }
    }

    func recordedEvent(clientEventID: String) throws -> RecordedEvent? {
        if let recorded = recordedInGroup[clientEventID] { return recorded }
        if let recorded = recordedBefore[clientEventID] { return recorded }
        if notRecordedBefore.contains(clientEventID) { return nil }
        return try Row.fetchOne(
            try db.cachedStatement(
                sql: "SELECT id, cost_micros, cost_kind, workspace_id FROM usage_events WHERE org_id = ? AND client_event_id = ?"),
            arguments: [organizationID.rawValue, clientEventID]
        ).map { row in
            RecordedEvent(
                id: UsageEventID(rawValue: row["id"]), cost: MicroDollars(rawValue: row["cost_micros"]),
                costKind: try StoreError.decode(row["cost_kind"], column: "usage_events.cost_kind"),
                workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)))
        }
    }

    mutating func workspace(_ reference: String) throws -> Workspace? {
        if let known = workspaces[reference] { return known }
        let found = try SQLiteStore.findWorkspace(db, organizationID, reference)
        workspaces[reference] = .some(found)
        return found
    }

    func workspaceCount() throws -> Int { try SQLiteStore.workspaceCount(db, organizationID) }

    mutating func earliestWorkspace() throws -> Workspace? {
        if let earliest { return earliest }
        let found = try SQLiteStore.earliestWorkspace(db, organizationID)
        if found != nil { earliest = .some(found) }
        return found
    }

    mutating func createWorkspace(name: String, at time: Timestamp) throws -> Workspace {
        let created = try SQLiteStore.insertWorkspace(db, organizationID, name: name, budget: nil, at: time)
        // Every reference that resolves to it from now on; a cached miss under another
        // spelling would be stale, so those are forgotten.
        workspaces = workspaces.filter { $0.value != nil }
        for reference in [name, created.id.rawValue, created.slug] { workspaces[reference] = .some(created) }
        return created
    }

    mutating func storedMonthTokens(_ month: CivilMonth) throws -> Int64 {
        try counter(MeteringWrites.CounterKey(workspace: "", month: month)).tokens
    }

    /// A month counter as stored plus what earlier requests of the group add.
    private mutating func counter(_ key: MeteringWrites.CounterKey) throws -> (tokens: Int64, cost: Int64) {
        let stored = try storedCounter(key)
        let added = groupCounters[key] ?? (0, 0)
        return (stored.tokens + added.tokens, stored.cost + added.cost)
    }

    /// A month counter as the database holds it (read once: nothing else writes it before commit).
    private mutating func storedCounter(_ key: MeteringWrites.CounterKey) throws -> (tokens: Int64, cost: Int64) {
        if let known = storedCounters[key] { return known }
        var query = RawStatement(
            try db.cachedStatement(
                sql: "SELECT tokens, cost_micros FROM usage_months WHERE org_id = ? AND workspace_id = ? AND month = ?"))
        var found: (tokens: Int64, cost: Int64) = (0, 0)
        try query.query({ row in
            row.text(organizationID.rawValue)
            row.text(key.workspace)
            row.text(key.month.text)
        }) { row in found = (row.integer(0), row.integer(1)) }
        storedCounters[key] = found
        return found
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
