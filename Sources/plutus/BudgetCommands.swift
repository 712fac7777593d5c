import ArgumentParser
import PlutusCore
import PlutusStore

/// `plutus budget create|list|disable`: spending limits on an organization or a part of it.
struct BudgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget", abstract: "Spending limits on the organization, a workspace, an API key, a task or a run.",
        subcommands: [Create.self, List.self, Disable.self], defaultSubcommand: List.self)

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a budget: hard budgets refuse spend and holds past the limit, soft ones alert.")

        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions
        @Option(name: .customLong("scope"), help: "org, workspace, key, task or run.") var layer: String
        @Option(name: .customLong("scope-id"), help: "The workspace's id, slug or name, the key's id, the task, the run.")
        var scopeID: String?
        @Option(help: "The limit in USD.") var limit: String
        @Option(help: "day, month or total (default month).") var period: String?
        @Option(help: "hard (refuses) or soft (alerts only; default hard).") var mode: String?
        @Option(name: .customLong("alert-at"), help: "Alert thresholds as fractions of the limit, e.g. 0.8,0.9,1.")
        var alertAt: String?

        static let flags: [String: String] = [
            "scope": "--scope", "scope_id": "--scope-id", "limit_usd": "--limit", "period": "--period", "mode": "--mode",
            "alert_at": "--alert-at",
        ]

        func run() async throws {
            var members: [(String, JSONValue)] = [("scope", .string(layer)), ("limit_usd", .string(limit))]
            if let scopeID { members.append(("scope_id", .string(scopeID))) }
            if let period { members.append(("period", .string(period))) }
            if let mode { members.append(("mode", .string(mode))) }
            if let alertAt {
                members.append(
                    ("alert_at", .array(alertAt.split(separator: ",").map { .number($0.trimmingCharacters(in: .whitespaces)) })))
            }
            let input: BudgetInput
            do {
                input = try BudgetValidation.validate(.object(members))
            } catch {
                throw CLIFailure.usage("\(Self.flags[error.field] ?? error.field): \(error.message)")
            }
            let (store, organization) = try await scope.open()
            let now = Timestamp.now()
            let budget: Budget
            do {
                budget = try await store.createBudget(BudgetRequest(organizationID: organization.id, input), at: now)
            } catch let error as StoreError {
                if case .invalid(_, let problem) = error { throw CLIFailure.usage("--scope-id \(problem)") }
                throw error
            }
            let standing = try await store.budgets(organization.id, at: now, includingDisabled: false).first {
                $0.budget.id == budget.id
            }
            if format.json {
                return printJSON(BudgetCommand.json(standing!))
            }
            print("✓ \(budget.mode.rawValue) budget \(budget.id): \(budget.title)")
            if let standing { print("  spent \(standing.spent.formatted) so far this period · held \(standing.held.formatted)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Budgets with their spend, holds and next reset.")

        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions
        @Flag(help: "Include disabled budgets.") var all = false

        func run() async throws {
            let (store, organization) = try await scope.open()
            let standings = try await store.budgets(organization.id, at: Timestamp.now(), includingDisabled: all)
            if format.json {
                return printJSON(
                    .object([
                        ("org_id", .string(organization.id.rawValue)), ("budgets", .array(standings.map(BudgetCommand.json))),
                    ]))
            }
            guard !standings.isEmpty else { return print("no budgets (create one with `plutus budget create`)") }
            let rows = standings.map { standing -> [String] in
                let budget = standing.budget
                return [
                    budget.id.rawValue, budget.scope.describe(budget.label),
                    budget.disabledAt == nil ? budget.mode.rawValue : "disabled",
                    "\(budget.limit.formatted) \(budget.period.adjective)", standing.spent.formatted, standing.held.formatted,
                    standing.resetsAt?.iso8601Seconds ?? "never",
                ]
            }
            print(TextTable.render(["id", "layer", "mode", "limit", "spent", "held", "resets"], rows, numeric: [4, 5]))
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a budget from counting or refusing anything.")

        @OptionGroup var scope: OrganizationOptions
        @Argument(help: "The budget id (bgt_…).") var budget: String

        func run() async throws {
            guard BudgetID.isWellFormed(budget) else {
                throw CLIFailure.usage("'\(budget)' is not a budget id (bgt_ and 16 hex digits; see `plutus budget list`)")
            }
            let (store, organization) = try await scope.open()
            do {
                let disabled = try await store.disableBudget(organization.id, BudgetID(rawValue: budget), at: Timestamp.now())
                print("✓ disabled \(disabled.id): \(disabled.title)")
            } catch let error as StoreError {
                if case .budgetNotFound = error { throw CLIFailure.runtime(error.description) }
                throw error
            }
        }
    }

    static func json(_ standing: BudgetStanding) -> JSONValue {
        let budget = standing.budget
        return .object([
            ("budget_id", .string(budget.id.rawValue)), ("scope", .string(budget.scope.rawValue)),
            ("scope_id", .string(budget.scopeID)), ("label", .string(budget.label)), ("limit_usd", .money(budget.limit)),
            ("period", .string(budget.period.rawValue)), ("mode", .string(budget.mode.rawValue)),
            ("disabled", .bool(budget.disabledAt != nil)), ("spent_usd", .money(standing.spent)),
            ("held_usd", .money(standing.held)), ("resets_at", .optionalString(standing.resetsAt?.iso8601Seconds)),
        ])
    }
}
