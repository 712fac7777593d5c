import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    /// The ledger account ids of one organization.
    static func accountIDs(_ db: Database, _ organizationID: OrganizationID) throws -> [AccountCode: Int64] {
        try lockedOrganization(db, organizationID).accounts.mapValues(\.id)
    }

    static func creditBalance(_ db: Database, _ organizationID: OrganizationID) throws -> MicroDollars {
        let balance = try Int64.fetchOne(
            try db.cachedStatement(sql: "SELECT balance_micros FROM accounts WHERE org_id = ? AND code = 'credit'"),
            arguments: [organizationID.rawValue])
        guard let balance else { throw StoreError.organizationNotFound(organizationID.rawValue) }
        return MicroDollars(rawValue: balance)
    }

    /// Appends one entry and moves both account balances in step, and keeps the credit lots
    /// with them: a credit brings in a lot (`lot` says its priority and expiry), a debit
    /// takes from the lots in order (from `lot.payment`'s first). Must run inside the
    /// caller's write transaction. An `expiry` entry leaves the lots to its caller.
    static func postEntry(
        _ db: Database, organizationID: OrganizationID, accounts: [AccountCode: Int64], kind: EntryKind,
        signedAmount: MicroDollars, reference: String, externalReference: String? = nil, memo: String?,
        at time: Timestamp, lot: LotTerms = LotTerms()
    ) throws -> LedgerEntryRecord {
        let (debitCode, creditCode) = kind.accounts(signedAmount: signedAmount)
        let amount = signedAmount.isNegative ? signedAmount.negated! : signedAmount
        assert(amount.isPositive, "entries carry positive amounts")
        let move = try db.cachedStatement(
            sql: "UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros")
        guard let debitAfter = try Int64.fetchOne(move, arguments: [-amount.rawValue, accounts[debitCode]!]),
            let creditAfter = try Int64.fetchOne(move, arguments: [amount.rawValue, accounts[creditCode]!])
        else { throw StoreError.backend("ledger account vanished") }
        let id = EntryID.timeOrdered(at: time)
        try insertEntry(
            db, id: id, organizationID: organizationID, kind: kind, debitAccountID: accounts[debitCode]!,
            creditAccountID: accounts[creditCode]!, amount: amount, reference: reference,
            externalReference: externalReference, memo: memo, debitBalanceAfter: debitAfter, creditBalanceAfter: creditAfter,
            at: time)
        let balanceAfter = MicroDollars(rawValue: creditCode == .credit ? creditAfter : debitAfter)
        if kind != .expiry {
            if signedAmount.isPositive, let lotKind = CreditLots.lotKind(kind) {
                try insertLot(
                    db,
                    CreditLots.newLot(
                        lotKind, organizationID: organizationID, entryID: id, amount: amount, balanceAfter: balanceAfter,
                        priority: lot.priority, expiresAt: lot.expiresAt, payment: kind == .topUp ? externalReference : nil,
                        at: time))
            } else if signedAmount.isNegative {
                try consumeLots(db, organizationID, amount, preferringPayment: lot.payment)
            }
        }
        return LedgerEntryRecord(
            sequence: db.lastInsertedRowID, id: id, organizationID: organizationID, kind: kind, amount: signedAmount,
            debitAccount: debitCode, creditAccount: creditCode, reference: reference,
            externalReference: externalReference, memo: memo,
            balanceAfter: MicroDollars(rawValue: creditCode == .credit ? creditAfter : debitAfter), timestamp: time)
    }

    /// Appends one entry row whose balances the caller has already moved (or will move in
    /// the same transaction).
    static func insertEntry(
        _ db: Database, id: EntryID, organizationID: OrganizationID, kind: EntryKind, debitAccountID: Int64,
        creditAccountID: Int64, amount: MicroDollars, reference: String, externalReference: String?, memo: String?,
        debitBalanceAfter: Int64, creditBalanceAfter: Int64, at time: Timestamp
    ) throws {
        try insertEntries(
            db,
            CollectionOfOne(
                EntryRow(
                    id: id, organizationID: organizationID, kind: kind, debitAccountID: debitAccountID,
                    creditAccountID: creditAccountID, amount: amount, reference: reference,
                    externalReference: externalReference, memo: memo, debitBalanceAfter: debitBalanceAfter,
                    creditBalanceAfter: creditBalanceAfter, time: time)))
    }

    /// One row of `entries`.
    struct EntryRow {
        let id: EntryID
        let organizationID: OrganizationID
        let kind: EntryKind
        let debitAccountID: Int64
        let creditAccountID: Int64
        let amount: MicroDollars
        let reference: String
        let externalReference: String?
        let memo: String?
        let debitBalanceAfter: Int64
        let creditBalanceAfter: Int64
        let time: Timestamp
    }

    /// Entry rows, many per statement, bound through SQLite's C API in `insertEntries`' order.
    private static let entryInsert = ChunkedInsert(
        """
        INSERT INTO entries(id, org_id, debit_account_id, credit_account_id, amount_micros, kind, reference,
                            external_ref, memo, debit_balance_after_micros, credit_balance_after_micros, ts)
        """, columns: 12)

    /// Appends entry rows (a credit's one, or an ingest group's usage entries) whose balances
    /// the caller moves in the same transaction.
    static func insertEntries(_ db: Database, _ entries: some Collection<EntryRow>) throws {
        try entryInsert.insert(db, entries) { entry, row in
            precondition(
                entry.amount.isPositive && entry.debitAccountID != entry.creditAccountID,
                "entries move a positive amount between two accounts")
            row.text(entry.id.rawValue)
            row.text(entry.organizationID.rawValue)
            row.integer(entry.debitAccountID)
            row.integer(entry.creditAccountID)
            row.integer(entry.amount.rawValue)
            row.text(entry.kind.rawValue)
            row.text(entry.reference)
            row.text(entry.externalReference)
            row.text(entry.memo)
            row.integer(entry.debitBalanceAfter)
            row.integer(entry.creditBalanceAfter)
            row.integer(entry.time.millis)
        }
    }

    public func postCredit(_ organizationID: OrganizationID, _ movement: CreditMovement, at time: Timestamp)
        async throws -> CreditResult
    {
        try await groupWrite { db in
            let (organization, accounts, _) = try Self.lockForMoney(db, organizationID, now: time)
            let existing = try Row.fetchOne(
                db, sql: "\(Self.entrySelect) WHERE e.kind = ? AND e.reference = ?",
                arguments: [movement.kind.rawValue, movement.reference]
            ).map(Self.entry)
            switch CreditPosting.decide(movement, organization: organization, existing: existing) {
            case .conflict(let error): throw error
            case .alreadyPosted(let entry): return .alreadyPosted(entry)
            case .post(let marksCredited):
                let entry = try Self.postEntry(
                    db, organizationID: organizationID, accounts: accounts.mapValues(\.id), kind: movement.kind,
                    signedAmount: movement.amount, reference: movement.reference, memo: movement.memo, at: time,
                    lot: .init(priority: movement.priority, expiresAt: movement.expiresAt))
                if marksCredited {
                    try db.execute(
                        sql: "UPDATE organizations SET ever_credited = 1 WHERE id = ?", arguments: [organizationID.rawValue])
                }
                return .posted(entry)
            }
        }
    }

    /// Selects an entry with the codes of both its accounts.
    static let entrySelect = """
        SELECT e.*, d.code AS debit_code, c.code AS credit_code
        FROM entries e JOIN accounts d ON d.id = e.debit_account_id JOIN accounts c ON c.id = e.credit_account_id
        """

    static func entry(_ row: Row) throws -> LedgerEntryRecord {
        LedgerEntryRecord(
            stored: row["seq"], id: EntryID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]),
            kind: try StoreError.decode(row["kind"], column: "entries.kind"),
            amount: MicroDollars(rawValue: row["amount_micros"]),
            debitAccount: try StoreError.decode(row["debit_code"], column: "accounts.code"),
            creditAccount: try StoreError.decode(row["credit_code"], column: "accounts.code"), reference: row["reference"],
            externalReference: row["external_ref"], memo: row["memo"], debitBalanceAfter: row["debit_balance_after_micros"],
            creditBalanceAfter: row["credit_balance_after_micros"], timestamp: Timestamp(rawValue: row["ts"]))
    }

    public func ledgerEntries(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<LedgerEntryRecord> {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            let rows = try Row.fetchAll(
                db, sql: "\(Self.entrySelect) WHERE e.org_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?",
                arguments: [organizationID.rawValue, page.before ?? Int64.max, page.limit + 1])
            return Page(pageOf: try rows.map(Self.entry), limit: page.limit, sequence: \.sequence)
        }
    }

    public func balance(_ organizationID: OrganizationID, at time: Timestamp) async throws -> BalanceSnapshot {
        try await read { db in
            let organization = try Self.requireOrganization(db, organizationID)
            let month = time.month
            let row = try Row.fetchOne(
                db,
                sql: "SELECT tokens, cost_micros, events FROM usage_months WHERE org_id = ? AND workspace_id = '' AND month = ?",
                arguments: [organizationID.rawValue, month.text])
            let workspaces =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM workspaces WHERE org_id = ?", arguments: [organizationID.rawValue]) ?? 0
            // Holds active at `time`: one past its expiry is not held even before it is swept.
            let held =
                try Int64.fetchOne(
                    db,
                    sql:
                        "SELECT COALESCE(SUM(amount_micros), 0) FROM holds WHERE org_id = ? AND status = 'held' AND expires_at > ?",
                    arguments: [organizationID.rawValue, time.millis]) ?? 0
            let (lots, expired) = try Self.lotsAt(db, organizationID, time)
            let ledger = try Self.creditBalance(db, organizationID)
            return BalanceSnapshot(
                organizationID: organizationID, plan: organization.plan,
                balance: MicroDollars(rawValue: ledger.rawValue - expired.rawValue),
                everCredited: organization.everCredited, hardStopExempt: organization.hardStopExempt, month: month,
                monthTrackedTokens: row?["tokens"] ?? 0, monthSpend: MicroDollars(rawValue: row?["cost_micros"] ?? 0),
                monthEvents: row?["events"] ?? 0, workspaceCount: workspaces, held: MicroDollars(rawValue: held), lots: lots)
        }
    }

    public func recentAlerts(_ organizationID: OrganizationID, limit: Int) async throws -> [AlertRecord] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM alerts WHERE org_id = ? ORDER BY seq DESC LIMIT ?",
                arguments: [organizationID.rawValue, min(max(limit, 1), Limits.pageRowsMax)]
            ).map { row in
                let kind: AlertKind = try StoreError.decode(row["kind"], column: "alerts.kind")
                return AlertRecord(
                    id: AlertID(rawValue: row["id"]), organizationID: organizationID,
                    workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)), kind: kind,
                    message: row["message"], period: row["period"], createdAt: Timestamp(rawValue: row["created_at"]))
            }
        }
    }
}
