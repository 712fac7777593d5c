import PlutusCore

/// The usage-ledger checks of `verify`, in SQL both backends run as written, and the
/// problems they report. A request's usage entry pays for its recorded events that cost
/// something, each of which names it (`usage_events.entry_id`).
public enum StoreVerification {
    /// Events that cost something yet name no usage entry, or cost nothing yet name one
    /// (at most 20; columns `id`, `cost_micros`).
    public static let unpaidUsageEvents = """
        SELECT e.id, e.cost_micros FROM usage_events e
        LEFT JOIN entries n ON n.id = e.entry_id AND n.kind = 'usage'
        WHERE (e.cost_micros > 0 AND n.id IS NULL) OR (e.cost_micros = 0 AND e.entry_id IS NOT NULL)
        LIMIT 20
        """

    /// Usage entries whose amount is not the sum of the costs of the events naming them,
    /// or that no event names (at most 20; column `id`).
    public static let mismatchedUsageEntries = """
        SELECT n.id FROM entries n
        LEFT JOIN (SELECT entry_id, SUM(cost_micros) AS cost FROM usage_events
                   WHERE entry_id IS NOT NULL GROUP BY entry_id) p ON p.entry_id = n.id
        WHERE n.kind = 'usage' AND (p.cost IS NULL OR p.cost <> n.amount_micros)
        LIMIT 20
        """

    public static func unpaidUsageEventProblem(id: String, cost: Int64) -> String {
        cost > 0
            ? "usage event \(id): it cost something but no usage entry pays for it"
            : "usage event \(id): it cost nothing but names a usage entry"
    }

    public static func mismatchedUsageEntryProblem(id: String) -> String {
        "usage entry \(id): its amount is not the sum of the costs of the events it pays for"
    }

    /// Organizations whose kept hold totals (on their credit account) disagree with their
    /// holds: the held amount is not the sum of the active holds, or the next expiry is later
    /// than the earliest active hold's (it may be earlier, or left over, never later); or an
    /// account other than credit keeps any (at most 20; columns `id`, `held_micros`, `active`).
    public static let mismatchedHoldTotals = """
        SELECT a.org_id AS id, a.held_micros, CAST(COALESCE(h.total, 0) AS BIGINT) AS active FROM accounts a
        LEFT JOIN (SELECT org_id, SUM(amount_micros) AS total, MIN(expires_at) AS earliest FROM holds
                   WHERE status = 'held' GROUP BY org_id) h ON h.org_id = a.org_id AND a.code = 'credit'
        WHERE a.held_micros <> COALESCE(h.total, 0)
           OR (h.earliest IS NOT NULL AND (a.hold_expiry_next IS NULL OR a.hold_expiry_next > h.earliest))
           OR (a.code <> 'credit' AND a.hold_expiry_next IS NOT NULL)
        LIMIT 20
        """

    public static func mismatchedHoldTotalsProblem(id: String, held: Int64, active: Int64) -> String {
        held == active
            ? "organization \(id): its next hold expiry is later than its earliest active hold's"
            : "organization \(id): \(MicroDollars(rawValue: held).decimalString) held but its active holds sum to \(MicroDollars(rawValue: active).decimalString)"
    }

    /// Settled holds whose event is not recorded (at most 20; column `id`).
    public static let settledHoldsWithoutEvent = """
        SELECT h.id FROM holds h LEFT JOIN usage_events e ON e.id = h.event_id
        WHERE h.status = 'settled' AND e.id IS NULL
        LIMIT 20
        """

    /// Organizations whose credit lots do not add up to their balance: what is left of the
    /// lots not expired must be the credit balance when it is positive, zero when it is
    /// not (at most 20; columns `id`, `balance_micros`, `lots`).
    public static let mismatchedCreditLots = """
        SELECT a.org_id AS id, a.balance_micros, CAST(COALESCE(l.total, 0) AS BIGINT) AS lots FROM accounts a
        LEFT JOIN (SELECT org_id, SUM(remaining_micros) AS total FROM credit_lots WHERE expired_at IS NULL
                   GROUP BY org_id) l ON l.org_id = a.org_id
        WHERE a.code = 'credit'
          AND COALESCE(l.total, 0) <> (CASE WHEN a.balance_micros > 0 THEN a.balance_micros ELSE 0 END)
        LIMIT 20
        """

    public static func mismatchedCreditLotsProblem(id: String, balance: Int64, lots: Int64) -> String {
        "organization \(id): its credits have \(MicroDollars(rawValue: lots).decimalString) left but its balance is "
            + MicroDollars(rawValue: balance).decimalString
    }

    /// Expired lots that kept something, or whose remainder left without an expiry entry of
    /// that amount (at most 20; column `id`).
    public static let badlyExpiredLots = """
        SELECT l.id FROM credit_lots l
        WHERE l.expired_at IS NOT NULL AND (l.remaining_micros <> 0 OR (
            SELECT COUNT(*) FROM entries e WHERE e.kind = 'expiry' AND e.reference = l.id) > 1)
        LIMIT 20
        """
}
