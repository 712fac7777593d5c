/// What happened to one event of a batch.
public struct EventOutcome: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case recorded
        case rejected(Rejection)
        /// Its client `event_id` was recorded before; nothing new was written.
        case duplicate
    }

    public var status: Status
    /// The recorded event, or for a duplicate the event recorded earlier.
    public var eventID: UsageEventID?
    public var cost: MicroDollars
    public var costKind: CostKind
    public var balanceAfter: MicroDollars
    public var overFreeLimit: Bool
    public var workspaceID: WorkspaceID?
    public var alerts: [AlertDraft]
    /// Credit active holds set aside when the event was decided (a refusal says so).
    public var held: MicroDollars
    /// For an event a hard budget refused: which, and its figures.
    public var budgetRefusal: BudgetRefusal?

    public init(
        status: Status, eventID: UsageEventID?, cost: MicroDollars, costKind: CostKind, balanceAfter: MicroDollars,
        overFreeLimit: Bool, workspaceID: WorkspaceID?, alerts: [AlertDraft], held: MicroDollars = .zero,
        budgetRefusal: BudgetRefusal? = nil
    ) {
        self.status = status
        self.eventID = eventID
        self.cost = cost
        self.costKind = costKind
        self.balanceAfter = balanceAfter
        self.overFreeLimit = overFreeLimit
        self.workspaceID = workspaceID
        self.alerts = alerts
        self.held = held
        self.budgetRefusal = budgetRefusal
    }

    public var isRecorded: Bool { status == .recorded }
}

/// The result of one ingest request, as committed.
public struct UsageBatchOutcome: Sendable, Equatable {
    public var organizationID: OrganizationID
    public var plan: Plan
    /// Tracked tokens in the current UTC month after this request.
    public var trackedTokensThisMonth: Int64
    public var events: [EventOutcome]

    public init(organizationID: OrganizationID, plan: Plan, trackedTokensThisMonth: Int64, events: [EventOutcome]) {
        self.organizationID = organizationID
        self.plan = plan
        self.trackedTokensThisMonth = trackedTokensThisMonth
        self.events = events
    }

    public var recordedCount: Int { events.count { $0.isRecorded } }
    public var freeLimitBlockedCount: Int { events.count { $0.status == .rejected(.overFreeLimit) } }
    public var overBalanceBlockedCount: Int { events.count { $0.status == .rejected(.overBalance) } }
    public var overBudgetBlockedCount: Int { events.count { $0.status == .rejected(.overBudget) } }
    public var duplicateCount: Int { events.count { $0.status == .duplicate } }
}

/// An HTTP status and JSON body, stored with an idempotency key and replayed verbatim.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var body: String

    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

/// The `/v1/usage` response contract of the original Plutus: one event merges its result
/// into the top level; two or more return `results` plus counters; 402 when nothing was
/// recorded because of the hard stop or the free-tier quota.
public enum UsageResponse {
    /// Written straight into the body text, member by member: a batch of 1,000 results
    /// would otherwise build a tree of some 10,000 values first.
    /// 402 when nothing was recorded (nor found recorded before), else 200.
    public static func status(_ outcome: UsageBatchOutcome) -> Int {
        outcome.recordedCount == 0 && outcome.duplicateCount == 0 ? 402 : 200
    }

    /// The response's status without its body, for a caller that reads the outcome itself.
    public static func statusOnly(_ outcome: UsageBatchOutcome) -> StoredResponse {
        StoredResponse(status: status(outcome), body: "")
    }

    public static func render(_ outcome: UsageBatchOutcome, upgradeURL: String) -> StoredResponse {
        let nothingLanded = status(outcome) == 402
        var out = JSONObjectWriter(capacity: 192 + outcome.events.count * 256)
        if nothingLanded, outcome.freeLimitBlockedCount + outcome.overBalanceBlockedCount == 0,
            let budgetRefusal = outcome.events.lazy.compactMap(\.budgetRefusal).first
        {
            // Only budgets refused: the error names the budget, its limit, spend and reset.
            out.string("error", budgetRefusal.sentence)
            out.string("code", "budget_exceeded")
            out.beginObject("budget")
            budgetRefusal.write(into: &out)
            out.end("}")
        } else if nothingLanded {
            out.string("error", refusal(outcome))
            if let detail = refusalDetail(outcome) {
                out.string("detail", detail.sentence)
                out.money("required_usd", detail.cost)
                out.money("balance_usd", detail.balance)
            }
        }
        if nothingLanded { out.string("upgrade_url", upgradeURL) }
        out.string("org_id", outcome.organizationID.rawValue)
        out.integer("tracked_tokens_mtd", outcome.trackedTokensThisMonth)
        out.integer("tracked_limit", outcome.plan.trackedTokensPerMonth)
        out.string("tier", outcome.plan.rawValue)
        if outcome.events.count == 1 {
            writeEvent(outcome.events[0], into: &out)
        } else {
            out.beginArray("results")
            // By index: `for event in` would copy each outcome (retaining its strings) first.
            for index in outcome.events.indices {
                out.beginObject()
                writeEvent(outcome.events[index], into: &out)
                out.end("}")
            }
            out.end("]")
            out.integer("recorded", Int64(outcome.recordedCount))
            out.integer(
                "blocked",
                Int64(outcome.freeLimitBlockedCount + outcome.overBalanceBlockedCount + outcome.overBudgetBlockedCount))
            out.integer("free_limit_blocked", Int64(outcome.freeLimitBlockedCount))
            out.integer("over_balance_blocked", Int64(outcome.overBalanceBlockedCount))
            if outcome.overBudgetBlockedCount > 0 { out.integer("over_budget_blocked", Int64(outcome.overBudgetBlockedCount)) }
            if outcome.duplicateCount > 0 { out.integer("duplicates", Int64(outcome.duplicateCount)) }
        }
        return StoredResponse(status: nothingLanded ? 402 : 200, body: out.finish())
    }

    private static func refusal(_ outcome: UsageBatchOutcome) -> String {
        switch (outcome.freeLimitBlockedCount > 0, outcome.overBalanceBlockedCount > 0) {
        case (false, _): "prepaid credit exhausted"
        case (true, false): "free-tier token quota reached — upgrade to Pro"
        case (true, true): "usage rejected: free-tier quota and prepaid credit both exhausted"
        }
    }

    /// The first call the hard stop refused, as a sentence with its amounts. The contract's
    /// `error` string stays as the original's clients expect; this says what happened.
    private static func refusalDetail(_ outcome: UsageBatchOutcome) -> (
        sentence: String, cost: MicroDollars, balance: MicroDollars
    )? {
        guard let index = outcome.events.firstIndex(where: { $0.status == .rejected(.overBalance) }) else { return nil }
        let event = outcome.events[index]
        let sentence = Metering.refusalSentence(
            cost: event.cost, balance: event.balanceAfter, held: event.held,
            call: outcome.events.count > 1 ? "event \(index)" : "this call")
        return (sentence, event.cost, event.balanceAfter)
    }

    /// The stored response of an earlier request with the same key, marked as a replay.
    public static func replay(_ stored: StoredResponse) -> StoredResponse {
        precondition(stored.body.hasSuffix("}"), "stored responses are JSON objects")
        var body = stored.body
        body.removeLast()
        body += (body.hasSuffix("{") ? "" : ",") + "\"idempotent_replay\":true}"
        return StoredResponse(status: stored.status, body: body)
    }

    static func writeEvent(_ event: EventOutcome, into out: inout JSONObjectWriter) {
        out.bool("recorded", event.isRecorded)
        out.string("event_id", event.eventID?.rawValue)
        out.money("cost_usd", event.cost)
        out.bool("estimated", event.costKind.isEstimated)
        out.money("balance_after", event.balanceAfter)
        out.bool("over_free_limit", event.overFreeLimit)
        out.bool("over_balance", event.status == .rejected(.overBalance))
        out.bool("unpriced", event.costKind == .unpriced)
        out.string("workspace_id", event.workspaceID?.rawValue)
        if event.status == .duplicate { out.bool("duplicate", true) }
        if let refusal = event.budgetRefusal {
            out.bool("over_budget", true)
            out.string("budget_id", refusal.standing.budget.id.rawValue)
        }
        if !event.alerts.isEmpty {
            out.beginArray("alerts")
            for alert in event.alerts {
                out.beginObject()
                out.string("kind", alert.kind.rawValue)
                out.string("message", alert.message)
                out.end("}")
            }
            out.end("]")
        }
    }
}

/// Hash of an ingest request for idempotency: the same key must come with the same body.
public enum RequestFingerprint {
    /// SHA-256 over the canonical form of the parsed body, so whitespace and key order do
    /// not matter but every value does.
    public static func of(_ body: JSONValue) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        canonical(body, into: &bytes)
        return Digest.sha256Hex(bytes)
    }

    private static func canonical(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (offset, member) in members.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.0, into: &out)
                out.append(UInt8(ascii: ":"))
                canonical(member.1, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                canonical(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            value.write(into: &out)
        }
    }
}
