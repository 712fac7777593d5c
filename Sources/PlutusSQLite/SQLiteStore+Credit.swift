import GRDB
import PlutusCore
import PlutusStore

/// What a credit entry says of the lot it brings in, or which lot a debit takes from first.
struct LotTerms: Sendable {
    var priority: Int?
    var expiresAt: Timestamp?
    /// A refund or dispute: the payment whose lot it takes from first.
    var payment: String?
}

/// Credit lots on SQLite, kept in step with every entry that moves the credit account.
extension SQLiteStore {
    /// The organization locked for a write that moves money, as of `now`: credit past its
    /// expiry has left the balance and holds past theirs are released, so every decision
    /// sees only what may be spent.
    static func lockForMoney(_ db: Database, _ id: OrganizationID, now: Timestamp) throws
        -> (organization: Organization, accounts: [AccountCode: (id: Int64, balance: Int64)], holds: HoldTotals)
    {
        var (organization, accounts, holds, lotExpiry) = try lockedOrganization(db, id)
        if CreditLots.expiryDue(lotExpiry, now: now) {
            _ = try expireDueLots(db, organization.id, accounts: accounts.mapValues(\.id), now: now)
            (organization, accounts, holds, lotExpiry) = try lockedOrganization(db, id)
        }
        return (organization, accounts, try expireDueHolds(db, organization.id, holds, now: now))
    }

    /// Posts an `expiry` entry for what is left of each lot past its expiry at `now`, marks
    /// them expired, and keeps the credit account's next lot expiry. Returns how many lots
    /// expired.
    static func expireDueLots(_ db: Database, _ organizationID: OrganizationID, accounts: [AccountCode: Int64], now: Timestamp)
        throws -> Int
    {
        let due = try Row.fetchAll(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM credit_lots
                    WHERE org_id = ? AND expired_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?
                    """), arguments: [organizationID.rawValue, now.millis]
        ).map(lot)
        for (closed, amount) in CreditLots.expire(due) {
            if amount.isPositive {
                _ = try postEntry(
                    db, organizationID: organizationID, accounts: accounts, kind: .expiry, signedAmount: amount.negated!,
                    reference: closed.id.rawValue, memo: CreditLots.expiryMemo(closed), at: closed.expiredAt!)
            }
            try db.cachedStatement(sql: "UPDATE credit_lots SET remaining_micros = 0, expired_at = ? WHERE id = ?")
                .execute(arguments: [closed.expiredAt!.millis, closed.id.rawValue])
        }
        try db.cachedStatement(
            sql: """
                UPDATE accounts SET lot_expiry_next = (
                    SELECT MIN(expires_at) FROM credit_lots
                    WHERE org_id = ?1 AND expired_at IS NULL AND expires_at IS NOT NULL AND remaining_micros > 0)
                WHERE org_id = ?1 AND code = 'credit'
                """
        ).execute(arguments: [organizationID.rawValue])
        return due.count
    }

    /// Takes `amount` from the organization's lots in order (a payment's lot first).
    static func consumeLots(
        _ db: Database, _ organizationID: OrganizationID, _ amount: MicroDollars, preferringPayment payment: String? = nil
    ) throws {
        let lots = try activeLots(db, organizationID)
        guard !lots.isEmpty else { return }
        let preferred = payment.flatMap { payment in lots.first { $0.payment == payment }?.id }
        let update = try db.cachedStatement(sql: "UPDATE credit_lots SET remaining_micros = ? WHERE id = ?")
        for lot in CreditLots.consume(amount, from: lots, preferring: preferred) {
            try update.execute(arguments: [lot.remaining.rawValue, lot.id.rawValue])
        }
    }

    static func insertLot(_ db: Database, _ lot: CreditLot) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO credit_lots(id, org_id, kind, entry_id, amount_micros, remaining_micros, priority, expires_at,
                                        payment, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            lot.id.rawValue, lot.organizationID.rawValue, lot.kind.rawValue, lot.entryID?.rawValue, lot.amount.rawValue,
            lot.remaining.rawValue, lot.priority, lot.expiresAt?.millis, lot.payment, lot.createdAt.millis,
        ])
        if let expiresAt = lot.expiresAt, lot.remaining.isPositive {
            try db.cachedStatement(
                sql: """
                    UPDATE accounts SET lot_expiry_next = min(coalesce(lot_expiry_next, ?1), ?1)
                    WHERE org_id = ?2 AND code = 'credit'
                    """
            ).execute(arguments: [expiresAt.millis, lot.organizationID.rawValue])
        }
    }

    /// Lots with something left that have not been expired (some may be past their expiry).
    static func activeLots(_ db: Database, _ organizationID: OrganizationID) throws -> [CreditLot] {
        try Row.fetchAll(
            try db.cachedStatement(
                sql: "SELECT * FROM credit_lots WHERE org_id = ? AND remaining_micros > 0 AND expired_at IS NULL"),
            arguments: [organizationID.rawValue]
        ).map(lot)
    }

    static func lot(_ row: Row) throws -> CreditLot {
        CreditLot(
            id: CreditLotID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]),
            kind: try StoreError.decode(row["kind"], column: "credit_lots.kind"),
            entryID: (row["entry_id"] as String?).map(EntryID.init(rawValue:)),
            amount: MicroDollars(rawValue: row["amount_micros"]), remaining: MicroDollars(rawValue: row["remaining_micros"]),
            priority: row["priority"], expiresAt: (row["expires_at"] as Int64?).map { Timestamp(rawValue: $0) },
            payment: row["payment"], createdAt: Timestamp(rawValue: row["created_at"]),
            expiredAt: (row["expired_at"] as Int64?).map { Timestamp(rawValue: $0) })
    }

    public func expireCredits(at time: Timestamp) async throws -> Int {
        let due = try await read { db in
            try String.fetchAll(
                db,
                sql: "SELECT org_id FROM accounts WHERE code = 'credit' AND lot_expiry_next IS NOT NULL AND lot_expiry_next <= ?",
                arguments: [time.millis])
        }
        var expired = 0
        for organization in due.map(OrganizationID.init(rawValue:)) {
            expired += try await groupWrite { db in
                let (_, accounts, _, _) = try Self.lockedOrganization(db, organization)
                return try Self.expireDueLots(db, organization, accounts: accounts.mapValues(\.id), now: time)
            }
        }
        return expired
    }

    /// The organization's credit lots with something left, not expired at `time`, in the
    /// order they are consumed; and what lots past their expiry but not yet expired hold.
    static func lotsAt(_ db: Database, _ organizationID: OrganizationID, _ time: Timestamp) throws
        -> (lots: [CreditLot], expiredUnswept: MicroDollars)
    {
        CreditLots.asOf(try activeLots(db, organizationID), time)
    }
}
