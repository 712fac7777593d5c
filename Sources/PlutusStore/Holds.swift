import PlutusCore

/// Where a hold stands. Only `held` sets credit aside.
public enum ReservationStatus: String, Sendable, CaseIterable {
    case held, settled, released, expired
}

/// A hold (reservation): credit set aside before a call whose cost is known only afterwards.
public struct Reservation: Sendable, Equatable {
    public var id: ReservationID
    public var organizationID: OrganizationID
    /// As stored; a hold past its expiry that no transaction has expired yet reads `expired`
    /// through `status(at:)`.
    public var storedStatus: ReservationStatus
    public var amount: MicroDollars
    /// The workspace reference the hold was placed with (its id, slug or name), if any; a
    /// settle event that names none is attributed to it.
    public var workspace: String?
    /// The existing workspace that reference resolved to when the hold was placed (budgets of
    /// that workspace count the hold); nil for none or one not created yet.
    public var workspaceID: WorkspaceID?
    public var taskType: String?
    public var runID: String?
    public var apiKeyID: APIKeyID?
    public var provider: String?
    public var model: String?
    /// The caller's metadata, as a JSON object's text.
    public var metadata: String?
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// When it was settled, released or expired.
    public var closedAt: Timestamp?
    /// For a settled hold: the event that settled it and its cost.
    public var eventID: UsageEventID?
    public var cost: MicroDollars?

    public init(
        id: ReservationID, organizationID: OrganizationID, storedStatus: ReservationStatus, amount: MicroDollars,
        workspace: String? = nil, workspaceID: WorkspaceID? = nil, taskType: String? = nil, runID: String? = nil,
        apiKeyID: APIKeyID? = nil, provider: String? = nil, model: String? = nil, metadata: String? = nil,
        createdAt: Timestamp,
        expiresAt: Timestamp, closedAt: Timestamp? = nil, eventID: UsageEventID? = nil, cost: MicroDollars? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.storedStatus = storedStatus
        self.amount = amount
        self.workspace = workspace
        self.workspaceID = workspaceID
        self.taskType = taskType
        self.runID = runID
        self.apiKeyID = apiKeyID
        self.provider = provider
        self.model = model
        self.metadata = metadata
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.closedAt = closedAt
        self.eventID = eventID
        self.cost = cost
    }

    /// The status as of `now`: an active hold past its expiry is expired, swept or not.
    public func status(at now: Timestamp) -> ReservationStatus {
        storedStatus == .held && Holds.isExpired(expiresAt: expiresAt, now: now) ? .expired : storedStatus
    }

    /// What was given back: all of it when released or expired, the part above the cost
    /// when settled, nothing while held.
    public var released: MicroDollars {
        switch storedStatus {
        case .held: .zero
        case .released, .expired: amount
        case .settled: MicroDollars(rawValue: max(0, amount.rawValue - (cost?.rawValue ?? 0)))
        }
    }

    /// A settle that cost more than was held (charged in full: the call happened).
    public var overHold: Bool { storedStatus == .settled && (cost?.rawValue ?? 0) > amount.rawValue }

    /// What budgets see of it.
    public var subject: BudgetSubject {
        BudgetSubject(workspaceID: workspaceID, apiKeyID: apiKeyID, taskType: taskType, runID: runID)
    }
}

/// A request for a hold, validated and priced.
public struct HoldRequest: Sendable {
    public var organizationID: OrganizationID
    public var amount: MicroDollars
    public var workspace: String?
    public var taskType: String?
    public var runID: String?
    public var apiKeyID: APIKeyID?
    public var provider: String?
    public var model: String?
    public var metadata: String?
    public var ttlSeconds: Int64
    public var idempotency: UsageBatch.IdempotencyClaim?
    public var policy: MeteringPolicy
    public var receivedAt: Timestamp

    public init(
        organizationID: OrganizationID, amount: MicroDollars, workspace: String? = nil, taskType: String? = nil,
        runID: String? = nil, apiKeyID: APIKeyID? = nil, provider: String? = nil, model: String? = nil,
        metadata: String? = nil, ttlSeconds: Int64 = Limits.holdTTLSecondsDefault,
        idempotency: UsageBatch.IdempotencyClaim? = nil, policy: MeteringPolicy = .standard, receivedAt: Timestamp
    ) {
        precondition(amount.isPositive && amount <= Limits.holdAmountMax, "the amount is validated by the caller")
        precondition(Limits.holdTTLSeconds.contains(ttlSeconds), "the ttl is validated by the caller")
        self.organizationID = organizationID
        self.amount = amount
        self.workspace = workspace
        self.taskType = taskType
        self.runID = runID
        self.apiKeyID = apiKeyID
        self.provider = provider
        self.model = model
        self.metadata = metadata
        self.ttlSeconds = ttlSeconds
        self.idempotency = idempotency
        self.policy = policy
        self.receivedAt = receivedAt
    }
}

/// What an organization's holds add up to, as its row keeps them: the sum of the active
/// holds, and a time at or before the earliest of their expiries (`nil`: none active).
public struct HoldTotals: Sendable, Equatable {
    public var held: MicroDollars
    public var nextExpiry: Timestamp?

    public init(held: MicroDollars, nextExpiry: Timestamp?) {
        self.held = held
        self.nextExpiry = nextExpiry
    }

    public static let none = HoldTotals(held: .zero, nextExpiry: nil)
}

/// The answer to a hold request.
public enum HoldResult: Sendable, Equatable {
    /// Held; `available` is what spends may still use.
    case placed(Reservation, available: MicroDollars, response: StoredResponse)
    /// The Idempotency-Key was used before with the same body: the original response.
    case replayed(StoredResponse)
    /// Nothing held: the organization cannot cover it.
    case refused(HoldRefusal)
    /// Nothing held: a hard budget covering it has no room.
    case refusedByBudget(BudgetRefusal)
}

/// Why nothing was held.
public enum HoldDenial: Error, Sendable, Equatable {
    case credit(HoldRefusal)
    case budget(BudgetRefusal)

    /// The 402 body.
    public var response: StoredResponse {
        switch self {
        case .credit(let refusal): return refusal.response
        case .budget(let refusal): return Holds.budgetResponse(refusal)
        }
    }

    public var result: HoldResult {
        switch self {
        case .credit(let refusal): .refused(refusal)
        case .budget(let refusal): .refusedByBudget(refusal)
        }
    }
}

/// Why a hold was refused, with the figures that show it.
public struct HoldRefusal: Error, Sendable, Equatable {
    public var amount: MicroDollars
    public var balance: MicroDollars
    public var held: MicroDollars

    public init(amount: MicroDollars, balance: MicroDollars, held: MicroDollars) {
        self.amount = amount
        self.balance = balance
        self.held = held
    }

    public var available: MicroDollars { MicroDollars(rawValue: balance.rawValue - held.rawValue) }
    public var sentence: String {
        Metering.refusalSentence(cost: amount, balance: balance, held: held, call: "this hold")
    }

    /// The 402 body: the error, its code and the figures.
    public var response: StoredResponse {
        var out = JSONObjectWriter(capacity: 256)
        out.string("error", sentence)
        out.string("code", "insufficient_credit")
        out.money("required_usd", amount)
        out.money("balance_usd", balance)
        out.money("held_usd", held)
        out.money("available_usd", available)
        return StoredResponse(status: 402, body: out.finish())
    }
}

/// The answer to a settle.
public enum SettleResult: Sendable, Equatable {
    /// Settled now: the event's outcome and the hold as it now stands.
    case settled(Reservation, response: StoredResponse)
    /// Settled before: the first answer.
    case replayed(StoredResponse)
}

/// The rules of holds, written once for both stores. A store reads the facts (the
/// organization's balance and hold totals, under its lock; the hold's row) and writes what
/// these return.
public enum Holds {
    /// A hold expiring at `expiresAt` is expired from that instant on.
    public static func isExpired(expiresAt: Timestamp, now: Timestamp) -> Bool { expiresAt <= now }

    /// Whether any active hold may be past its expiry, so the store must expire them before
    /// deciding anything that reads holds.
    public static func expiryDue(_ totals: HoldTotals, now: Timestamp) -> Bool {
        totals.nextExpiry.map { isExpired(expiresAt: $0, now: now) } ?? false
    }

    /// Places a hold or refuses it: the same test as the hard stop on a spend, against the
    /// balance less what is already held (a hold of exactly the available credit is placed),
    /// then every hard budget covering it (`budgets`: those that cover `subject(…)`, with
    /// their spend and holds), which the hold must fit in as a spend would.
    public static func place(
        _ request: HoldRequest, workspaceID: WorkspaceID?, organization: Organization, balance: MicroDollars,
        totals: HoldTotals, budgets: [BudgetStanding] = []
    ) -> Result<(reservation: Reservation, totals: HoldTotals), HoldDenial> {
        let snapshot = OrganizationSnapshot(
            plan: organization.plan, balance: balance, everCredited: organization.everCredited,
            hardStopExempt: organization.hardStopExempt, monthTrackedTokens: 0, held: totals.held)
        if snapshot.hardStopApplies(request.policy), snapshot.available.rawValue - request.amount.rawValue < 0 {
            return .failure(.credit(HoldRefusal(amount: request.amount, balance: balance, held: totals.held)))
        }
        if request.policy.enforceBudgets, let refusal = Budgets.refusal(budgets, amount: request.amount) {
            return .failure(.budget(refusal))
        }
        let expiresAt = Timestamp(rawValue: request.receivedAt.millis + request.ttlSeconds * 1000)
        let reservation = Reservation(
            id: .random(), organizationID: organization.id, storedStatus: .held, amount: request.amount,
            workspace: request.workspace, workspaceID: workspaceID, taskType: request.taskType, runID: request.runID,
            apiKeyID: request.apiKeyID,
            provider: request.provider, model: request.model, metadata: request.metadata, createdAt: request.receivedAt,
            expiresAt: expiresAt)
        let next = min(totals.nextExpiry ?? expiresAt, expiresAt)
        return .success((reservation, HoldTotals(held: totals.held.adding(request.amount)!, nextExpiry: next)))
    }

    /// What budgets would see of a hold of this request.
    public static func subject(_ request: HoldRequest, workspaceID: WorkspaceID?) -> BudgetSubject {
        BudgetSubject(workspaceID: workspaceID, apiKeyID: request.apiKeyID, taskType: request.taskType, runID: request.runID)
    }

    /// The 402 body of a hold a budget refused.
    public static func budgetResponse(_ refusal: BudgetRefusal) -> StoredResponse {
        var out = JSONObjectWriter(capacity: 384)
        out.string("error", refusal.sentence)
        out.string("code", "budget_exceeded")
        out.beginObject("budget")
        refusal.write(into: &out)
        out.end("}")
        return StoredResponse(status: 402, body: out.finish())
    }

    /// The 201 body of a placed hold.
    public static func placedResponse(_ reservation: Reservation, available: MicroDollars) -> StoredResponse {
        var out = JSONObjectWriter(capacity: 256)
        out.string("reservation_id", reservation.id.rawValue)
        out.string("status", ReservationStatus.held.rawValue)
        out.money("held_usd", reservation.amount)
        out.money("available_usd", available)
        out.string("expires_at", reservation.expiresAt.iso8601)
        out.string("workspace", reservation.workspace)
        out.string("task_type", reservation.taskType)
        out.string("run_id", reservation.runID)
        return StoredResponse(status: 201, body: out.finish())
    }

    /// Expires the given active holds (those past their expiry): each is closed at its own
    /// expiry, and the totals drop by their amounts. `remainingNextExpiry` is the earliest
    /// expiry among the active holds that stay.
    public static func expire(
        _ due: [Reservation], totals: HoldTotals, remainingNextExpiry: Timestamp?
    ) -> (closed: [Reservation], totals: HoldTotals) {
        var held = totals.held.rawValue
        let closed = due.map { hold -> Reservation in
            precondition(hold.storedStatus == .held, "only active holds expire")
            held -= hold.amount.rawValue
            var hold = hold
            hold.storedStatus = .expired
            hold.closedAt = hold.expiresAt
            return hold
        }
        precondition(held >= 0, "the totals cover every active hold")
        return (closed, HoldTotals(held: MicroDollars(rawValue: held), nextExpiry: remainingNextExpiry))
    }

    /// How a settle or release of a hold in this state goes.
    public enum Closing: Sendable, Equatable {
        /// Active: go on.
        case proceed
        /// Done before in the same way: answer as the first time.
        case replay
        /// Closed otherwise: a 409 naming the state.
        case conflict(ReservationStatus)
    }

    /// Settling: only an active hold settles; a settled one replays its first answer.
    public static func settling(_ reservation: Reservation, now: Timestamp) -> Closing {
        switch reservation.status(at: now) {
        case .held: .proceed
        case .settled: .replay
        case let status: .conflict(status)
        }
    }

    /// Releasing: only an active hold is released; a released one answers as before.
    public static func releasing(_ reservation: Reservation, now: Timestamp) -> Closing {
        switch reservation.status(at: now) {
        case .held: .proceed
        case .released: .replay
        case let status: .conflict(status)
        }
    }

    /// The policy a settle's event is decided under: the call happened, so it is charged in
    /// full, whatever the balance or the quota.
    public static func settlePolicy(_ policy: MeteringPolicy) -> MeteringPolicy {
        var policy = policy
        policy.blockOverBalance = false
        policy.blockOverFreeLimit = false
        policy.enforceBudgets = false
        return policy
    }

    /// The first step of a settle, given the hold as read (with its stored answer): the
    /// answer to replay, or the hold to settle with the event `settleBatch` makes and the
    /// credit its spend may use (`held` without this hold). Throws for a hold that is not
    /// there or is closed otherwise.
    public enum SettleStart: Sendable {
        case replay(StoredResponse)
        case settle(Reservation, batch: UsageBatch, held: MicroDollars)
    }

    public static func startSettle(
        _ id: ReservationID, found: (reservation: Reservation, response: StoredResponse?)?, batch: UsageBatch,
        totals: HoldTotals
    ) throws -> SettleStart {
        guard let (hold, stored) = found else { throw StoreError.reservationNotFound(id.rawValue) }
        switch settling(hold, now: batch.receivedAt) {
        case .replay:
            guard let stored else { throw StoreError.backend("settled hold \(id) has no stored answer") }
            return .replay(stored)
        case .conflict(let status):
            throw StoreError.reservationClosed(id: id.rawValue, status: status.rawValue)
        case .proceed:
            return .settle(
                hold, batch: settleBatch(batch, for: hold),
                held: MicroDollars(rawValue: totals.held.rawValue - hold.amount.rawValue))
        }
    }

    /// The last step of a settle: the hold as it closes, the totals without it, and the
    /// answer to keep on its row, from the recorded event's outcome (and the usage answer
    /// when one was rendered).
    public static func finishSettle(
        _ hold: Reservation, outcome: UsageBatchOutcome, usage: StoredResponse?, batch: UsageBatch, totals: HoldTotals
    ) -> (reservation: Reservation, totals: HoldTotals, response: StoredResponse) {
        let (closed, after) = settled(hold, event: outcome.events[0], totals: totals, at: batch.receivedAt)
        let rendered = usage ?? UsageResponse.render(outcome, upgradeURL: batch.upgradeURL)
        return (closed, after, settleResponse(rendered, reservation: closed))
    }

    /// A release, given the hold as read: the answer when it was released before, else the
    /// hold as it closes and the totals without it. Throws for a hold that is not there or
    /// is closed otherwise.
    public static func release(
        _ id: ReservationID, found: Reservation?, totals: HoldTotals, at time: Timestamp
    ) throws -> (reservation: Reservation, totals: HoldTotals?, response: StoredResponse) {
        guard let hold = found else { throw StoreError.reservationNotFound(id.rawValue) }
        switch releasing(hold, now: time) {
        case .replay: return (hold, nil, releaseResponse(hold))
        case .conflict(let status): throw StoreError.reservationClosed(id: id.rawValue, status: status.rawValue)
        case .proceed:
            let (closed, after) = released(hold, totals: totals, at: time)
            return (closed, after, releaseResponse(closed))
        }
    }

    /// Holds as a listing shows them (`GET /v1/reservations`, `plutus holds --json`).
    public static func listing(_ holds: [Reservation], organizationID: OrganizationID, now: Timestamp) -> String {
        var out = JSONObjectWriter(capacity: 128 + holds.count * 384)
        out.string("org_id", organizationID.rawValue)
        out.beginArray("reservations")
        for hold in holds {
            out.beginObject()
            describe(hold, now: now, into: &out)
            out.end("}")
        }
        out.end("]")
        return out.finish()
    }

    /// The request a settle records: its one event, attributed to the hold's workspace and
    /// run when it names none and to the key that placed the hold, under `settlePolicy`,
    /// without an Idempotency-Key (the hold's own row keeps the answer).
    public static func settleBatch(_ batch: UsageBatch, for hold: Reservation) -> UsageBatch {
        precondition(batch.events.count == 1, "a settle carries one event")
        var batch = batch
        batch.idempotency = nil
        batch.policy = settlePolicy(batch.policy)
        if batch.events[0].workspace == nil { batch.events[0].workspace = hold.workspace }
        if batch.events[0].runID == nil { batch.events[0].runID = hold.runID }
        // The spend is the hold's: the budgets of the key that placed it count it.
        if let key = hold.apiKeyID { batch.apiKeyID = key }
        return batch
    }

    /// The settled hold, given its event's outcome, and the totals once it is no longer held.
    /// Its cost is what the event charged.
    public static func settled(_ reservation: Reservation, event: EventOutcome, totals: HoldTotals, at time: Timestamp)
        -> (reservation: Reservation, totals: HoldTotals)
    {
        var settled = reservation
        settled.storedStatus = .settled
        settled.closedAt = time
        settled.eventID = event.eventID
        // A duplicate event (its `event_id` was recorded before) charges nothing now.
        settled.cost = event.status == .duplicate ? .zero : event.cost
        return (settled, releasing(reservation.amount, from: totals))
    }

    /// The released hold and the totals without it.
    public static func released(_ reservation: Reservation, totals: HoldTotals, at time: Timestamp)
        -> (reservation: Reservation, totals: HoldTotals)
    {
        var released = reservation
        released.storedStatus = .released
        released.closedAt = time
        return (released, releasing(reservation.amount, from: totals))
    }

    /// The totals without one active hold's amount. The next expiry stays: it may now be
    /// early, which only makes a later transaction look for due holds and find none.
    private static func releasing(_ amount: MicroDollars, from totals: HoldTotals) -> HoldTotals {
        let held = totals.held.rawValue - amount.rawValue
        precondition(held >= 0, "the totals cover every active hold")
        return HoldTotals(held: MicroDollars(rawValue: held), nextExpiry: held == 0 ? nil : totals.nextExpiry)
    }

    /// The settle's answer: the `/v1/usage` single-event result, plus the hold's figures.
    public static func settleResponse(_ usage: StoredResponse, reservation: Reservation) -> StoredResponse {
        precondition(usage.body.hasSuffix("}"), "usage responses are JSON objects")
        var out = JSONObjectWriter(capacity: 128)
        out.string("reservation_id", reservation.id.rawValue)
        out.money("held_usd", reservation.amount)
        out.money("released_usd", reservation.released)
        out.bool("over_hold", reservation.overHold)
        out.string("status", reservation.storedStatus.rawValue)
        let extra = out.finish()
        var body = usage.body
        body.removeLast()
        body += (body.hasSuffix("{") ? "" : ",") + extra.dropFirst()
        return StoredResponse(status: 200, body: body)
    }

    /// The release's answer.
    public static func releaseResponse(_ reservation: Reservation) -> StoredResponse {
        var out = JSONObjectWriter(capacity: 128)
        out.string("reservation_id", reservation.id.rawValue)
        out.money("released_usd", reservation.released)
        out.string("status", reservation.storedStatus.rawValue)
        return StoredResponse(status: 200, body: out.finish())
    }

    /// A hold as `GET /v1/reservations/{id}` shows it, as of `now`.
    public static func describe(_ reservation: Reservation, now: Timestamp, into out: inout JSONObjectWriter) {
        let status = reservation.status(at: now)
        out.string("reservation_id", reservation.id.rawValue)
        out.string("status", status.rawValue)
        out.money("held_usd", reservation.amount)
        out.money("released_usd", status == .expired ? reservation.amount : reservation.released)
        out.string("created_at", reservation.createdAt.iso8601)
        out.string("expires_at", reservation.expiresAt.iso8601)
        out.string(
            "closed_at",
            status == .expired ? (reservation.closedAt ?? reservation.expiresAt).iso8601 : reservation.closedAt?.iso8601)
        out.string("event_id", reservation.eventID?.rawValue)
        if let cost = reservation.cost { out.money("cost_usd", cost) }
        if reservation.storedStatus == .settled { out.bool("over_hold", reservation.overHold) }
        out.string("workspace", reservation.workspace)
        out.string("task_type", reservation.taskType)
        out.string("run_id", reservation.runID)
        out.string("provider", reservation.provider)
        out.string("model", reservation.model)
        out.string("api_key_id", reservation.apiKeyID?.rawValue)
    }
}
