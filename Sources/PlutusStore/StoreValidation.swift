import Foundation
import PlutusCore

/// Input checks every store applies before it writes.
public enum StoreValidation {
    /// Refreshes `last_used_at` at most once a minute per key, to keep reads cheap.
    public static let keyTouchIntervalMillis: Int64 = 60_000

    public static func name(_ name: String, field: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreError.invalid(field: field, problem: "must not be empty") }
        guard trimmed.utf8.count <= Limits.nameBytesMax else {
            throw StoreError.invalid(field: field, problem: "must be at most \(Limits.nameBytesMax) bytes")
        }
        guard !UsageValidation.containsControlCharacter(trimmed) else {
            throw StoreError.invalid(field: field, problem: "must not contain control characters")
        }
        return trimmed
    }

    public static func email(_ email: String) throws -> String {
        let trimmed = email.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), trimmed.utf8.count <= 254,
            !trimmed.contains(where: { $0.isWhitespace }), !UsageValidation.containsControlCharacter(trimmed)
        else { throw StoreError.invalid(field: "email", problem: "must be an email address like name@example.com") }
        return trimmed
    }

    /// A workspace's monthly budget, when it has one: positive and at most a credit's bound.
    public static func budget(_ budget: MicroDollars?) throws {
        if let budget, !budget.isPositive || budget > Limits.creditAmountMax {
            throw StoreError.invalid(field: "budget", problem: "must be positive and at most \(Limits.creditAmountMax.formatted)")
        }
    }
}
