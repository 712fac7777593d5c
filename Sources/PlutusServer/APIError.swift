import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// An error answered as `{"error": "...", "code": "...", "field": "..."}` with its status.
/// The `/v1` contract's `error` strings are kept as the original has them; `code` and
/// `field` are additive.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var code: String
    public var field: String?
    public var index: Int?
    public var extraHeaders: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ message: String, code: String, field: String? = nil, index: Int? = nil,
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.code = code
        self.field = field
        self.index = index
        self.extraHeaders = headers
    }

    public var body: JSONValue {
        var members: [(String, JSONValue)] = [("error", .string(message)), ("code", .string(code))]
        if let field { members.append(("field", .string(field))) }
        if let index { members.append(("index", .int(index))) }
        return .object(members)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(status, body)
        for field in extraHeaders { response.headers.append(field) }
        return response
    }

    // The contract's named errors.
    static let invalidAPIKey = APIError(.unauthorized, "invalid or missing API key", code: "invalid_api_key")
    static let bodyTooLarge = APIError(.contentTooLarge, "request body too large", code: "body_too_large")
    static let bodyNotJSON = APIError(.badRequest, "body must be JSON", code: "invalid_json")
    static let bodyNotObject = APIError(.badRequest, "body must be a JSON object", code: "invalid_json")
    static let adminDisabled = APIError(.notFound, "admin API not enabled", code: "admin_disabled")
    static let invalidAdminToken = APIError(.unauthorized, "invalid admin token", code: "invalid_admin_token")
    static let unknownOrg = APIError(.notFound, "unknown org", code: "unknown_org")

    static func rateLimited(retryAfterSeconds: Int) -> APIError {
        APIError(
            .tooManyRequests, "rate limit exceeded — slow down", code: "rate_limited",
            headers: [.retryAfter: String(retryAfterSeconds)])
    }

    static func busy(retryAfterSeconds: Int) -> APIError {
        APIError(
            .serviceUnavailable, "the database is busy — retry shortly", code: "busy",
            headers: [.retryAfter: String(retryAfterSeconds)])
    }

    static func badRequest(_ message: String, code: String = "invalid_request", field: String? = nil) -> APIError {
        APIError(.badRequest, message, code: code, field: field)
    }

    /// A validation failure of one event, naming its index and field.
    static func event(_ error: UsageFieldError) -> APIError {
        APIError(.badRequest, error.message, code: error.code.rawValue, field: error.field, index: error.index)
    }

    /// Store errors users can act on; anything else is not mapped here and becomes an
    /// opaque 500.
    static func from(_ error: StoreError) -> APIError? {
        switch error {
        case .busy(let seconds): .busy(retryAfterSeconds: seconds)
        case .idempotencyConflict, .creditReferenceConflict: APIError(.conflict, error.description, code: "conflict")
        case .organizationNotFound: .unknownOrg
        case .nameTaken: APIError(.conflict, error.description, code: "name_taken")
        case .invalid(let field, _): APIError(.badRequest, error.description, code: "invalid", field: field)
        case .reservationNotFound: APIError(.notFound, error.description, code: "reservation_not_found")
        case .budgetNotFound: APIError(.notFound, error.description, code: "budget_not_found")
        case .reservationClosed(_, let status): APIError(.conflict, error.description, code: "reservation_\(status)")
        case .memberNotFound: APIError(.notFound, error.description, code: "member_not_found")
        case .lastOwner: APIError(.conflict, error.description, code: "last_owner")
        case .alreadyMember: APIError(.conflict, error.description, code: "already_member")
        case .invitationRefused: APIError(.gone, error.description, code: "invitation_refused")
        case .schemaTooNew, .unknownStoredValue, .backend: nil
        }
    }
}

/// JSON responses with exact money, written by `JSONValue`.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ body: JSONValue) -> Response {
        make(status, text: body.serialized())
    }

    static func make(_ status: HTTPResponse.Status, text: String) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }
}
