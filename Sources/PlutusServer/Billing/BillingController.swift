import Foundation
import Hummingbird
import PlutusCore
import PlutusStore
import PlutusStripe

/// Top-ups, the Pro plan and the Stripe portal, as HTML forms that redirect to Stripe.
/// With `PLUTUS_ADMIN_TOKEN` set, the page and its forms ask for the dashboard sign-in,
/// like the dashboard: the page shows an organization's balance, and the portal opens its
/// Stripe billing details. The pages Stripe sends the browser back to stay open (they say
/// nothing about any organization, and a cookie that is `SameSite=Strict` does not come
/// with a navigation from stripe.com). Every POST also carries the synchronizer token
/// `_csrf` and must come from this origin (Origin, else Referer), with sign-in on or off.
struct BillingController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration

    /// What the form offers, kept inside the configured bounds.
    var checkoutAmountDefault: MicroDollars {
        min(max(MicroDollars.dollars(50)!, configuration.topUpRange.lowerBound), configuration.topUpRange.upperBound)
    }

    func register(on router: Router<PlutusRequestContext>) {
        router.get("/billing", use: page)
        router.post("/billing/checkout/credit") { request, context in
            try await guarded(request, context, .topUp, audited: .topUpStarted, creditCheckout)
        }
        router.post("/billing/checkout/pro") { request, context in
            try await guarded(request, context, .changePlan, audited: .planChangeStarted, proCheckout)
        }
        router.post("/billing/portal") { request, context in try await guarded(request, context, .topUp, portal) }
        router.get("/billing/success") { _, _ in
            HTMLPage.response(
                .ok, title: "Payment complete ✓",
                bodyHTML: """
                    <p>Thank you. Your balance updates as soon as Stripe confirms the payment to Plutus (usually seconds).</p>
                    <p><a href="/">See it on the dashboard</a> · <a href="/billing">Billing</a></p>
                    """)
        }
        router.get("/billing/cancel") { _, _ in
            HTMLPage.response(
                .ok, title: "Checkout canceled",
                bodyHTML: "<p>No charge was made. You can start again whenever you like.</p>"
                    + "<p><a href=\"/billing\">Billing</a> · <a href=\"/\">Dashboard</a> · <a href=\"/pricing\">Plans and prices</a></p>"
            )
        }
    }

    var access: WebAccess { WebAccess(configuration: configuration) }
    var gate: VisitorGate<Store> { VisitorGate(store: store, configuration: configuration) }
    var csrfToken: String { access.csrfToken }

    static func page(_ status: HTTPResponse.Status, _ title: String, _ message: String) -> Response {
        HTMLPage.response(
            status, title: title, bodyHTML: "<p>\(HTMLPage.escape(message))</p><p><a href=\"/billing\">Back to billing</a></p>")
    }

    /// Checks sign-in, CSRF and the visitor's role for `action` in the form's organization.
    private func guarded(
        _ request: Request, _ context: PlutusRequestContext, _ action: MemberAction, audited: AuditAction? = nil,
        _ handler: (Organization, [String: String], String) async throws -> Response
    ) async throws -> Response {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard let visitor = try await gate.visitor(request) else { return WebAccess.signInRedirect }
        guard access.formAllowed(request, form), let origin = access.origin(request) else {
            return Self.page(.forbidden, "Request blocked", "cross-origin request blocked")
        }
        guard let reference = form["org"], !reference.isEmpty, let org = try await store.findOrganization(reference) else {
            return Self.page(.badRequest, "No such organization", "no organization matches '\(form["org"] ?? "")'")
        }
        guard let role = visitor.role(in: org.id) else {
            return VisitorGate<Store>.forbidden("you are not a member of \(org.name)")
        }
        guard role.allows(action) else { return VisitorGate<Store>.forbidden(action.refusal(role)) }
        guard configuration.stripeAPI != nil else {
            return Self.page(
                .badRequest, "Billing not available", "Stripe is not configured on this server (set STRIPE_SECRET_KEY).")
        }
        do {
            let response = try await handler(org, form, origin)
            if let audited, response.status == .seeOther {
                let detail =
                    audited == .topUpStarted
                    ? "checkout for $\(form["amount"] ?? checkoutAmountDefault.decimalString)" : "Pro checkout"
                await AuditTrail(store: store).record(
                    org.id, actor: visitor.email ?? AuditTrail<Store>.operatorActor, audited, detail, context: context)
            }
            return response
        } catch let error as StripeAPIError {
            context.logger.error("stripe call failed: \(error)")
            return Self.page(
                .badGateway, "Stripe unavailable", "Stripe could not be reached; nothing was charged. Please try again.")
        }
    }

    private var client: StripeClient { StripeClient(configuration: configuration.stripeAPI!) }

    private func customer(for org: Organization) async throws -> String {
        if let existing = org.stripeCustomerID { return existing }
        let created = try await client.createCustomer(organizationID: org.id, name: org.name, email: nil)
        return try await store.linkStripeCustomer(org.id, customer: created)
    }

    private func idempotencyKey(_ org: Organization, _ purpose: String) -> String {
        "plutus-\(purpose)-\(org.id.rawValue)-\(UsageEventID.random().rawValue.dropFirst(4))"
    }

    private func creditCheckout(_ org: Organization, _ form: [String: String], _ origin: String) async throws -> Response {
        let text = (form["amount"] ?? "").trimmingCharacters(in: .whitespaces)
        let amount: MicroDollars
        if text.isEmpty {
            amount = checkoutAmountDefault
        } else {
            guard case .success(let parsed) = MicroDollars.parse(text), parsed.rawValue % 10_000 == 0 else {
                return Self.page(.badRequest, "Billing", "amount must be a number of dollars and cents")
            }
            amount = parsed
        }
        let range = configuration.topUpRange
        guard range.contains(amount) else {
            return Self.page(
                .badRequest, "Billing", "amount must be between \(range.lowerBound.formatted) and \(range.upperBound.formatted)")
        }
        let session = try await client.createCreditCheckout(
            organizationID: org.id, customer: try await customer(for: org), amount: amount,
            successURL: origin + "/billing/success", cancelURL: origin + "/billing/cancel",
            idempotencyKey: idempotencyKey(org, "credit"))
        return Response(status: .seeOther, headers: [.location: session.url])
    }

    private func proCheckout(_ org: Organization, _ form: [String: String], _ origin: String) async throws -> Response {
        guard let price = configuration.stripe.proPriceID else {
            return Self.page(
                .badRequest, "Billing", "No Pro price is configured (run `plutus stripe-setup`, then set STRIPE_PRICE_PRO).")
        }
        let session = try await client.createSubscriptionCheckout(
            organizationID: org.id, customer: try await customer(for: org), price: price,
            successURL: origin + "/billing/success", cancelURL: origin + "/billing/cancel",
            idempotencyKey: idempotencyKey(org, "pro"))
        return Response(status: .seeOther, headers: [.location: session.url])
    }

    private func portal(_ org: Organization, _ form: [String: String], _ origin: String) async throws -> Response {
        guard let customer = org.stripeCustomerID else {
            return Self.page(.badRequest, "Billing", "\(org.name) has no Stripe customer yet; buy credit first.")
        }
        let url = try await client.createPortalSession(
            customer: customer, returnURL: origin + "/billing", idempotencyKey: idempotencyKey(org, "portal"))
        return Response(status: .seeOther, headers: [.location: url])
    }

    @Sendable func page(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        guard let visitor = try await gate.visitor(request) else { return WebAccess.signInRedirect }
        let reference = request.uri.queryParameters.get("org")
        var org: Organization?
        if let reference {
            org = try await store.findOrganization(reference)
            if let found = org, !visitor.may(.viewSpend, in: found.id) {
                return VisitorGate<Store>.forbidden("you are not a member of \(found.name)")
            }
        } else {
            let visible = visitor.organizations
            let all = try await store.listOrganizations().filter { visible?.contains($0.organization.id) ?? true }
            org = all.count == 1 ? all[0].organization : nil
            if all.count > 1 {
                // Several organizations: each one's billing, rather than a dead end.
                let links = all.map { listing in
                    "<li><a href=\"/billing?org=\(HTMLPage.escape(listing.organization.id.rawValue))\">\(HTMLPage.escape(listing.organization.name))</a></li>"
                }.joined()
                return HTMLPage.response(
                    .ok, title: "Billing",
                    bodyHTML: "<p>Which organization?</p><ul>\(links)</ul><p><a href=\"/\">Dashboard</a></p>")
            }
        }
        guard let org else {
            return Self.page(
                .notFound, "Billing", reference.map { "no organization matches '\($0)'" } ?? "name an organization with ?org=")
        }
        let balance = try await store.balance(org.id, at: Timestamp.now()).balance
        let name = HTMLPage.escape(org.name)
        let ways =
            "<p><a href=\"/?org=\(HTMLPage.escape(org.id.rawValue))\">Dashboard</a> · <a href=\"/pricing\">Plans and prices</a></p>"
        let hidden =
            "<input type=\"hidden\" name=\"org\" value=\"\(HTMLPage.escape(org.id.rawValue))\">"
            + "<input type=\"hidden\" name=\"_csrf\" value=\"\(csrfToken)\">"
        guard configuration.stripeAPI != nil else {
            return HTMLPage.response(
                .ok, title: "Billing",
                bodyHTML: """
                    <p>\(name) · \(org.plan.displayName) plan · balance \(HTMLPage.escape(balance.formatted))</p>
                    <p class="note">Stripe is offline on this server: top-ups and plans activate once STRIPE_SECRET_KEY is set.
                    Until then, credit is added by an operator: <code>plutus topup --org \(HTMLPage.escape(org.slug)) --amount 50</code>.</p>
                    \(ways)
                    """)
        }
        var forms = """
            <p>\(name) · \(org.plan.displayName) plan · balance \(HTMLPage.escape(balance.formatted))</p>
            <form method="post" action="/billing/checkout/credit">\(hidden)
            <label>Buy prepaid credit, USD <input name="amount" type="number" min="\(configuration.topUpRange.lowerBound.decimalString)" max="\(configuration.topUpRange.upperBound.decimalString)" step="0.01" value="\(checkoutAmountDefault.decimalString)"></label>
            <button type="submit">Top up →</button></form>
            """
        if configuration.stripe.proPriceID != nil {
            forms +=
                "<form method=\"post\" action=\"/billing/checkout/pro\">\(hidden)<button type=\"submit\">Upgrade to Pro · $20/mo</button></form>"
        }
        if org.stripeCustomerID != nil {
            forms +=
                "<form method=\"post\" action=\"/billing/portal\">\(hidden)<button type=\"submit\">Manage billing</button></form>"
        }
        let mode = configuration.stripeAPI!.isTestMode ? "test mode" : "live mode"
        return HTMLPage.response(.ok, title: "Billing", bodyHTML: forms + "<p class=\"note\">Stripe: \(mode)</p>" + ways)
    }
}

/// `application/x-www-form-urlencoded` bodies.
enum FormBody {
    static func parse(_ bytes: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let key = parts.first.map(decode), !key.isEmpty, fields[key] == nil else { continue }
            fields[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
