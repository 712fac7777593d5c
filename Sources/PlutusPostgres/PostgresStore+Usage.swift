import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    /// One ingest request in one transaction: lock the organization's accounts, check the
    /// idempotency key, fetch what the batch's decisions read, decide every event in memory
    /// (`MeteringRun`), then write events, entries, balances, counters and alerts in a few
    /// bulk statements, and store the response with the key.
    public func recordUsage(_ batch: UsageBatch) async throws -> UsageBatchResult {
        let priced = try await currentCatalog().priceBatch(batch.events)
        return try await transaction { connection in
            let logger = self.logger
            let organizationID = batch.organizationID
            let accounts = try await Self.lockAccounts(connection, organizationID, logger: logger)
            let organization = try await Self.requireOrganization(connection, organizationID, logger: logger)
            if let claim = batch.idempotency,
                let stored = try await connection.query(
                    """
                    SELECT request_hash, status, response FROM idempotency_records
                    WHERE org_id = \(organizationID.rawValue) AND idem_key = \(claim.key)
                    """, logger: logger
                ).rows().first
            {
                guard try stored.string("request_hash") == claim.requestHash else {
                    throw StoreError.idempotencyConflict(key: claim.key)
                }
                return .replayed(
                    StoredResponse(status: Int(try stored["status"].decode(Int32.self)), body: try stored.string("response")))
            }
            var run = MeteringRun(
                source: try await PrefetchedSource.load(connection, organization, batch, logger: logger),
                organization: organization, creditBalance: MicroDollars(rawValue: accounts[.credit]!.balance),
                usageBalance: accounts[.usage]!.balance, batch: batch)
            let events = try run.run(priced)
            let logged = try await Self.write(
                connection, run.writes, created: run.source.created, organization: organizationID,
                accounts: accounts.mapValues(\.id), at: batch.receivedAt, logger: logger)
            let outcome = MeteringRun<PrefetchedSource>.outcome(
                events, logged: logged, organization: organization,
                trackedTokensThisMonth: try run.monthTokens(batch.receivedAt.month))
            let response = UsageResponse.render(outcome, upgradeURL: batch.upgradeURL)
            if let claim = batch.idempotency {
                try await connection.query(
                    """
                    INSERT INTO idempotency_records(org_id, idem_key, request_hash, status, response, created_at)
                    VALUES (\(organizationID.rawValue), \(claim.key), \(claim.requestHash), \(response.status), \(response.body),
                            \(batch.receivedAt.millis))
                    """, logger: logger)
            }
            return .committed(outcome, response)
        }
    }

    /// A text array element standing for SQL NULL: validated text never holds control
    /// characters, so U+0001 cannot be a real value.
    static let nullMark = "\u{1}"

    /// Writes what a metering run gathered, in bulk; returns the keys of the alerts that were new.
    private static func write(
        _ connection: PostgresConnection, _ writes: MeteringWrites, created: [Workspace], organization: OrganizationID,
        accounts: [AccountCode: Int64], at receivedAt: Timestamp, logger: Logger
    ) async throws -> Set<String> {
        try await insertWorkspaces(connection, created, logger: logger)
        if !writes.events.isEmpty { try await insertEvents(connection, writes.events, organization, receivedAt, logger: logger) }
        if !writes.entries.isEmpty {
            let entries = writes.entries
            try await connection.query(
                """
                INSERT INTO entries(id, org_id, debit_account_id, credit_account_id, amount_micros, kind, reference,
                                    memo, debit_balance_after_micros, credit_balance_after_micros, ts)
                SELECT u.id, \(organization.rawValue), \(accounts[.credit]!), \(accounts[.usage]!), u.amount, 'usage',
                       u.reference, u.memo, u.debit_after, u.credit_after, u.ts
                FROM unnest(\(entries.map(\.id.rawValue))::text[], \(entries.map(\.amount.rawValue))::int8[],
                            \(entries.map(\.eventID.rawValue))::text[], \(entries.map(\.memo))::text[],
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
        var logged: Set<String> = []
        for draft in writes.alerts
        where try await logAlert(connection, organization, draft, at: receivedAt, logger: logger) {
            logged.insert(MeteringRun<PrefetchedSource>.alertKey(draft))
        }
        return logged
    }

    private static func insertEvents(
        _ connection: PostgresConnection, _ events: [MeteringWrites.Event], _ organization: OrganizationID,
        _ receivedAt: Timestamp, logger: Logger
    ) async throws {
        let null = nullMark
        try await connection.query(
            """
            INSERT INTO usage_events(id, org_id, workspace_id, client_event_id, provider, model, task_type,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                cost_micros, cost_kind, price_version, source, ts, recorded_at)
            SELECT u.id, \(organization.rawValue), NULLIF(u.workspace, \(null)), NULLIF(u.client_id, \(null)), u.provider,
                   NULLIF(u.model, \(null)), u.task, u.input, u.output, u.cache_read, u.cache_write, u.reasoning, u.cost,
                   u.cost_kind, u.price_version, u.source, u.ts, \(receivedAt.millis)
            FROM unnest(
                \(events.map(\.id.rawValue))::text[], \(events.map { $0.workspaceID?.rawValue ?? null })::text[],
                \(events.map { $0.input.clientEventID ?? null })::text[], \(events.map(\.input.provider))::text[],
                \(events.map { $0.input.model ?? null })::text[], \(events.map(\.input.taskType))::text[],
                \(events.map(\.input.tokens.input))::int8[], \(events.map(\.input.tokens.output))::int8[],
                \(events.map(\.input.tokens.cacheRead))::int8[], \(events.map(\.input.tokens.cacheWrite))::int8[],
                \(events.map(\.input.tokens.reasoning))::int8[], \(events.map(\.priced.cost.rawValue))::int8[],
                \(events.map(\.priced.kind.rawValue))::text[], \(events.map(\.priced.catalogVersion))::text[],
                \(events.map(\.input.source))::text[], \(events.map(\.timestamp.millis))::int8[])
                WITH ORDINALITY AS u(id, workspace, client_id, provider, model, task, input, output, cache_read,
                                     cache_write, reasoning, cost, cost_kind, price_version, source, ts, position)
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
            let rows = try await connection.query(
                """
                SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                WHERE e.org_id = \(organizationID.rawValue) AND e.seq < \(page.before ?? Int64.max)
                ORDER BY e.seq DESC LIMIT \(page.limit + 1)
                """, logger: self.logger
            ).rows()
            return Page(pageOf: try rows.map(Self.usageEvent), limit: page.limit, sequence: \.sequence)
        }
    }

    public func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int
    ) async throws -> [UsageEventRecord] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await connection.query(
                """
                SELECT e.*, w.name AS workspace_name FROM usage_events e LEFT JOIN workspaces w ON w.id = e.workspace_id
                WHERE e.org_id = \(organizationID.rawValue) AND e.seq > \(after ?? 0)
                  AND e.ts >= \(from?.millis ?? Int64.min) AND e.ts < \(to?.millis ?? Int64.max)
                ORDER BY e.seq LIMIT \(min(max(limit, 1), Limits.pageRowsMax))
                """, logger: self.logger
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
            costKind: CostKind(rawValue: try row.string("cost_kind")) ?? .estimated, priceVersion: try row.string("price_version"),
            source: try row.string("source"), timestamp: Timestamp(rawValue: try row.int64("ts")),
            recordedAt: Timestamp(rawValue: try row.int64("recorded_at")))
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

    static func load(_ connection: PostgresConnection, _ organization: Organization, _ batch: UsageBatch, logger: Logger)
        async throws -> PrefetchedSource
    {
        let org = organization.id.rawValue
        let months = Set(batch.events.map { ($0.timestamp ?? batch.receivedAt).month.text } + [batch.receivedAt.month.text])
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
        let clientIDs = batch.events.compactMap(\.clientEventID)
        if !clientIDs.isEmpty {
            for row in try await connection.query(
                """
                SELECT client_event_id, id, cost_micros, cost_kind, workspace_id FROM usage_events
                WHERE org_id = \(org) AND client_event_id = ANY(\(clientIDs)::text[])
                """, logger: logger
            ).rows() {
                recorded[try row.string("client_event_id")] = RecordedEvent(
                    id: UsageEventID(rawValue: try row.string("id")), cost: MicroDollars(rawValue: try row.int64("cost_micros")),
                    costKind: CostKind(rawValue: try row.string("cost_kind")) ?? .estimated,
                    workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)))
            }
        }
        let workspaces =
            batch.events.contains { $0.workspace != nil }
            ? try await PostgresStore.workspaces(connection, organization.id, logger: logger) : []
        return PrefetchedSource(organizationID: organization.id, workspaces: workspaces, recorded: recorded, counters: counters)
    }

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

    func storedWorkspaceSpend(_ workspace: WorkspaceID, month: CivilMonth) throws -> MicroDollars {
        MicroDollars(rawValue: counters[MeteringWrites.CounterKey(workspace: workspace.rawValue, month: month)]?.cost ?? 0)
    }
}
