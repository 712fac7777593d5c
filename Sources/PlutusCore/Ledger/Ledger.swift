/// The accounts every organization has. The organization's `credit` account holds its
/// prepaid credit (a liability of the operator, so its balance is credits − debits); the
/// others are the organization's counter-accounts for where money came from or went to.
/// Keeping counter-accounts per organization means one organization's writes never touch
/// another's rows. Every entry moves money between two accounts, so all balances sum to
/// zero.
public enum AccountCode: String, Sendable, CaseIterable {
    case credit
    case usage
    case stripe
    case grants
    case adjustments
}

/// Why an entry exists.
public enum EntryKind: String, Sendable, CaseIterable {
    /// A recorded usage event consumed credit. Reference: the usage event id.
    case usage
    /// A paid top-up. Reference: the Stripe event id (or the operator's reference).
    case topUp = "topup"
    /// Free credit from the operator. Reference: the admin request id.
    case grant
    /// A correction in either direction. Reference: the admin request id.
    case adjustment
    /// Money returned to the customer through Stripe.
    case refund
    /// Money taken back by a chargeback, or returned when one is won.
    case dispute

    /// Kinds that make an organization "have held credit" (turning the hard stop on).
    public var grantsCredit: Bool { self == .topUp || self == .grant }

    /// The accounts an entry of this kind moves `signedAmount` between, as seen from the
    /// organization: positive adds to its credit, negative takes from it.
    public func accounts(signedAmount: MicroDollars) -> (debit: AccountCode, credit: AccountCode) {
        precondition(signedAmount != .zero, "entries never carry a zero amount")
        let counter: AccountCode
        switch self {
        case .usage: counter = .usage
        case .topUp, .refund, .dispute: counter = .stripe
        case .grant: counter = .grants
        case .adjustment: counter = .adjustments
        }
        return signedAmount.isPositive ? (debit: counter, credit: .credit) : (debit: .credit, credit: counter)
    }
}

/// A request to move credit in or out of an organization, validated.
public struct CreditMovement: Sendable, Equatable {
    public var kind: EntryKind
    /// Positive adds credit; negative (adjustments, refunds, disputes only) removes it.
    public var amount: MicroDollars
    /// Why it exists: unique per kind, so a retry with the same reference is a no-op.
    public var reference: String
    public var memo: String?

    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var field: String
        public var problem: String
        public var description: String { "\(field) \(problem)" }
    }

    public init(kind: EntryKind, amount: MicroDollars, reference: String, memo: String?) throws(Invalid) {
        guard kind != .usage else { throw Invalid(field: "kind", problem: "must not be usage") }
        guard amount != .zero else { throw Invalid(field: "amount", problem: "must not be zero") }
        if kind.grantsCredit, amount.isNegative {
            throw Invalid(field: "amount", problem: "must be positive for a \(kind.rawValue); use an adjustment to debit")
        }
        guard let magnitude = amount.negated.map({ max($0, amount) }), magnitude <= Limits.creditAmountMax else {
            throw Invalid(field: "amount", problem: "must be at most \(Limits.creditAmountMax.formatted)")
        }
        let trimmed = reference.trimmingASCIISpaces()
        guard !trimmed.isEmpty, trimmed.utf8.count <= Limits.referenceBytesMax,
            !UsageValidation.containsControlCharacter(trimmed)
        else {
            throw Invalid(field: "reference", problem: "must be 1–\(Limits.referenceBytesMax) bytes without control characters")
        }
        if let memo {
            guard memo.utf8.count <= Limits.memoBytesMax, !UsageValidation.containsControlCharacter(memo) else {
                throw Invalid(field: "memo", problem: "must be at most \(Limits.memoBytesMax) bytes without control characters")
            }
        }
        self.kind = kind
        self.amount = amount
        self.reference = trimmed
        self.memo = memo
    }
}
