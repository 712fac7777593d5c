import PlutusCore
import PlutusStore

/// How exported events are written. The original's columns come first, in its order;
/// Plutus's additions follow.
enum ExportFormat: Sendable {
    case csv
    case json(organizationID: OrganizationID)

    static let columns = [
        "id", "ts", "provider", "model", "task_type", "workspace", "input_tokens", "output_tokens", "cache_read_tokens",
        "reasoning_tokens", "cost_usd", "estimated", "source", "cache_write_tokens", "cost_kind", "price_version",
        "event_id", "seq", "time",
    ]

    var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        }
    }

    var prefix: String {
        switch self {
        case .csv: Self.columns.joined(separator: ",") + "\r\n"
        case .json: "{\"events\":["
        }
    }

    func suffix(count: Int, nextCursor: Int64?) -> String {
        switch self {
        case .csv:
            return ""
        case .json(let organizationID):
            return "],\"org_id\":\(JSONValue.string(organizationID.rawValue).serialized()),\"count\":\(count),"
                + "\"next_cursor\":\(nextCursor.map(String.init) ?? "null")}"
        }
    }

    func row(_ event: UsageEventRecord, first: Bool) -> String {
        let values: [JSONValue] = [
            .string(event.id.rawValue), .number(event.timestamp.epochSecondsText), .string(event.provider),
            .optionalString(event.model), .string(event.taskType), .optionalString(event.workspaceName),
            .int(event.tokens.input), .int(event.tokens.output), .int(event.tokens.cacheRead), .int(event.tokens.reasoning),
            .money(event.cost), .bool(event.costKind.isEstimated), .string(event.source), .int(event.tokens.cacheWrite),
            .string(event.costKind.rawValue), .string(event.priceVersion), .optionalString(event.clientEventID),
            .int(event.sequence), .string(event.timestamp.iso8601),
        ]
        switch self {
        case .json:
            return (first ? "" : ",") + JSONValue.object(Array(zip(Self.columns, values))).serialized()
        case .csv:
            return values.map(Self.csvCell).joined(separator: ",") + "\r\n"
        }
    }

    /// One CSV cell. Text that a spreadsheet would run as a formula (starting with `=`, `+`,
    /// `-`, `@`, tab or carriage return) gets a leading `'`; cells with separators, quotes
    /// or line breaks are quoted.
    static func csvCell(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text): return text
        case .string(var text):
            if let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) { text = "'" + text }
            if text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
                return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return text
        default: return value.serialized()
        }
    }
}
