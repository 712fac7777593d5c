import ArgumentParser
import PlutusCore
import PlutusStore

/// `plutus hold`: sets credit aside before a call, as `POST /v1/reservations` does.
struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Set credit aside for a call about to run (a reservation); settle or release it afterwards.",
        discussion: """
            Give --amount, or --provider/--model with --input and --max-output to hold the call's worst case \
            at catalog prices. Exit code 3 when the organization cannot cover it (nothing is held).
            """)

    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var format: OutputOptions
    @Option(help: "The amount to hold, in USD.") var amount: String?
    @Option(help: "Provider, to price the worst case from the catalog.") var provider: String?
    @Option(help: "Model, to price the worst case from the catalog.") var model: String?
    @Option(help: "Input tokens of the call.") var input: String?
    @Option(name: .customLong("max-output"), help: "The most output tokens the call may produce.") var maxOutput: String?
    @Option(help: "Workspace id, slug or name.") var workspace: String?
    @Option(help: "Task type.") var task: String?
    @Option(help: "Run id.") var run: String?
    @Option(help: "Seconds until the hold lapses (1–86400, default 600).") var ttl: String?

    /// The flag each field comes from.
    static let flags: [String: String] = [
        "amount_usd": "--amount", "provider": "--provider", "model": "--model", "input_tokens": "--input",
        "max_output_tokens": "--max-output", "workspace": "--workspace", "task_type": "--task", "run_id": "--run",
        "ttl_seconds": "--ttl",
    ]

    func run() async throws {
        func number(_ text: String?) -> JSONValue? { text.map { JSONValue.number($0.trimmingCharacters(in: .whitespaces)) } }
        let fields: [(String, JSONValue?)] = [
            ("amount_usd", amount.map(JSONValue.string)), ("provider", provider.map(JSONValue.string)),
            ("model", model.map(JSONValue.string)), ("input_tokens", number(input)),
            ("max_output_tokens", number(maxOutput)), ("workspace", workspace.map(JSONValue.string)),
            ("task_type", task.map(JSONValue.string)), ("run_id", run.map(JSONValue.string)), ("ttl_seconds", number(ttl)),
        ]
        let body = JSONValue.object(fields.compactMap { name, value in value.map { (name, $0) } })
        let input: HoldInput
        do {
            input = try HoldValidation.validate(body)
        } catch {
            throw CLIFailure.usage("\(Self.flags[error.field] ?? error.field): \(error.message)")
        }
        let policy = try Settings.policy()
        let (store, organization) = try await scope.open()
        let held: MicroDollars
        let catalog = try await store.priceCatalog()
        do {
            held = try HoldValidation.amount(input, catalog: catalog)
        } catch {
            throw CLIFailure.usage("\(Self.flags[error.field] ?? error.field): \(error.message)")
        }
        let result = try await store.placeHold(
            HoldRequest(
                organizationID: organization.id, amount: held, workspace: input.workspace, taskType: input.taskType,
                runID: input.runID, provider: input.provider, model: input.model, ttlSeconds: input.ttlSeconds,
                policy: policy, receivedAt: Timestamp.now()))
        switch result {
        case .placed(let reservation, let available, let response):
            if format.json { return print(response.body) }
            print(
                "✓ held \(reservation.amount.formatted(decimals: 6)) as \(reservation.id) until \(reservation.expiresAt.iso8601)"
                    + " · available \(available.formatted)")
            print("  settle: plutus settle \(reservation.id) --provider … --input … --output …")
            print("  release: plutus release \(reservation.id)")
        case .refused(let refusal):
            if format.json { print(refusal.response.body) }
            throw CLIFailure(message: "refused: \(refusal.sentence)", exitCode: 3)
        case .refusedByBudget(let refusal):
            if format.json { print(Holds.budgetResponse(refusal).body) }
            throw CLIFailure(message: "refused: \(refusal.sentence)", exitCode: 3)
        case .replayed:
            preconditionFailure("the CLI sends no idempotency key, so nothing can be replayed")
        }
    }
}

/// `plutus settle`: records the call a hold was for and releases the rest.
struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Record the call a hold was for, at its actual cost, and release the rest of the hold.",
        discussion: "A workspace left out is the hold's. Settling again shows the first answer.")

    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var format: OutputOptions
    @Argument(help: "The reservation id (rsv_…).") var reservation: String
    @OptionGroup var call: EventOptions

    func run() async throws {
        let id = try reservationID(reservation)
        let receivedAt = Timestamp.now()
        let event = try call.validated(now: receivedAt)
        let policy = try Settings.policy()
        let (store, organization) = try await scope.open()
        let result = try await closing {
            try await store.settleHold(
                id, UsageBatch(organizationID: organization.id, events: [event], policy: policy, receivedAt: receivedAt))
        }
        switch result {
        case .settled(let hold, let response):
            if format.json { return print(response.body) }
            print(
                "✓ settled \(hold.id): cost \((hold.cost ?? .zero).formatted(decimals: 6)) as \(hold.eventID?.rawValue ?? "-")"
                    + " · released \(hold.released.formatted(decimals: 6))")
            if hold.overHold {
                print("  ⚠ the call cost more than was held (\(hold.amount.formatted(decimals: 6))); it was charged in full")
            }
        case .replayed(let stored):
            if format.json { return print(UsageResponse.replay(stored).body) }
            print("= \(id) was settled before; nothing changed")
        }
    }
}

/// `plutus release`: gives a hold's credit back without a call.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Release a hold whole: the call did not happen.")

    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var format: OutputOptions
    @Argument(help: "The reservation id (rsv_…).") var reservation: String

    func run() async throws {
        let id = try reservationID(reservation)
        let (store, organization) = try await scope.open()
        let (hold, response) = try await closing { try await store.releaseHold(organization.id, id, at: Timestamp.now()) }
        if format.json { return print(response.body) }
        print("✓ released \(hold.amount.formatted(decimals: 6)) held by \(hold.id)")
    }
}

/// `plutus holds`: the organization's holds, newest first.
struct HoldsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holds", abstract: "List holds, newest first: the active ones, or every one with --all.")

    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Include settled, released and expired holds.") var all = false
    @Option(help: "Rows at most (1–\(Limits.holdListMax)).") var limit = 50

    func run() async throws {
        guard (1...Limits.holdListMax).contains(limit) else {
            throw CLIFailure.usage("--limit must be from 1 to \(Limits.holdListMax), got \(limit)")
        }
        let (store, organization) = try await scope.open()
        let now = Timestamp.now()
        let holds = try await store.reservations(organization.id, activeAt: all ? nil : now, limit: limit)
        if format.json { return print(Holds.listing(holds, organizationID: organization.id, now: now)) }
        let balance = try await store.balance(organization.id, at: now)
        print(
            "\(organization.name): balance \(balance.balance.formatted) · held \(balance.held.formatted) · available \(balance.available.formatted)"
        )
        guard !holds.isEmpty else { return print(all ? "no holds yet" : "no active holds") }
        let rows = holds.map { hold -> [String] in
            let status = hold.status(at: now)
            return [
                hold.id.rawValue, status.rawValue, hold.amount.formatted(decimals: 6),
                hold.cost.map { $0.formatted(decimals: 6) } ?? "",
                (status == .held ? hold.expiresAt : (hold.closedAt ?? hold.expiresAt)).iso8601, hold.workspace ?? "",
            ]
        }
        print(TextTable.render(["id", "status", "held", "cost", "expires / closed", "workspace"], rows, numeric: [2, 3]))
    }
}

/// A reservation id from the command line.
private func reservationID(_ text: String) throws -> ReservationID {
    guard ReservationID.isWellFormed(text) else {
        throw CLIFailure.usage("'\(text)' is not a reservation id (rsv_ and 16 hex digits; see `plutus holds`)")
    }
    return ReservationID(rawValue: text)
}

/// Runs a settle or release; a missing or closed hold is one line, exit code 1.
private func closing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        switch error {
        case .reservationNotFound, .reservationClosed: throw CLIFailure.runtime(error.description)
        default: throw error
        }
    }
}
