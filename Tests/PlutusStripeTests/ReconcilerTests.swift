import Foundation
import PlutusCore
import PlutusSQLite
import PlutusStore
import PlutusStoreTesting
import PlutusStripe
import Testing

@Suite("plutus reconcile-webhooks: replaying what the webhook never applied")
struct ReconcilerTests {
    @Test func listsMissedEventsAndReplaysThemOnce() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-reconcile-\(UUID().uuidString)/p.db")
            .path
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let now = Timestamp.now()
        // One event was delivered and applied; another was lost on the way.
        let applied = StripeFixtures.event(
            id: "evt_applied", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: org.rawValue, paymentIntent: "pi_a"))
        let lost = StripeFixtures.event(
            id: "evt_lost", type: "checkout.session.completed", created: StripeFixtures.created + 10,
            object: StripeFixtures.checkoutSession(org: org.rawValue, amountCents: "2500", paymentIntent: "pi_b"))
        let event = try StripeEvent.parse(try JSONValue.parse(applied))
        _ = try await store.applyStripeEvent(
            event, action: StripeDecision.action(for: event, settings: StripeSettings()), payload: applied, at: now)
        let stripe = FakeStripe()
        stripe.events.withLock { $0 = [lost, applied] }
        try await stripe.with { base in
            let client = StripeClient(
                configuration: StripeAPIConfiguration(secretKey: "sk_test_fake", baseURL: base, retryBaseDelayMillis: 10))
            let reconciler = WebhookReconciler(client: client, store: store, settings: StripeSettings())
            let dryRun = try await reconciler.run(since: now.adding(seconds: -7 * 86_400), apply: false, now: now)
            #expect(dryRun.listed == 2)
            #expect(dryRun.missing.map(\.event.id) == ["evt_lost"])
            #expect(dryRun.applied.isEmpty)
            #expect(try await store.balance(org, at: now).balance == MicroDollars.dollars(50))
            let applyRun = try await reconciler.run(since: now.adding(seconds: -7 * 86_400), apply: true, now: now)
            #expect(applyRun.applied.map(\.outcome.status) == [.credited])
            #expect(try await store.balance(org, at: now).balance == MicroDollars.dollars(75))
            let again = try await reconciler.run(since: now.adding(seconds: -7 * 86_400), apply: true, now: now)
            #expect(again.missing.isEmpty && again.applied.isEmpty)
            #expect(try await store.balance(org, at: now).balance == MicroDollars.dollars(75))
            let query = try #require(stripe.recorded.last?.query)
            #expect(query.contains("types[]=charge.refunded") && query.contains("created[gte]="))
        }
    }
}
