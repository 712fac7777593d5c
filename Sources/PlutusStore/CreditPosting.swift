import PlutusCore

/// Posting a top-up, grant or adjustment, decided once for every store: a movement is
/// idempotent by `(kind, reference)`. The store reads the entry already posted under them
/// (inside the transaction, after locking the organization's accounts) and writes what this
/// decides.
public enum CreditPosting {
    public enum Decision: Sendable, Equatable {
        /// Post the entry; `marksCredited` records that the organization now has held credit
        /// (which turns its hard stop on).
        case post(marksCredited: Bool)
        /// The same movement was posted before: answer with that entry, write nothing.
        case alreadyPosted(LedgerEntryRecord)
        /// The reference was used for another organization or amount.
        case conflict(StoreError)
    }

    public static func decide(_ movement: CreditMovement, organization: Organization, existing: LedgerEntryRecord?) -> Decision {
        if let existing {
            guard existing.organizationID == organization.id, existing.amount == movement.amount else {
                return .conflict(.creditReferenceConflict(reference: movement.reference))
            }
            return .alreadyPosted(existing)
        }
        return .post(marksCredited: movement.kind.grantsCredit && !organization.everCredited)
    }
}

extension LedgerEntryRecord {
    /// An entry as the organization sees it, from its stored row: the amount signed toward
    /// its credit account (negative when the credit account is debited) and the balance after
    /// it on the side of the organization's credit account.
    public init(
        stored sequence: Int64, id: EntryID, organizationID: OrganizationID, kind: EntryKind, amount: MicroDollars,
        debitAccount: AccountCode, creditAccount: AccountCode, reference: String, externalReference: String?, memo: String?,
        debitBalanceAfter: Int64, creditBalanceAfter: Int64, timestamp: Timestamp
    ) {
        let towardCredit = creditAccount == .credit
        self.init(
            sequence: sequence, id: id, organizationID: organizationID, kind: kind,
            amount: towardCredit ? amount : MicroDollars(rawValue: -amount.rawValue), debitAccount: debitAccount,
            creditAccount: creditAccount, reference: reference, externalReference: externalReference, memo: memo,
            balanceAfter: MicroDollars(rawValue: towardCredit ? creditBalanceAfter : debitBalanceAfter), timestamp: timestamp)
    }
}
