import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PlutusCore
import PlutusStore

/// Reading what clients send: bearer tokens, bounded bodies, query values.
enum HTTPInput {
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!
    static let stripeSignatureField = HTTPField.Name("Stripe-Signature")!

    /// The value of header `name`; several fields of that name are joined with ", " as
    /// `HTTPFields` joins them. A lone field (every ingest request's case) is returned as
    /// it is, without building a joined copy.
    static func header(_ request: Request, _ name: HTTPField.Name) -> String? {
        var found: String?
        for field in request.headers where field.name == name {
            guard found == nil else { return request.headers[name] }
            found = field.value
        }
        return found
    }

    /// The token of `Authorization: Bearer <token>` (scheme matched case-insensitively,
    /// spaces and tabs around the token dropped). Read byte by byte: it runs on every
    /// ingest request, and Foundation's trimming bridges through NSString.
    static func bearer(_ request: Request) -> String? {
        guard let header = header(request, .authorization) else { return nil }
        let scheme = "bearer".utf8
        let bytes = header.utf8
        guard bytes.count > scheme.count, bytes.dropFirst(scheme.count).first == UInt8(ascii: " "),
            zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 })
        else { return nil }
        return trimmingBlanks(Substring(bytes.dropFirst(scheme.count + 1)))
    }

    /// `text` without the spaces and tabs around it. Header values are read on every
    /// request; Foundation's trimming bridges through NSString.
    static func trimmingBlanks(_ text: Substring) -> String {
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// The body, at most `Limits.bodyBytesMax` bytes whatever `Content-Length` claims; a
    /// declared length that is not a non-negative integer is refused.
    static func body(_ request: Request, limit: Int = Limits.bodyBytesMax) async throws -> [UInt8] {
        if let declared = header(request, .contentLength) {
            guard let length = Int(trimmingBlanks(declared[...])), length >= 0 else {
                throw APIError.badRequest("Content-Length must be a non-negative integer", code: "invalid_content_length")
            }
            guard length <= limit else { throw APIError.bodyTooLarge }
        }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge
        }
    }

    /// The body parsed as JSON; an empty body is `{}` as in the original.
    static func json(_ request: Request) async throws -> JSONValue {
        let bytes = try await body(request)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .object([]) }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw APIError.bodyNotJSON
        }
    }

    /// The body as a JSON object (admin routes).
    static func object(_ request: Request) async throws -> JSONValue {
        let value = try await json(request)
        guard case .object = value else { throw APIError.bodyNotObject }
        return value
    }

    /// An optional `Idempotency-Key`, trimmed and bounded.
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let raw = header(request, idempotencyKeyField) else { return nil }
        let key = trimmingBlanks(raw[...])
        if key.isEmpty { return nil }
        guard key.utf8.count <= Limits.idempotencyKeyBytesMax, !UsageValidation.containsControlCharacter(key) else {
            throw APIError.badRequest(
                "Idempotency-Key must be at most \(Limits.idempotencyKeyBytesMax) bytes without control characters",
                code: "invalid_idempotency_key", field: "Idempotency-Key")
        }
        return key
    }

    /// A time query parameter: epoch seconds (fractions allowed) or ISO 8601.
    /// A time query parameter: epoch seconds, an ISO 8601 time, or a UTC date (`2026-12-01`),
    /// which as a lower bound means the start of that day and as an upper bound (`dayEnd`)
    /// the end of it, as the dashboard reads its dates.
    static func time(_ request: Request, _ names: String..., dayEnd: Bool = false) throws -> Timestamp? {
        for name in names {
            guard let text = request.uri.queryParameters.get(name), !text.isEmpty else { continue }
            if case .success(let millis) = DecimalText.scaled(text, scale: 3) { return Timestamp(rawValue: millis) }
            if let parsed = Timestamp.parseISO8601(text) { return parsed }
            if let day = CivilDay(text: text) { return dayEnd ? day.adding(days: 1).start : day.start }
            throw APIError.badRequest("'\(name)' must be epoch seconds, an ISO 8601 time or a date (YYYY-MM-DD)", field: name)
        }
        return nil
    }

    /// An integer query parameter within `range`; present but empty is refused too.
    static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw APIError.badRequest(
                "'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)", field: name)
        }
        return value
    }
}
