import Foundation
import Hummingbird
import Logging
import PlutusCore
import PlutusStoreTesting
import Synchronization

/// A local stand-in for Stripe's API: records every request and answers with the shapes
/// Stripe documents. `failNext` makes the next requests answer with a given status, to
/// exercise retries.
final class FakeStripe: Sendable {
    struct Recorded: Sendable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var form: [String: String]
    }

    let requests = Mutex<[Recorded]>([])
    let failures = Mutex<[Int]>([])
    let counter = Mutex(0)
    /// What `GET /v1/events` lists, as raw event JSON.
    let events = Mutex<[String]>([])

    func failNext(_ statuses: [Int]) { failures.withLock { $0 = statuses } }
    var recorded: [Recorded] { requests.withLock { $0 } }

    func with(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.on("**", method: .post) { request, context in try await self.answer(request, context: context) }
        router.on("**", method: .get) { request, context in try await self.answer(request, context: context) }
        var logger = Logger(label: "fake-stripe")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                throw LoopbackClient.Failure(description: "the server never reported its port")
            }
            try await body("http://127.0.0.1:\(port)")
            group.cancelAll()
        }
    }

    private func answer(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 1_048_576)
        var form: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        requests.withLock {
            $0.append(
                Recorded(
                    method: request.method.rawValue, path: request.uri.path,
                    query: (request.uri.query ?? "").removingPercentEncoding ?? "", headers: headers, form: form))
        }
        if let status = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            return json(status, #"{"error": {"type": "api_error", "message": "injected failure"}}"#)
        }
        guard headers["authorization"] == "Bearer sk_test_fake" else {
            return json(401, #"{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}"#)
        }
        let number = counter.withLock { value -> Int in
            value += 1
            return value
        }
        switch (request.method.rawValue, request.uri.path) {
        case ("POST", "/v1/customers"):
            return json(200, #"{"id": "cus_fake\#(number)", "object": "customer", "name": "\#(form["name"] ?? "")"}"#)
        case ("POST", "/v1/checkout/sessions"):
            return json(
                200,
                #"{"id": "cs_test_fake\#(number)", "object": "checkout.session", "mode": "\#(form["mode"] ?? "")", "url": "https://checkout.stripe.com/c/pay/cs_test_fake\#(number)"}"#
            )
        case ("POST", "/v1/billing_portal/sessions"):
            return json(
                200,
                #"{"id": "bps_fake\#(number)", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/fake\#(number)"}"#
            )
        case ("GET", "/v1/prices"):
            return json(200, #"{"object": "list", "data": [], "has_more": false, "url": "/v1/prices"}"#)
        case ("POST", "/v1/products"):
            return json(200, #"{"id": "prod_fake\#(number)", "object": "product"}"#)
        case ("POST", "/v1/prices"):
            return json(200, #"{"id": "price_fake\#(number)", "object": "price", "lookup_key": "\#(form["lookup_key"] ?? "")"}"#)
        case ("GET", "/v1/events"):
            let listed = events.withLock { $0 }.joined(separator: ",")
            return json(200, #"{"object": "list", "data": [\#(listed)], "has_more": false, "url": "/v1/events"}"#)
        default:
            return json(404, #"{"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}"#)
        }
    }

    private func json(_ status: Int, _ text: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
