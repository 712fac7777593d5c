import PlutusCore

public struct CreditLotID: PrefixedID {
    public static let prefix = "grt"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// One credit (a grant, a top-up, a positive adjustment) and what is left of it. The
/// remainders of an organization's lots add up to its balance when the balance is positive
/// (to zero when it is not): spend takes from them in `CreditLots.order`, and what is left
/// of a lot at its expiry leaves the balance through an `expiry` entry.
public struct CreditLot: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case topUp = "topup"
        case grant, adjustment, dispute
        /// The balance an organization had before lots were kept.
        case opening
    }

    public var id: CreditLotID
    public var organizationID: OrganizationID
    public var kind: Kind
    /// The entry that brought it in (nil for the opening lot).
    public var entryID: EntryID?
    public var amount: MicroDollars
    public var remaining: MicroDollars
    public var priority: Int?
    public var expiresAt: Timestamp?
    /// For a top-up: the payment it was bought with (refunds and disputes take from it first).
    public var payment: String?
    public var createdAt: Timestamp
    /// When its `expiry` entry was posted.
    public var expiredAt: Timestamp?

    public init(
        id: CreditLotID, organizationID: OrganizationID, kind: Kind, entryID: EntryID?, amount: MicroDollars,
        remaining: MicroDollars, priority: Int? = nil, expiresAt: Timestamp? = nil, payment: String? = nil,
        createdAt: Timestamp, expiredAt: Timestamp? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.kind = kind
        self.entryID = entryID
        self.amount = amount
        self.remaining = remaining
        self.priority = priority
        self.expiresAt = expiresAt
        self.payment = payment
        self.createdAt = createdAt
        self.expiredAt = expiredAt
    }

    /// Paid for (consumed after free credit unless given a priority).
    public var isPaid: Bool { kind == .topUp || kind == .dispute || kind == .opening }

    /// Past its expiry at `now` (whether or not its entry is posted yet).
    public func isExpired(at now: Timestamp) -> Bool { expiresAt.map { $0 <= now } ?? false }
}

/// The rules of credit lots, written once for both stores.
public enum CreditLots {
    /// The order credit is consumed in: lower priority first (no priority after every
    /// prioritised lot); among lots without one, paid credit (top-ups, disputes won, the
    /// opening balance) after the rest; then the earliest expiry (none last), then the oldest.
    public static func order(_ lots: [CreditLot]) -> [CreditLot] {
        lots.sorted { a, b in
            if a.priority != b.priority { return (a.priority ?? Int.max) < (b.priority ?? Int.max) }
            if a.priority == nil, a.isPaid != b.isPaid { return !a.isPaid }
            if a.expiresAt != b.expiresAt { return (a.expiresAt?.millis ?? Int64.max) < (b.expiresAt?.millis ?? Int64.max) }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.id < b.id
        }
    }

    /// Takes `amount` from the lots with something left, the `preferred` one first (a
    /// refund takes from what its payment bought), then in `order`. Returns the lots it
    /// changed; what no lot covers is the balance going below zero.
    public static func consume(_ amount: MicroDollars, from lots: [CreditLot], preferring preferred: CreditLotID? = nil)
        -> [CreditLot]
    {
        precondition(!amount.isNegative, "consumption is of a positive amount")
        var left = amount.rawValue
        var changed: [CreditLot] = []
        let ordered = order(lots.filter { $0.remaining.isPositive && $0.expiredAt == nil })
        let first = ordered.filter { $0.id == preferred } + ordered.filter { $0.id != preferred }
        for var lot in first where left > 0 {
            let taken = min(left, lot.remaining.rawValue)
            lot.remaining = MicroDollars(rawValue: lot.remaining.rawValue - taken)
            left -= taken
            changed.append(lot)
        }
        return changed
    }

    /// The lot a credit of `amount` brings in, given the balance after it: what it pays of
    /// a negative balance is not left in it.
    public static func newLot(
        _ kind: CreditLot.Kind, organizationID: OrganizationID, entryID: EntryID?, amount: MicroDollars,
        balanceAfter: MicroDollars, priority: Int?, expiresAt: Timestamp?, payment: String?, at time: Timestamp
    ) -> CreditLot {
        precondition(amount.isPositive, "a lot holds a positive amount")
        let remaining = min(amount.rawValue, max(0, balanceAfter.rawValue))
        return CreditLot(
            id: .random(), organizationID: organizationID, kind: kind, entryID: entryID, amount: amount,
            remaining: MicroDollars(rawValue: remaining), priority: priority, expiresAt: expiresAt, payment: payment,
            createdAt: time)
    }

    /// The kind of lot a credit entry of this kind brings in (a refund that puts money back,
    /// when refunds converge downwards, returns paid credit).
    public static func lotKind(_ kind: EntryKind) -> CreditLot.Kind? {
        switch kind {
        case .topUp, .refund: .topUp
        case .grant: .grant
        case .adjustment: .adjustment
        case .dispute: .dispute
        case .usage, .expiry: nil
        }
    }

    /// Whether some lot may have expired by `now` (`nextExpiry` is a time at or before the
    /// earliest expiry among lots with something left).
    public static func expiryDue(_ nextExpiry: Timestamp?, now: Timestamp) -> Bool {
        nextExpiry.map { $0 <= now } ?? false
    }

    /// Each due lot's expiry: its remainder leaves the balance (an `expiry` entry of that
    /// amount, dated at its expiry), and it keeps nothing. Lots with nothing left expire
    /// without an entry.
    public static func expire(_ due: [CreditLot]) -> [(lot: CreditLot, amount: MicroDollars)] {
        order(due).map { lot in
            precondition(lot.expiresAt != nil && lot.expiredAt == nil, "only unexpired lots with an expiry expire")
            var closed = lot
            closed.remaining = .zero
            closed.expiredAt = lot.expiresAt
            return (closed, lot.remaining)
        }
    }

    /// What a read at `time` shows of lots with something left: those not expired, in the
    /// order they are spent, and what the ones past their expiry (entry posted or not) hold.
    public static func asOf(_ lots: [CreditLot], _ time: Timestamp) -> (lots: [CreditLot], expiredUnswept: MicroDollars) {
        let expired = lots.filter { $0.isExpired(at: time) }.reduce(Int64(0)) { $0 + $1.remaining.rawValue }
        return (order(lots.filter { !$0.isExpired(at: time) }), MicroDollars(rawValue: expired))
    }

    /// The sentence of an expiry entry.
    public static func expiryMemo(_ lot: CreditLot) -> String {
        "\(lot.kind.rawValue) \(lot.id) expired (\(lot.amount.formatted) granted)"
    }
}
