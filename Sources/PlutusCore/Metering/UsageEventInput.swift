/// One usage event as accepted from a caller, after validation.
public struct UsageEventInput: Sendable, Hashable {
    public var provider: String
    public var model: String?
    public var taskType: String
    /// A workspace id, slug or name; `nil` for none.
    public var workspace: String?
    public var source: String
    public var tokens: TokenCounts
    /// The caller's exact cost; `nil` = estimate from tokens.
    public var exactCost: MicroDollars?
    /// When the call happened; `nil` = when Plutus receives it.
    public var timestamp: Timestamp?
    /// A client-chosen id, deduplicated per organization forever.
    public var clientEventID: String?
    /// The agent run it belongs to, for budgets of scope `run`.
    public var runID: String?

    public init(
        provider: String, model: String? = nil, taskType: String = "general", workspace: String? = nil,
        source: String = "api", tokens: TokenCounts = .zero, exactCost: MicroDollars? = nil,
        timestamp: Timestamp? = nil, clientEventID: String? = nil, runID: String? = nil
    ) {
        self.provider = provider
        self.model = model
        self.taskType = taskType
        self.workspace = workspace
        self.source = source
        self.tokens = tokens
        self.exactCost = exactCost
        self.timestamp = timestamp
        self.clientEventID = clientEventID
        self.runID = runID
    }
}

/// A field of an event that failed validation. `message` starts with the original Plutus
/// wording (which clients match on) and then names the event index and field.
public struct UsageFieldError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case missingProvider = "missing_provider"
        case wrongType = "wrong_type"
        case negative
        case tooLarge = "too_large"
        case tooLong = "too_long"
        case empty
        case controlCharacter = "control_character"
        case notFinite = "not_finite"
        case timestampOutOfRange = "timestamp_out_of_range"
        case invalidTimestamp = "invalid_timestamp"
        case notAnObject = "not_an_object"
        case invalidUsage = "invalid_usage"
        case conflictingFields = "conflicting_fields"
        /// Strict mode only: a field Plutus does not know.
        case unknownField = "unknown_field"
        /// Strict mode only: an event with no tokens and no cost.
        case nothingToBill = "nothing_to_bill"
    }

    public var index: Int
    public var field: String
    public var code: Code
    /// The rule that was broken, in the original's words where one exists.
    public var rule: String
    /// What was found.
    public var found: String

    public var message: String { "\(rule) (event \(index), field '\(field)': \(found))" }
    public var description: String { message }

    public init(index: Int, field: String, code: Code, rule: String, found: String) {
        self.index = index
        self.field = field
        self.code = code
        self.rule = rule
        self.found = found
    }
}

/// Something in an accepted event that Plutus did not bill: a field it does not know, or an
/// event with nothing to bill. The `/v1` contract ignores unknown fields, so these are
/// answered beside a 200, or refused as a 400 in strict mode.
public struct UsageWarning: Sendable, Equatable {
    public var index: Int
    /// The field, or `""` for the event as a whole.
    public var field: String
    public var code: UsageFieldError.Code
    public var message: String

    public init(index: Int, field: String, code: UsageFieldError.Code, message: String) {
        self.index = index
        self.field = field
        self.code = code
        self.message = message
    }

    /// The same finding as a validation failure (strict mode).
    public var asError: UsageFieldError {
        UsageFieldError(
            index: index, field: field, code: code, rule: message, found: field.isEmpty ? "no tokens, no cost_usd" : "present")
    }
}

/// The request as a whole is malformed (not the events in it).
public struct UsageBatchShapeError: Error, Equatable, Sendable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}

public enum UsageValidation {
    /// Normalises a request body to a list of validated events. Validates every event
    /// before returning any, so a caller never records part of an invalid batch.
    /// Returns the events and whether the body was an array.
    /// `{"events": [...]}` (an object whose only member is an `events` array) is read as the
    /// batch it holds.
    public static func validateBody(
        _ body: JSONValue, now: Timestamp, defaultSource: String = "api"
    ) throws -> (events: [UsageEventInput], wasArray: Bool, warnings: [UsageWarning]) {
        let items: [JSONValue]
        let wasArray: Bool
        switch body {
        case .array(let elements):
            items = elements
            wasArray = true
        case .object(let members) where members.count == 1 && members[0].0 == "events":
            guard case .array(let elements) = members[0].1 else {
                throw UsageBatchShapeError(
                    message:
                        "'events' must be an array of event objects: send {\"events\": [{\"provider\": …}, …]} or the array itself"
                )
            }
            items = elements
            wasArray = true
        case .object:
            items = [body]
            wasArray = false
        default:
            throw UsageBatchShapeError(message: "body must be a JSON object or an array of events")
        }
        guard (1...Limits.batchEventsMax).contains(items.count) else {
            throw UsageBatchShapeError(message: "send 1–\(Limits.batchEventsMax) events")
        }
        var events: [UsageEventInput] = []
        var warnings: [UsageWarning] = []
        events.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            events.append(try validate(item, index: index, now: now, defaultSource: defaultSource, warnings: &warnings))
        }
        return (events, wasArray, warnings)
    }

    /// Validates one event object, dropping its warnings.
    public static func validate(
        _ value: JSONValue, index: Int, now: Timestamp, defaultSource: String = "api"
    ) throws(UsageFieldError) -> UsageEventInput {
        var warnings: [UsageWarning] = []
        return try validate(value, index: index, now: now, defaultSource: defaultSource, warnings: &warnings)
    }

    /// Validates one event object. Unknown fields are ignored, as in the original, and each
    /// is named in `warnings`; so is an event with no tokens and no cost.
    public static func validate(
        _ value: JSONValue, index: Int, now: Timestamp, defaultSource: String = "api", warnings: inout [UsageWarning]
    ) throws(UsageFieldError) -> UsageEventInput {
        guard case .object(let members) = value else {
            throw UsageFieldError(
                index: index, field: "", code: .notAnObject, rule: "each event must be a JSON object", found: value.kindName)
        }
        func failure(_ field: String, _ code: UsageFieldError.Code, _ rule: String, _ found: String) -> UsageFieldError {
            UsageFieldError(index: index, field: field, code: code, rule: rule, found: found)
        }
        // One pass over the members (the parser refused duplicate keys), the usual fields
        // first, instead of a scan of the object for each field.
        var fields = EventFields()
        for (name, member) in members {
            if case .null = member { continue }
            switch name {
            case "provider": fields.provider = member
            case "model": fields.model = member
            case "input_tokens": fields.inputTokens = member
            case "output_tokens": fields.outputTokens = member
            case "task_type": fields.taskType = member
            case "workspace": fields.workspace = member
            case "cost_usd": fields.cost = member
            case "ts": fields.timestamp = member
            case "event_id": fields.eventID = member
            case "run_id": fields.runID = member
            case "source": fields.source = member
            case "cache_read_tokens": fields.cacheReadTokens = member
            case "cache_write_tokens": fields.cacheWriteTokens = member
            case "reasoning_tokens": fields.reasoningTokens = member
            case "usage", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
                "cache_read_input_tokens", "cache_creation_input_tokens":
                fields.hasProviderNames = true
            default:
                warnings.append(
                    UsageWarning(
                        index: index, field: name, code: .unknownField,
                        message: "'\(name)' is not an event field Plutus knows; it was ignored"))
            }
        }
        guard let providerValue = fields.provider else {
            throw failure("provider", .missingProvider, "each event needs a 'provider'", "missing")
        }
        guard case .string(let provider) = providerValue else {
            throw failure("provider", .wrongType, "each event needs a 'provider'", providerValue.kindName)
        }
        guard !isBlank(provider) else {
            throw failure("provider", .missingProvider, "each event needs a 'provider'", "empty")
        }
        try checkLabel(provider, field: "provider", bytesMax: Limits.providerBytesMax, index: index)
        let model = try optionalLabel(fields.model, "model", bytesMax: Limits.labelBytesMax, index: index)
        let taskType = try optionalLabel(fields.taskType, "task_type", bytesMax: Limits.labelBytesMax, index: index)
        let workspace = try optionalLabel(fields.workspace, "workspace", bytesMax: Limits.labelBytesMax, index: index)
        let source = try optionalLabel(fields.source, "source", bytesMax: Limits.labelBytesMax, index: index)
        let clientEventID = try optionalLabel(fields.eventID, "event_id", bytesMax: Limits.clientEventIDBytesMax, index: index)
        let runID = try optionalLabel(fields.runID, "run_id", bytesMax: Limits.runIDBytesMax, index: index)

        var tokens = TokenCounts(
            input: try tokenCount(fields.inputTokens, field: "input_tokens", index: index),
            output: try tokenCount(fields.outputTokens, field: "output_tokens", index: index),
            cacheRead: try tokenCount(fields.cacheReadTokens, field: "cache_read_tokens", index: index),
            cacheWrite: try tokenCount(fields.cacheWriteTokens, field: "cache_write_tokens", index: index),
            reasoning: try tokenCount(fields.reasoningTokens, field: "reasoning_tokens", index: index))
        if fields.hasProviderNames { tokens = try providerTokens(members, plutusCounts: tokens, index: index) }
        let cost = try exactCost(fields.cost, index: index)
        if cost == nil && tokens.tracked == 0 {
            warnings.append(
                UsageWarning(
                    index: index, field: "", code: .nothingToBill,
                    message: "the event has no tokens and no cost_usd; it was recorded at $0"))
        }
        let timestamp = try eventTimestamp(fields.timestamp, now: now, index: index)
        return UsageEventInput(
            provider: provider, model: model.flatMap { $0.isEmpty ? nil : $0 },
            taskType: taskType.flatMap { $0.isEmpty ? nil : $0 } ?? "general",
            workspace: workspace.flatMap { $0.isEmpty ? nil : $0 },
            source: source.flatMap { $0.isEmpty ? nil : $0 } ?? defaultSource,
            tokens: tokens,
            exactCost: cost, timestamp: timestamp, clientEventID: clientEventID,
            runID: runID.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The members of an event object that `validate` reads; `nil` = absent or null.
    private struct EventFields {
        var provider, model, taskType, workspace, source, eventID, runID: JSONValue?
        var inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens: JSONValue?
        var cost, timestamp: JSONValue?
        /// A provider's own usage (a `usage` object, or its field names at the top level).
        var hasProviderNames = false
    }

    /// The event's tokens when it carries a provider's usage: Plutus's own counts, the
    /// provider's names at the top level (OpenAI Chat's `prompt_tokens`/`completion_tokens`
    /// with their details, Anthropic's `cache_read_input_tokens`/`cache_creation_input_tokens`)
    /// and a `usage` object in any shape `ProviderUsage` reads, each kind counted once.
    private static func providerTokens(
        _ members: [(String, JSONValue)], plutusCounts: TokenCounts, index: Int
    ) throws(UsageFieldError) -> TokenCounts {
        var tally = TokenTally()
        let own: [(TokenKind, Int64, String)] = [
            (.input, plutusCounts.input, "input_tokens"), (.output, plutusCounts.output, "output_tokens"),
            (.cacheRead, plutusCounts.cacheRead, "cache_read_tokens"),
            (.cacheWrite, plutusCounts.cacheWrite, "cache_write_tokens"),
            (.reasoning, plutusCounts.reasoning, "reasoning_tokens"),
        ]
        for (kind, tokens, field) in own { try tally.add(.init(kind: kind, tokens: tokens, field: field), index: index) }
        var topLevel: [(String, JSONValue)] = []
        var usage: JSONValue? = nil
        for (name, member) in members {
            if case .null = member { continue }
            switch name {
            case "usage": usage = member
            case "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details":
                topLevel.append((name, member))
            case "cache_read_input_tokens":
                try tally.add(
                    .init(kind: .cacheRead, tokens: try tokenCount(member, field: name, index: index), field: name), index: index)
            case "cache_creation_input_tokens":
                try tally.add(
                    .init(kind: .cacheWrite, tokens: try tokenCount(member, field: name, index: index), field: name), index: index
                )
            default: continue
            }
        }
        if !topLevel.isEmpty {
            // OpenAI Chat's names beside the event's own: read them as that shape.
            for count in try ProviderUsage.counts(.object(topLevel), field: "", index: index) {
                try tally.add(count, index: index)
            }
        }
        if let usage {
            for count in try ProviderUsage.counts(usage, field: "usage", index: index) { try tally.add(count, index: index) }
        }
        return tally.counts
    }

    /// Whether the text is empty or only whitespace (a provider must say something). ASCII is
    /// checked byte by byte; anything else by Unicode's whitespace property.
    static func isBlank(_ text: String) -> Bool {
        for byte in text.utf8 {
            if byte >= 0x80 { return text.allSatisfy(\.isWhitespace) }
            if byte != 0x20 && !(0x09...0x0D).contains(byte) { return false }
        }
        return true
    }

    /// Checks a caller-supplied label (provider, model, name…): length in UTF-8 bytes and no
    /// control characters.
    public static func checkLabel(_ text: String, field: String, bytesMax: Int, index: Int) throws(UsageFieldError) {
        guard text.utf8.count <= bytesMax else {
            throw UsageFieldError(
                index: index, field: field, code: .tooLong, rule: "'\(field)' must be at most \(bytesMax) bytes",
                found: "\(text.utf8.count) bytes")
        }
        guard !containsControlCharacter(text) else {
            throw UsageFieldError(
                index: index, field: field, code: .controlCharacter,
                rule: "'\(field)' must not contain control characters", found: "a control character")
        }
    }

    /// Whether the text holds a C0 control (U+0000–U+001F), DEL or a C1 control
    /// (U+0080–U+009F). Read as UTF-8: a C1 control is the lead byte 0xC2 followed by
    /// 0x80–0x9F, and 0xC2 is never a continuation byte.
    public static func containsControlCharacter(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte <= 0x9F && byte >= 0x80) { return true }
            previous = byte
        }
        return false
    }

    private static func optionalLabel(
        _ value: JSONValue?, _ field: String, bytesMax: Int, index: Int
    ) throws(UsageFieldError) -> String? {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            throw UsageFieldError(
                index: index, field: field, code: .wrongType, rule: "'\(field)' must be a string", found: value.kindName)
        }
        try checkLabel(text, field: field, bytesMax: bytesMax, index: index)
        return text
    }

    static func tokenCount(_ value: JSONValue?, field: String, index: Int) throws(UsageFieldError) -> Int64 {
        guard let value else { return 0 }
        guard case .number(let text) = value, isIntegerLiteral(text) else {
            throw UsageFieldError(
                index: index, field: field, code: .wrongType, rule: "token fields must be integers",
                found: describeNonInteger(value))
        }
        if text.hasPrefix("-") && text != "-0" {
            throw UsageFieldError(
                index: index, field: field, code: .negative, rule: "token fields must be non-negative", found: text)
        }
        guard let count = Int64(text == "-0" ? "0" : text), count <= Limits.tokensPerFieldMax else {
            throw UsageFieldError(
                index: index, field: field, code: .tooLarge,
                rule: "token fields must be at most \(Limits.tokensPerFieldMax)", found: String(text.prefix(24)))
        }
        return count
    }

    private static func isIntegerLiteral(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
        return !digits.isEmpty && digits.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    private static func describeNonInteger(_ value: JSONValue) -> String {
        if case .number(let text) = value, !(text == "NaN" || text.hasSuffix("Infinity")) {
            return "a non-integer number \(text.prefix(24))"
        }
        return value.kindName
    }

    private static func exactCost(_ value: JSONValue?, index: Int) throws(UsageFieldError) -> MicroDollars? {
        guard let value else { return nil }
        let text: String
        switch value {
        case .number(let literal): text = literal
        case .string(let literal): text = literal.trimmingASCIISpaces()
        default:
            throw UsageFieldError(
                index: index, field: "cost_usd", code: .wrongType, rule: "cost_usd must be a number", found: value.kindName)
        }
        if text == "NaN" || text.hasSuffix("Infinity") || text.lowercased() == "nan" || text.lowercased().hasSuffix("inf") {
            throw UsageFieldError(
                index: index, field: "cost_usd", code: .notFinite, rule: "cost_usd must be a finite number", found: text)
        }
        switch MicroDollars.parse(text) {
        case .success(let cost):
            guard !cost.isNegative else {
                throw UsageFieldError(
                    index: index, field: "cost_usd", code: .negative, rule: "cost_usd must be non-negative",
                    found: String(text.prefix(24)))
            }
            guard cost <= Limits.eventCostMax else {
                throw UsageFieldError(
                    index: index, field: "cost_usd", code: .tooLarge,
                    rule: "cost_usd must be at most \(Limits.eventCostMax.decimalString)", found: String(text.prefix(24)))
            }
            return cost
        case .failure(.outOfRange):
            let rule =
                text.hasPrefix("-")
                ? "cost_usd must be non-negative" : "cost_usd must be at most \(Limits.eventCostMax.decimalString)"
            throw UsageFieldError(
                index: index, field: "cost_usd", code: text.hasPrefix("-") ? .negative : .tooLarge, rule: rule,
                found: String(text.prefix(24)))
        case .failure(.notANumber):
            throw UsageFieldError(
                index: index, field: "cost_usd", code: .wrongType, rule: "cost_usd must be a number",
                found: "a string that is not a decimal number")
        }
    }

    private static func eventTimestamp(_ value: JSONValue?, now: Timestamp, index: Int) throws(UsageFieldError) -> Timestamp? {
        guard let value else { return nil }
        let timestamp: Timestamp?
        switch value {
        case .number(let text):
            if case .success(let millis) = DecimalText.scaled(text, scale: 3) {
                timestamp = Timestamp(rawValue: millis)
            } else {
                timestamp = nil
            }
        case .string(let text):
            timestamp = Timestamp.parseISO8601(text)
        default:
            timestamp = nil
        }
        guard let timestamp else {
            throw UsageFieldError(
                index: index, field: "ts", code: .invalidTimestamp,
                rule: "'ts' must be epoch seconds or an ISO 8601 time with a zone", found: value.kindName)
        }
        try checkWindow(timestamp, now: now, index: index)
        return timestamp
    }

    /// An event's time must be within the last 35 days and at most 5 minutes ahead.
    static func checkWindow(_ timestamp: Timestamp, now: Timestamp, index: Int) throws(UsageFieldError) {
        let earliest = now.adding(seconds: -Limits.eventBackfillSecondsMax)
        let latest = now.adding(seconds: Limits.eventFutureSecondsMax)
        guard timestamp >= earliest, timestamp <= latest else {
            throw UsageFieldError(
                index: index, field: "ts", code: .timestampOutOfRange,
                rule: "'ts' must be within the last 35 days and at most 5 minutes ahead", found: timestamp.iso8601)
        }
    }

    /// An event read from a structured source that already typed its fields (an OTLP span or
    /// log record), checked by the rules an event object is checked by, in the same order:
    /// a provider that says something, every label's length and characters, the token
    /// counts' range, the time's window; and given the same defaults. Such sources never
    /// carry a cost: it is priced from the catalog.
    public static func validate(
        provider: String, model: String?, taskType: String?, workspace: String?, source: String?, eventID: String?,
        runID: String?, tokens: TokenCounts, timestamp: Timestamp?, index: Int, now: Timestamp, defaultSource: String
    ) throws(UsageFieldError) -> UsageEventInput {
        guard !isBlank(provider) else {
            throw UsageFieldError(
                index: index, field: "provider", code: .missingProvider, rule: "each event needs a 'provider'", found: "empty")
        }
        try checkLabel(provider, field: "provider", bytesMax: Limits.providerBytesMax, index: index)
        let labels: [(String?, String, Int)] = [
            (model, "model", Limits.labelBytesMax), (taskType, "task_type", Limits.labelBytesMax),
            (workspace, "workspace", Limits.labelBytesMax), (source, "source", Limits.labelBytesMax),
            (eventID, "event_id", Limits.clientEventIDBytesMax), (runID, "run_id", Limits.runIDBytesMax),
        ]
        for case (let text?, let field, let bytesMax) in labels {
            try checkLabel(text, field: field, bytesMax: bytesMax, index: index)
        }
        if let timestamp { try checkWindow(timestamp, now: now, index: index) }
        return UsageEventInput(
            provider: provider, model: model.flatMap { $0.isEmpty ? nil : $0 },
            taskType: taskType.flatMap { $0.isEmpty ? nil : $0 } ?? "general",
            workspace: workspace.flatMap { $0.isEmpty ? nil : $0 },
            source: source.flatMap { $0.isEmpty ? nil : $0 } ?? defaultSource, tokens: tokens, exactCost: nil,
            timestamp: timestamp, clientEventID: eventID, runID: runID.flatMap { $0.isEmpty ? nil : $0 })
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
