import HTTPTypes
import Hummingbird
import PlutusCore

/// Errors in the provider's own shape, so the agent's SDK raises its normal error carrying
/// Plutus's message: OpenAI's `{"error": {"message", "type", "param", "code"}}` and
/// Anthropic's `{"type": "error", "error": {"type", "message"}}`.
enum GatewayErrors {
    static let paymentRequired = HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required")

    enum Kind {
        case invalidRequest, authentication, billing, notFound, rateLimited, tooLarge, upstream

        /// The error `type` each provider's SDKs know.
        func type(_ provider: GatewayProvider) -> String {
            switch (self, provider) {
            case (.invalidRequest, _): "invalid_request_error"
            case (.authentication, _): "authentication_error"
            case (.billing, .openai): "insufficient_quota"
            case (.billing, .anthropic): "billing_error"
            case (.notFound, .openai): "invalid_request_error"
            case (.notFound, .anthropic): "not_found_error"
            case (.rateLimited, .openai): "rate_limit_exceeded"
            case (.rateLimited, .anthropic): "rate_limit_error"
            case (.tooLarge, .openai): "invalid_request_error"
            case (.tooLarge, .anthropic): "request_too_large"
            case (.upstream, .openai): "server_error"
            case (.upstream, .anthropic): "api_error"
            }
        }
    }

    static func response(
        _ provider: GatewayProvider, _ status: HTTPResponse.Status, _ kind: Kind, _ message: String, code: String? = nil,
        param: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        var out = JSONObjectWriter(capacity: 128 + message.utf8.count)
        switch provider {
        case .openai:
            out.beginObject("error")
            out.string("message", message)
            out.string("type", kind.type(provider))
            out.string("param", param)
            out.string("code", code)
            out.end("}")
        case .anthropic:
            out.string("type", "error")
            out.beginObject("error")
            out.string("type", kind.type(provider))
            out.string("message", message)
            out.end("}")
        }
        var response = JSONResponse.make(status, text: out.finish())
        for field in headers { response.headers.append(field) }
        return response
    }
}
