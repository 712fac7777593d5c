import PlutusCore

/// What a metering run reads from the transaction it runs in. Each backend answers from
/// inside that transaction: SQLite reads lazily under its write lock; PostgreSQL serves
/// what it fetched after locking the organization's accounts.
public protocol MeteringSource {
    /// The event recorded earlier under this client `event_id`, if any.
    mutating func recordedEvent(clientEventID: String) throws -> RecordedEvent?
    /// The organization's workspace whose id, slug or name is `reference`.
    mutating func workspace(_ reference: String) throws -> Workspace?
    mutating func workspaceCount() throws -> Int
    mutating func earliestWorkspace() throws -> Workspace?
    /// Creates a workspace inside the transaction (its row lands before the events that use it).
    mutating func createWorkspace(name: String, at time: Timestamp) throws -> Workspace
    /// Tracked tokens of the organization in `month`, as stored before this batch.
    mutating func storedMonthTokens(_ month: CivilMonth) throws -> Int64
    /// Takes in what a finished run of the group will write, so that a later run of the same
    /// group reads it as stored (its rows land only after the last run is decided).
    mutating func absorb(_ writes: MeteringWrites)
    /// Told the client `event_id`s of a request before its events are decided, so a store
    /// can look them all up at once; `recordedEvent` must answer the same either way.
    mutating func expect(clientEventIDs: [String]) throws
    /// The organization's budgets in force (not disabled).
    mutating func budgets() throws -> [Budget]
    /// A budget's spend in one period, as stored before this batch (with what earlier runs
    /// of the same group will write, once absorbed).
    mutating func storedBudgetSpend(_ key: MeteringWrites.BudgetSpendKey) throws -> MicroDollars
    /// What the active holds a budget covers set aside at `time`.
    mutating func budgetHeld(_ budget: Budget, at time: Timestamp) throws -> MicroDollars
}

extension MeteringSource {
    public mutating func expect(clientEventIDs: [String]) throws {}
}

/// An event already recorded under a client `event_id`.
public struct RecordedEvent: Sendable, Equatable {
    public var id: UsageEventID
    public var cost: MicroDollars
    public var costKind: CostKind
    public var workspaceID: WorkspaceID?

    public init(id: UsageEventID, cost: MicroDollars, costKind: CostKind, workspaceID: WorkspaceID?) {
        self.id = id
        self.cost = cost
        self.costKind = costKind
        self.workspaceID = workspaceID
    }
}

/// Everything one ingest batch writes, gathered by `MeteringRun` and written by the backend
/// in the same transaction (row by row or in bulk, as suits it).
public struct MeteringWrites: Sendable {
    public struct Event: Sendable {
        public var id: UsageEventID
        public var workspaceID: WorkspaceID?
        public var input: UsageEventInput
        public var priced: PricedCost
        public var timestamp: Timestamp
        /// When its request arrived.
        public var recordedAt: Timestamp
        /// The usage entry that paid for it; nil when it cost nothing.
        public var entryID: EntryID?
    }

    /// A request's usage entry for one UTC month of its events: debit the organization's
    /// credit account, credit its usage account, by the sum of the costs of the request's
    /// recorded events of that month (each names it). It is dated at the latest of those
    /// events' times, so a month's statement finds in its ledger exactly the usage of its
    /// events, back-dated ones included.
    public struct Entry: Sendable {
        public var id: EntryID
        /// The id of the first event it pays for (unique per entry).
        public var reference: String
        /// How many events it pays for.
        public var events: Int
        public var amount: MicroDollars
        public var memo: String
        public var creditBalanceAfter: MicroDollars
        public var usageBalanceAfter: Int64
        public var timestamp: Timestamp
    }

    /// Month counters per workspace ('' = the whole organization).
    public struct CounterKey: Hashable, Sendable {
        public var workspace: String
        public var month: CivilMonth

        public init(workspace: String, month: CivilMonth) {
            self.workspace = workspace
            self.month = month
        }
    }

    public struct Counter: Sendable, Equatable {
        public var tokens: Int64 = 0
        public var cost: Int64 = 0
        public var events: Int64 = 0

        mutating func add(tokens: Int64, cost: Int64) {
            self.tokens += tokens
            self.cost += cost
            events += 1
        }
    }

    /// A budget's spend in the period that starts at `periodStart`.
    public struct BudgetSpendKey: Hashable, Sendable {
        public var budgetID: BudgetID
        public var periodStart: Timestamp

        public init(budgetID: BudgetID, periodStart: Timestamp) {
            self.budgetID = budgetID
            self.periodStart = periodStart
        }
    }

    /// A row of the daily rollup (`usage_days`); '' stands for no workspace or model.
    public struct DayKey: Hashable, Sendable {
        public var day: Int64
        public var workspace: String
        public var provider: String
        public var model: String
        public var taskType: String
    }

    public var events: [Event] = []
    public var entries: [Entry] = []
    public var counters: [CounterKey: Counter] = [:]
    /// Daily rollup increments.
    public var days: [DayKey: UsageTotals] = [:]
    /// Alerts to log unless their (kind, subject, period) was logged before.
    public var alerts: [AlertDraft] = []
    /// What each budget's period spend grows by.
    public var budgetSpend: [BudgetSpendKey: Int64] = [:]
    /// The credit and usage account balances after the batch; written when `entries` is not empty.
    public var creditBalance: MicroDollars
    public var usageBalance: Int64

    /// Nothing written yet; the accounts stand at these balances.
    public init(creditBalance: MicroDollars, usageBalance: Int64) {
        self.creditBalance = creditBalance
        self.usageBalance = usageBalance
    }

    /// Folds what this run will write into what a later run of the same group reads as
    /// stored (its rows land only after the last run is decided): month counters, and the
    /// events recorded under a client `event_id`.
    public func fold(
        counters: inout [CounterKey: (tokens: Int64, cost: Int64)], recorded: inout [String: RecordedEvent],
        budgetSpend: inout [BudgetSpendKey: Int64]
    ) {
        budgetSpend.merge(self.budgetSpend, uniquingKeysWith: +)
        for (key, counter) in self.counters {
            let before = counters[key] ?? (0, 0)
            counters[key] = (before.tokens + counter.tokens, before.cost + counter.cost)
        }
        for event in events {
            guard let clientEventID = event.input.clientEventID else { continue }
            recorded[clientEventID] = RecordedEvent(
                id: event.id, cost: event.priced.cost, costKind: event.priced.kind, workspaceID: event.workspaceID)
        }
    }

    /// Adds the writes of a later batch that started from these balances (group commit):
    /// rows are appended, counters summed, and the balances are the later batch's.
    public mutating func append(_ later: MeteringWrites) {
        events += later.events
        entries += later.entries
        counters.merge(later.counters) { mine, theirs in
            Counter(tokens: mine.tokens + theirs.tokens, cost: mine.cost + theirs.cost, events: mine.events + theirs.events)
        }
        days.merge(later.days, uniquingKeysWith: +)
        if !later.budgetSpend.isEmpty { budgetSpend.merge(later.budgetSpend, uniquingKeysWith: +) }
        alerts += later.alerts
        creditBalance = later.creditBalance
        usageBalance = later.usageBalance
    }
}

/// The running state of one batch inside its transaction: each event's quota and hard-stop
/// decision reads the balance and month counters the previous events of the batch left
/// behind, and its writes are gathered for the backend to apply before commit.
public struct MeteringRun<Source: MeteringSource> {
    public private(set) var writes: MeteringWrites
    /// The source, with whatever it kept of the run (PostgreSQL keeps created workspaces).
    public private(set) var source: Source
    private let organization: Organization
    private let batch: UsageBatch
    /// Credit set aside by the organization's active holds: spends may use the balance less this.
    private let held: MicroDollars
    private var tokensByMonth: [CivilMonth: Int64] = [:]
    private var recordedInBatch: [String: RecordedEvent] = [:]
    private var alertKeys: Set<String> = []
    /// The organization's budgets, read on the first event (nil before).
    private var budgets: [Budget]?
    /// What each budget's active holds set aside, read once per run.
    private var budgetHolds: [BudgetID: MicroDollars] = [:]
    /// The request's usage entries while its events are decided: one per UTC month of the
    /// events' times (almost always one), not one per event, so a batch of 100 writes one
    /// ledger row instead of 100. Their balances are filled in once the last event is decided.
    private var pendingEntries: [MeteringWrites.Entry] = []

    public init(
        source: Source, organization: Organization, creditBalance: MicroDollars, usageBalance: Int64,
        held: MicroDollars = .zero, batch: UsageBatch
    ) {
        self.source = source
        self.organization = organization
        self.held = held
        self.batch = batch
        writes = MeteringWrites(creditBalance: creditBalance, usageBalance: usageBalance)
    }

    /// Decides every event of the batch, in order.
    public mutating func run(_ priced: [PricedCost]) throws -> [EventOutcome] {
        precondition(priced.count == batch.events.count, "one price per event")
        var outcomes: [EventOutcome] = []
        outcomes.reserveCapacity(priced.count)
        for (event, cost) in zip(batch.events, priced) { outcomes.append(try apply(event, priced: cost)) }
        // The entries' balances, in the order they are written: from where the run started
        // (before any of them) down by each entry's amount.
        let total = pendingEntries.reduce(Int64(0)) { $0 + $1.amount.rawValue }
        var credit = writes.creditBalance.rawValue + total
        var usage = writes.usageBalance - total
        let receivedMonth = batch.receivedAt.month
        for var entry in pendingEntries {
            credit -= entry.amount.rawValue
            usage += entry.amount.rawValue
            entry.creditBalanceAfter = MicroDollars(rawValue: credit)
            entry.usageBalanceAfter = usage
            if entry.events > 1 { entry.memo = "\(entry.events) usage events" }
            if entry.timestamp.month != receivedMonth { entry.memo += " · back-dated to \(entry.timestamp.month.text)" }
            writes.entries.append(entry)
        }
        pendingEntries.removeAll()
        return outcomes
    }

    /// Tracked tokens of the organization in `month`, this batch included.
    public mutating func monthTokens(_ month: CivilMonth) throws -> Int64 {
        if let cached = tokensByMonth[month] { return cached }
        let tokens = try source.storedMonthTokens(month)
        tokensByMonth[month] = tokens
        return tokens
    }

    /// The outcome to answer once the backend has logged the alerts: each event keeps only
    /// the alerts that were new (`logged` holds their `alertKey`s).
    public static func outcome(
        _ events: [EventOutcome], logged: Set<String>, organization: Organization, trackedTokensThisMonth: Int64
    ) -> UsageBatchOutcome {
        // Filtered in place, only where an event has alerts: a batch that raised none (most)
        // keeps its outcomes as they are, without a copy of each.
        var filtered = events
        for index in filtered.indices where !filtered[index].alerts.isEmpty {
            filtered[index].alerts.removeAll { !logged.contains(alertKey($0)) }
        }
        return UsageBatchOutcome(
            organizationID: organization.id, plan: organization.plan, trackedTokensThisMonth: trackedTokensThisMonth,
            events: filtered)
    }

    /// The identity alerts are de-duplicated by.
    public static func alertKey(_ draft: AlertDraft) -> String {
        "\(draft.kind.rawValue)\u{1F}\(draft.subject)\u{1F}\(draft.period)"
    }

    private mutating func apply(_ event: UsageEventInput, priced: PricedCost) throws -> EventOutcome {
        let balance = writes.creditBalance
        if let clientEventID = event.clientEventID,
            let earlier = try recordedInBatch[clientEventID] ?? source.recordedEvent(clientEventID: clientEventID)
        {
            return EventOutcome(
                status: .duplicate, eventID: earlier.id, cost: earlier.cost, costKind: earlier.costKind,
                balanceAfter: balance, overFreeLimit: false, workspaceID: earlier.workspaceID, alerts: [], held: held)
        }
        let time = event.timestamp ?? batch.receivedAt
        let month = time.month
        let tokensBefore = try monthTokens(month)
        let snapshot = OrganizationSnapshot(
            plan: organization.plan, balance: balance, everCredited: organization.everCredited,
            hardStopExempt: organization.hardStopExempt, monthTrackedTokens: tokensBefore, held: held)
        switch Metering.decide(snapshot: snapshot, tokens: event.tokens, cost: priced.cost, policy: batch.policy) {
        case .reject(let rejection):
            let alerts =
                rejection == .overBalance
                ? raise([Alerting.hardStopAlert(balance: balance, cost: priced.cost, held: held, at: batch.receivedAt)])
                : []
            return EventOutcome(
                status: .rejected(rejection), eventID: nil, cost: rejection == .overFreeLimit ? .zero : priced.cost,
                costKind: priced.kind, balanceAfter: balance, overFreeLimit: rejection == .overFreeLimit,
                workspaceID: nil, alerts: alerts, held: held)
        case .record(let balanceAfter, let overFreeLimit):
            // Budgets count a call when it is received: a call reported late cannot spend a
            // past period's room.
            let standings = try budgetStandings(event, at: batch.receivedAt)
            if batch.policy.enforceBudgets, let refusal = Budgets.refusal(standings, amount: priced.cost) {
                return EventOutcome(
                    status: .rejected(.overBudget), eventID: nil, cost: priced.cost, costKind: priced.kind,
                    balanceAfter: balance, overFreeLimit: false, workspaceID: nil, alerts: [], held: held,
                    budgetRefusal: refusal)
            }
            let workspace = try resolveWorkspace(event.workspace)
            let eventID = UsageEventID.timeOrdered(at: batch.receivedAt)
            var entryID: EntryID?
            if priced.cost.isPositive {
                writes.usageBalance += priced.cost.rawValue
                if let index = pendingEntries.firstIndex(where: { $0.timestamp.month == month }) {
                    // Sums stay far below Int64.max: each event is capped and so is the batch length.
                    pendingEntries[index].amount = pendingEntries[index].amount.adding(priced.cost)!
                    pendingEntries[index].events += 1
                    if time > pendingEntries[index].timestamp { pendingEntries[index].timestamp = time }
                    entryID = pendingEntries[index].id
                } else {
                    let entry = MeteringWrites.Entry(
                        id: EntryID.timeOrdered(at: batch.receivedAt), reference: eventID.rawValue, events: 1,
                        amount: priced.cost, memo: "\(event.provider)/\(event.model ?? "-") \(event.taskType)",
                        creditBalanceAfter: balanceAfter, usageBalanceAfter: writes.usageBalance, timestamp: time)
                    pendingEntries.append(entry)
                    entryID = entry.id
                }
            }
            writes.events.append(
                MeteringWrites.Event(
                    id: eventID, workspaceID: workspace?.id, input: event, priced: priced, timestamp: time,
                    recordedAt: batch.receivedAt, entryID: entryID))
            if let clientEventID = event.clientEventID {
                recordedInBatch[clientEventID] = RecordedEvent(
                    id: eventID, cost: priced.cost, costKind: priced.kind, workspaceID: workspace?.id)
            }
            writes.creditBalance = balanceAfter
            let tokensAfter = tokensBefore + event.tokens.tracked
            tokensByMonth[month] = tokensAfter
            count(event, cost: priced.cost, workspace: workspace?.id, month: month)
            let day = MeteringWrites.DayKey(
                day: time.epochDay, workspace: workspace?.id.rawValue ?? "", provider: event.provider,
                model: event.model ?? "", taskType: event.taskType)
            writes.days[day, default: .zero].add(UsageTotals(events: 1, tokens: event.tokens, cost: priced.cost))
            var drafts: [AlertDraft] = []
            if let draft = Alerting.balanceAlert(
                balanceAfter: balanceAfter, everCredited: organization.everCredited, policy: batch.policy,
                at: batch.receivedAt)
            {
                drafts.append(draft)
            }
            for standing in standings {
                let key = MeteringWrites.BudgetSpendKey(budgetID: standing.budget.id, periodStart: standing.periodStart)
                writes.budgetSpend[key, default: 0] += priced.cost.rawValue
                var after = standing
                after.spent = MicroDollars(rawValue: standing.spent.rawValue + priced.cost.rawValue)
                if let draft = Budgets.alert(after, at: batch.receivedAt) { drafts.append(draft) }
            }
            if let draft = Alerting.quotaAlert(
                plan: organization.plan, tokensAfter: tokensAfter, policy: batch.policy, month: month)
            {
                drafts.append(draft)
            }
            return EventOutcome(
                status: .recorded, eventID: eventID, cost: priced.cost, costKind: priced.kind, balanceAfter: balanceAfter,
                overFreeLimit: overFreeLimit, workspaceID: workspace?.id, alerts: raise(drafts), held: held)
        }
    }

    /// Queues alerts not yet raised in this batch; the backend drops those logged before.
    private mutating func raise(_ drafts: [AlertDraft]) -> [AlertDraft] {
        drafts.filter { draft in
            guard alertKeys.insert(Self.alertKey(draft)).inserted else { return false }
            writes.alerts.append(draft)
            return true
        }
    }

    /// The budgets covering the event, with what they have spent in its period and what
    /// their active holds set aside. Nothing is read for an organization without budgets
    /// beyond their (empty) list, once per run.
    private mutating func budgetStandings(_ event: UsageEventInput, at time: Timestamp) throws -> [BudgetStanding] {
        if budgets == nil { budgets = try source.budgets() }
        guard let budgets, !budgets.isEmpty else { return [] }
        let subject = BudgetSubject(
            workspaceID: try attributedWorkspace(event.workspace)?.id, apiKeyID: batch.apiKeyID, taskType: event.taskType,
            runID: event.runID)
        return try budgets.filter { $0.covers(subject) }.map { budget in
            let key = MeteringWrites.BudgetSpendKey(budgetID: budget.id, periodStart: budget.period.start(at: time))
            let spent = try source.storedBudgetSpend(key).rawValue + (writes.budgetSpend[key] ?? 0)
            if budgetHolds[budget.id] == nil { budgetHolds[budget.id] = try source.budgetHeld(budget, at: batch.receivedAt) }
            return BudgetStanding(
                budget: budget, spent: MicroDollars(rawValue: spent), held: budgetHolds[budget.id]!,
                periodStart: key.periodStart, resetsAt: budget.period.resetsAt(time))
        }
    }

    /// The workspace an event would be attributed to, without creating one.
    private mutating func attributedWorkspace(_ reference: String?) throws -> Workspace? {
        var source = self.source
        defer { self.source = source }
        return try WorkspaceAttribution.resolve(
            reference, plan: organization.plan, find: { try source.workspace($0) }, count: { try source.workspaceCount() },
            earliest: { try source.earliestWorkspace() })
    }

    /// Finds the named workspace, or folds into the earliest at the plan's cap, or creates it.
    /// Only called for events that are recorded, so a refused event never creates one.
    private mutating func resolveWorkspace(_ reference: String?) throws -> Workspace? {
        guard let reference else { return nil }
        if let found = try source.workspace(reference) { return found }
        switch Metering.chooseWorkspace(found: false, workspaceCount: try source.workspaceCount(), plan: organization.plan) {
        case .existing: preconditionFailure("a workspace that was not found cannot be existing")
        case .foldIntoEarliest: return try source.earliestWorkspace()
        case .create: return try source.createWorkspace(name: reference, at: batch.receivedAt)
        }
    }

    /// Adds the event to its month counters: the organization's ('') and its workspace's.
    private mutating func count(_ event: UsageEventInput, cost: MicroDollars, workspace: WorkspaceID?, month: CivilMonth) {
        let tokens = event.tokens.tracked
        writes.counters[MeteringWrites.CounterKey(workspace: "", month: month), default: MeteringWrites.Counter()]
            .add(tokens: tokens, cost: cost.rawValue)
        if let workspace {
            writes.counters[
                MeteringWrites.CounterKey(workspace: workspace.rawValue, month: month), default: MeteringWrites.Counter()
            ]
            .add(tokens: tokens, cost: cost.rawValue)
        }
    }
}

extension PriceCatalog {
    /// Prices every event of a batch before its transaction opens, so an event whose
    /// estimate is out of range fails the whole batch before anything is written.
    public func priceBatch(_ events: [UsageEventInput]) throws(UsageFieldError) -> [PricedCost] {
        var priced: [PricedCost] = []
        priced.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            guard let cost = price(provider: event.provider, model: event.model, tokens: event.tokens, exactCost: event.exactCost)
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
}
