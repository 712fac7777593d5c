import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PlutusCore

/// How Plutus talks to Stripe's API.
public struct StripeAPIConfiguration: Sendable {
    public var baseURL: String
    public var secretKey: String
    /// Pinned, so Stripe's object shapes cannot change under us.
    public var apiVersion: String
    public var timeoutSeconds: Int64
    /// Extra attempts after a 429, a 5xx or a lost connection.
    public var retriesMax: Int
    public var retryBaseDelayMillis: Int64

    public static let pinnedAPIVersion = "2024-06-20"

    public init(
        secretKey: String, baseURL: String = "https://api.stripe.com", apiVersion: String = pinnedAPIVersion,
        timeoutSeconds: Int64 = 20, retriesMax: Int = 3, retryBaseDelayMillis: Int64 = 500
    ) {
        precondition(timeoutSeconds > 0 && (0...10).contains(retriesMax), "timeouts and retries are bounded")
        self.secretKey = secretKey
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiVersion = apiVersion
        self.timeoutSeconds = timeoutSeconds
        self.retriesMax = retriesMax
        self.retryBaseDelayMillis = retryBaseDelayMillis
    }

    /// `sk_test_…` keys act on test data only.
    public var isTestMode: Bool { secretKey.hasPrefix("sk_test_") || secretKey.hasPrefix("rk_test_") }
}

/// Stripe answered with an error, or could not be reached after the retries.
public struct StripeAPIError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int?
    public var type: String?
    public var message: String
    public var description: String { "Stripe: \(message)" + (status.map { " (HTTP \($0))" } ?? "") }
}

/// A thin client over Stripe's form-encoded API: every create carries an Idempotency-Key,
/// kept across retries, so a retried create never makes a second object.
public struct StripeClient: Sendable {
    public let configuration: StripeAPIConfiguration
    let http: HTTPClient
    let logger: Logger

    /// Largest response body accepted.
    static let responseBytesMax = 4 * 1_048_576

    public init(
        configuration: StripeAPIConfiguration, http: HTTPClient = .shared, logger: Logger = Logger(label: "plutus.stripe")
    ) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    // MARK: operations

    /// Creates a customer for an organization; returns its id.
    public func createCustomer(organizationID: OrganizationID, name: String, email: String?) async throws -> String {
        var form: [(String, String)] = [("name", name), ("metadata[plutus_org_id]", organizationID.rawValue)]
        if let email { form.append(("email", email)) }
        return try requireString(
            try await send("POST", "/v1/customers", form: form, idempotencyKey: "plutus-customer-\(organizationID.rawValue)"),
            "id")
    }

    /// A Checkout Session selling `amount` of prepaid credit (whole cents).
    public func createCreditCheckout(
        organizationID: OrganizationID, customer: String, amount: MicroDollars, successURL: String, cancelURL: String,
        idempotencyKey: String
    ) async throws -> (id: String, url: String) {
        precondition(amount.rawValue % 10_000 == 0 && amount.isPositive, "checkout amounts are whole cents")
        let cents = String(amount.rawValue / 10_000)
        let response = try await send(
            "POST", "/v1/checkout/sessions",
            form: [
                ("mode", "payment"), ("customer", customer), ("client_reference_id", organizationID.rawValue),
                ("line_items[0][quantity]", "1"), ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", cents),
                ("line_items[0][price_data][product_data][name]", "Plutus prepaid credit"),
                ("line_items[0][price_data][product_data][description]", "\(amount.formatted) of agent spend credit"),
                ("success_url", successURL), ("cancel_url", cancelURL),
                ("metadata[plutus_org_id]", organizationID.rawValue), ("metadata[kind]", "credit"),
                ("payment_intent_data[metadata][plutus_org_id]", organizationID.rawValue),
            ], idempotencyKey: idempotencyKey)
        return (try requireString(response, "id"), try requireString(response, "url"))
    }

    /// A Checkout Session for the Pro subscription.
    public func createSubscriptionCheckout(
        organizationID: OrganizationID, customer: String, price: String, successURL: String, cancelURL: String,
        idempotencyKey: String
    ) async throws -> (id: String, url: String) {
        let response = try await send(
            "POST", "/v1/checkout/sessions",
            form: [
                ("mode", "subscription"), ("customer", customer), ("client_reference_id", organizationID.rawValue),
                ("line_items[0][price]", price), ("line_items[0][quantity]", "1"), ("success_url", successURL),
                ("cancel_url", cancelURL), ("metadata[plutus_org_id]", organizationID.rawValue),
                ("metadata[kind]", "subscription"), ("subscription_data[metadata][plutus_org_id]", organizationID.rawValue),
            ], idempotencyKey: idempotencyKey)
        return (try requireString(response, "id"), try requireString(response, "url"))
    }

    /// A Customer Portal session; returns its URL.
    public func createPortalSession(customer: String, returnURL: String, idempotencyKey: String) async throws -> String {
        try requireString(
            try await send(
                "POST", "/v1/billing_portal/sessions", form: [("customer", customer), ("return_url", returnURL)],
                idempotencyKey: idempotencyKey), "url")
    }

    /// The active price with this lookup key, if any.
    public func findPrice(lookupKey: String) async throws -> String? {
        let response = try await send("GET", "/v1/prices", query: [("lookup_keys[]", lookupKey), ("active", "true")])
        guard case .array(let prices)? = response["data"] else { return nil }
        return prices.first?["id"]?.stringValue
    }

    public func createProduct(name: String, description: String, idempotencyKey: String) async throws -> String {
        try requireString(
            try await send(
                "POST", "/v1/products", form: [("name", name), ("description", description)], idempotencyKey: idempotencyKey),
            "id")
    }

    public func createMonthlyPrice(product: String, unitAmountCents: Int64, lookupKey: String, idempotencyKey: String)
        async throws -> String
    {
        try requireString(
            try await send(
                "POST", "/v1/prices",
                form: [
                    ("product", product), ("unit_amount", String(unitAmountCents)), ("currency", "usd"),
                    ("recurring[interval]", "month"), ("lookup_key", lookupKey),
                ], idempotencyKey: idempotencyKey), "id")
    }

    /// One page of events of `types` created since `createdSince` (Unix seconds), newest first.
    public func listEvents(types: [String], createdSince: Int64, startingAfter: String?) async throws
        -> (events: [JSONValue], hasMore: Bool)
    {
        var query: [(String, String)] = [("created[gte]", String(createdSince)), ("limit", "100")]
        query += types.map { ("types[]", $0) }
        if let startingAfter { query.append(("starting_after", startingAfter)) }
        let response = try await send("GET", "/v1/events", query: query)
        guard case .array(let events)? = response["data"] else { throw StripeAPIError(message: "events list without data") }
        return (events, response["has_more"] == .bool(true))
    }

    // MARK: transport

    func send(
        _ method: String, _ path: String, form: [(String, String)] = [], query: [(String, String)] = [],
        idempotencyKey: String? = nil
    ) async throws -> JSONValue {
        var url = configuration.baseURL + path
        if !query.isEmpty { url += "?" + Self.formEncode(query) }
        var attempt = 0
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = method == "POST" ? .POST : .GET
            request.headers.add(name: "Authorization", value: "Bearer \(configuration.secretKey)")
            request.headers.add(name: "Stripe-Version", value: configuration.apiVersion)
            request.headers.add(name: "User-Agent", value: "Plutus")
            if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
            if method == "POST" {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
            }
            do {
                let response = try await http.execute(request, timeout: .seconds(configuration.timeoutSeconds))
                let body = try await response.body.collect(upTo: Self.responseBytesMax)
                let status = Int(response.status.code)
                let json = (try? JSONValue.parse(Array(body.readableBytesView))) ?? .null
                if (200..<300).contains(status) { return json }
                let error = StripeAPIError(
                    status: status, type: json["error"]?["type"]?.stringValue,
                    message: json["error"]?["message"]?.stringValue ?? "HTTP \(status)")
                guard status == 429 || status >= 500, attempt < configuration.retriesMax else { throw error }
                logger.warning("stripe \(method) \(path) answered \(status); retrying")
            } catch let error as StripeAPIError {
                throw error
            } catch {
                guard attempt < configuration.retriesMax else {
                    throw StripeAPIError(message: "could not reach Stripe: \(error)")
                }
                logger.warning("stripe \(method) \(path) failed: \(error); retrying")
            }
            attempt += 1
            try await Task.sleep(for: .milliseconds(configuration.retryBaseDelayMillis << (attempt - 1)))
        }
    }

    /// `application/x-www-form-urlencoded`, Stripe's bracket notation left readable.
    static func formEncode(_ pairs: [(String, String)]) -> String {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        let keyCharacters = CharacterSet(charactersIn: unreserved + "[]")
        let valueCharacters = CharacterSet(charactersIn: unreserved)
        return pairs.map { key, value in
            (key.addingPercentEncoding(withAllowedCharacters: keyCharacters) ?? "") + "="
                + (value.addingPercentEncoding(withAllowedCharacters: valueCharacters) ?? "")
        }.joined(separator: "&")
    }

    private func requireString(_ response: JSONValue, _ field: String) throws -> String {
        guard let value = response[field]?.stringValue else {
            throw StripeAPIError(message: "response without '\(field)'")
        }
        return value
    }
}
