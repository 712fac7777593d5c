import PlutusCore
import PlutusStore
import PostgresNIO

/// Holds on PostgreSQL: each request is one transaction that locks the organization's
/// accounts first (as every spend does, so holds and spends of one organization are decided
/// one after another, across servers), reads its hold totals, decides by `Holds`, writes.
extension PostgresStore {
    public func placeHold(_ request: HoldRequest) async throws -> HoldResult {
        try await transaction { connection in
            let logger = self.logger
            let (organization, accounts, totals) = try await Self.lockForMoney(
                connection, request.organizationID, now: request.receivedAt, logger: logger)
            if let claim = request.idempotency,
                let stored = try await Self.storedResponses(connection, organization.id, keys: [claim.key], logger: logger)[
                    claim.key]
            {
                guard stored.hash == claim.requestHash else { throw StoreError.idempotencyConflict(key: claim.key) }
                return .replayed(stored.response)
            }
            let balance = MicroDollars(rawValue: accounts[.credit]!.balance)
            let existing =
                request.workspace == nil ? [] : try await Self.workspaces(connection, organization.id, logger: logger)
            let workspace = WorkspaceAttribution.resolve(
                request.workspace, plan: organization.plan, find: { WorkspaceMatch.find($0, in: existing) },
                count: { existing.count }, earliest: { existing.first })
            let subject = Holds.subject(request, workspaceID: workspace?.id)
            let standings = try await Self.standings(
                connection, organization.id,
                try await Self.budgets(connection, organization.id, includingDisabled: false, logger: logger)
                    .filter { $0.covers(subject) }, at: request.receivedAt, logger: logger)
            switch Holds.place(
                request, workspaceID: workspace?.id, organization: organization, balance: balance, totals: totals,
                budgets: standings)
            {
            case .failure(let denial):
                return denial.result
            case .success(let (reservation, after)):
                try await Self.insertHold(connection, reservation, logger: logger)
                try await Self.writeHoldTotals(connection, organization.id, after, logger: logger)
                let available = MicroDollars(rawValue: balance.rawValue - after.held.rawValue)
                let response = Holds.placedResponse(reservation, available: available)
                if let claim = request.idempotency {
                    try await Self.storeResponses(
                        connection, organization.id, [(claim, response, request.receivedAt)], logger: logger)
                }
                return .placed(reservation, available: available, response: response)
            }
        }
    }

    public func settleHold(_ id: ReservationID, _ batch: UsageBatch) async throws -> SettleResult {
        precondition(batch.events.count == 1, "a settle carries one event")
        let catalog = try await currentCatalog()
        return try await transaction { connection in
            let logger = self.logger
            let (organization, accounts, totals) = try await Self.lockForMoney(
                connection, batch.organizationID, now: batch.receivedAt, logger: logger)
            let found = try await Self.hold(connection, organization.id, id, logger: logger)
            switch try Holds.startSettle(id, found: found, batch: batch, totals: totals) {
            case .replay(let stored):
                return .replayed(stored)
            case .settle(let hold, let settling, let held):
                let result = try await Self.recordUsage(
                    connection, [IngestJob(batch: settling, priced: try catalog.priceBatch(settling.events))],
                    organization: organization, accounts: accounts, held: held, logger: logger)[0].get()
                guard case .committed(let outcome, let usage) = result else {
                    throw StoreError.backend("a settle without an Idempotency-Key replayed")
                }
                let (settled, after, response) = Holds.finishSettle(
                    hold, outcome: outcome, usage: usage, batch: settling, totals: totals)
                try await Self.closeHold(connection, settled, response: response, logger: logger)
                try await Self.writeHoldTotals(connection, organization.id, after, logger: logger)
                return .settled(settled, response: response)
            }
        }
    }

    public func releaseHold(_ organizationID: OrganizationID, _ id: ReservationID, at time: Timestamp) async throws
        -> (reservation: Reservation, response: StoredResponse)
    {
        try await transaction { connection in
            let logger = self.logger
            let (organization, _, totals) = try await Self.lockForMoney(connection, organizationID, now: time, logger: logger)
            let found = try await Self.hold(connection, organization.id, id, logger: logger)?.reservation
            let (hold, after, response) = try Holds.release(id, found: found, totals: totals, at: time)
            if let after {
                try await Self.closeHold(connection, hold, response: nil, logger: logger)
                try await Self.writeHoldTotals(connection, organization.id, after, logger: logger)
            }
            return (hold, response)
        }
    }

    public func reservation(_ organizationID: OrganizationID, _ id: ReservationID) async throws -> Reservation? {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await Self.hold(connection, organizationID, id, logger: self.logger)?.reservation
        }
    }

    public func reservations(_ organizationID: OrganizationID, activeAt: Timestamp?, limit: Int) async throws
        -> [Reservation]
    {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let limit = min(max(limit, 1), Limits.holdListMax)
            let query: PostgresQuery
            if let now = activeAt {
                query = """
                    SELECT * FROM holds WHERE org_id = \(organizationID.rawValue) AND status = 'held'
                      AND expires_at > \(now.millis)
                    ORDER BY created_at DESC, id DESC LIMIT \(limit)
                    """
            } else {
                query = """
                    SELECT * FROM holds WHERE org_id = \(organizationID.rawValue)
                    ORDER BY created_at DESC, id DESC LIMIT \(limit)
                    """
            }
            return try await connection.query(query, logger: self.logger).rows().map { try Self.reservation($0).reservation }
        }
    }

    public func heldAmount(_ organizationID: OrganizationID, at time: Timestamp) async throws -> MicroDollars {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let held = try await connection.query(
                """
                SELECT COALESCE(SUM(amount_micros), 0)::int8 AS held FROM holds
                WHERE org_id = \(organizationID.rawValue) AND created_at <= \(time.millis) AND expires_at > \(time.millis)
                  AND (closed_at IS NULL OR closed_at > \(time.millis))
                """, logger: self.logger
            ).rows().first.map { try $0.int64("held") }
            return MicroDollars(rawValue: held ?? 0)
        }
    }

    public func expireHolds(at time: Timestamp) async throws -> Int {
        let due = try await withConnection { connection in
            try await connection.query(
                """
                SELECT org_id FROM accounts WHERE hold_expiry_next IS NOT NULL AND hold_expiry_next <= \(time.millis)
                """, logger: self.logger
            ).rows().map { try $0.string("org_id") }
        }
        var expired = 0
        for organization in due.map(OrganizationID.init(rawValue:)) {
            expired += try await transaction { connection in
                let (_, _, locked, _) = try await Self.lockOrganization(connection, organization, logger: self.logger)
                return try await Self.expireDue(connection, organization, locked, now: time, logger: self.logger).expired
            }
        }
        return expired
    }

    // MARK: rows

    /// Expires the organization's holds past their expiry at `now` (if its totals say one
    /// may be), and returns the totals without them. The accounts must be locked. A hold is
    /// expired at its expiry instant (`Holds.isExpired`: `expires_at <= now`).
    static func expireDueHolds(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ totals: HoldTotals, now: Timestamp,
        logger: Logger
    ) async throws -> HoldTotals {
        try await expireDue(connection, organizationID, totals, now: now, logger: logger).totals
    }

    static func expireDue(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ totals: HoldTotals, now: Timestamp,
        logger: Logger
    ) async throws -> (totals: HoldTotals, expired: Int) {
        guard Holds.expiryDue(totals, now: now) else { return (totals, 0) }
        let due = try await connection.query(
            """
            SELECT * FROM holds WHERE org_id = \(organizationID.rawValue) AND status = 'held' AND expires_at <= \(now.millis)
            """, logger: logger
        ).rows().map { try reservation($0).reservation }
        let next = try await connection.query(
            """
            SELECT MIN(expires_at) AS next FROM holds
            WHERE org_id = \(organizationID.rawValue) AND status = 'held' AND expires_at > \(now.millis)
            """, logger: logger
        ).rows().first.flatMap { try $0.optionalInt64("next") }
        let (closed, after) = Holds.expire(due, totals: totals, remainingNextExpiry: next.map { Timestamp(rawValue: $0) })
        for hold in closed { try await closeHold(connection, hold, response: nil, logger: logger) }
        try await writeHoldTotals(connection, organizationID, after, logger: logger)
        return (after, closed.count)
    }

    static func writeHoldTotals(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ totals: HoldTotals, logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE accounts SET held_micros = \(totals.held.rawValue), hold_expiry_next = \(totals.nextExpiry?.millis)
            WHERE org_id = \(organizationID.rawValue) AND code = 'credit'
            """, logger: logger)
    }

    static func insertHold(_ connection: PostgresConnection, _ hold: Reservation, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO holds(id, org_id, status, amount_micros, workspace, workspace_id, task_type, run_id, api_key_id,
                              provider, model, metadata, created_at, expires_at)
            VALUES (\(hold.id.rawValue), \(hold.organizationID.rawValue), \(hold.storedStatus.rawValue),
                    \(hold.amount.rawValue), \(hold.workspace), \(hold.workspaceID?.rawValue), \(hold.taskType), \(hold.runID),
                    \(hold.apiKeyID?.rawValue), \(hold.provider), \(hold.model), \(hold.metadata),
                    \(hold.createdAt.millis), \(hold.expiresAt.millis))
            """, logger: logger)
    }

    /// Writes a hold's closing; only an active hold closes.
    static func closeHold(_ connection: PostgresConnection, _ hold: Reservation, response: StoredResponse?, logger: Logger)
        async throws
    {
        let closed = try await connection.query(
            """
            UPDATE holds SET status = \(hold.storedStatus.rawValue), closed_at = \(hold.closedAt?.millis),
                             event_id = \(hold.eventID?.rawValue), cost_micros = \(hold.cost?.rawValue),
                             response = \(response?.body)
            WHERE id = \(hold.id.rawValue) AND status = 'held' RETURNING id
            """, logger: logger
        ).collect()
        guard closed.count == 1 else { throw StoreError.backend("hold \(hold.id) was not active") }
    }

    static func hold(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ id: ReservationID, logger: Logger
    ) async throws -> (reservation: Reservation, response: StoredResponse?)? {
        try await connection.query(
            "SELECT * FROM holds WHERE id = \(id.rawValue) AND org_id = \(organizationID.rawValue)", logger: logger
        ).rows().first.map(reservation)
    }

    static func reservation(_ row: PostgresRandomAccessRow) throws -> (reservation: Reservation, response: StoredResponse?) {
        let reservation = Reservation(
            id: ReservationID(rawValue: try row.string("id")), organizationID: OrganizationID(rawValue: try row.string("org_id")),
            storedStatus: try StoreError.decode(try row.string("status"), column: "holds.status"),
            amount: MicroDollars(rawValue: try row.int64("amount_micros")), workspace: try row.optionalString("workspace"),
            workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)),
            taskType: try row.optionalString("task_type"), runID: try row.optionalString("run_id"),
            apiKeyID: try row.optionalString("api_key_id").map(APIKeyID.init(rawValue:)),
            provider: try row.optionalString("provider"), model: try row.optionalString("model"),
            metadata: try row.optionalString("metadata"), createdAt: Timestamp(rawValue: try row.int64("created_at")),
            expiresAt: Timestamp(rawValue: try row.int64("expires_at")),
            closedAt: try row.optionalInt64("closed_at").map { Timestamp(rawValue: $0) },
            eventID: try row.optionalString("event_id").map(UsageEventID.init(rawValue:)),
            cost: try row.optionalInt64("cost_micros").map { MicroDollars(rawValue: $0) })
        return (reservation, try row.optionalString("response").map { StoredResponse(status: 200, body: $0) })
    }
}
