import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PlutusCore
import PlutusStore

/// The one place errors become HTTP: typed errors get their status and JSON body; anything
/// else is logged with a reference and answered with a generic 500 that leaks nothing.
/// Also stamps the request id and security headers, and counts every request.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = PlutusRequestContext
    let metrics: ServerMetrics
    /// Path → the methods it answers, so another method gets 405 with `Allow`, not 404. A
    /// `*` segment stands for any one segment (an id).
    let allowedMethods: [String: [String]]

    /// The methods `path` answers, if it is one of ours.
    func allowed(_ path: String) -> [String]? {
        if let exact = allowedMethods[path] { return exact }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return allowedMethods.first { template, _ in
            let pattern = template.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.contains("*") && pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { $0 == "*" ? !$1.isEmpty : $0 == $1 }
        }?.value
    }

    static let requestIDField = HTTPField.Name("X-Request-Id")!
    static let frameOptionsField = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicyField = HTTPField.Name("Referrer-Policy")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = try render(error, request: request, context: context)
        }
        Self.stamp(&response.headers, requestID: context.id)
        let duration = ContinuousClock.now - start
        metrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            duration: duration)
        // One line per answer that is not a success, so an operator sees refusals and errors
        // without a log line per ingested event.
        if !(200..<300).contains(response.status.code) {
            context.logger.notice(
                "\(request.method) \(request.uri.path) \(response.status.code) \(Self.milliseconds(duration)) ms id=\(context.id)"
            )
        }
        return response
    }

    static func milliseconds(_ duration: Duration) -> String {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        return "\(micros / 1000).\(String(repeating: "0", count: 3 - String(micros % 1000).count))\(micros % 1000)"
    }

    static let defaultContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

    /// Sets the request id and the security headers: the first four replace whatever the
    /// handler set, the content security policy only when it set none (pages set their
    /// own). One pass over the handler's fields, then appends: `HTTPFields`' setter scans and
    /// rebuilds the fields each time, which was about 3 % of the request handlers' time on
    /// single-event ingest.
    static func stamp(_ headers: inout HTTPFields, requestID: String) {
        var handlerSetFixed = false
        var handlerSetPolicy = false
        for field in headers {
            if field.name == .contentSecurityPolicy {
                handlerSetPolicy = true
            } else if fixedNames.contains(field.name) {
                handlerSetFixed = true
            }
        }
        func put(_ name: HTTPField.Name, _ value: String) {
            if handlerSetFixed { headers[name] = value } else { headers.append(HTTPField(name: name, value: value)) }
        }
        put(requestIDField, requestID)
        put(.xContentTypeOptions, "nosniff")
        put(frameOptionsField, "DENY")
        put(referrerPolicyField, "same-origin")
        if !handlerSetPolicy { headers.append(HTTPField(name: .contentSecurityPolicy, value: defaultContentSecurityPolicy)) }
    }

    /// The headers `stamp` always sets to its own values.
    private static let fixedNames: [HTTPField.Name] = [
        requestIDField, .xContentTypeOptions, frameOptionsField, referrerPolicyField,
    ]

    /// A browser asking for a page (not the API) gets HTML errors.
    static func wantsHTML(_ request: Request) -> Bool {
        let path = request.uri.path
        guard !path.hasPrefix("/v1/"), !path.hasPrefix("/api/"), !path.hasPrefix("/webhook/") else { return false }
        return request.headers[.accept]?.contains("text/html") == true
    }

    private func render(_ error: any Error, request: Request, context: Context) throws -> Response {
        switch error {
        case let error as APIError:
            return try error.response(from: request, context: context)
        case let error as UsageFieldError:
            return try APIError.event(error).response(from: request, context: context)
        case let error as StoreError:
            if let mapped = APIError.from(error) { return try mapped.response(from: request, context: context) }
        case is NIOTooManyBytesError:
            return try APIError.bodyTooLarge.response(from: request, context: context)
        case let error as HTTPError where error.status == .notFound:
            if let allowed = allowed(request.uri.path) {
                return try APIError(
                    .methodNotAllowed, "method not allowed; use \(allowed.joined(separator: " or "))",
                    code: "method_not_allowed", headers: [.allow: allowed.joined(separator: ", ")]
                ).response(from: request, context: context)
            }
            if Self.wantsHTML(request) {
                return HTMLPage.response(
                    .notFound, title: "Not found",
                    bodyHTML:
                        "<p>No page at <code>\(HTMLPage.escape(request.uri.path))</code>.</p><p><a href=\"/\">Dashboard</a></p>")
            }
            return try APIError(.notFound, "no route for \(request.uri.path)", code: "not_found")
                .response(from: request, context: context)
        case let error as HTTPError where error.status == .methodNotAllowed:
            return try APIError(.methodNotAllowed, "method not allowed", code: "method_not_allowed")
                .response(from: request, context: context)
        case let error as HTTPError where error.status.code < 500:
            return try APIError(error.status, error.status.reasonPhrase, code: "bad_request")
                .response(from: request, context: context)
        default:
            break
        }
        let reference = String(UInt32.random(in: .min ... .max), radix: 16)
        let detail = if case StoreError.backend(let backend) = error { backend } else { String(reflecting: error) }
        context.logger.error("[\(reference)] \(request.method) \(request.uri.path) failed: \(detail)")
        return JSONResponse.make(
            .internalServerError, .object([("error", .string("internal error")), ("ref", .string(reference))]))
    }
}
