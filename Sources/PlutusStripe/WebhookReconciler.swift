import PlutusCore
import PlutusStore

/// Finds Stripe events of the handled types that Plutus never applied (a webhook lost, or
/// stored as unmapped) and, when asked, replays them oldest first through the same
/// idempotent handler the webhook uses.
public struct WebhookReconciler<Store: BillingStore>: Sendable {
    public let client: StripeClient
    public let store: Store
    public let settings: StripeSettings

    /// Pages of 100 events read at most, to bound a run.
    public static var pagesMax: Int { 50 }

    public init(client: StripeClient, store: Store, settings: StripeSettings) {
        self.client = client
        self.store = store
        self.settings = settings
    }

    public struct Report: Sendable {
        public var listed: Int
        /// Events Plutus has no applied record of, oldest first, with their stored status if any.
        public var missing: [(event: StripeEvent, stored: String?)]
        public var applied: [(id: String, outcome: StripeOutcome)]
    }

    public func run(since: Timestamp, apply: Bool, now: Timestamp) async throws -> Report {
        var events: [(StripeEvent, JSONValue)] = []
        var cursor: String?
        for _ in 0..<Self.pagesMax {
            let page = try await client.listEvents(
                types: StripeDecision.handledTypes, createdSince: since.seconds, startingAfter: cursor)
            for raw in page.events {
                guard let event = try? StripeEvent.parse(raw) else { continue }
                events.append((event, raw))
            }
            guard page.hasMore, let last = page.events.last?["id"]?.stringValue else { break }
            cursor = last
        }
        let statuses = try await store.stripeEventStatuses(events.map { $0.0.id })
        let missing = events.filter { statuses[$0.0.id] == nil || statuses[$0.0.id] == "unmapped" }
            .sorted { ($0.0.created, $0.0.id) < ($1.0.created, $1.0.id) }
        var applied: [(String, StripeOutcome)] = []
        if apply {
            for (event, raw) in missing {
                let outcome = try await store.applyStripeEvent(
                    event, action: StripeDecision.action(for: event, settings: settings), payload: raw.serialized(), at: now)
                applied.append((event.id, outcome))
            }
        }
        return Report(
            listed: events.count, missing: missing.map { ($0.0, statuses[$0.0.id]) }, applied: applied)
    }
}
