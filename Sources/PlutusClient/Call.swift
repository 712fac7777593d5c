import Foundation
import PlutusCore

/// What a model call used, in the provider's own terms or as plain token counts.
public enum Usage: Sendable, Equatable {
    /// Token counts as Plutus names them. `cacheRead`, `cacheWrite` and `reasoning` are
    /// counted apart from `input` and `output`: give each token once.
    case tokens(input: Int64 = 0, output: Int64 = 0, cacheRead: Int64 = 0, cacheWrite: Int64 = 0, reasoning: Int64 = 0)
    /// The provider's usage object exactly as the provider returned it: OpenAI Chat
    /// Completions or Responses, Anthropic Messages, or Gemini `usageMetadata`. Plutus
    /// reads the cached and reasoning parts out of it, so no token is billed twice.
    case native(JSONValue)

    /// The provider's usage object from its JSON text, e.g. the `usage` member of a response.
    ///
    /// - Throws: ``PlutusClientError/invalidCall(field:message:)`` when the text is not a JSON object.
    public static func native(json: some StringProtocol) throws -> Usage {
        let value: JSONValue
        do {
            value = try JSONValue.parse(String(json))
        } catch {
            throw PlutusClientError.invalidCall(field: "usage", message: "usage must be a JSON object: \(error)")
        }
        guard case .object = value else {
            throw PlutusClientError.invalidCall(field: "usage", message: "usage must be a JSON object, got \(value.kindName)")
        }
        return .native(value)
    }

    /// The provider's usage object from any `Encodable` value that encodes as the provider's
    /// JSON, such as the usage type of an OpenAI or Anthropic client library.
    public static func native(encoding value: some Encodable) throws -> Usage {
        let data: Data
        do {
            data = try JSONEncoder().encode(value)
        } catch {
            throw PlutusClientError.invalidCall(field: "usage", message: "usage could not be encoded as JSON: \(error)")
        }
        return try native(json: String(decoding: data, as: UTF8.self))
    }
}

/// One model call to bill: who answered it, what it used, and where it belongs.
public struct Call: Sendable, Equatable {
    /// The provider, e.g. `anthropic`, `openai`, `google`.
    public var provider: String
    /// The model as the provider names it, e.g. `claude-sonnet-4-5`; prices come from the catalog.
    public var model: String?
    /// What the call used.
    public var usage: Usage
    /// The workspace (id, slug or name) it is billed to; created if new.
    public var workspace: String?
    /// The kind of work, e.g. `research`; `general` when left out.
    public var taskType: String?
    /// The agent run it belongs to; budgets of scope `run` count it.
    public var runID: String?
    /// Recorded once per organization, forever: sending the same id again charges nothing.
    /// A new random id by default; give your own (the provider's response id is a good one)
    /// to make retries across processes safe too.
    public var eventID: String
    /// When the call happened (within the last 35 days); the time Plutus receives it when `nil`.
    public var time: Date?
    /// Where the event came from, shown on the dashboard and in exports.
    public var source: String

    public init(
        provider: String, model: String? = nil, usage: Usage, workspace: String? = nil, taskType: String? = nil,
        runID: String? = nil, eventID: String = Call.newEventID(), time: Date? = nil, source: String = "swift"
    ) {
        self.provider = provider
        self.model = model
        self.usage = usage
        self.workspace = workspace
        self.taskType = taskType
        self.runID = runID
        self.eventID = eventID
        self.time = time
        self.source = source
    }

    /// A fresh random event id.
    public static func newEventID() -> String { "evt_" + UUID().uuidString.lowercased() }

    /// The event as `/v1/usage` takes it.
    var json: JSONValue {
        var members: [(String, JSONValue)] = [("provider", .string(provider))]
        if let model { members.append(("model", .string(model))) }
        switch usage {
        case .tokens(let input, let output, let cacheRead, let cacheWrite, let reasoning):
            members.append(("input_tokens", .number(String(input))))
            members.append(("output_tokens", .number(String(output))))
            if cacheRead != 0 { members.append(("cache_read_tokens", .number(String(cacheRead)))) }
            if cacheWrite != 0 { members.append(("cache_write_tokens", .number(String(cacheWrite)))) }
            if reasoning != 0 { members.append(("reasoning_tokens", .number(String(reasoning)))) }
        case .native(let object):
            members.append(("usage", object))
        }
        if let workspace { members.append(("workspace", .string(workspace))) }
        if let taskType { members.append(("task_type", .string(taskType))) }
        if let runID { members.append(("run_id", .string(runID))) }
        members.append(("event_id", .string(eventID)))
        if let time {
            let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded())
            members.append(("ts", .number(Timestamp(rawValue: milliseconds).epochSecondsText)))
        }
        members.append(("source", .string(source)))
        return .object(members)
    }
}
