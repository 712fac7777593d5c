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

    public init(
        status: Status, eventID: UsageEventID?, cost: MicroDollars, costKind: CostKind, balanceAfter: MicroDollars,
        overFreeLimit: Bool, workspaceID: WorkspaceID?, alerts: [AlertDraft]
    ) {
        self.status = status
        self.eventID = eventID
        self.cost = cost
        self.costKind = costKind
        self.balanceAfter = balanceAfter
        self.overFreeLimit = overFreeLimit
        self.workspaceID = workspaceID
        self.alerts = alerts
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
    public static func render(_ outcome: UsageBatchOutcome, upgradeURL: String) -> StoredResponse {
        var members: [(String, JSONValue)] = [
            ("org_id", .string(outcome.organizationID.rawValue)),
            ("tracked_tokens_mtd", .int(outcome.trackedTokensThisMonth)),
            ("tracked_limit", outcome.plan.trackedTokensPerMonth.map(JSONValue.int) ?? .null),
            ("tier", .string(outcome.plan.rawValue)),
        ]
        if outcome.events.count == 1 {
            members += eventMembers(outcome.events[0])
        } else {
            members.append(("results", .array(outcome.events.map { .object(eventMembers($0)) })))
            members.append(("recorded", .int(outcome.recordedCount)))
            members.append(("blocked", .int(outcome.freeLimitBlockedCount + outcome.overBalanceBlockedCount)))
            members.append(("free_limit_blocked", .int(outcome.freeLimitBlockedCount)))
            members.append(("over_balance_blocked", .int(outcome.overBalanceBlockedCount)))
            if outcome.duplicateCount > 0 { members.append(("duplicates", .int(outcome.duplicateCount))) }
        }
        let nothingLanded = outcome.recordedCount == 0 && outcome.duplicateCount == 0
        guard nothingLanded else { return StoredResponse(status: 200, body: JSONValue.object(members).serialized()) }
        let message: String
        switch (outcome.freeLimitBlockedCount > 0, outcome.overBalanceBlockedCount > 0) {
        case (false, _): message = "prepaid credit exhausted"
        case (true, false): message = "free-tier token quota reached — upgrade to Pro"
        case (true, true): message = "usage rejected: free-tier quota and prepaid credit both exhausted"
        }
        members.insert(("error", .string(message)), at: 0)
        members.insert(("upgrade_url", .string(upgradeURL)), at: 1)
        return StoredResponse(status: 402, body: JSONValue.object(members).serialized())
    }

    /// The stored response of an earlier request with the same key, marked as a replay.
    public static func replay(_ stored: StoredResponse) -> StoredResponse {
        precondition(stored.body.hasSuffix("}"), "stored responses are JSON objects")
        var body = stored.body
        body.removeLast()
        body += (body.hasSuffix("{") ? "" : ",") + "\"idempotent_replay\":true}"
        return StoredResponse(status: stored.status, body: body)
    }

    static func eventMembers(_ event: EventOutcome) -> [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [
            ("recorded", .bool(event.isRecorded)),
            ("event_id", event.eventID.map { .string($0.rawValue) } ?? .null),
            ("cost_usd", .money(event.cost)),
            ("estimated", .bool(event.costKind.isEstimated)),
            ("balance_after", .money(event.balanceAfter)),
            ("over_free_limit", .bool(event.overFreeLimit)),
            ("over_balance", .bool(event.status == .rejected(.overBalance))),
            ("unpriced", .bool(event.costKind == .unpriced)),
            ("workspace_id", event.workspaceID.map { .string($0.rawValue) } ?? .null),
        ]
        if event.status == .duplicate { members.append(("duplicate", .bool(true))) }
        if !event.alerts.isEmpty {
            members.append((
                "alerts",
                .array(event.alerts.map { .object([("kind", .string($0.kind.rawValue)), ("message", .string($0.message))]) })
            ))
        }
        return members
    }
}

/// Hash of an ingest request for idempotency: the same key must come with the same body.
public enum RequestFingerprint {
    /// SHA-256 over the canonical form of the parsed body, so whitespace and key order do
    /// not matter but every value does.
    public static func of(_ body: JSONValue) -> String {
        var text = ""
        canonical(body, into: &text)
        return Digest.sha256Hex(Array(text.utf8))
    }

    private static func canonical(_ value: JSONValue, into out: inout String) {
        switch value {
        case .object(let members):
            out += "{"
            for (offset, member) in members.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if offset > 0 { out += "," }
                JSONValue.writeString(member.0, into: &out)
                out += ":"
                canonical(member.1, into: &out)
            }
            out += "}"
        case .array(let elements):
            out += "["
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out += "," }
                canonical(element, into: &out)
            }
            out += "]"
        default:
            value.write(into: &out)
        }
    }
}
