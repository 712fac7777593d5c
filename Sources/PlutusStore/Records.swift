import PlutusCore

public struct Organization: Sendable, Equatable {
    public var id: OrganizationID
    public var name: String
    public var slug: String
    public var plan: Plan
    public var hardStopExempt: Bool
    public var everCredited: Bool
    public var stripeCustomerID: String?
    public var createdAt: Timestamp

    public init(
        id: OrganizationID, name: String, slug: String, plan: Plan, hardStopExempt: Bool, everCredited: Bool,
        stripeCustomerID: String?, createdAt: Timestamp
    ) {
        self.id = id
        self.name = name
        self.slug = slug
        self.plan = plan
        self.hardStopExempt = hardStopExempt
        self.everCredited = everCredited
        self.stripeCustomerID = stripeCustomerID
        self.createdAt = createdAt
    }
}

/// An organization with its current balance, for listings.
public struct OrganizationListing: Sendable, Equatable {
    public var organization: Organization
    public var balance: MicroDollars
    public var workspaceCount: Int

    public init(organization: Organization, balance: MicroDollars, workspaceCount: Int) {
        self.organization = organization
        self.balance = balance
        self.workspaceCount = workspaceCount
    }
}

public struct Workspace: Sendable, Equatable {
    public var id: WorkspaceID
    public var organizationID: OrganizationID
    public var name: String
    public var slug: String
    public var monthlyBudget: MicroDollars?
    public var createdAt: Timestamp

    public init(
        id: WorkspaceID, organizationID: OrganizationID, name: String, slug: String, monthlyBudget: MicroDollars?,
        createdAt: Timestamp
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.slug = slug
        self.monthlyBudget = monthlyBudget
        self.createdAt = createdAt
    }
}

public struct APIKeyInfo: Sendable, Equatable {
    public var id: APIKeyID
    public var organizationID: OrganizationID
    public var name: String?
    public var prefix: String
    public var createdAt: Timestamp
    public var lastUsedAt: Timestamp?
    public var revokedAt: Timestamp?

    public init(
        id: APIKeyID, organizationID: OrganizationID, name: String?, prefix: String, createdAt: Timestamp, lastUsedAt: Timestamp?,
        revokedAt: Timestamp?
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.prefix = prefix
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// A freshly minted key. The secret exists only here; the store keeps its hash.
public struct CreatedAPIKey: Sendable, Equatable {
    public var info: APIKeyInfo
    public var secret: String

    public init(info: APIKeyInfo, secret: String) {
        self.info = info
        self.secret = secret
    }
}

public struct APIKeyIdentity: Sendable, Equatable {
    public var keyID: APIKeyID
    public var organizationID: OrganizationID

    public init(keyID: APIKeyID, organizationID: OrganizationID) {
        self.keyID = keyID
        self.organizationID = organizationID
    }
}

public struct UsageEventRecord: Sendable, Equatable {
    /// Monotonic position in the store; the cursor for paging.
    public var sequence: Int64
    public var id: UsageEventID
    public var organizationID: OrganizationID
    public var workspaceID: WorkspaceID?
    public var workspaceName: String?
    public var clientEventID: String?
    public var provider: String
    public var model: String?
    public var taskType: String
    public var tokens: TokenCounts
    public var cost: MicroDollars
    public var costKind: CostKind
    public var priceVersion: String
    public var source: String
    public var timestamp: Timestamp
    public var recordedAt: Timestamp
    /// The usage entry of the request that recorded it; nil when it cost nothing.
    public var entryID: EntryID?

    public init(
        sequence: Int64, id: UsageEventID, organizationID: OrganizationID, workspaceID: WorkspaceID?, workspaceName: String?,
        clientEventID: String?, provider: String, model: String?, taskType: String, tokens: TokenCounts, cost: MicroDollars,
        costKind: CostKind, priceVersion: String, source: String, timestamp: Timestamp, recordedAt: Timestamp,
        entryID: EntryID? = nil
    ) {
        self.sequence = sequence
        self.id = id
        self.organizationID = organizationID
        self.workspaceID = workspaceID
        self.workspaceName = workspaceName
        self.clientEventID = clientEventID
        self.provider = provider
        self.model = model
        self.taskType = taskType
        self.tokens = tokens
        self.cost = cost
        self.costKind = costKind
        self.priceVersion = priceVersion
        self.source = source
        self.timestamp = timestamp
        self.recordedAt = recordedAt
        self.entryID = entryID
    }
}

public struct LedgerEntryRecord: Sendable, Equatable {
    public var sequence: Int64
    public var id: EntryID
    public var organizationID: OrganizationID
    public var kind: EntryKind
    /// Seen from the organization's credit: positive added credit, negative took it.
    public var amount: MicroDollars
    public var debitAccount: AccountCode
    public var creditAccount: AccountCode
    public var reference: String
    public var externalReference: String?
    public var memo: String?
    /// The organization's credit balance right after this entry.
    public var balanceAfter: MicroDollars
    public var timestamp: Timestamp

    public init(
        sequence: Int64, id: EntryID, organizationID: OrganizationID, kind: EntryKind, amount: MicroDollars,
        debitAccount: AccountCode, creditAccount: AccountCode, reference: String, externalReference: String?, memo: String?,
        balanceAfter: MicroDollars, timestamp: Timestamp
    ) {
        self.sequence = sequence
        self.id = id
        self.organizationID = organizationID
        self.kind = kind
        self.amount = amount
        self.debitAccount = debitAccount
        self.creditAccount = creditAccount
        self.reference = reference
        self.externalReference = externalReference
        self.memo = memo
        self.balanceAfter = balanceAfter
        self.timestamp = timestamp
    }
}

public struct AlertRecord: Sendable, Equatable {
    public var id: AlertID
    public var organizationID: OrganizationID
    public var workspaceID: WorkspaceID?
    public var kind: AlertKind
    public var message: String
    public var period: String
    public var createdAt: Timestamp

    public init(
        id: AlertID, organizationID: OrganizationID, workspaceID: WorkspaceID?, kind: AlertKind, message: String, period: String,
        createdAt: Timestamp
    ) {
        self.id = id
        self.organizationID = organizationID
        self.workspaceID = workspaceID
        self.kind = kind
        self.message = message
        self.period = period
        self.createdAt = createdAt
    }
}

/// An organization's money and quota position at one instant.
public struct BalanceSnapshot: Sendable, Equatable {
    public var organizationID: OrganizationID
    public var plan: Plan
    public var balance: MicroDollars
    public var everCredited: Bool
    public var hardStopExempt: Bool
    public var month: CivilMonth
    public var monthTrackedTokens: Int64
    public var monthSpend: MicroDollars
    public var monthEvents: Int64
    public var workspaceCount: Int
    /// Credit set aside by holds active at the time of the snapshot.
    public var held: MicroDollars
    /// The credits with something left, in the order they are consumed (expired ones never
    /// show, and never count in `balance`, even before their expiry entry is posted).
    public var lots: [CreditLot]
    /// What spends may use: the balance less what is held.
    public var available: MicroDollars { MicroDollars(rawValue: balance.rawValue - held.rawValue) }

    public init(
        organizationID: OrganizationID, plan: Plan, balance: MicroDollars, everCredited: Bool, hardStopExempt: Bool,
        month: CivilMonth, monthTrackedTokens: Int64, monthSpend: MicroDollars, monthEvents: Int64, workspaceCount: Int,
        held: MicroDollars = .zero, lots: [CreditLot] = []
    ) {
        self.organizationID = organizationID
        self.plan = plan
        self.balance = balance
        self.everCredited = everCredited
        self.hardStopExempt = hardStopExempt
        self.month = month
        self.monthTrackedTokens = monthTrackedTokens
        self.monthSpend = monthSpend
        self.monthEvents = monthEvents
        self.workspaceCount = workspaceCount
        self.held = held
        self.lots = lots
    }
}

/// Newest-first paging by sequence: `before` is exclusive.
public struct PageRequest: Sendable, Equatable {
    public var limit: Int
    public var before: Int64?
    /// Only this workspace's rows (usage events); `nil` for all.
    public var workspace: WorkspaceID?

    /// Clamps `limit` into `1...Limits.pageRowsMax`.
    public init(limit: Int = Limits.pageRowsDefault, before: Int64? = nil, workspace: WorkspaceID? = nil) {
        self.limit = min(max(limit, 1), Limits.pageRowsMax)
        self.before = before
        self.workspace = workspace
    }
}

public struct Page<Item: Sendable & Equatable>: Sendable, Equatable {
    public var items: [Item]
    /// Pass as `before` for the next (older) page; `nil` when there is none.
    public var nextBefore: Int64?

    public init(items: [Item], nextBefore: Int64?) {
        self.items = items
        self.nextBefore = nextBefore
    }
}

/// An ingest request for one organization. All of it commits, or none of it.
extension Page {
    /// A page from rows fetched with one more than `limit`: the extra row only says that
    /// another page follows, which starts before the last row kept.
    public init(pageOf items: [Item], limit: Int, sequence: (Item) -> Int64) {
        guard items.count > limit else {
            self.init(items: items, nextBefore: nil)
            return
        }
        let kept = Array(items.prefix(limit))
        self.init(items: kept, nextBefore: kept.last.map(sequence))
    }
}

public struct UsageBatch: Sendable {
    public struct IdempotencyClaim: Sendable, Equatable {
        public var key: String
        /// `RequestFingerprint` of the body: the same key with another body is a conflict.
        public var requestHash: String

        public init(key: String, requestHash: String) {
            self.key = key
            self.requestHash = requestHash
        }
    }

    public var organizationID: OrganizationID
    public var events: [UsageEventInput]
    public var idempotency: IdempotencyClaim?
    public var policy: MeteringPolicy
    public var receivedAt: Timestamp
    public var upgradeURL: String
    /// The API key that sent it, for budgets of scope `key` (nil from the CLI).
    public var apiKeyID: APIKeyID?
    /// `false` when the caller reads only the outcome (OTLP ingest, which answers in its own
    /// terms): without an idempotency key, the `/v1/usage` body is then not rendered, and the
    /// result's response carries the status alone.
    public var rendersResponse = true

    public init(
        organizationID: OrganizationID, events: [UsageEventInput], idempotency: IdempotencyClaim? = nil,
        policy: MeteringPolicy = .standard, receivedAt: Timestamp, upgradeURL: String = "/pricing", apiKeyID: APIKeyID? = nil,
        rendersResponse: Bool = true
    ) {
        self.rendersResponse = rendersResponse
        precondition(!events.isEmpty && events.count <= Limits.batchEventsMax, "batch size is validated by the caller")
        self.organizationID = organizationID
        self.events = events
        self.idempotency = idempotency
        self.policy = policy
        self.receivedAt = receivedAt
        self.upgradeURL = upgradeURL
        self.apiKeyID = apiKeyID
    }
}

public enum UsageBatchResult: Sendable, Equatable {
    /// The batch committed; the response was stored with the idempotency key, if any.
    case committed(UsageBatchOutcome, StoredResponse)
    /// The key was seen before with the same body: the original response, unchanged.
    case replayed(StoredResponse)

    public var response: StoredResponse {
        switch self {
        case .committed(_, let response): response
        case .replayed(let stored): UsageResponse.replay(stored)
        }
    }
}

public enum CreditResult: Sendable, Equatable {
    case posted(LedgerEntryRecord)
    /// The reference was posted before with the same organization and amount.
    case alreadyPosted(LedgerEntryRecord)

    public var entry: LedgerEntryRecord {
        switch self {
        case .posted(let entry), .alreadyPosted(let entry): entry
        }
    }
}

/// What `verify` found. Clean when `problems` is empty.
public struct VerificationReport: Sendable, Equatable {
    public var accountsChecked: Int
    public var entriesChecked: Int
    public var eventsChecked: Int
    public var problems: [String]

    public var isClean: Bool { problems.isEmpty }

    public init(accountsChecked: Int, entriesChecked: Int, eventsChecked: Int, problems: [String]) {
        self.accountsChecked = accountsChecked
        self.entriesChecked = entriesChecked
        self.eventsChecked = eventsChecked
        self.problems = problems
    }
}

/// What applying a Stripe event did.
public struct StripeOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        case credited
        case awaitingPayment = "awaiting_payment"
        case alreadyCredited = "already_credited"
        case paymentFailed = "payment_failed"
        case customerLinked = "customer_linked"
        case planSet = "plan_set"
        case stale
        case refunded, disputed, restored, noop, ignored, duplicate, unmapped
        case notACreditPurchase = "not_a_credit_purchase"
    }

    public var status: Status
    public var organizationID: OrganizationID?
    /// Money moved by this event, seen from the organization (negative for reversals).
    public var amount: MicroDollars?
    public var balanceAfter: MicroDollars?
    public var detail: String?

    public init(
        status: Status, organizationID: OrganizationID? = nil, amount: MicroDollars? = nil,
        balanceAfter: MicroDollars? = nil, detail: String? = nil
    ) {
        self.status = status
        self.organizationID = organizationID
        self.amount = amount
        self.balanceAfter = balanceAfter
        self.detail = detail
    }
}

/// An alert a delivery channel has not yet delivered or given up on, with the attempts made so far.
public struct PendingAlertDelivery: Sendable, Equatable {
    public var alert: AlertRecord
    public var organizationName: String
    public var channel: String
    public var attemptsMade: Int

    public init(alert: AlertRecord, organizationName: String, channel: String, attemptsMade: Int) {
        precondition(attemptsMade >= 0, "attempts are counted from zero")
        self.alert = alert
        self.organizationName = organizationName
        self.channel = channel
        self.attemptsMade = attemptsMade
    }
}

/// What one delivery attempt came to.
public enum AlertDeliveryStatus: String, Sendable, CaseIterable {
    /// The channel accepted the alert; it is never sent there again.
    case delivered
    /// The attempt failed and another is scheduled.
    case failed
    /// The attempt failed and no other will be made (attempts used up, or a permanent refusal).
    case abandoned
}

/// One row of the delivery log: one attempt to deliver one alert to one channel.
public struct AlertDeliveryAttempt: Sendable, Equatable {
    public var alertID: AlertID
    public var channel: String
    /// 1 for the first attempt.
    public var attempt: Int
    public var status: AlertDeliveryStatus
    /// The HTTP status or the SMTP server's last reply, when there was one.
    public var reply: String?
    public var errorText: String?
    public var attemptedAt: Timestamp
    /// When a `failed` delivery is due again; `nil` for the other statuses.
    public var nextAttemptAt: Timestamp?

    public init(
        alertID: AlertID, channel: String, attempt: Int, status: AlertDeliveryStatus, reply: String?, errorText: String?,
        attemptedAt: Timestamp, nextAttemptAt: Timestamp?
    ) {
        precondition(attempt >= 1, "attempts are numbered from 1")
        precondition((status == .failed) == (nextAttemptAt != nil), "only a failed attempt schedules another")
        self.alertID = alertID
        self.channel = channel
        self.attempt = attempt
        self.status = status
        self.reply = reply
        self.errorText = errorText
        self.attemptedAt = attemptedAt
        self.nextAttemptAt = nextAttemptAt
    }
}
