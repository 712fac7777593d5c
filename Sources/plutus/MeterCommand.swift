import ArgumentParser
import PlutusCore
import PlutusStore

struct MeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meter",
        abstract: "Record one agent call, priced and charged like an HTTP ingest.",
        discussion: "Exit code 3 when the hard stop or the free-tier quota refused the call.")

    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var format: OutputOptions
    @OptionGroup var call: EventOptions

    func run() async throws {
        let receivedAt = Timestamp.now()
        let event: UsageEventInput
        event = try call.validated(now: receivedAt)
        let policy = try Settings.policy()
        let (store, organization) = try await scope.open()
        let result: UsageBatchResult
        do {
            result = try await store.recordUsage(
                UsageBatch(organizationID: organization.id, events: [event], policy: policy, receivedAt: receivedAt))
        } catch let error as UsageFieldError {
            throw CLIFailure.usage("\(EventOptions.flags[error.field] ?? error.field): \(error.rule)")
        }
        guard case .committed(let outcome, let response) = result else {
            preconditionFailure("the CLI sends no idempotency key, so nothing can be replayed")
        }
        if format.json {
            print(response.body)
        } else {
            describe(outcome, organization: organization)
        }
        if outcome.recordedCount == 0 && outcome.duplicateCount == 0 { throw CLIFailure(message: refusal(outcome), exitCode: 3) }
    }

    private func describe(_ outcome: UsageBatchOutcome, organization: Organization) {
        let event = outcome.events[0]
        let costText = "\(event.cost.formatted(decimals: 6)) (\(event.costKind == .exact ? "exact" : event.costKind.rawValue))"
        switch event.status {
        case .recorded:
            print(
                "✓ recorded \(event.eventID!) for \(organization.name) · cost \(costText) · balance \(event.balanceAfter.formatted)"
            )
        case .duplicate:
            print("= already recorded as \(event.eventID!) (same --event-id); nothing charged")
        case .rejected(.overBalance):
            print("✗ refused: \(Metering.refusalSentence(cost: event.cost, balance: event.balanceAfter, held: event.held))")
        case .rejected(.overFreeLimit):
            print("✗ refused: the free tier's monthly token quota is used up · balance \(event.balanceAfter.formatted)")
        case .rejected(.overBudget):
            print("✗ refused: \(event.budgetRefusal?.sentence ?? "a hard budget has no room for it")")
        }
        if event.costKind == .unpriced, event.status != .rejected(.overFreeLimit) {
            print(
                "  ⚠ \(call.model.map { "'\($0)'" } ?? "this call's model") is not in the price catalog: charged at \(call.provider)'s fallback rate"
                    + " (see `plutus pricing show --provider \(call.provider)`)")
        }
        if let limit = outcome.plan.trackedTokensPerMonth {
            print(
                "  quota: \(formatTokens(outcome.trackedTokensThisMonth)) of \(formatTokens(limit)) tracked tokens this month"
                    + (event.overFreeLimit ? " — over the free limit" : ""))
        }
        for alert in event.alerts { print("  ▲ \(alert.kind.rawValue): \(alert.message)") }
    }

    private func refusal(_ outcome: UsageBatchOutcome) -> String {
        let event = outcome.events[0]
        if let budget = event.budgetRefusal {
            return "refused: \(budget.sentence) — raise or disable the budget (`plutus budget list`)"
        }
        return outcome.freeLimitBlockedCount > 0
            ? "refused: free-tier token quota reached — upgrade the plan or raise the quota"
            : "refused: \(Metering.refusalSentence(cost: event.cost, balance: event.balanceAfter, held: event.held))"
                + " — top up (`plutus topup`) or exempt the org (`plutus org allow-negative`)"
    }
}

/// The flags of one agent call, as `plutus meter` and `plutus settle` take them.
struct EventOptions: ParsableArguments {
    @Option(help: "Provider, e.g. anthropic.") var provider: String
    @Option(help: "Model, e.g. claude-sonnet-4-5.") var model: String?
    @Option(help: "Task type.") var task = "general"
    @Option(help: "Workspace id, slug or name.") var workspace: String?
    @Option(help: "Input tokens.") var input: String?
    @Option(name: .customLong("output"), help: "Output tokens.") var outputTokens: String?
    @Option(help: "Cache-read tokens.") var cache: String?
    @Option(name: .customLong("cache-write"), help: "Cache-write tokens.") var cacheWrite: String?
    @Option(help: "Reasoning tokens.") var reasoning: String?
    @Option(help: "Exact cost in USD (omit to estimate from tokens).") var cost: String?
    @Option(name: .customLong("event-id"), help: "Your id for this call; a repeat is recorded once.") var eventID: String?
    @Option(help: "When the call happened: epoch seconds or ISO 8601 (within the last 35 days).") var ts: String?
    @Option(help: "The provider's own usage object as JSON (OpenAI, Anthropic or Gemini), instead of the token flags.")
    var usage: String?

    /// The flag each event field comes from, so errors name what the user typed.
    static let flags: [String: String] = [
        "provider": "--provider", "model": "--model", "task_type": "--task", "workspace": "--workspace",
        "input_tokens": "--input", "output_tokens": "--output", "cache_read_tokens": "--cache",
        "cache_write_tokens": "--cache-write", "reasoning_tokens": "--reasoning", "cost_usd": "--cost",
        "event_id": "--event-id", "ts": "--ts", "tokens": "--input/--output", "usage": "--usage",
    ]

    /// The flags validated as the HTTP API validates an event; an error names the flag.
    func validated(now: Timestamp) throws -> UsageEventInput {
        do {
            return try UsageValidation.validate(try eventJSON(), index: 0, now: now, defaultSource: "cli")
        } catch let error as UsageFieldError {
            let flag =
                Self.flags[error.field] ?? (error.field.hasPrefix("usage.") ? "--usage \(error.field.dropFirst(6))" : error.field)
            throw CLIFailure.usage("\(flag): \(error.rule) (got \(error.found))")
        }
    }

    /// The flags as the JSON event the HTTP API would receive, so both paths share one
    /// validator.
    func eventJSON() throws -> JSONValue {
        func number(_ text: String?) -> JSONValue? {
            guard let text else { return nil }
            if case .success = DecimalText.scaled(text, scale: 0) { return .number(text) }
            return .string(text)
        }
        var members: [(String, JSONValue)] = [("provider", .string(provider)), ("task_type", .string(task))]
        let optional: [(String, JSONValue?)] = [
            ("model", model.map(JSONValue.string)), ("workspace", workspace.map(JSONValue.string)),
            ("input_tokens", number(input)), ("output_tokens", number(outputTokens)), ("cache_read_tokens", number(cache)),
            ("cache_write_tokens", number(cacheWrite)), ("reasoning_tokens", number(reasoning)),
            ("cost_usd", cost.map(JSONValue.string)), ("event_id", eventID.map(JSONValue.string)),
            ("ts", ts.map { number($0) ?? .string($0) } ?? nil),
        ]
        for (name, value) in optional { if let value { members.append((name, value)) } }
        if let usage {
            guard let parsed = try? JSONValue.parse(Array(usage.utf8)) else {
                throw CLIFailure.usage(
                    "--usage: must be the provider's usage object as JSON, e.g. '{\"input_tokens\": 10, \"output_tokens\": 5}'")
            }
            members.append(("usage", parsed))
        }
        return .object(members)
    }

}
