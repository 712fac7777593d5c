import PlutusCore
import PlutusStore
import PostgresNIO

/// What a credit entry says of the lot it brings in, or which lot a debit takes from first.
struct LotTerms: Sendable {
    var priority: Int?
    var expiresAt: Timestamp?
    /// A refund or dispute: the payment whose lot it takes from first.
    var payment: String?
}

/// Credit lots on PostgreSQL, kept in step with every entry that moves the credit account.
extension PostgresStore {
    /// The organization's accounts locked for a write that moves money, as of `now`: credit
    /// past its expiry has left the balance and holds past theirs are released.
    static func lockForMoney(_ connection: PostgresConnection, _ id: OrganizationID, now: Timestamp, logger: Logger)
        async throws -> (organization: Organization, accounts: [AccountCode: (id: Int64, balance: Int64)], holds: HoldTotals)
    {
        var (organization, accounts, holds, lotExpiry) = try await lockOrganization(connection, id, logger: logger)
        if CreditLots.expiryDue(lotExpiry, now: now) {
            _ = try await expireDueLots(connection, id, accounts: accounts.mapValues(\.id), now: now, logger: logger)
            (organization, accounts, holds, lotExpiry) = try await lockOrganization(connection, id, logger: logger)
        }
        return (organization, accounts, try await expireDueHolds(connection, id, holds, now: now, logger: logger))
    }

    /// Posts an `expiry` entry for what is left of each lot past its expiry at `now`, marks
    /// them expired, and keeps the credit account's next lot expiry; the accounts must be
    /// locked. Returns how many lots expired.
    static func expireDueLots(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, accounts: [AccountCode: Int64], now: Timestamp,
        logger: Logger
    ) async throws -> Int {
        let due = try await connection.query(
            """
            SELECT * FROM credit_lots WHERE org_id = \(organizationID.rawValue) AND expired_at IS NULL
              AND expires_at IS NOT NULL AND expires_at <= \(now.millis)
            """, logger: logger
        ).rows().map(lot)
        for (closed, amount) in CreditLots.expire(due) {
            if amount.isPositive {
                _ = try await postEntry(
                    connection, organizationID: organizationID, accounts: accounts, kind: .expiry,
                    signedAmount: amount.negated!, reference: closed.id.rawValue, memo: CreditLots.expiryMemo(closed),
                    at: closed.expiredAt!, logger: logger)
            }
            try await connection.query(
                """
                UPDATE credit_lots SET remaining_micros = 0, expired_at = \(closed.expiredAt!.millis)
                WHERE id = \(closed.id.rawValue)
                """, logger: logger)
        }
        try await connection.query(
            """
            UPDATE accounts SET lot_expiry_next = (
                SELECT MIN(expires_at) FROM credit_lots
                WHERE org_id = \(organizationID.rawValue) AND expired_at IS NULL AND expires_at IS NOT NULL
                  AND remaining_micros > 0)
            WHERE org_id = \(organizationID.rawValue) AND code = 'credit'
            """, logger: logger)
        return due.count
    }

    /// Takes `amount` from the organization's lots in order (a payment's lot first).
    static func consumeLots(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, _ amount: MicroDollars,
        preferringPayment payment: String? = nil, logger: Logger
    ) async throws {
        let lots = try await activeLots(connection, organizationID, logger: logger)
        guard !lots.isEmpty else { return }
        let preferred = payment.flatMap { payment in lots.first { $0.payment == payment }?.id }
        let changed = CreditLots.consume(amount, from: lots, preferring: preferred)
        guard !changed.isEmpty else { return }
        try await connection.query(
            """
            UPDATE credit_lots SET remaining_micros = u.remaining
            FROM unnest(\(changed.map(\.id.rawValue))::text[], \(changed.map(\.remaining.rawValue))::int8[]) AS u(id, remaining)
            WHERE credit_lots.id = u.id
            """, logger: logger)
    }

    static func insertLot(_ connection: PostgresConnection, _ lot: CreditLot, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO credit_lots(id, org_id, kind, entry_id, amount_micros, remaining_micros, priority, expires_at,
                                    payment, created_at)
            VALUES (\(lot.id.rawValue), \(lot.organizationID.rawValue), \(lot.kind.rawValue), \(lot.entryID?.rawValue),
                    \(lot.amount.rawValue), \(lot.remaining.rawValue), \(lot.priority.map(Int64.init)),
                    \(lot.expiresAt?.millis), \(lot.payment), \(lot.createdAt.millis))
            """, logger: logger)
        if let expiresAt = lot.expiresAt, lot.remaining.isPositive {
            try await connection.query(
                """
                UPDATE accounts SET lot_expiry_next = LEAST(COALESCE(lot_expiry_next, \(expiresAt.millis)), \(expiresAt.millis))
                WHERE org_id = \(lot.organizationID.rawValue) AND code = 'credit'
                """, logger: logger)
        }
    }

    /// Lots with something left that have not been expired (some may be past their expiry).
    static func activeLots(_ connection: PostgresConnection, _ organizationID: OrganizationID, logger: Logger) async throws
        -> [CreditLot]
    {
        try await connection.query(
            """
            SELECT * FROM credit_lots
            WHERE org_id = \(organizationID.rawValue) AND remaining_micros > 0 AND expired_at IS NULL
            """, logger: logger
        ).rows().map(lot)
    }

    static func lot(_ row: PostgresRandomAccessRow) throws -> CreditLot {
        CreditLot(
            id: CreditLotID(rawValue: try row.string("id")), organizationID: OrganizationID(rawValue: try row.string("org_id")),
            kind: try StoreError.decode(try row.string("kind"), column: "credit_lots.kind"),
            entryID: try row.optionalString("entry_id").map(EntryID.init(rawValue:)),
            amount: MicroDollars(rawValue: try row.int64("amount_micros")),
            remaining: MicroDollars(rawValue: try row.int64("remaining_micros")),
            priority: try row["priority"].decode(Int32?.self).map(Int.init),
            expiresAt: try row.optionalInt64("expires_at").map { Timestamp(rawValue: $0) },
            payment: try row.optionalString("payment"), createdAt: Timestamp(rawValue: try row.int64("created_at")),
            expiredAt: try row.optionalInt64("expired_at").map { Timestamp(rawValue: $0) })
    }

    public func expireCredits(at time: Timestamp) async throws -> Int {
        let due = try await withConnection { connection in
            try await connection.query(
                """
                SELECT org_id FROM accounts
                WHERE code = 'credit' AND lot_expiry_next IS NOT NULL AND lot_expiry_next <= \(time.millis)
                """, logger: self.logger
            ).rows().map { try $0.string("org_id") }
        }
        var expired = 0
        for organization in due.map(OrganizationID.init(rawValue:)) {
            expired += try await transaction { connection in
                let (_, accounts, _, _) = try await Self.lockOrganization(connection, organization, logger: self.logger)
                return try await Self.expireDueLots(
                    connection, organization, accounts: accounts.mapValues(\.id), now: time, logger: self.logger)
            }
        }
        return expired
    }

    /// The organization's lots with something left, not expired at `time`, in consumption
    /// order; and what lots past their expiry but not yet expired hold.
    static func lotsAt(_ connection: PostgresConnection, _ organizationID: OrganizationID, _ time: Timestamp, logger: Logger)
        async throws -> (lots: [CreditLot], expiredUnswept: MicroDollars)
    {
        CreditLots.asOf(try await activeLots(connection, organizationID, logger: logger), time)
    }
}
