import Foundation
import PlutusStore

/// Usage events as agents send them, for the benchmark: several providers and models, 8
/// workspaces, 6 task types, varied token counts (some with cache reads), a fifth with the
/// caller's exact cost, half with a client `event_id`. Deterministic from its seed. An
/// `event_id` is written as `placeholder`, which the load generators replace with a value
/// unique in the run for every request, so no event is a duplicate.
enum RealisticEvents {
    /// 16 characters, replaced in place by 16 hex digits.
    static let placeholder = "@@@@@@@@@@@@@@@@"

    static let models: [(provider: String, model: String)] = [
        ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-opus-4-8"), ("anthropic", "claude-haiku-4-5-20251001"),
        ("openai", "gpt-5"), ("openai", "gpt-5-mini"), ("google", "gemini-2.5-flash"), ("google", "gemini-2.5-pro"),
        ("deepseek", "deepseek-v4-flash"),
    ]
    static let workspaces = (1...8).map { "agents-\($0)" }
    static let tasks = ["chat", "code_review", "summarize", "classify", "research", "embedding"]

    /// One event's JSON; `workspaceOnly` gives the bare event plus a workspace, nothing else.
    static func event(_ random: inout some RandomNumberGenerator, workspaceOnly: Bool = false) -> String {
        if workspaceOnly {
            return
                #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200,"workspace":"\#(workspaces.randomElement(using: &random)!)"}"#
        }
        let (provider, model) = models.randomElement(using: &random)!
        var fields = [
            #""provider":"\#(provider)""#, #""model":"\#(model)""#,
            #""input_tokens":\#(Int.random(in: 200...20_000, using: &random))"#,
            #""output_tokens":\#(Int.random(in: 20...3_000, using: &random))"#,
            #""workspace":"\#(workspaces.randomElement(using: &random)!)""#,
            #""task_type":"\#(tasks.randomElement(using: &random)!)""#,
        ]
        if Bool.random(using: &random) { fields.append(#""cache_read_tokens":\#(Int.random(in: 0...40_000, using: &random))"#) }
        if Int.random(in: 0..<5, using: &random) == 0 {
            fields.append(#""cost_usd":0.\#(String(format: "%06d", Int.random(in: 100...90_000, using: &random)))"#)
        }
        if Bool.random(using: &random) { fields.append(#""event_id":"\#(placeholder)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// `count` bodies: single events, or batches of `events`.
    static func bodies(count: Int, events: Int, seed: UInt64, workspaceOnly: Bool = false) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let items = (0..<events).map { _ in event(&random, workspaceOnly: workspaceOnly) }
            return Array((events == 1 ? items[0] : "[" + items.joined(separator: ",") + "]").utf8)
        }
    }

    /// 8 bytes a binary body (an OTLP export) holds where a time goes, as a fixed64 in
    /// nanoseconds: the load generator writes the time it sends the request there.
    static let timePlaceholder = "~TIMENS~"

    /// The placeholder's 8 bytes read as a little-endian fixed64, for building bodies.
    static var timePlaceholderValue: UInt64 {
        Array(timePlaceholder.utf8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// The byte offsets of every placeholder in `bytes`.
    static func placeholderOffsets(_ bytes: [UInt8], placeholder: String = placeholder) -> [Int] {
        let needle = Array(placeholder.utf8)
        guard bytes.count >= needle.count else { return [] }
        var offsets: [Int] = []
        var index = 0
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0], Array(bytes[index..<index + needle.count]) == needle {
                offsets.append(index)
                index += needle.count
            } else {
                index += 1
            }
        }
        return offsets
    }
}
