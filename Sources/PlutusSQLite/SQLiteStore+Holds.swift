import GRDB
import PlutusCore
import PlutusStore

/// Holds on SQLite: each request is one request of the group commit, reading the
/// organization under the write lock, deciding by `Holds`, writing the plan. Holds and
/// settles queued beside other money requests of their organization are applied together
/// with them (`applyTogether`); alone, each runs in its own savepoint.
extension SQLiteStore {
    public func placeHold(_ request: HoldRequest) async throws -> HoldResult {
        try await groupWrite(merge: .hold(request)) { db in
            let (organization, accounts, totals) = try Self.lockForMoney(db, request.organizationID, now: request.receivedAt)
            let (result, after) = try Self.placeHold(
                db, request, organization: organization, balance: MicroDollars(rawValue: accounts[.credit]!.balance),
                totals: totals)
            if after != totals { try Self.writeHoldTotals(db, organization.id, after) }
            return result
        }
    }

    /// A hold decided for an organization locked and read already, against `balance` and
    /// `totals`: the answer and the totals after it (the caller writes them). Throws only
    /// before anything is written (an Idempotency-Key used with another body, a workspace
    /// the plan has no room for), or for a failed write.
    static func placeHold(
        _ db: Database, _ request: HoldRequest, organization: Organization, balance: MicroDollars, totals: HoldTotals
    ) throws -> (result: HoldResult, totals: HoldTotals) {
        if let claim = request.idempotency, let stored = try storedResponse(db, organization.id, key: claim.key) {
            guard stored.hash == claim.requestHash else { throw StoreError.idempotencyConflict(key: claim.key) }
            return (.replayed(stored.response), totals)
        }
        let workspace = try WorkspaceAttribution.resolve(
            request.workspace, plan: organization.plan, find: { try findWorkspace(db, organization.id, $0) },
            count: { try workspaceCount(db, organization.id) }, earliest: { try earliestWorkspace(db, organization.id) })
        let budgets = try standings(
            db, organization.id, covering: Holds.subject(request, workspaceID: workspace?.id), at: request.receivedAt)
        switch Holds.place(
            request, workspaceID: workspace?.id, organization: organization, balance: balance, totals: totals,
            budgets: budgets)
        {
        case .failure(let denial):
            return (denial.result, totals)
        case .success(let (reservation, after)):
            try insertHold(db, reservation)
            let available = MicroDollars(rawValue: balance.rawValue - after.held.rawValue)
            let response = Holds.placedResponse(reservation, available: available)
            if let claim = request.idempotency {
                try keepResponse(db, organization.id, claim, response, at: request.receivedAt)
            }
            return (.placed(reservation, available: available, response: response), after)
        }
    }

    public func settleHold(_ id: ReservationID, _ batch: UsageBatch) async throws -> SettleResult {
        precondition(batch.events.count == 1, "a settle carries one event")
        // Priced before the transaction, as ingest is (the price does not depend on the
        // workspace or run the event may take from the hold).
        let ingest = GroupCommitter.Ingest(batch: batch, priced: try catalog.withLock { $0 }.priceBatch(batch.events))
        return try await groupWrite(merge: .settle(id, ingest)) { db in
            let (organization, accounts, totals) = try Self.lockForMoney(db, batch.organizationID, now: batch.receivedAt)
            switch try Holds.startSettle(id, found: try Self.hold(db, organization.id, id), batch: batch, totals: totals) {
            case .replay(let stored):
                return .replayed(stored)
            case .settle(let hold, let settling, _):
                let write = try Self.recordUsage(
                    db, [IngestRequest(batch: settling, priced: ingest.priced, releasing: hold.amount)],
                    organization: organization, accounts: accounts, held: totals.held
                ).answers[0].get()
                let (settled, after) = try Self.finishSettle(db, hold, write, batch: settling, totals: totals)
                try Self.writeHoldTotals(db, organization.id, after)
                return settled
            }
        }
    }

    /// The last step of a settle once its event is recorded (`write`): the hold closed with
    /// its answer; returns that answer and the totals without the hold.
    static func finishSettle(
        _ db: Database, _ hold: Reservation, _ write: BatchWrite, batch: UsageBatch, totals: HoldTotals
    ) throws -> (result: SettleResult, totals: HoldTotals) {
        guard case .committed(let outcome, let kept) = write else {
            throw StoreError.backend("a settle without an Idempotency-Key replayed")
        }
        let (settled, after, response) = Holds.finishSettle(hold, outcome: outcome, usage: kept, batch: batch, totals: totals)
        try closeHold(db, settled, response: response)
        return (.settled(settled, response: response), after)
    }

    public func releaseHold(_ organizationID: OrganizationID, _ id: ReservationID, at time: Timestamp) async throws
        -> (reservation: Reservation, response: StoredResponse)
    {
        try await groupWrite { db in
            let (organization, _, totals) = try Self.lockForMoney(db, organizationID, now: time)
            let (hold, after, response) = try Holds.release(
                id, found: try Self.hold(db, organization.id, id)?.reservation, totals: totals, at: time)
            if let after {
                try Self.closeHold(db, hold, response: nil)
                try Self.writeHoldTotals(db, organization.id, after)
            }
            return (hold, response)
        }
    }

    public func reservation(_ organizationID: OrganizationID, _ id: ReservationID) async throws -> Reservation? {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Self.hold(db, organizationID, id)?.reservation
        }
    }

    public func reservations(_ organizationID: OrganizationID, activeAt: Timestamp?, limit: Int) async throws
        -> [Reservation]
    {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            let limit = min(max(limit, 1), Limits.holdListMax)
            let rows: [Row]
            if let now = activeAt {
                rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM holds WHERE org_id = ? AND status = 'held' AND expires_at > ?
                        ORDER BY created_at DESC, id DESC LIMIT ?
                        """, arguments: [organizationID.rawValue, now.millis, limit])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM holds WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                    arguments: [organizationID.rawValue, limit])
            }
            return try rows.map { try Self.reservation($0).reservation }
        }
    }

    public func heldAmount(_ organizationID: OrganizationID, at time: Timestamp) async throws -> MicroDollars {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return MicroDollars(
                rawValue: try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(amount_micros), 0) FROM holds
                        WHERE org_id = ?1 AND created_at <= ?2 AND expires_at > ?2 AND (closed_at IS NULL OR closed_at > ?2)
                        """, arguments: [organizationID.rawValue, time.millis]) ?? 0)
        }
    }

    public func expireHolds(at time: Timestamp) async throws -> Int {
        let due = try await read { db in
            try String.fetchAll(
                db, sql: "SELECT org_id FROM accounts WHERE hold_expiry_next IS NOT NULL AND hold_expiry_next <= ?",
                arguments: [time.millis])
        }
        var expired = 0
        for organization in due {
            expired += try await groupWrite { db in
                let (_, _, locked, _) = try Self.lockedOrganization(db, OrganizationID(rawValue: organization))
                return try Self.expireDue(db, OrganizationID(rawValue: organization), locked, now: time).expired
            }
        }
        return expired
    }

    // MARK: rows

    /// The budgets in force that cover `subject`, with their spend in the period holding
    /// `time` and what their active holds set aside.
    static func standings(_ db: Database, _ organizationID: OrganizationID, covering subject: BudgetSubject, at time: Timestamp)
        throws -> [BudgetStanding]
    {
        try standings(
            db, organizationID, try budgets(db, organizationID, includingDisabled: false).filter { $0.covers(subject) }, at: time)
    }

    /// These budgets with their spend in the period holding `time` and what their active
    /// holds set aside.
    static func standings(_ db: Database, _ organizationID: OrganizationID, _ budgets: [Budget], at time: Timestamp)
        throws -> [BudgetStanding]
    {
        guard !budgets.isEmpty else { return [] }
        let held = try heldBySubject(db, organizationID, at: time)
        return try budgets.map { budget in
            let key = MeteringWrites.BudgetSpendKey(budgetID: budget.id, periodStart: budget.period.start(at: time))
            return BudgetStanding(
                budget: budget, spent: MicroDollars(rawValue: try budgetSpend(db, key)), held: held.held(for: budget),
                periodStart: key.periodStart, resetsAt: budget.period.resetsAt(time))
        }
    }

    static func workspaceCount(_ db: Database, _ organizationID: OrganizationID) throws -> Int {
        try Int.fetchOne(
            try db.cachedStatement(sql: "SELECT COUNT(*) FROM workspaces WHERE org_id = ?"), arguments: [organizationID.rawValue])
            ?? 0
    }

    static func earliestWorkspace(_ db: Database, _ organizationID: OrganizationID) throws -> Workspace? {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM workspaces WHERE org_id = ? ORDER BY created_at, rowid LIMIT 1"),
            arguments: [organizationID.rawValue]
        ).map(workspace)
    }

    /// Expires the organization's holds that are past their expiry at `now` (if its totals
    /// say one may be), and returns the totals without them. A hold is expired at its
    /// expiry instant (`Holds.isExpired`: `expires_at <= now`).
    static func expireDueHolds(_ db: Database, _ organizationID: OrganizationID, _ totals: HoldTotals, now: Timestamp)
        throws -> HoldTotals
    {
        try expireDue(db, organizationID, totals, now: now).totals
    }

    /// `expireDueHolds`, also telling how many holds it expired.
    static func expireDue(_ db: Database, _ organizationID: OrganizationID, _ totals: HoldTotals, now: Timestamp)
        throws -> (totals: HoldTotals, expired: Int)
    {
        guard Holds.expiryDue(totals, now: now) else { return (totals, 0) }
        let due = try Row.fetchAll(
            try db.cachedStatement(sql: "SELECT * FROM holds WHERE org_id = ? AND status = 'held' AND expires_at <= ?"),
            arguments: [organizationID.rawValue, now.millis]
        ).map { try reservation($0).reservation }
        let next = try Int64.fetchOne(
            try db.cachedStatement(
                sql: "SELECT MIN(expires_at) FROM holds WHERE org_id = ? AND status = 'held' AND expires_at > ?"),
            arguments: [organizationID.rawValue, now.millis])
        let (closed, after) = Holds.expire(due, totals: totals, remainingNextExpiry: next.map { Timestamp(rawValue: $0) })
        for hold in closed { try closeHold(db, hold, response: nil) }
        try writeHoldTotals(db, organizationID, after)
        return (after, closed.count)
    }

    static func writeHoldTotals(_ db: Database, _ organizationID: OrganizationID, _ totals: HoldTotals) throws {
        try db.cachedStatement(
            sql: "UPDATE accounts SET held_micros = ?, hold_expiry_next = ? WHERE org_id = ? AND code = 'credit'"
        )
        .execute(arguments: [totals.held.rawValue, totals.nextExpiry?.millis, organizationID.rawValue])
    }

    static func insertHold(_ db: Database, _ hold: Reservation) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO holds(id, org_id, status, amount_micros, workspace, workspace_id, task_type, run_id, api_key_id,
                                  provider, model, metadata, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            hold.id.rawValue, hold.organizationID.rawValue, hold.storedStatus.rawValue, hold.amount.rawValue, hold.workspace,
            hold.workspaceID?.rawValue, hold.taskType, hold.runID, hold.apiKeyID?.rawValue, hold.provider, hold.model,
            hold.metadata,
            hold.createdAt.millis, hold.expiresAt.millis,
        ])
    }

    /// Writes a hold's closing: its status, when, and for a settle the event, cost and answer.
    /// Only an active hold closes (the `WHERE` makes a second closing change nothing).
    static func closeHold(_ db: Database, _ hold: Reservation, response: StoredResponse?) throws {
        try db.cachedStatement(
            sql: """
                UPDATE holds SET status = ?, closed_at = ?, event_id = ?, cost_micros = ?, response = ?
                WHERE id = ? AND status = 'held'
                """
        ).execute(arguments: [
            hold.storedStatus.rawValue, hold.closedAt?.millis, hold.eventID?.rawValue, hold.cost?.rawValue,
            response?.body, hold.id.rawValue,
        ])
        guard db.changesCount == 1 else { throw StoreError.backend("hold \(hold.id) was not active") }
    }

    /// A hold of the organization, with its stored settle answer.
    static func hold(_ db: Database, _ organizationID: OrganizationID, _ id: ReservationID) throws
        -> (reservation: Reservation, response: StoredResponse?)?
    {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM holds WHERE id = ? AND org_id = ?"),
            arguments: [id.rawValue, organizationID.rawValue]
        ).map(reservation)
    }

    static func reservation(_ row: Row) throws -> (reservation: Reservation, response: StoredResponse?) {
        let reservation = Reservation(
            id: ReservationID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]),
            storedStatus: try StoreError.decode(row["status"], column: "holds.status"),
            amount: MicroDollars(rawValue: row["amount_micros"]), workspace: row["workspace"],
            workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)), taskType: row["task_type"],
            runID: row["run_id"], apiKeyID: (row["api_key_id"] as String?).map(APIKeyID.init(rawValue:)),
            provider: row["provider"], model: row["model"], metadata: row["metadata"],
            createdAt: Timestamp(rawValue: row["created_at"]), expiresAt: Timestamp(rawValue: row["expires_at"]),
            closedAt: (row["closed_at"] as Int64?).map { Timestamp(rawValue: $0) },
            eventID: (row["event_id"] as String?).map(UsageEventID.init(rawValue:)),
            cost: (row["cost_micros"] as Int64?).map { MicroDollars(rawValue: $0) })
        return (reservation, (row["response"] as String?).map { StoredResponse(status: 200, body: $0) })
    }
}
