import PlutusCore

/// Why Plutus did not record a call or place a hold, or why the client could not reach it.
public enum PlutusClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The prepaid hard stop: the organization's available credit cannot pay for it.
    /// `required` is what it costs, `balance` the balance it was refused at.
    case insufficientCredit(message: String, required: MicroDollars?, balance: MicroDollars?)
    /// A hard budget covering the call has no room for it.
    case budgetExceeded(ExceededBudget)
    /// The free tier's monthly token quota is used up.
    case quotaExceeded(message: String)
    /// The API key is missing, wrong or revoked.
    case unauthorized(message: String)
    /// The call was refused as it stands (nothing was sent, or Plutus answered 400); `field` names the culprit.
    case invalidCall(field: String, message: String)
    /// The hold was settled, released or has lapsed already.
    case holdClosed(id: String, message: String)
    /// Plutus could not be reached, or stayed busy (429, 503), until the retry time ran out.
    /// Nothing is lost: a batch still queued is sent again on the next flush.
    case unavailable(message: String)
    /// An answer the client does not expect, with its status and message.
    case unexpected(status: Int, message: String)
    /// `track` found the queue full and a flush could not make room.
    case queueFull(limit: Int)
    /// `shutdown` could not send the last calls: `count` of them were not recorded.
    case notSent(count: Int, reason: String)
    /// The meter was shut down.
    case shutDown

    public var description: String {
        switch self {
        case .insufficientCredit(let message, _, _): message
        case .budgetExceeded(let budget): budget.message
        case .quotaExceeded(let message): message
        case .unauthorized(let message): "unauthorized: \(message)"
        case .invalidCall(let field, let message): field.isEmpty ? message : "\(field): \(message)"
        case .holdClosed(_, let message): message
        case .unavailable(let message): "Plutus is unavailable: \(message)"
        case .unexpected(let status, let message): "unexpected answer \(status): \(message)"
        case .queueFull(let limit): "the meter's queue is full (\(limit) calls) and Plutus cannot be reached"
        case .notSent(let count, let reason): "\(count) call\(count == 1 ? "" : "s") not sent: \(reason)"
        case .shutDown: "the meter was shut down"
        }
    }
}

/// The hard budget that refused a call or a hold.
public struct ExceededBudget: Sendable, Equatable {
    public var id: String
    /// `org`, `workspace`, `key`, `task` or `run`.
    public var scope: String?
    public var scopeID: String?
    public var label: String?
    public var limit: MicroDollars?
    /// `day`, `month` or `total`.
    public var period: String?
    public var spent: MicroDollars?
    public var held: MicroDollars?
    /// What the refused call or hold needed.
    public var required: MicroDollars?
    /// When the period starts again (ISO 8601), `nil` for a `total` budget.
    public var resetsAt: String?
    /// Plutus's sentence, e.g. "budget exceeded: workspace research, $400.00 monthly, spent $399.90, …".
    public var message: String
}

/// A call a background flush sent and Plutus refused; nothing was charged for it.
public struct Refusal: Sendable, Equatable {
    public var eventID: String
    public var reason: PlutusClientError
}

/// A call Plutus recorded (or had recorded before under the same event id).
public struct Recorded: Sendable, Equatable {
    /// The call's event id, as it was sent.
    public var eventID: String
    /// Plutus's id of the recorded event (`evt_…`).
    public var recordID: String?
    /// What it cost, priced from the catalog unless an exact cost was given.
    public var cost: MicroDollars
    /// `true` when the cost was estimated from tokens.
    public var estimated: Bool
    /// `true` when the model is not in the catalog and the provider's fallback rate priced it.
    public var unpriced: Bool
    /// The organization's balance after it.
    public var balanceAfter: MicroDollars
    /// `true` when the event id was recorded before; nothing was charged this time.
    public var duplicate: Bool
}

/// Reading Plutus's JSON answers.
enum Answer {
    static func money(_ value: JSONValue?) -> MicroDollars? {
        guard case .number(let text) = value, case .success(let amount) = MicroDollars.parse(text) else { return nil }
        return amount
    }

    static func bool(_ value: JSONValue?) -> Bool {
        if case .bool(let flag) = value { return flag }
        return false
    }

    static func message(_ body: JSONValue, otherwise: String = "no message") -> String {
        body["detail"]?.stringValue ?? body["error"]?.stringValue ?? otherwise
    }

    /// The refusal of a 402 (or of one event in a batch answer).
    static func refusal(_ event: JSONValue, top: JSONValue) -> PlutusClientError {
        if bool(event["over_budget"]) || top["code"]?.stringValue == "budget_exceeded" {
            return .budgetExceeded(budget(top["budget"], id: event["budget_id"]?.stringValue, message: top))
        }
        if bool(event["over_balance"]) || top["code"]?.stringValue == "insufficient_credit" {
            let required = money(event["cost_usd"]) ?? money(top["required_usd"])
            let balance = money(event["balance_after"]) ?? money(top["balance_usd"])
            var otherwise = "insufficient credit"
            if let required, let balance { otherwise += ": this call costs \(required.formatted), balance \(balance.formatted)" }
            return .insufficientCredit(message: message(top, otherwise: otherwise), required: required, balance: balance)
        }
        return .quotaExceeded(message: message(top, otherwise: "free-tier token quota reached"))
    }

    static func budget(_ object: JSONValue?, id: String?, message top: JSONValue) -> ExceededBudget {
        let object = object ?? .object([])
        return ExceededBudget(
            id: object["budget_id"]?.stringValue ?? id ?? "", scope: object["scope"]?.stringValue,
            scopeID: object["scope_id"]?.stringValue, label: object["label"]?.stringValue, limit: money(object["limit_usd"]),
            period: object["period"]?.stringValue, spent: money(object["spent_usd"]), held: money(object["held_usd"]),
            required: money(object["required_usd"]), resetsAt: object["resets_at"]?.stringValue,
            message: top["error"]?.stringValue ?? "budget exceeded: \(object["budget_id"]?.stringValue ?? id ?? "a hard budget")")
    }

    static func recorded(_ event: JSONValue, eventID: String) -> Recorded {
        Recorded(
            eventID: eventID, recordID: event["event_id"]?.stringValue, cost: money(event["cost_usd"]) ?? .zero,
            estimated: bool(event["estimated"]), unpriced: bool(event["unpriced"]),
            balanceAfter: money(event["balance_after"]) ?? .zero, duplicate: bool(event["duplicate"]))
    }

    /// The error of an answer that is neither a success nor a refusal.
    static func failure(status: Int, body: JSONValue) -> PlutusClientError {
        switch status {
        case 400, 413: .invalidCall(field: body["field"]?.stringValue ?? "", message: message(body))
        case 401, 403: .unauthorized(message: message(body))
        default: .unexpected(status: status, message: message(body))
        }
    }
}
