import PlutusCore

/// Errors every store speaks, whatever its backend. Backend errors are translated into
/// these at the store boundary; `backend` carries a description for logs only and must
/// never be shown to a client.
public enum StoreError: Error, Equatable, Sendable {
    case organizationNotFound(String)
    case nameTaken(String)
    /// An idempotency key was reused with a different request body.
    case idempotencyConflict(key: String)
    /// A credit reference was reused for a different organization or amount.
    case creditReferenceConflict(reference: String)
    case invalid(field: String, problem: String)
    /// The database is contended; retry after the given delay.
    case busy(retryAfterSeconds: Int)
    /// The database was written by a newer Plutus.
    case schemaTooNew(found: Int, supported: Int)
    /// A stored column holds a value this Plutus does not know (a newer writer, or damage).
    case unknownStoredValue(column: String, value: String)
    /// No hold of this organization has this id.
    case reservationNotFound(String)
    /// No budget of this organization has this id.
    case budgetNotFound(String)
    /// The hold was settled, released or expired already, and the request cannot apply.
    case reservationClosed(id: String, status: String)
    /// No member of this organization has this email.
    case memberNotFound(String)
    /// The change would leave the organization without an owner.
    case lastOwner(String)
    /// The person belongs to the organization already.
    case alreadyMember(String)
    /// An invitation cannot be used, and why (`InvitationRules`).
    case invitationRefused(String)
    case backend(String)
}

extension StoreError {
    /// Decodes a stored enum column strictly: an unknown value is an error that names the
    /// column and the value, never a silent fallback to some default case.
    public static func decode<Value: RawRepresentable>(
        _ raw: String, column: String, as type: Value.Type = Value.self
    ) throws -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: raw) else { throw StoreError.unknownStoredValue(column: column, value: raw) }
        return value
    }
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .organizationNotFound(let reference): "no organization matches '\(reference)'"
        case .nameTaken(let name): "'\(name)' is already taken"
        case .idempotencyConflict(let key):
            "Idempotency-Key '\(key)' was already used with a different request body"
        case .creditReferenceConflict(let reference):
            "reference '\(reference)' was already used for a different organization or amount"
        case .invalid(let field, let problem): "\(field) \(problem)"
        case .busy(let seconds): "the database is busy; retry in \(seconds) s"
        case .schemaTooNew(let found, let supported):
            "database schema version \(found) is newer than this Plutus supports (\(supported)); upgrade Plutus before opening it"
        case .unknownStoredValue(let column, let value):
            "the database holds '\(value)' in \(column), which this Plutus does not know; was it written by a newer Plutus?"
        case .reservationNotFound(let id): "no reservation '\(id)' in this organization"
        case .budgetNotFound(let id): "no budget '\(id)' in this organization"
        case .reservationClosed(let id, let status): "reservation \(id) is \(status)"
        case .memberNotFound(let email): "\(email) is not a member of this organization"
        case .lastOwner(let email): "\(email) is the organization's only owner; make someone else an owner first"
        case .alreadyMember(let email): "\(email) is already a member of this organization"
        case .invitationRefused(let reason): reason
        case .backend: "internal storage error"
        }
    }
}
