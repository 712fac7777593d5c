/// A provider's own `usage` object, read into Plutus's five disjoint token kinds so that no
/// token is billed twice or missed. The providers count differently:
///
/// | shape | input | cache read | cache write | output | reasoning |
/// |---|---|---|---|---|---|
/// | OpenAI Chat Completions | `prompt_tokens` − cached | `prompt_tokens_details.cached_tokens` | – | `completion_tokens` − reasoning | `completion_tokens_details.reasoning_tokens` |
/// | OpenAI Responses | `input_tokens` − cached | `input_tokens_details.cached_tokens` | – | `output_tokens` − reasoning | `output_tokens_details.reasoning_tokens` |
/// | Anthropic Messages | `input_tokens` (cache excluded) | `cache_read_input_tokens` | `cache_creation_input_tokens` | `output_tokens` | – |
/// | Gemini `usageMetadata` | `promptTokenCount` − cached + `toolUsePromptTokenCount` | `cachedContentTokenCount` | – | `candidatesTokenCount` | `thoughtsTokenCount` |
///
/// Plutus bills reasoning in addition to output, so OpenAI's reasoning tokens (part of its
/// completion or output count) are taken out of output; Gemini counts thoughts apart from
/// candidates already. The shape is told by the object's own members, not by the event's
/// provider name, so a gateway or a renamed provider is read right.
public enum ProviderUsage {
    public enum Shape: String, Sendable, CaseIterable {
        case openAIChat = "OpenAI Chat Completions"
        case openAIResponses = "OpenAI Responses"
        case anthropic = "Anthropic Messages"
        case gemini = "Gemini usageMetadata"
    }

    /// One kind's count and the field (a path such as `usage.prompt_tokens`) it came from.
    public struct Count: Sendable, Equatable {
        public var kind: TokenKind
        public var tokens: Int64
        public var field: String
    }

    /// The shape of a usage object, from its members; `nil` when it has none of the four
    /// shapes' token counts.
    public static func shape(of members: [(String, JSONValue)]) -> Shape? {
        var names = Set<String>()
        for (name, value) in members { if case .null = value { continue } else { names.insert(name) } }
        if !names.isDisjoint(with: ["promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount"])
        {
            return .gemini
        }
        if !names.isDisjoint(with: ["prompt_tokens", "completion_tokens"]) { return .openAIChat }
        if !names.isDisjoint(with: ["cache_creation_input_tokens", "cache_read_input_tokens"]) { return .anthropic }
        if !names.isDisjoint(with: ["input_tokens_details", "output_tokens_details"]) { return .openAIResponses }
        // Bare input/output counts mean the same in Anthropic's and in OpenAI Responses' shape
        // when neither reports cache or reasoning details.
        if !names.isDisjoint(with: ["input_tokens", "output_tokens"]) { return .anthropic }
        return nil
    }

    /// The counts a usage object reports, by kind. Every count must be a non-negative integer
    /// within `Limits.tokensPerFieldMax`, and a part (cached, reasoning) may not exceed the
    /// total it is part of.
    public static func counts(_ value: JSONValue, field: String, index: Int) throws(UsageFieldError) -> [Count] {
        guard case .object(let members) = value else {
            throw UsageFieldError(
                index: index, field: field, code: .wrongType,
                rule: "'\(field)' must be the provider's usage object", found: value.kindName)
        }
        guard let shape = shape(of: members) else {
            throw UsageFieldError(
                index: index, field: field.isEmpty ? members.first?.0 ?? "" : field, code: .invalidUsage,
                rule: field.isEmpty
                    ? "OpenAI's token details need their totals ('prompt_tokens', 'completion_tokens')"
                    : "'\(field)' has none of the token counts of OpenAI, Anthropic or Gemini usage",
                found: members.isEmpty ? "an empty object" : "members " + members.prefix(6).map(\.0).joined(separator: ", "))
        }
        let reader = Reader(members: members, field: field, index: index)
        switch shape {
        case .openAIChat:
            return try reader.totalWithParts(
                total: "prompt_tokens", part: ("prompt_tokens_details", "cached_tokens"), rest: .input, partKind: .cacheRead)
                + reader.totalWithParts(
                    total: "completion_tokens", part: ("completion_tokens_details", "reasoning_tokens"), rest: .output,
                    partKind: .reasoning)
        case .openAIResponses:
            return try reader.totalWithParts(
                total: "input_tokens", part: ("input_tokens_details", "cached_tokens"), rest: .input, partKind: .cacheRead)
                + reader.totalWithParts(
                    total: "output_tokens", part: ("output_tokens_details", "reasoning_tokens"), rest: .output,
                    partKind: .reasoning)
        case .anthropic:
            return [
                try reader.count("input_tokens", .input), try reader.count("output_tokens", .output),
                try reader.count("cache_read_input_tokens", .cacheRead),
                try reader.count("cache_creation_input_tokens", .cacheWrite),
            ]
        case .gemini:
            var counts = try reader.totalWithParts(
                total: "promptTokenCount", part: (nil, "cachedContentTokenCount"), rest: .input, partKind: .cacheRead)
            let toolPrompt = try reader.count("toolUsePromptTokenCount", .input)
            if toolPrompt.tokens > 0, let input = counts.firstIndex(where: { $0.kind == .input }) {
                counts[input].tokens = try Reader.sum(counts[input].tokens, toolPrompt.tokens, field: field, index: index)
            }
            return counts + [
                try reader.count("candidatesTokenCount", .output), try reader.count("thoughtsTokenCount", .reasoning),
            ]
        }
    }

    private struct Reader {
        let members: [(String, JSONValue)]
        let field: String
        let index: Int

        /// `usage.name`, or just `name` for fields at the event's top level.
        func path(_ names: String...) -> String { ([field] + names).filter { !$0.isEmpty }.joined(separator: ".") }

        func member(_ name: String, in object: [(String, JSONValue)]? = nil) -> JSONValue? {
            for (key, value) in object ?? members where key == name {
                if case .null = value { return nil }
                return value
            }
            return nil
        }

        func count(_ name: String, _ kind: TokenKind) throws(UsageFieldError) -> Count {
            let path = path(name)
            return Count(kind: kind, tokens: try UsageValidation.tokenCount(member(name), field: path, index: index), field: path)
        }

        /// A total that includes a part billed as another kind: the part, and the rest.
        /// `part.0` is the nested object holding the part, or `nil` when it sits beside the total.
        func totalWithParts(
            total: String, part: (String?, String), rest: TokenKind, partKind: TokenKind
        ) throws(UsageFieldError) -> [Count] {
            let totalPath = path(total)
            let whole = try UsageValidation.tokenCount(member(total), field: totalPath, index: index)
            var partValue: JSONValue? = nil
            var partPath = path(part.1)
            if let container = part.0 {
                partPath = path(container, part.1)
                if let nested = member(container) {
                    guard case .object(let inner) = nested else {
                        throw UsageFieldError(
                            index: index, field: path(container), code: .wrongType,
                            rule: "'\(path(container))' must be an object", found: nested.kindName)
                    }
                    partValue = member(part.1, in: inner)
                }
            } else {
                partValue = member(part.1)
            }
            let partTokens = try UsageValidation.tokenCount(partValue, field: partPath, index: index)
            guard partTokens <= whole else {
                throw UsageFieldError(
                    index: index, field: partPath, code: .invalidUsage,
                    rule: "'\(partPath)' is part of '\(totalPath)' and cannot exceed it",
                    found: "\(partTokens) of \(whole)")
            }
            return [
                Count(kind: rest, tokens: whole - partTokens, field: totalPath),
                Count(kind: partKind, tokens: partTokens, field: partPath),
            ]
        }

        static func sum(_ a: Int64, _ b: Int64, field: String, index: Int) throws(UsageFieldError) -> Int64 {
            guard a <= Limits.tokensPerFieldMax - b else {
                throw UsageFieldError(
                    index: index, field: field, code: .tooLarge,
                    rule: "token fields must be at most \(Limits.tokensPerFieldMax)", found: "\(a) + \(b)")
            }
            return a + b
        }
    }
}

/// Plutus's five disjoint kinds of tokens, each with its own price.
public enum TokenKind: Int, Sendable, CaseIterable {
    case input, output, cacheRead, cacheWrite, reasoning

    public var label: String {
        switch self {
        case .input: "input"
        case .output: "output"
        case .cacheRead: "cache read"
        case .cacheWrite: "cache write"
        case .reasoning: "reasoning"
        }
    }
}

/// Token counts gathered from several fields of one event (Plutus's own names, a provider's
/// names at the top level, a `usage` object). Each kind is billed once: a count of zero says
/// nothing, two non-zero counts of one kind must agree, and a disagreement is refused naming
/// both fields rather than billing either silently.
struct TokenTally {
    private var tokens: [Int64] = Array(repeating: 0, count: TokenKind.allCases.count)
    private var fields: [String?] = Array(repeating: nil, count: TokenKind.allCases.count)

    mutating func add(_ count: ProviderUsage.Count, index: Int) throws(UsageFieldError) {
        guard count.tokens > 0 else { return }
        let slot = count.kind.rawValue
        if let earlier = fields[slot] {
            guard tokens[slot] == count.tokens else {
                throw UsageFieldError(
                    index: index, field: count.field, code: .conflictingFields,
                    rule: "'\(earlier)' and '\(count.field)' both count \(count.kind.label) tokens and disagree; send one",
                    found: "\(tokens[slot]) and \(count.tokens)")
            }
            return
        }
        tokens[slot] = count.tokens
        fields[slot] = count.field
    }

    var counts: TokenCounts {
        TokenCounts(input: tokens[0], output: tokens[1], cacheRead: tokens[2], cacheWrite: tokens[3], reasoning: tokens[4])
    }
}
