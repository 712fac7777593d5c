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
}
