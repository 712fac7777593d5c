import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    /// Records a batch through the per-organization group commit (`IngestGroups`): requests
    /// for one organization that arrive while its previous transaction runs are decided and
    /// written together in the next one, each with its own outcome.
    public func recordUsage(_ batch: UsageBatch) async throws -> UsageBatchResult {
        let priced = try await currentCatalog().priceBatch(batch.events)
        return try await ingest.submit(IngestJob(batch: batch, priced: priced), store: self)
    }

    /// One transaction for a group of requests of one organization: lock its accounts, read
    /// what every request's decisions need, decide them in order in memory (each starting
    /// from the balance and counters the previous one left), write all their rows in a few
    /// bulk statements, and store each keyed request's response. A request whose
    /// Idempotency-Key was used with another body fails alone; nothing else can fail one
    /// request without failing the transaction, which then answers every request.
    func commitGroup(_ jobs: [IngestJob]) async throws -> [Result<UsageBatchResult, StoreError>] {
        precondition(!jobs.isEmpty && Set(jobs.map(\.batch.organizationID)).count == 1, "one organization per group")
        return try await transaction { connection in
            let now = jobs.map(\.batch.receivedAt).max()!
            let (organization, accounts, totals) = try await Self.lockForMoney(
                connection, jobs[0].batch.organizationID, now: now, logger: self.logger)
            return try await Self.recordUsage(
                connection, jobs, organization: organization, accounts: accounts, held: totals.held, logger: self.logger)
        }
    }

    /// The requests decided and written, for an organization locked and read already, with
    /// `held` set aside by its holds.
    static func recordUsage(
        _ connection: PostgresConnection, _ jobs: [IngestJob], organization: Organization,
        accounts: [AccountCode: (id: Int64, balance: Int64)], held: MicroDollars, logger: Logger
    ) async throws -> [Result<UsageBatchResult, StoreError>] {
        let organizationID = organization.id
        let stored = try await Self.storedResponses(
            connection, organizationID, keys: jobs.compactMap(\.batch.idempotency?.key), logger: logger)
        var group = IngestGroup(
            organization: organization,
            source: try await PrefetchedSource.load(connection, organization, jobs.map(\.batch), logger: logger),
            creditBalance: MicroDollars(rawValue: accounts[.credit]!.balance), usageBalance: accounts[.usage]!.balance,
            held: held)
        let requests = jobs.map { IngestGroup<PrefetchedSource>.Request(batch: $0.batch, priced: $0.priced) }
        try group.decide(requests) { key in stored[key] }
        try await Self.write(
            connection, group.writes, created: group.source.created, organization: organizationID,
            accounts: accounts.mapValues(\.id), logger: logger)
        let spent = group.writes.entries.reduce(Int64(0)) { $0 + $1.amount.rawValue }
        if spent > 0 { try await consumeLots(connection, organizationID, MicroDollars(rawValue: spent), logger: logger) }
        var newAlerts: [Int: Set<String>] = [:]
        for (index, draft, time) in group.alertsToLog(requests)
        where try await Self.logAlert(connection, organizationID, draft, at: time, logger: logger) {
            newAlerts[index, default: []].insert(MeteringRun<PrefetchedSource>.alertKey(draft))
        }
        let (answers, kept) = group.finish(requests, newAlerts: newAlerts)
        let keyed = kept.map { ($0.claim, $0.response, $0.at) }
        let results: [Result<UsageBatchResult, StoreError>] = zip(requests, answers).map { request, answer in
            answer.map { answer in
                switch answer {
                case .committed(let outcome, let response):
                    .committed(
                        outcome,
                        response
                            ?? (request.batch.rendersResponse
                                ? UsageResponse.render(outcome, upgradeURL: request.batch.upgradeURL)
                                : UsageResponse.statusOnly(outcome)))
                case .replayed(let stored): .replayed(stored)
                }
            }
        }
        try await Self.storeResponses(connection, organizationID, keyed, logger: logger)
        return results
    }

    static func storedResponses(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, keys: [String], logger: Logger
    )
        async throws -> [String: (hash: String, response: StoredResponse)]
    {
        guard !keys.isEmpty else { return [:] }
        var stored: [String: (hash: String, response: StoredResponse)] = [:]
        for row in try await connection.query(
            """
            SELECT idem_key, request_hash, status, response FROM idempotency_records
            WHERE org_id = \(organizationID.rawValue) AND idem_key = ANY(\(keys)::text[])
            """, logger: logger
        ).rows() {
            let response = StoredResponse(status: Int(try row["status"].decode(Int32.self)), body: try row.string("response"))
            stored[try row.string("idem_key")] = (try row.string("request_hash"), response)
        }
        return stored
    }

    static func storeResponses(
        _ connection: PostgresConnection, _ organizationID: OrganizationID,
        _ keyed: [(UsageBatch.IdempotencyClaim, StoredResponse, Timestamp)], logger: Logger
    ) async throws {
        guard !keyed.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO idempotency_records(org_id, idem_key, request_hash, status, response, created_at)
            SELECT \(organizationID.rawValue), u.idem_key, u.request_hash, u.status, u.response, u.created_at
            FROM unnest(\(keyed.map(\.0.key))::text[], \(keyed.map(\.0.requestHash))::text[],
                        \(keyed.map { Int32($0.1.status) })::int4[], \(keyed.map(\.1.body))::text[],
                        \(keyed.map(\.2.millis))::int8[]) AS u(idem_key, request_hash, status, response, created_at)
            """, logger: logger)
    }

    /// A text array element standing for SQL NULL: validated text never holds control
    /// characters, so U+0001 cannot be a real value.
    static let nullMark = "\u{1}"

    /// Writes the rows metering runs gathered, in bulk (alerts are logged by the caller).
    private static func write(
        _ connection: PostgresConnection, _ writes: MeteringWrites, created: [Workspace], organization: OrganizationID,
        accounts: [AccountCode: Int64], logger: Logger
    ) async throws {
        try await insertWorkspaces(connection, created, logger: logger)
        if !writes.events.isEmpty { try await insertEvents(connection, writes.events, organization, logger: logger) }
        if !writes.entries.isEmpty {
            let entries = writes.entries
            try await connection.query(
                """
                INSERT INTO entries(id, org_id, debit_account_id, credit_account_id, amount_micros, kind, reference,
                                    memo, debit_balance_after_micros, credit_balance_after_micros, ts)
                SELECT u.id, \(organization.rawValue), \(accounts[.credit]!), \(accounts[.usage]!), u.amount, 'usage',
                       u.reference, u.memo, u.debit_after, u.credit_after, u.ts
                FROM unnest(\(entries.map(\.id.rawValue))::text[], \(entries.map(\.amount.rawValue))::int8[],
                            \(entries.map(\.reference))::text[], \(entries.map(\.memo))::text[],
                            \(entries.map(\.creditBalanceAfter.rawValue))::int8[], \(entries.map(\.usageBalanceAfter))::int8[],
                            \(entries.map(\.timestamp.millis))::int8[])
                    AS u(id, amount, reference, memo, debit_after, credit_after, ts)
                """, logger: logger)
            try await connection.query(
                """
                UPDATE accounts SET balance_micros = CASE id WHEN \(accounts[.credit]!) THEN \(writes.creditBalance.rawValue)
                                                             ELSE \(writes.usageBalance) END
                WHERE id IN (\(accounts[.credit]!), \(accounts[.usage]!))
                """, logger: logger)
        }
        if !writes.days.isEmpty { try await upsertDays(connection, writes.days, organization, logger: logger) }
        if !writes.budgetSpend.isEmpty {
            let spend = Array(writes.budgetSpend)
            try await connection.query(
                """
                INSERT INTO budget_spend(budget_id, period_start, spent_micros)
                SELECT * FROM unnest(\(spend.map(\.key.budgetID.rawValue))::text[], \(spend.map(\.key.periodStart.millis))::int8[],
                                     \(spend.map(\.value))::int8[])
                ON CONFLICT (budget_id, period_start) DO UPDATE SET
                    spent_micros = budget_spend.spent_micros + excluded.spent_micros
                """, logger: logger)
        }
        if !writes.counters.isEmpty {
            let counters = Array(writes.counters)
            try await connection.query(
                """
                INSERT INTO usage_months(org_id, workspace_id, month, tokens, cost_micros, events)
                SELECT \(organization.rawValue), u.workspace, u.month, u.tokens, u.cost, u.events
                FROM unnest(\(counters.map(\.key.workspace))::text[], \(counters.map(\.key.month.text))::text[],
                            \(counters.map(\.value.tokens))::int8[], \(counters.map(\.value.cost))::int8[],
                            \(counters.map(\.value.events))::int8[]) AS u(workspace, month, tokens, cost, events)
                ON CONFLICT (org_id, workspace_id, month) DO UPDATE SET
                    tokens = usage_months.tokens + excluded.tokens,
                    cost_micros = usage_months.cost_micros + excluded.cost_micros,
                    events = usage_months.events + excluded.events
                """, logger: logger)
        }
    }

    private static func upsertDays(
        _ connection: PostgresConnection, _ days: [MeteringWrites.DayKey: UsageTotals], _ organization: OrganizationID,
        logger: Logger
    ) async throws {
        let rows = Array(days)
        try await connection.query(
            """
            INSERT INTO usage_days(org_id, day, workspace_id, provider, model, task_type, events, input_tokens,
                output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros)
            SELECT \(organization.rawValue), u.*
            FROM unnest(\(rows.map(\.key.day))::int8[], \(rows.map(\.key.workspace))::text[], \(rows.map(\.key.provider))::text[],
                        \(rows.map(\.key.model))::text[], \(rows.map(\.key.taskType))::text[], \(rows.map(\.value.events))::int8[],
                        \(rows.map(\.value.tokens.input))::int8[], \(rows.map(\.value.tokens.output))::int8[],
                        \(rows.map(\.value.tokens.cacheRead))::int8[], \(rows.map(\.value.tokens.cacheWrite))::int8[],
                        \(rows.map(\.value.tokens.reasoning))::int8[], \(rows.map(\.value.cost.rawValue))::int8[]) AS u
            ON CONFLICT (org_id, day, workspace_id, provider, model, task_type) DO UPDATE SET
                events = usage_days.events + excluded.events,
                input_tokens = usage_days.input_tokens + excluded.input_tokens,
                output_tokens = usage_days.output_tokens + excluded.output_tokens,
                cache_read_tokens = usage_days.cache_read_tokens + excluded.cache_read_tokens,
                cache_write_tokens = usage_days.cache_write_tokens + excluded.cache_write_tokens,
                reasoning_tokens = usage_days.reasoning_tokens + excluded.reasoning_tokens,
                cost_micros = usage_days.cost_micros + excluded.cost_micros
            """, logger: logger)
    }

    private static func insertEvents(
        _ connection: PostgresConnection, _ events: [MeteringWrites.Event], _ organization: OrganizationID, logger: Logger
    ) async throws {
        let null = nullMark
        try await connection.query(
            """
            INSERT INTO usage_events(id, org_id, workspace_id, client_event_id, provider, model, task_type,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                cost_micros, cost_kind, price_version, source, ts, recorded_at, entry_id)
            SELECT u.id, \(organization.rawValue), NULLIF(u.workspace, \(null)), NULLIF(u.client_id, \(null)), u.provider,
                   NULLIF(u.model, \(null)), u.task, u.input, u.output, u.cache_read, u.cache_write, u.reasoning, u.cost,
                   u.cost_kind, u.price_version, u.source, u.ts, u.recorded_at, NULLIF(u.entry_id, \(null))
            FROM unnest(
                \(events.map(\.id.rawValue))::text[], \(events.map { $0.workspaceID?.rawValue ?? null })::text[],
                \(events.map { $0.input.clientEventID ?? null })::text[], \(events.map(\.input.provider))::text[],
                \(events.map { $0.input.model ?? null })::text[], \(events.map(\.input.taskType))::text[],
                \(events.map(\.input.tokens.input))::int8[], \(events.map(\.input.tokens.output))::int8[],
                \(events.map(\.input.tokens.cacheRead))::int8[], \(events.map(\.input.tokens.cacheWrite))::int8[],
                \(events.map(\.input.tokens.reasoning))::int8[], \(events.map(\.priced.cost.rawValue))::int8[],
                \(events.map(\.priced.kind.rawValue))::text[], \(events.map(\.priced.catalogVersion))::text[],
                \(events.map(\.input.source))::text[], \(events.map(\.timestamp.millis))::int8[],
                \(events.map(\.recordedAt.millis))::int8[], \(events.map { $0.entryID?.rawValue ?? null })::text[])
                WITH ORDINALITY AS u(id, workspace, client_id, provider, model, task, input, output, cache_read,
                                     cache_write, reasoning, cost, cost_kind, price_version, source, ts, recorded_at,
                                     entry_id, position)
            ORDER BY u.position
            """, logger: logger)
    }

    /// Inserts an alert unless the same (kind, subject, period) was raised already.
    static func logAlert(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ draft: AlertDraft, at time: Timestamp,
        logger: Logger
    ) async throws -> Bool {
        try await connection.query(
            """
            INSERT INTO alerts(id, org_id, workspace_id, kind, subject, period, message, created_at)
            VALUES (\(AlertID.random().rawValue), \(organizationID.rawValue), \(draft.workspaceID?.rawValue),
                    \(draft.kind.rawValue), \(draft.subject), \(draft.period), \(draft.message), \(time.millis))
            ON CONFLICT (org_id, kind, subject, period) DO NOTHING RETURNING seq
            """, logger: logger
        ).collect().count == 1
    }

    public func usageEvents(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<UsageEventRecord> {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let query: PostgresQuery
            if let workspace = page.workspace {
                query = """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = \(organizationID.rawValue) AND e.seq < \(page.before ?? Int64.max)
                      AND e.workspace_id = \(workspace.rawValue)
                    ORDER BY e.seq DESC LIMIT \(page.limit + 1)
                    """
            } else {
                query = """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = \(organizationID.rawValue) AND e.seq < \(page.before ?? Int64.max)
                    ORDER BY e.seq DESC LIMIT \(page.limit + 1)
                    """
            }
            let rows = try await connection.query(query, logger: self.logger).rows()
            return Page(pageOf: try rows.map(Self.usageEvent), limit: page.limit, sequence: \.sequence)
        }
    }

    public func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int,
        order: SequenceOrder
    ) async throws -> [UsageEventRecord] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            var query: PostgresQuery = """
                SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                WHERE e.org_id = \(organizationID.rawValue) AND e.seq > \(order.start(after))
                  AND e.ts >= \(from?.millis ?? Int64.min) AND e.ts < \(to?.millis ?? Int64.max)
                ORDER BY e.seq LIMIT \(min(max(limit, 1), Limits.pageRowsMax))
                """
            if order == .descending {
                query = """
                    SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                    WHERE e.org_id = \(organizationID.rawValue) AND e.seq < \(order.start(after))
                      AND e.ts >= \(from?.millis ?? Int64.min) AND e.ts < \(to?.millis ?? Int64.max)
                    ORDER BY e.seq DESC LIMIT \(min(max(limit, 1), Limits.pageRowsMax))
                    """
            }
            return try await connection.query(
                query, logger: self.logger
            ).rows().map(Self.usageEvent)
        }
    }

    static func usageEvent(_ row: PostgresRandomAccessRow) throws -> UsageEventRecord {
        UsageEventRecord(
            sequence: try row.int64("seq"), id: UsageEventID(rawValue: try row.string("id")),
            organizationID: OrganizationID(rawValue: try row.string("org_id")),
            workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)),
            workspaceName: try row.optionalString("workspace_name"), clientEventID: try row.optionalString("client_event_id"),
            provider: try row.string("provider"), model: try row.optionalString("model"), taskType: try row.string("task_type"),
            tokens: TokenCounts(
                input: try row.int64("input_tokens"), output: try row.int64("output_tokens"),
                cacheRead: try row.int64("cache_read_tokens"), cacheWrite: try row.int64("cache_write_tokens"),
                reasoning: try row.int64("reasoning_tokens")),
            cost: MicroDollars(rawValue: try row.int64("cost_micros")),
            costKind: try StoreError.decode(try row.string("cost_kind"), column: "usage_events.cost_kind"),
            priceVersion: try row.string("price_version"),
            source: try row.string("source"), timestamp: Timestamp(rawValue: try row.int64("ts")),
            recordedAt: Timestamp(rawValue: try row.int64("recorded_at")),
            entryID: try row.optionalString("entry_id").map(EntryID.init(rawValue:)))
    }
}

/// What a metering run reads, fetched in a few queries after the organization's accounts
/// are locked (nothing it holds can change before commit). Workspaces the run creates are
/// kept here and inserted before the events that use them.
struct PrefetchedSource: MeteringSource {
    let organizationID: OrganizationID
    var workspaces: [Workspace]
    var created: [Workspace] = []
    var recorded: [String: RecordedEvent]
    var counters: [MeteringWrites.CounterKey: (tokens: Int64, cost: Int64)]
    var activeBudgets: [Budget] = []
    /// Budget spend as stored for the periods the group's events fall in, plus what earlier
    /// runs of the group add.
    var budgetSpend: [MeteringWrites.BudgetSpendKey: Int64] = [:]
    var held = HeldBySubject(rows: [])

    static func load(_ connection: PostgresConnection, _ organization: Organization, _ batches: [UsageBatch], logger: Logger)
        async throws -> PrefetchedSource
    {
        let org = organization.id.rawValue
        let events = batches.flatMap(\.events)
        let months = Set(
            batches.flatMap { batch in
                batch.events.map { ($0.timestamp ?? batch.receivedAt).month.text } + [batch.receivedAt.month.text]
            })
        var counters: [MeteringWrites.CounterKey: (tokens: Int64, cost: Int64)] = [:]
        for row in try await connection.query(
            """
            SELECT workspace_id, month, tokens, cost_micros FROM usage_months
            WHERE org_id = \(org) AND month = ANY(\(Array(months))::text[])
            """, logger: logger
        ).rows() {
            guard let month = CivilMonth(text: try row.string("month")) else { continue }
            counters[MeteringWrites.CounterKey(workspace: try row.string("workspace_id"), month: month)] =
                (try row.int64("tokens"), try row.int64("cost_micros"))
        }
        var recorded: [String: RecordedEvent] = [:]
        let clientIDs = Array(Set(events.compactMap(\.clientEventID)))
        if !clientIDs.isEmpty {
            for row in try await connection.query(
                """
                SELECT client_event_id, id, cost_micros, cost_kind, workspace_id FROM usage_events
                WHERE org_id = \(org) AND client_event_id = ANY(\(clientIDs)::text[])
                """, logger: logger
            ).rows() {
                recorded[try row.string("client_event_id")] = RecordedEvent(
                    id: UsageEventID(rawValue: try row.string("id")), cost: MicroDollars(rawValue: try row.int64("cost_micros")),
                    costKind: try StoreError.decode(try row.string("cost_kind"), column: "usage_events.cost_kind"),
                    workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)))
            }
        }
        let workspaces =
            events.contains { $0.workspace != nil }
            ? try await PostgresStore.workspaces(connection, organization.id, logger: logger) : []
        var source = PrefetchedSource(
            organizationID: organization.id, workspaces: workspaces, recorded: recorded, counters: counters)
        source.activeBudgets = try await PostgresStore.budgets(
            connection, organization.id, includingDisabled: false, logger: logger)
        if !source.activeBudgets.isEmpty {
            // Budgets count a call in the period it is received in.
            let times = batches.map(\.receivedAt)
            let starts = Array(Set(source.activeBudgets.flatMap { budget in times.map { budget.period.start(at: $0).millis } }))
            for row in try await connection.query(
                """
                SELECT budget_id, period_start, spent_micros FROM budget_spend
                WHERE budget_id = ANY(\(source.activeBudgets.map(\.id.rawValue))::text[]) AND period_start = ANY(\(starts)::int8[])
                """, logger: logger
            ).rows() {
                let key = MeteringWrites.BudgetSpendKey(
                    budgetID: BudgetID(rawValue: try row.string("budget_id")),
                    periodStart: Timestamp(rawValue: try row.int64("period_start")))
                source.budgetSpend[key] = try row.int64("spent_micros")
            }
            source.held = try await PostgresStore.heldBySubject(
                connection, organization.id, at: batches.map(\.receivedAt).max()!, logger: logger)
        }
        return source
    }

    /// Folds in what a run of the same group wrote, so the next run reads it as stored.
    mutating func absorb(_ writes: MeteringWrites) {
        writes.fold(counters: &counters, recorded: &recorded, budgetSpend: &budgetSpend)
    }

    func budgets() throws -> [Budget] { activeBudgets }

    func storedBudgetSpend(_ key: MeteringWrites.BudgetSpendKey) throws -> MicroDollars {
        MicroDollars(rawValue: budgetSpend[key] ?? 0)
    }

    func budgetHeld(_ budget: Budget, at time: Timestamp) throws -> MicroDollars { held.held(for: budget) }

    func recordedEvent(clientEventID: String) throws -> RecordedEvent? { recorded[clientEventID] }

    func workspace(_ reference: String) throws -> Workspace? { WorkspaceMatch.find(reference, in: workspaces + created) }

    func workspaceCount() throws -> Int { workspaces.count + created.count }

    func earliestWorkspace() throws -> Workspace? { (workspaces + created).first }

    mutating func createWorkspace(name: String, at time: Timestamp) throws -> Workspace {
        let workspace = WorkspaceMatch.new(
            name: name, organizationID: organizationID, budget: nil, at: time, among: workspaces + created)
        created.append(workspace)
        return workspace
    }

    func storedMonthTokens(_ month: CivilMonth) throws -> Int64 {
        counters[MeteringWrites.CounterKey(workspace: "", month: month)]?.tokens ?? 0
    }
}
