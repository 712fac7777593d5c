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
    /// Alerts one delivery round takes from the outbox for one channel.
    public static let alertDeliveryBatchMax = 100
    /// Attempts to deliver one alert to one channel before giving up on it.
    public static let alertDeliveryAttemptsMax = 8
    /// Delay before the second attempt; each later one doubles it, up to the maximum below.
    public static let alertRetryDelayBaseSeconds: Int64 = 30
    /// Longest delay between two attempts.
    public static let alertRetryDelayMaxSeconds: Int64 = 3_600
    /// Alerts older than this are not delivered: a channel configured today does not receive
    /// last year's alerts.
    public static let alertDeliveryAgeSecondsMax: Int64 = 7 * 86_400
    /// How often the delivery service looks for due alerts.
    public static let alertPollIntervalSeconds: Int64 = 5
    /// Time allowed for one webhook, Slack, Discord or ntfy request.
    public static let alertHTTPTimeoutSeconds: Int64 = 10
    /// Time allowed for one whole SMTP session, from connecting to QUIT.
    public static let smtpSessionTimeoutSeconds: Int64 = 20
    /// Longest line of an SMTP reply we read (RFC 5321 allows 512; servers stretch it).
    public static let smtpReplyLineBytesMax = 4_096
    /// Lines in one multi-line SMTP reply.
    public static let smtpReplyLinesMax = 64
    /// Bytes of a channel's answer kept in the delivery log.
    public static let alertReplyBytesMax = 512
    /// How far ahead a grant may expire.
    public static let grantLifetimeSecondsMax: Int64 = 3_650 * 86_400
    /// The priorities a credit may be given (lower is consumed first).
    public static let creditPriority: ClosedRange<Int> = 0...1_000_000
    /// Largest budget limit.
    public static let budgetLimitMax = MicroDollars(rawValue: 10_000_000 * MicroDollars.perDollar)
    /// Largest hold.
    public static let holdAmountMax = MicroDollars(rawValue: 1_000_000 * MicroDollars.perDollar)
    /// How long a hold may live, in seconds, and how long it lives when the caller does not say.
    public static let holdTTLSeconds: ClosedRange<Int64> = 1...86_400
    public static let holdTTLSecondsDefault: Int64 = 600
    /// Bytes of a hold's `metadata` object, as JSON text.
    public static let holdMetadataBytesMax = 4_096
    /// Longest `run_id`, in UTF-8 bytes.
    public static let runIDBytesMax = 128
    /// How often the server releases holds past their expiry (reads never count them anyway).
    public static let holdSweepIntervalSeconds: Int64 = 30
    /// Holds in one page of a listing.
    public static let holdListMax = 500
    /// Days one usage summary may span (a dashboard range or a statement month fits easily).
    public static let summaryDaysMax = 400

    // MARK: the gateway

    /// Bytes in one request body the gateway forwards (Anthropic's own limit is 32 MB).
    public static let gatewayRequestBytesMax = 32 * 1_048_576
    /// Bytes of one answer the gateway reads whole (an answer not streamed).
    public static let gatewayResponseBytesMax = 64 * 1_048_576
    /// Input tokens one image is counted as in a call's worst case (the providers bill a
    /// large image at well under this).
    public static let gatewayImageTokensBound: Int64 = 6_400
    /// Output tokens a call that names no cap of its own is held for, unless configured.
    public static let gatewayOutputTokensDefault: Int64 = 16_384
    /// Time one upstream call may take, from sending to the end of its answer, by default.
    public static let gatewayUpstreamSecondsDefault: Int64 = 600
    /// Bytes the gateway still reads from a stream after its agent has gone, for the usage.
    public static let gatewayDrainBytesMax = 16 * 1_048_576
    /// An OTLP export's body as sent (gzip or not), and once inflated.
    public static let otlpBodyBytesMax = 4 * 1_048_576
    public static let otlpInflatedBytesMax = 16 * 1_048_576
    /// Spans or log records in one export, and attributes read per span or record (and per
    /// resource); past these the export is refused whole, naming the limit.
    public static let otlpItemsPerExportMax = 10_000
    public static let otlpAttributesPerItemMax = 256
    /// Values in one array or map attribute value (OTLP protobuf).
    public static let otlpValuesPerListMax = 10_000
    /// The Swift client (`PlutusClient`): calls queued before `track` waits for a flush,
    /// calls per request (the batch limit of `/v1/usage`), and bytes of one answer it reads.
    public static let clientQueueDefault = 10_000
    public static let clientBatchDefault = 500
    public static let clientAnswerBytesMax = 4 * 1_048_576
    /// Claude Code transcript bytes `plutus hook claude-code` reads in one run, and the
    /// longest transcript line it parses; a longer line (a pasted file) is skipped.
    public static let hookTranscriptBytesMax: Int64 = 256 * 1_048_576
    public static let hookLineBytesMax = 8 * 1_048_576
    /// Bytes of the hook's JSON read from stdin.
    public static let hookPayloadBytesMax = 1_048_576
}
