import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    /// Locks the organization's ledger accounts for the rest of the transaction and returns
    /// the organization with the id and balance of each account, in one query. Every writer
    /// of an organization's money takes this lock first, always in id order, so writers of
    /// one organization queue here in every process.
    static func lockOrganization(_ connection: PostgresConnection, _ organizationID: OrganizationID, logger: Logger) async throws
        -> (Organization, [AccountCode: (id: Int64, balance: Int64)], HoldTotals, Timestamp?)
    {
        var accounts: [AccountCode: (id: Int64, balance: Int64)] = [:]
        var organization: Organization?
        var holds = HoldTotals.none
        var lotExpiry: Timestamp?
        for row in try await connection.query(
            """
            SELECT a.id AS account_id, a.code, a.balance_micros, a.held_micros AS account_held_micros,
                   a.hold_expiry_next AS account_hold_expiry_next, a.lot_expiry_next AS account_lot_expiry_next, o.*
            FROM accounts a JOIN organizations o ON o.id = a.org_id
            WHERE a.org_id = \(organizationID.rawValue) ORDER BY a.id FOR UPDATE OF a, o
            """, logger: logger
        ).rows() {
            organization = try organization ?? Self.organization(row)
            guard let code = AccountCode(rawValue: try row.string("code")) else { continue }
            if code == .credit {
                holds = HoldTotals(
                    held: MicroDollars(rawValue: try row.int64("account_held_micros")),
                    nextExpiry: try row.optionalInt64("account_hold_expiry_next").map { Timestamp(rawValue: $0) })
                lotExpiry = try row.optionalInt64("account_lot_expiry_next").map { Timestamp(rawValue: $0) }
            }
            accounts[code] = (try row.int64("account_id"), try row.int64("balance_micros"))
        }
        guard let organization, accounts.count == AccountCode.allCases.count else {
            throw StoreError.organizationNotFound(organizationID.rawValue)
        }
        return (organization, accounts, holds, lotExpiry)
    }

    /// Appends one entry and moves both account balances, and keeps the credit lots with
    /// them (as SQLite's `postEntry` does); the accounts must be locked.
    static func postEntry(
        _ connection: PostgresConnection, organizationID: OrganizationID, accounts: [AccountCode: Int64], kind: EntryKind,
        signedAmount: MicroDollars, reference: String, externalReference: String? = nil, memo: String?, at time: Timestamp,
        lot: LotTerms = LotTerms(), logger: Logger
    ) async throws -> LedgerEntryRecord {
        let (debitCode, creditCode) = kind.accounts(signedAmount: signedAmount)
        let amount = signedAmount.isNegative ? signedAmount.negated! : signedAmount
        precondition(amount.isPositive, "entries carry positive amounts")
        let debitAfter = try await move(connection, account: accounts[debitCode]!, by: -amount.rawValue, logger: logger)
        let creditAfter = try await move(connection, account: accounts[creditCode]!, by: amount.rawValue, logger: logger)
        let id = EntryID.timeOrdered(at: time)
        let sequence = try await connection.query(
            """
            INSERT INTO entries(id, org_id, debit_account_id, credit_account_id, amount_micros, kind, reference,
                                external_ref, memo, debit_balance_after_micros, credit_balance_after_micros, ts)
            VALUES (\(id.rawValue), \(organizationID.rawValue), \(accounts[debitCode]!), \(accounts[creditCode]!),
                    \(amount.rawValue), \(kind.rawValue), \(reference), \(externalReference), \(memo), \(debitAfter),
                    \(creditAfter), \(time.millis))
            RETURNING seq
            """, logger: logger
        ).collect().first!.decode(Int64.self)
        let balanceAfter = MicroDollars(rawValue: creditCode == .credit ? creditAfter : debitAfter)
        if kind != .expiry {
            if signedAmount.isPositive, let lotKind = CreditLots.lotKind(kind) {
                try await insertLot(
                    connection,
                    CreditLots.newLot(
                        lotKind, organizationID: organizationID, entryID: id, amount: amount, balanceAfter: balanceAfter,
                        priority: lot.priority, expiresAt: lot.expiresAt, payment: kind == .topUp ? externalReference : nil,
                        at: time), logger: logger)
            } else if signedAmount.isNegative {
                try await consumeLots(connection, organizationID, amount, preferringPayment: lot.payment, logger: logger)
            }
        }
        return LedgerEntryRecord(
            sequence: sequence, id: id, organizationID: organizationID, kind: kind, amount: signedAmount,
            debitAccount: debitCode, creditAccount: creditCode, reference: reference, externalReference: externalReference,
            memo: memo, balanceAfter: balanceAfter, timestamp: time)
    }

    private static func move(_ connection: PostgresConnection, account: Int64, by delta: Int64, logger: Logger) async throws
        -> Int64
    {
        guard
            let after = try await connection.query(
                "UPDATE accounts SET balance_micros = balance_micros + \(delta) WHERE id = \(account) RETURNING balance_micros",
                logger: logger
            ).collect().first
        else { throw StoreError.backend("ledger account vanished") }
        return try after.decode(Int64.self)
    }

    public func postCredit(_ organizationID: OrganizationID, _ movement: CreditMovement, at time: Timestamp)
        async throws -> CreditResult
    {
        try await transaction { connection in
            let (organization, accounts, _) = try await Self.lockForMoney(
                connection, organizationID, now: time, logger: self.logger)
            let existing = try await connection.query(
                "\(unescaped: Self.entrySelect) WHERE e.kind = \(movement.kind.rawValue) AND e.reference = \(movement.reference)",
                logger: self.logger
            ).rows().first.map(Self.entry)
            switch CreditPosting.decide(movement, organization: organization, existing: existing) {
            case .conflict(let error): throw error
            case .alreadyPosted(let entry): return .alreadyPosted(entry)
            case .post(let marksCredited):
                let entry = try await Self.postEntry(
                    connection, organizationID: organizationID, accounts: accounts.mapValues(\.id), kind: movement.kind,
                    signedAmount: movement.amount, reference: movement.reference, memo: movement.memo, at: time,
                    lot: LotTerms(priority: movement.priority, expiresAt: movement.expiresAt), logger: self.logger)
                if marksCredited {
                    try await connection.query(
                        "UPDATE organizations SET ever_credited = TRUE WHERE id = \(organizationID.rawValue)", logger: self.logger
                    )
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

    static func entry(_ row: PostgresRandomAccessRow) throws -> LedgerEntryRecord {
        LedgerEntryRecord(
            stored: try row.int64("seq"), id: EntryID(rawValue: try row.string("id")),
            organizationID: OrganizationID(rawValue: try row.string("org_id")),
            kind: try StoreError.decode(try row.string("kind"), column: "entries.kind"),
            amount: MicroDollars(rawValue: try row.int64("amount_micros")),
            debitAccount: try StoreError.decode(try row.string("debit_code"), column: "accounts.code"),
            creditAccount: try StoreError.decode(try row.string("credit_code"), column: "accounts.code"),
            reference: try row.string("reference"), externalReference: try row.optionalString("external_ref"),
            memo: try row.optionalString("memo"), debitBalanceAfter: try row.int64("debit_balance_after_micros"),
            creditBalanceAfter: try row.int64("credit_balance_after_micros"), timestamp: Timestamp(rawValue: try row.int64("ts")))
    }

    public func ledgerEntries(_ organizationID: OrganizationID, page: PageRequest) async throws -> Page<LedgerEntryRecord> {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let rows = try await connection.query(
                """
                \(unescaped: Self.entrySelect) WHERE e.org_id = \(organizationID.rawValue) AND e.seq < \(page.before ?? Int64.max)
                ORDER BY e.seq DESC LIMIT \(page.limit + 1)
                """, logger: self.logger
            ).rows()
            return Page(pageOf: try rows.map(Self.entry), limit: page.limit, sequence: \.sequence)
        }
    }

    public func balance(_ organizationID: OrganizationID, at time: Timestamp) async throws -> BalanceSnapshot {
        try await withConnection { connection in
            let organization = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let month = time.month
            guard
                let row = try await connection.query(
                    """
                    SELECT a.balance_micros,
                           (SELECT COUNT(*) FROM workspaces w WHERE w.org_id = a.org_id) AS workspaces,
                           (SELECT COALESCE(SUM(h.amount_micros), 0)::int8 FROM holds h
                            WHERE h.org_id = a.org_id AND h.status = 'held' AND h.expires_at > \(time.millis)) AS held,
                           m.tokens, m.cost_micros, m.events
                    FROM accounts a
                    LEFT JOIN usage_months m ON m.org_id = a.org_id AND m.workspace_id = '' AND m.month = \(month.text)
                    WHERE a.org_id = \(organizationID.rawValue) AND a.code = 'credit'
                    """, logger: self.logger
                ).rows().first
            else { throw StoreError.organizationNotFound(organizationID.rawValue) }
            let (lots, expired) = try await Self.lotsAt(connection, organizationID, time, logger: self.logger)
            return BalanceSnapshot(
                organizationID: organizationID, plan: organization.plan,
                balance: MicroDollars(rawValue: try row.int64("balance_micros") - expired.rawValue),
                everCredited: organization.everCredited,
                hardStopExempt: organization.hardStopExempt, month: month,
                monthTrackedTokens: try row.optionalInt64("tokens") ?? 0,
                monthSpend: MicroDollars(rawValue: try row.optionalInt64("cost_micros") ?? 0),
                monthEvents: try row.optionalInt64("events") ?? 0, workspaceCount: Int(try row.int64("workspaces")),
                held: MicroDollars(rawValue: try row.int64("held")), lots: lots)
        }
    }

    public func recentAlerts(_ organizationID: OrganizationID, limit: Int) async throws -> [AlertRecord] {
        try await withConnection { connection in
            try await connection.query(
                """
                SELECT * FROM alerts WHERE org_id = \(organizationID.rawValue) ORDER BY seq DESC
                LIMIT \(min(max(limit, 1), Limits.pageRowsMax))
                """, logger: self.logger
            ).rows().map { row in
                let kind: AlertKind = try StoreError.decode(try row.string("kind"), column: "alerts.kind")
                return AlertRecord(
                    id: AlertID(rawValue: try row.string("id")), organizationID: organizationID,
                    workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)), kind: kind,
                    message: try row.string("message"), period: try row.string("period"),
                    createdAt: Timestamp(rawValue: try row.int64("created_at")))
            }
        }
    }
}
