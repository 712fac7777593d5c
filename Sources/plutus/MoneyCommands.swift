import ArgumentParser
import PlutusCore
import PlutusStore

/// Options shared by `topup`, `grant` and `adjust`.
struct CreditOptions: ParsableArguments {
    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var output: OutputOptions
    // Unconditional, so a negative amount is read as written: `--amount -2.5`.
    @Option(parsing: .unconditional, help: "Amount in USD (negative for `adjust` down).") var amount: String
    @Option(help: "Your reference for this movement; a retry with the same reference posts nothing new.")
    var reference: String?
    @Option(help: "A note kept on the ledger entry.") var memo: String?
    @Option(
        name: .customLong("expires-at"),
        help: "Grants only: when what is left of it expires (ISO 8601, e.g. 2027-01-01T00:00:00Z).")
    var expiresAt: String?
    @Option(help: "Its place in the order credit is used: lower first (credits without one come last).")
    var priority: Int?

    /// Validates everything, then posts one entry.
    func post(kind: EntryKind) async throws {
        let value = try money(amount, option: "--amount")
        let now = Timestamp.now()
        var expiry: Timestamp?
        if let expiresAt {
            guard let parsed = Timestamp.parseISO8601(expiresAt) else {
                throw CLIFailure.usage("--expires-at must be an ISO 8601 time with a zone, e.g. 2027-01-01T00:00:00Z")
            }
            expiry = parsed
        }
        let movement: CreditMovement
        do {
            movement = try CreditMovement(
                kind: kind, amount: value, reference: reference ?? "cli-\(UsageEventID.random().rawValue.dropFirst(4))",
                memo: memo ?? "\(kind.rawValue) (cli)", expiresAt: expiry, priority: priority, now: now)
        } catch {
            throw CLIFailure.usage("--\(error.field.replacingOccurrences(of: "_", with: "-")) \(error.problem)")
        }
        let (store, organization) = try await scope.open()
        let result = try await store.postCredit(organization.id, movement, at: now)
        let entry = result.entry
        if output.json {
            var rendered = RecordJSON.entry(entry)
            if case .object(var members) = rendered {
                members.append(("already_posted", .bool({ if case .alreadyPosted = result { true } else { false } }())))
                rendered = .object(members)
            }
            return printJSON(rendered)
        }
        switch result {
        case .posted:
            print(
                "✓ \(kind.rawValue) \(entry.amount.formatted) → \(organization.name) · balance \(entry.balanceAfter.formatted) (ref \(entry.reference))"
            )
        case .alreadyPosted:
            print("= \(kind.rawValue) with reference \(entry.reference) was already posted; nothing changed")
        }
    }
}

struct TopUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topup", abstract: "Add paid prepaid credit.")
    @OptionGroup var options: CreditOptions
    func run() async throws { try await options.post(kind: .topUp) }
}

struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grant", abstract: "Add free credit.")
    @OptionGroup var options: CreditOptions
    func run() async throws { try await options.post(kind: .grant) }
}

struct AdjustCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adjust", abstract: "Correct a balance up (positive) or down (negative amount).")
    @OptionGroup var options: CreditOptions
    func run() async throws { try await options.post(kind: .adjustment) }
}
