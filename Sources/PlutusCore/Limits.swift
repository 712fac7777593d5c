/// Every bound Plutus enforces, in one place. Each name ends in its unit.
public enum Limits {
    /// Longest `provider` string, in UTF-8 bytes.
    public static let providerBytesMax = 64
    /// Longest `model`, `task_type`, `workspace` and `source` strings, in UTF-8 bytes.
    public static let labelBytesMax = 128
    /// Longest client-chosen `event_id`, in UTF-8 bytes.
    public static let clientEventIDBytesMax = 128
    /// Longest organization or workspace name, in UTF-8 bytes.
    public static let nameBytesMax = 128
    /// Longest ledger memo, in UTF-8 bytes.
    public static let memoBytesMax = 256
    /// Longest credit reference (Stripe event id, admin request id), in UTF-8 bytes.
    public static let referenceBytesMax = 255
    /// Longest `Idempotency-Key`, in UTF-8 bytes.
    public static let idempotencyKeyBytesMax = 255
    /// Largest token count accepted in one field of one event.
    public static let tokensPerFieldMax: Int64 = 1_000_000_000_000
    /// Largest cost of one event.
    public static let eventCostMax = MicroDollars(rawValue: 1_000_000 * MicroDollars.perDollar)
    /// Largest single credit movement (top-up, grant or adjustment).
    public static let creditAmountMax = MicroDollars(rawValue: 10_000_000 * MicroDollars.perDollar)
    /// Largest price accepted in a catalog, per million tokens.
    public static let pricePerMillionMax = MicroDollars(rawValue: 1_000_000 * MicroDollars.perDollar)
    /// How far back an event's own timestamp may reach.
    public static let eventBackfillSecondsMax: Int64 = 35 * 86_400
    /// How far ahead of the server clock an event's own timestamp may be.
    public static let eventFutureSecondsMax: Int64 = 5 * 60
    /// Events in one ingest request.
    public static let batchEventsMax = 1_000
    /// Bytes in one request body.
    public static let bodyBytesMax = 1_048_576
    /// Nesting depth of a JSON document we parse.
    public static let jsonDepthMax = 32
    /// Characters in a decimal number literal we parse.
    public static let decimalTextBytesMax = 64
    /// Rows in one page of events or ledger entries.
    public static let pageRowsMax = 500
    /// Rows in a page when the caller does not say.
    public static let pageRowsDefault = 50
    /// Rows in one export page when the client asks for pages (`limit`).
    public static let exportPageRowsMax: Int64 = 10_000
    /// Models in one imported price catalog.
    public static let catalogModelsMax = 20_000
    /// Days one usage summary may span (a dashboard range or a statement month fits easily).
    public static let summaryDaysMax = 400
}
