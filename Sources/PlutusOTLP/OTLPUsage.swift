import PlutusCore

/// What a span or a log record means for billing: one usage event (checked by the rules
/// `/v1/usage` checks events by), nothing (no model call in it), or a refusal saying why.
public enum OTLPUsageItem: Sendable, Equatable {
    case event(OTLPEvent)
    case ignored
    case rejected(String)
}

/// The usage event a span or log record describes, its fields already typed.
public struct OTLPEvent: Sendable, Equatable {
    public var provider: String
    public var model: String?
    public var tokens: TokenCounts
    public var eventID: String
    public var timestamp: Timestamp?
    public var workspace: String?
    public var taskType: String?
    public var runID: String?
    public var source: String

    public init(
        provider: String, model: String?, tokens: TokenCounts, eventID: String, timestamp: Timestamp?, workspace: String?,
        taskType: String?, runID: String?, source: String
    ) {
        self.provider = provider
        self.model = model
        self.tokens = tokens
        self.eventID = eventID
        self.timestamp = timestamp
        self.workspace = workspace
        self.taskType = taskType
        self.runID = runID
        self.source = source
    }

    /// The event, checked as `/v1/usage` checks an event object (labels, the time's window).
    public func input(now: Timestamp) throws(UsageFieldError) -> UsageEventInput {
        try UsageValidation.validate(
            provider: provider, model: model, taskType: taskType, workspace: workspace, source: source, eventID: eventID,
            runID: runID, tokens: tokens, timestamp: timestamp, index: 0, now: now, defaultSource: "otlp")
    }

    /// The event as `/v1/usage` would take it.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("provider", .string(provider))]
        if let model { members.append(("model", .string(model))) }
        members += [
            ("input_tokens", .int(tokens.input)), ("output_tokens", .int(tokens.output)),
            ("cache_read_tokens", .int(tokens.cacheRead)), ("cache_write_tokens", .int(tokens.cacheWrite)),
            ("reasoning_tokens", .int(tokens.reasoning)), ("event_id", .string(eventID)), ("source", .string(source)),
        ]
        if let timestamp { members.append(("ts", .number(timestamp.epochSecondsText))) }
        if let workspace { members.append(("workspace", .string(workspace))) }
        if let taskType { members.append(("task_type", .string(taskType))) }
        if let runID { members.append(("run_id", .string(runID))) }
        return .object(members)
    }
}

/// Spans and log records as usage events. Every token count is re-priced by the catalog
/// (a cost attribute is never trusted), and each event's id is the item's identity, so an
/// exporter's retry records nothing twice.
///
/// GenAI spans (`gen_ai.usage.*`, the older `prompt_tokens`/`completion_tokens`, and
/// OpenInference's `llm.token_count.*`): the cache-read and cache-creation counts are parts
/// of the input count and the reasoning count a part of the output (the semantic
/// conventions' definition, which OpenLLMetry and OpenInference follow for every provider), so
/// they are taken out before billing: each token is billed once, at its own rate.
public enum OTLPUsage {
    /// Resource or item attribute naming the workspace; else the resource's `service.name`.
    public static let workspaceAttribute = "plutus.workspace"
    public static let taskAttribute = "plutus.task"
    public static let runAttribute = "plutus.run"

    public static func event(_ span: OTLPSpan) -> OTLPUsageItem {
        let attributes = span.attributes
        let counts: Counts
        switch Counts.read(attributes, Self.spanKeys) {
        case .none: return .ignored
        case .failure(let reason): return .rejected(reason)
        case .success(let read): counts = read
        }
        guard
            let provider = normalisedProvider(
                attributes.text("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"))
        else {
            return .rejected("the span reports token usage but names no provider (gen_ai.provider.name)")
        }
        guard !span.traceID.isEmpty, !span.spanID.isEmpty else {
            return .rejected("the span has no trace or span id, so it cannot be billed exactly once")
        }
        let included = counts.partsIncluded()
        return .event(
            eventObject(
                provider: provider, model: attributes.text("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"),
                counts: included,
                eventID: "otlp-\(timeKey(span.endNanos != 0 ? span.endNanos : span.startNanos))-"
                    + "\(Hex.encode(span.traceID))-\(Hex.encode(span.spanID))",
                nanos: span.endNanos != 0 ? span.endNanos : span.startNanos, attributes: attributes, resource: span.resource,
                task: attributes.text(taskAttribute, "gen_ai.operation.name"), source: "otlp"))
    }

    public static func event(_ record: OTLPLogRecord) -> OTLPUsageItem {
        let name = eventName(record)
        let attributes = record.attributes
        let provider: String
        let counts: Counts
        let source: String
        switch name {
        case "claude_code.api_request":
            // Anthropic's own counts: the input excludes the cached parts.
            switch Counts.read(attributes, Self.claudeCodeKeys) {
            case .none: return .rejected("a claude_code.api_request record without token counts")
            case .failure(let reason): return .rejected(reason)
            case .success(let read): counts = read
            }
            provider = "anthropic"
            source = "claude-code"
        case "codex.sse_event":
            guard attributes.text("event.kind") == "response.completed" else { return .ignored }
            // OpenAI's counts: the cached input and the reasoning are parts of the totals.
            switch Counts.read(attributes, Self.codexKeys) {
            case .none: return .ignored
            case .failure(let reason): return .rejected(reason)
            case .success(let read): counts = read.partsIncluded()
            }
            provider = "openai"
            source = "codex"
        default:
            return .ignored
        }
        return .event(
            eventObject(
                provider: provider, model: attributes.text("model", "slug"), counts: counts,
                eventID: "otlp-log-\(timeKey(record.timeNanos != 0 ? record.timeNanos : record.observedNanos))-"
                    + String(Digest.sha256Hex(identity(record)).prefix(40)),
                nanos: record.timeNanos != 0 ? record.timeNanos : record.observedNanos, attributes: attributes,
                resource: record.resource, task: attributes.text(taskAttribute), source: source))
    }

    /// The item's time as 16 hex digits, leading its event id. Trace ids are random, and a
    /// unique index on random keys touches a different page for every insert (a page written
    /// per event); led by the time, a batch's ids land side by side at the index's end. A
    /// span's or record's time is part of what was exported, so a re-sent export has the same
    /// ids.
    static func timeKey(_ nanos: UInt64) -> String {
        withUnsafeBytes(of: nanos.bigEndian) { Hex.encode(Array($0)) }
    }

    /// A log record's event name: the record's own, else an `event.name` attribute, else a
    /// string body (how Claude Code and Codex name theirs).
    static func eventName(_ record: OTLPLogRecord) -> String {
        var name = record.eventName
        if name.isEmpty { name = record.attributes.text("event.name") ?? "" }
        if name.isEmpty, case .string(let body)? = record.body { name = body }
        if name == "api_request", record.scope.contains("claude_code") || record.resource.text("service.name") == "claude-code" {
            name = "claude_code.api_request"
        }
        if name == "sse_event", record.scope.contains("codex") || record.resource.text("service.name")?.hasPrefix("codex") == true
        {
            name = "codex.sse_event"
        }
        return name
    }

    /// The bytes a log record is known by: the same record sent again has the same identity.
    static func identity(_ record: OTLPLogRecord) -> [UInt8] {
        var text = "\(record.timeNanos)|\(record.eventName)|\(Hex.encode(record.traceID))|\(Hex.encode(record.spanID))|"
        for attribute in record.resource.list where ["service.name", "service.instance.id", "session.id"].contains(attribute.key)
        {
            text += "r:\(attribute.key)=\(attribute.value.text ?? "")|"
        }
        for attribute in record.attributes.list { text += "\(attribute.key)=\(attribute.value.text ?? "?")|" }
        return Array(text.utf8)
    }

    static func normalisedProvider(_ raw: String?) -> String? {
        guard let raw = raw?.lowercased(), !raw.isEmpty else { return nil }
        switch raw {
        case "openai", "az.ai.openai", "azure.ai.openai", "azure_openai": return "openai"
        case "anthropic", "aws.bedrock.anthropic": return "anthropic"
        case "gcp.gemini", "gcp.vertex_ai", "gcp.gen_ai", "gemini", "google", "vertex_ai", "vertexai", "google_genai":
            return "google"
        case "mistral_ai", "mistralai": return "mistral"
        case "x_ai", "xai": return "xai"
        default: return raw
        }
    }

    static func eventObject(
        provider: String, model: String?, counts: Counts, eventID: String, nanos: UInt64, attributes: OTLPAttributes,
        resource: OTLPAttributes, task: String?, source: String
    ) -> OTLPEvent {
        OTLPEvent(
            provider: provider, model: model,
            tokens: TokenCounts(
                input: counts.input, output: counts.output, cacheRead: counts.cacheRead, cacheWrite: counts.cacheWrite,
                reasoning: counts.reasoning),
            eventID: eventID, timestamp: nanos > 0 ? Timestamp(rawValue: Int64(nanos / 1_000_000)) : nil,
            workspace: attributes.text(workspaceAttribute) ?? resource.text(workspaceAttribute, "service.name"),
            taskType: task, runID: attributes.text(runAttribute) ?? resource.text(runAttribute), source: source)
    }

    /// Where each count is read from, first key present wins.
    struct Keys {
        var input: [String]
        var output: [String]
        var cacheRead: [String]
        var cacheWrite: [String]
        var reasoning: [String]
    }

    static let spanKeys = Keys(
        input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"],
        output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"],
        cacheRead: [
            "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
        ],
        cacheWrite: [
            "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ],
        reasoning: [
            "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
        ])
    static let claudeCodeKeys = Keys(
        input: ["input_tokens"], output: ["output_tokens"], cacheRead: ["cache_read_tokens"],
        cacheWrite: ["cache_creation_tokens"], reasoning: [])
    static let codexKeys = Keys(
        input: ["input_token_count"], output: ["output_token_count"], cacheRead: ["cached_token_count"], cacheWrite: [],
        reasoning: ["reasoning_token_count"])

    struct Counts: Equatable {
        var input: Int64 = 0
        var output: Int64 = 0
        var cacheRead: Int64 = 0
        var cacheWrite: Int64 = 0
        var reasoning: Int64 = 0

        enum Read {
            case none
            case failure(String)
            case success(Counts)
        }

        static func read(_ attributes: OTLPAttributes, _ keys: Keys) -> Read {
            var counts = Counts()
            var found = false
            func take(_ candidates: [String], _ into: inout Int64, counts primary: Bool) -> String? {
                for key in candidates {
                    guard let value = attributes[key] else { continue }
                    guard let count = value.count, count >= 0, count <= Limits.tokensPerFieldMax else {
                        return
                            "\(key) must be a token count from 0 to \(Limits.tokensPerFieldMax), got \(value.text ?? "a non-number")"
                    }
                    into = count
                    if primary { found = true }
                    return nil
                }
                return nil
            }
            if let problem = take(keys.input, &counts.input, counts: true) { return .failure(problem) }
            if let problem = take(keys.output, &counts.output, counts: true) { return .failure(problem) }
            if let problem = take(keys.cacheRead, &counts.cacheRead, counts: false) { return .failure(problem) }
            if let problem = take(keys.cacheWrite, &counts.cacheWrite, counts: false) { return .failure(problem) }
            if let problem = take(keys.reasoning, &counts.reasoning, counts: false) { return .failure(problem) }
            return found ? .success(counts) : .none
        }

        /// The counts when the cached parts are inside the input and the reasoning inside the
        /// output: the parts taken out, so each token is billed once.
        func partsIncluded() -> Counts {
            var out = self
            out.input = max(0, input - cacheRead - cacheWrite)
            out.output = max(0, output - reasoning)
            return out
        }
    }
}
