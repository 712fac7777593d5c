import PlutusCore

/// Where Plutus keeps its books. Every method is one database transaction: guards (the
/// idempotency claim, quota, hard stop, batch atomicity) are decided inside the same
/// transaction as the writes they guard.
public protocol BillingStore: Sendable {
    /// Where the books are, for banners and logs (a file path, or a URL without its password).
    var location: String { get }

    /// Creates an organization with its ledger accounts, and its owner when an email is given.
    func createOrganization(name: String, plan: Plan, ownerEmail: String?) async throws -> Organization
    /// Organizations with balances, oldest first.
    func listOrganizations() async throws -> [OrganizationListing]
    /// The organization whose id, slug or exact name is `reference`.
    func findOrganization(_ reference: String) async throws -> Organization?
    /// Exempts an organization from the prepaid hard stop, or enforces it again.
    func setHardStopExempt(_ organizationID: OrganizationID, exempt: Bool) async throws -> Organization

    func createWorkspace(_ organizationID: OrganizationID, name: String, monthlyBudget: MicroDollars?) async throws
        -> Workspace
    func listWorkspaces(_ organizationID: OrganizationID) async throws -> [Workspace]

    /// Mints a key; the secret is returned once and only its hash is kept.
    func createAPIKey(_ organizationID: OrganizationID, name: String?) async throws -> CreatedAPIKey
    /// Keys of an organization, newest first, revoked ones included.
    func listAPIKeys(_ organizationID: OrganizationID) async throws -> [APIKeyInfo]
    /// Revokes a key of this organization; `false` when there was no such active key.
    func revokeAPIKey(_ organizationID: OrganizationID, keyID: APIKeyID) async throws -> Bool
    /// The organization an active key belongs to, or `nil`.
    func authenticateAPIKey(secret: String) async throws -> APIKeyIdentity?

    /// Records a batch of usage events: all or nothing.
    func recordUsage(_ batch: UsageBatch) async throws -> UsageBatchResult
    /// Posts a top-up, grant or adjustment, idempotent by `(kind, reference)`.
    func postCredit(_ organizationID: OrganizationID, _ movement: CreditMovement, at time: Timestamp) async throws
        -> CreditResult

    /// Sets credit aside for a call about to run, or refuses with nothing held: decided in
    /// one transaction with the balance and every active hold (holds due at
    /// `request.receivedAt` are expired first). Idempotent by its Idempotency-Key.
    func placeHold(_ request: HoldRequest) async throws -> HoldResult
    /// Records the call's one event at its actual cost (charged in full, above the hold too)
    /// and releases the rest of the hold, in one transaction; a settled hold answers as the
    /// first time; a released or expired one is `StoreError.reservationClosed`.
    func settleHold(_ id: ReservationID, _ batch: UsageBatch) async throws -> SettleResult
    /// Releases an active hold whole (a released one answers as the first time).
    func releaseHold(_ organizationID: OrganizationID, _ id: ReservationID, at time: Timestamp) async throws
        -> (reservation: Reservation, response: StoredResponse)
    func reservation(_ organizationID: OrganizationID, _ id: ReservationID) async throws -> Reservation?
    /// Holds newest first, at most `limit` (clamped to `Limits.holdListMax`); with
    /// `activeAt`, only those active at that time.
    func reservations(_ organizationID: OrganizationID, activeAt: Timestamp?, limit: Int) async throws -> [Reservation]
    /// Credit set aside by the holds that were active at `time`: placed by then, and neither
    /// closed nor expired yet (for statements; a hold is not an entry).
    func heldAmount(_ organizationID: OrganizationID, at time: Timestamp) async throws -> MicroDollars
    /// Takes what is left of every credit past its expiry at `time` out of its organization's
    /// balance (an `expiry` entry each, exactly once); returns how many credits expired.
    func expireCredits(at time: Timestamp) async throws -> Int
    /// Expires every organization's holds past their expiry at `time`; returns how many.
    func expireHolds(at time: Timestamp) async throws -> Int

    /// Creates a budget. Its scope names what the rest of the API takes: a workspace's id,
    /// slug or name (one named before it exists is created, within the plan's cap), one of
    /// the organization's API key ids, a task type, a run id; nothing for the organization.
    func createBudget(_ request: BudgetRequest, at time: Timestamp) async throws -> Budget
    /// The organization's budgets, oldest first, each with its spend and holds in the
    /// period holding `time`; disabled ones only when asked.
    func budgets(_ organizationID: OrganizationID, at time: Timestamp, includingDisabled: Bool) async throws
        -> [BudgetStanding]
    /// Stops a budget from counting or refusing anything (it stays listed as disabled).
    func disableBudget(_ organizationID: OrganizationID, _ id: BudgetID, at time: Timestamp) async throws -> Budget

    // MARK: members and sign-in

    /// The organization's members, owners first, then by email.
    func members(_ organizationID: OrganizationID) async throws -> [Member]
    /// Every organization `email` belongs to (case-insensitively), oldest organization first.
    func memberships(email: String) async throws -> [Membership]
    /// Adds `email` to the organization with `role` (creating the person if new), or changes
    /// their role; an organization keeps at least one owner (`MemberRules`).
    func setMember(_ organizationID: OrganizationID, email: String, name: String?, role: MemberRole, at time: Timestamp)
        async throws -> Member
    /// Removes `email` from the organization, and ends their sessions if they belong to no
    /// organization any more; the last owner stays.
    func removeMember(_ organizationID: OrganizationID, email: String, at time: Timestamp) async throws
    /// Starts a session for a person who belongs to at least one organization (or is being
    /// added to one in the same breath), kept under the hash of its token.
    func createSession(email: String, tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws
        -> SessionRecord
    /// The session under this token hash, live or not (`SessionRecord.isLive`).
    func session(tokenHash: String) async throws -> SessionRecord?
    /// Records a use of the session at `time`, moving its idle expiry (never past its absolute one).
    func touchSession(tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws
    /// Ends one session.
    func revokeSession(tokenHash: String, at time: Timestamp) async throws
    /// Ends every session of `email` (sign out everywhere); returns how many were live.
    func revokeSessions(email: String, at time: Timestamp) async throws -> Int
    /// Deletes sessions and sign-in states that ended before `time`; returns how many rows went.
    func purgeSignIns(before time: Timestamp) async throws -> Int
    /// Keeps a sign-in under way until its callback.
    func saveSignInState(_ state: SignInState) async throws
    /// The sign-in under this state hash, removed as it is read, so it is used once; `nil`
    /// when unknown, used or expired at `time`.
    func takeSignInState(stateHash: String, at time: Timestamp) async throws -> SignInState?
    /// Keeps an invitation for `email` to join with `role`; refused (`alreadyMember`) when
    /// they belong to the organization already.
    func createInvitation(_ invitation: Invitation) async throws
    /// The invitation under this token hash, used or not.
    func invitation(tokenHash: String) async throws -> Invitation?
    /// The organization's invitations not yet accepted, newest first.
    func pendingInvitations(_ organizationID: OrganizationID, at time: Timestamp) async throws -> [Invitation]
    /// Makes `email` a member by the invitation under this hash, once, in one transaction
    /// (`InvitationRules`); the refusal is `StoreError.invitationRefused`.
    func acceptInvitation(tokenHash: String, email: String, name: String?, at time: Timestamp) async throws -> Member
    /// Appends a line to the organization's audit log.
    func recordAudit(_ entry: AuditEntry) async throws
    /// The organization's audit log, newest first, `limit` lines before `before` (a sequence).
    func auditLog(_ organizationID: OrganizationID, before: Int64?, limit: Int) async throws -> [AuditRecord]

    /// The balance, with what holds active at `time` set aside (expired ones never count,
    /// swept or not).
    func balance(_ organizationID: OrganizationID, at time: Timestamp) async throws -> BalanceSnapshot
    func usageEvents(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<UsageEventRecord>
    /// Events in `order` of sequence, past the cursor `after` (a sequence number: above it
    /// when ascending, below it when descending), with `timestamp` in `[from, to)`, at most
    /// `limit` (clamped to `Limits.pageRowsMax`). Repeating with the last sequence walks
    /// every row exactly once.
    func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int,
        order: SequenceOrder
    ) async throws -> [UsageEventRecord]
    func ledgerEntries(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<LedgerEntryRecord>
    func recentAlerts(_ organizationID: OrganizationID, limit: Int) async throws -> [AlertRecord]
    /// Usage over the whole UTC days `days` (at most `Limits.summaryDaysMax`), optionally of
    /// one workspace, read from the daily rollup that ingest keeps in step with the events.
    func usageSummary(_ organizationID: OrganizationID, days: Range<CivilDay>, workspace: WorkspaceID?) async throws
        -> UsageSummary
    /// How the organization's prepaid credit moved over `[from, to)`, by entry kind, with the
    /// balance before `from`. Entries are placed by their own time.
    func creditStatement(_ organizationID: OrganizationID, from: Timestamp, to: Timestamp) async throws -> CreditStatement
    /// The organization's credit balance at the end of each UTC day of `days` (at most
    /// `Limits.summaryDaysMax`), with the top-ups of each day.
    func creditHistory(_ organizationID: OrganizationID, days: Range<CivilDay>) async throws -> CreditHistory

    /// The catalog new events are priced with.
    func priceCatalog() async throws -> PriceCatalog
    /// Lays `overlay` over the current prices and makes the result the active catalog.
    func importPrices(_ overlay: PriceOverlay, label: String, at time: Timestamp) async throws -> PriceCatalog

    /// Applies a verified Stripe event exactly once: claiming its id and its effect on the
    /// ledger or plan commit together. A repeat delivery changes nothing, except that an
    /// event stored as `unmapped` is tried again (its organization may be known now).
    func applyStripeEvent(_ event: StripeEvent, action: StripeAction, payload: String, at time: Timestamp) async throws
        -> StripeOutcome
    /// Remembers an organization's Stripe customer unless it has one; returns the one kept.
    func linkStripeCustomer(_ organizationID: OrganizationID, customer: String) async throws -> String
    /// The stored status of each of these Stripe event ids that Plutus has seen.
    func stripeEventStatuses(_ eventIDs: [String]) async throws -> [String: String]
    /// Stripe events stored as `unmapped`, oldest first.
    func unmappedStripeEvents(limit: Int) async throws -> [String]

    /// Alerts raised at or after `createdSince` that `channel` has neither delivered nor given
    /// up on, and whose next attempt is due at `now`, oldest first, at most `limit` (clamped
    /// to `Limits.alertDeliveryBatchMax`). An alert the channel never tried counts as due.
    func pendingAlertDeliveries(channel: String, createdSince: Timestamp, now: Timestamp, limit: Int) async throws
        -> [PendingAlertDelivery]
    /// Appends `attempt` to the delivery log and sets the alert's state on that channel
    /// (delivered, due again at `nextAttemptAt`, or abandoned), in one transaction.
    func recordAlertDelivery(_ attempt: AlertDeliveryAttempt) async throws
    /// The delivery log, newest first, at most `limit` rows (clamped to `Limits.pageRowsMax`).
    func alertDeliveryLog(limit: Int) async throws -> [AlertDeliveryAttempt]

    /// Recomputes every balance from the entries and checks the ledger's invariants.
    func verify(progress: @escaping @Sendable (VerificationStage) -> Void) async throws -> VerificationReport
}

/// Which way a listing walks the sequence: oldest recorded first, or newest first.
public enum SequenceOrder: String, Sendable, CaseIterable {
    case ascending = "asc"
    case descending = "desc"

    /// The cursor's bound in SQL: `seq > cursor` or `seq < cursor`, and where a walk starts.
    public var comparison: String { self == .ascending ? ">" : "<" }
    public var keyword: String { self == .ascending ? "ASC" : "DESC" }
    public func start(_ cursor: Int64?) -> Int64 { cursor ?? (self == .ascending ? 0 : Int64.max) }
}

extension BillingStore {
    /// Events in ascending sequence (see the requirement).
    public func exportUsageEvents(
        _ organizationID: OrganizationID, after: Int64?, from: Timestamp?, to: Timestamp?, limit: Int
    ) async throws -> [UsageEventRecord] {
        try await exportUsageEvents(organizationID, after: after, from: from, to: to, limit: limit, order: .ascending)
    }
}

extension BillingStore {
    /// `verify(progress:)` without progress.
    public func verify() async throws -> VerificationReport { try await verify(progress: { _ in }) }
}

/// The steps of `verify`, reported as each begins so a long check of a large file shows
/// where it is.
public enum VerificationStage: Int, Sendable, CaseIterable, CustomStringConvertible {
    case balances = 1
    case creditFlags, usageEntries, monthCounters, dailyRollup, holds, creditLots

    public var description: String {
        switch self {
        case .balances: "account balances against their entries"
        case .creditFlags: "'has held credit' flags"
        case .usageEntries: "usage entries against their events"
        case .monthCounters: "month counters against the events"
        case .dailyRollup: "the daily rollup against the events"
        case .holds: "held amounts against the active holds"
        case .creditLots: "what is left of each credit against the balance"
        }
    }
}
