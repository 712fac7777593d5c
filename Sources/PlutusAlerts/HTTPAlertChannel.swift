import AsyncHTTPClient
import Foundation
import NIOCore
import PlutusCore

/// A channel reached by one HTTP POST: a signed generic webhook, a Slack or Discord incoming
/// webhook, or an ntfy topic. A 2xx answer delivers; 408, 429 and 5xx are worth retrying;
/// any other 4xx is permanent.
public struct HTTPAlertChannel: AlertChannel {
    public enum Format: Sendable, Equatable {
        /// JSON describing the alert, signed with HMAC-SHA256 over `"<timestamp>.<body>"`.
        case webhook(secret: String)
        /// `{"text": …}`
        case slack
        /// `{"content": …}`
        case discord
        /// The message as the body; title, priority and tags as headers.
        case ntfy
    }

    /// A request ready to send.
    public struct Prepared: Sendable {
        public var headers: [(String, String)]
        public var body: [UInt8]
    }

    public let name: String
    public let url: String
    public let format: Format
    let timeoutSeconds: Int64
    let http: HTTPClient
    let now: @Sendable () -> Timestamp

    /// Discord refuses messages longer than this many characters.
    static let discordContentCharactersMax = 2_000
    /// Bytes of an answer body read (to show in the log) before the rest is ignored.
    static let responseBytesMax = 64 * 1_024

    public init(
        name: String, url: String, format: Format, timeoutSeconds: Int64 = Limits.alertHTTPTimeoutSeconds,
        http: HTTPClient = .shared, now: @escaping @Sendable () -> Timestamp
    ) {
        precondition(timeoutSeconds > 0, "a request needs time to happen")
        precondition(url.hasPrefix("http://") || url.hasPrefix("https://"), "channel URLs are validated when configured")
        self.name = name
        self.url = url
        self.format = format
        self.timeoutSeconds = timeoutSeconds
        self.http = http
        self.now = now
    }

    public func deliver(_ notice: AlertNotice) async -> DeliveryResult {
        let prepared = Self.prepare(notice, format: format, at: now())
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "Plutus")
        for (name, value) in prepared.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: prepared.body))
        do {
            let response = try await http.execute(request, timeout: .seconds(timeoutSeconds))
            let answer = (try? await response.body.collect(upTo: Self.responseBytesMax)).map { String(buffer: $0) } ?? ""
            let status = Int(response.status.code)
            let reply = "HTTP \(status)"
            switch status {
            case 200..<300: return DeliveryResult(outcome: .delivered, reply: reply)
            case 408, 429, 500...: return DeliveryResult(outcome: .transientFailure, reply: reply, errorText: answer)
            default: return DeliveryResult(outcome: .permanentFailure, reply: reply, errorText: answer)
            }
        } catch {
            return DeliveryResult(outcome: .transientFailure, errorText: "request failed: \(error)")
        }
    }

    /// The headers and body for `notice` in `format`, signed at `time` where the format signs.
    public static func prepare(_ notice: AlertNotice, format: Format, at time: Timestamp) -> Prepared {
        switch format {
        case .webhook(let secret):
            let body = Array(webhookJSON(notice).serialized().utf8)
            return Prepared(
                headers: [
                    ("Content-Type", "application/json"), ("Plutus-Alert-ID", notice.alertID),
                    ("Plutus-Signature", WebhookSignature.header(secret: secret, timestampSeconds: time.seconds, body: body)),
                ], body: body)
        case .slack:
            return Prepared(
                headers: [("Content-Type", "application/json")],
                body: Array(JSONValue.object([("text", .string(notice.chatText))]).serialized().utf8))
        case .discord:
            let content = String(notice.chatText.prefix(discordContentCharactersMax))
            return Prepared(
                headers: [("Content-Type", "application/json")],
                body: Array(JSONValue.object([("content", .string(content))]).serialized().utf8))
        case .ntfy:
            return Prepared(
                headers: [
                    ("Content-Type", "text/plain; charset=utf-8"), ("Title", notice.subject),
                    ("Priority", notice.isUrgent ? "high" : "default"),
                    ("Tags", notice.isUrgent ? "rotating_light,plutus" : "warning,plutus"),
                ], body: Array(notice.message.utf8))
        }
    }

    /// The generic webhook's body: every field of the alert, times as ISO 8601.
    static func webhookJSON(_ notice: AlertNotice) -> JSONValue {
        .object([
            ("id", .string(notice.alertID)), ("kind", .string(notice.kind)), ("title", .string(notice.title)),
            ("message", .string(notice.message)), ("organization_id", .string(notice.organizationID)),
            ("organization_name", .string(notice.organizationName)),
            ("workspace_id", .optionalString(notice.workspaceID)), ("period", .string(notice.period)),
            ("created_at", .string(notice.createdAt.iso8601)), ("urgent", .bool(notice.isUrgent)),
        ])
    }
}

/// The generic webhook's signature header, in the manner of Stripe's: `t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>">`. Receivers recompute it and refuse old timestamps.
public enum WebhookSignature {
    public static func header(secret: String, timestampSeconds: Int64, body: [UInt8]) -> String {
        "t=\(timestampSeconds),v1=\(code(secret: secret, timestampSeconds: timestampSeconds, body: body))"
    }

    /// Whether `header` carries a valid signature of `body` made within `toleranceSeconds` of `nowSeconds`.
    public static func isValid(
        header: String, secret: String, body: [UInt8], nowSeconds: Int64, toleranceSeconds: Int64
    ) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) }
            if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(nowSeconds - timestamp) <= toleranceSeconds else { return false }
        let expected = Array(code(secret: secret, timestampSeconds: timestamp, body: body).utf8)
        return signatures.contains { Digest.constantTimeEqual(Array($0.utf8), expected) }
    }

    static func code(secret: String, timestampSeconds: Int64, body: [UInt8]) -> String {
        Digest.hex(HMACSHA256.code(key: Array(secret.utf8), message: Array("\(timestampSeconds).".utf8) + body))
    }
}
