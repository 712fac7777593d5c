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
    /// What was left of a grant when it expired left the balance. Reference: the grant's id.
    case expiry

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
        case .grant, .expiry: counter = .grants
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
    /// When the credit expires (grants only); nil for never.
    public var expiresAt: Timestamp?
    /// Its place in the order credit is consumed in: lower first; nil (top-ups by default)
    /// after every prioritised credit.
    public var priority: Int?

    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var field: String
        public var problem: String
        public var description: String { "\(field) \(problem)" }
    }

    public init(
        kind: EntryKind, amount: MicroDollars, reference: String, memo: String?, expiresAt: Timestamp? = nil,
        priority: Int? = nil, now: Timestamp? = nil
    ) throws(Invalid) {
        guard kind != .usage, kind != .expiry else { throw Invalid(field: "kind", problem: "must not be \(kind.rawValue)") }
        if let expiresAt {
            guard kind == .grant else {
                throw Invalid(field: "expires_at", problem: "is for grants only; paid credit never expires")
            }
            if let now, expiresAt <= now { throw Invalid(field: "expires_at", problem: "must be in the future") }
            if let now, expiresAt.millis - now.millis > Limits.grantLifetimeSecondsMax * 1000 {
                throw Invalid(field: "expires_at", problem: "must be within \(Limits.grantLifetimeSecondsMax / 86_400) days")
            }
        }
        if let priority {
            guard amount.isPositive else { throw Invalid(field: "priority", problem: "is for credits, not debits") }
            guard Limits.creditPriority.contains(priority) else {
                throw Invalid(
                    field: "priority",
                    problem:
                        "must be a whole number from \(Limits.creditPriority.lowerBound) to \(Limits.creditPriority.upperBound)")
            }
        }
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
        self.expiresAt = expiresAt
        self.priority = priority
    }
}
