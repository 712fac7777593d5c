import ArgumentParser
import Foundation
import PlutusCore
import PlutusStore
import PlutusStripe

/// Stripe settings from the environment: `STRIPE_SECRET_KEY`, `PLUTUS_STRIPE_API_BASE`
/// (another API origin, e.g. a local fake), `STRIPE_PRICE_PRO`, `PLUTUS_STRIPE_CURRENCY`.
enum StripeEnvironment {
    static var environment: [String: String] { Config.environment }

    static func client() throws -> StripeClient {
        guard let key = environment["STRIPE_SECRET_KEY"], !key.isEmpty else {
            throw CLIFailure.runtime("Stripe is offline: no STRIPE_SECRET_KEY is set, so there is nothing to talk to")
        }
        return StripeClient(
            configuration: StripeAPIConfiguration(
                secretKey: key, baseURL: environment["PLUTUS_STRIPE_API_BASE"] ?? "https://api.stripe.com"))
    }

    static var settings: StripeSettings {
        StripeSettings(currency: environment["PLUTUS_STRIPE_CURRENCY"] ?? "usd", proPriceID: environment["STRIPE_PRICE_PRO"])
    }
}

struct StripeSetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stripe-setup", abstract: "Create (or find) the Plutus Pro product and its $20/month price in Stripe.")

    static let lookupKey = "plutus_pro_monthly"

    func run() async throws {
        let client = try StripeEnvironment.client()
        print("Stripe \(client.configuration.isTestMode ? "test" : "LIVE") mode")
        if let existing = try await client.findPrice(lookupKey: Self.lookupKey) {
            print("✓ found the Pro price \(existing) (lookup key \(Self.lookupKey))")
            print("  export STRIPE_PRICE_PRO=\(existing)")
            return
        }
        let product = try await client.createProduct(
            name: "Plutus Pro", description: "Plutus Pro — unlimited tracking, prepaid credits, alerts, reports.",
            idempotencyKey: "plutus-setup-product")
        let price = try await client.createMonthlyPrice(
            product: product, unitAmountCents: 2_000, lookupKey: Self.lookupKey, idempotencyKey: "plutus-setup-price")
        print("✓ created product \(product) and the $20/month price \(price)")
        print("  export STRIPE_PRICE_PRO=\(price)")
        print("  then point a Stripe webhook at https://<your host>/webhook/stripe and set STRIPE_WEBHOOK_SECRET")
    }
}

struct ReconcileWebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile-webhooks",
        abstract: "List handled Stripe events of the last N days that Plutus never applied; --apply replays them.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "How many days back to look (1–30).") var days = 7
    @Flag(help: "Replay the missing events through the webhook handler (idempotent).") var apply = false

    func run() async throws {
        guard (1...30).contains(days) else { throw CLIFailure.usage("--days must be between 1 and 30") }
        let client = try StripeEnvironment.client()
        try await reconcile(try await database.open(), client: client)
    }

    private func reconcile(_ store: some BillingStore, client: StripeClient) async throws {
        let time = Timestamp.now()
        let report = try await WebhookReconciler(client: client, store: store, settings: StripeEnvironment.settings)
            .run(since: time.adding(seconds: -Int64(days) * 86_400), apply: apply, now: time)
        print("Stripe listed \(report.listed) handled events in the last \(days) days; \(report.missing.count) never applied")
        for (event, stored) in report.missing {
            print(
                "  \(event.id)  \(event.type)  created \(Timestamp.seconds(event.created).shortText)"
                    + (stored.map { "  (stored as \($0))" } ?? ""))
        }
        for (id, outcome) in report.applied {
            print("  ↻ \(id): \(outcome.status.rawValue)" + (outcome.detail.map { " — \($0)" } ?? ""))
        }
        if !apply && !report.missing.isEmpty { print("Run again with --apply to replay them.") }
    }
}
