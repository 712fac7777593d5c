import ArgumentParser
import PlutusCore
import PlutusStore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create the database, and optionally an organization and a workspace.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Name of an organization to create.") var org: String?
    @Option(help: "Owner email for the organization.") var email: String?
    @Option(help: "Plan: free, pro, team or enterprise.") var tier = "free"
    @Option(help: "Name of a first workspace (needs --org).") var workspace: String?
    @Option(help: "Monthly budget of that workspace, in USD.") var budget: String?

    func run() async throws {
        let plan = try parsePlan(tier)
        let monthlyBudget = try budget.map { try money($0, option: "--budget") }
        if workspace != nil && org == nil { throw CLIFailure.usage("--workspace needs --org") }
        if budget != nil && workspace == nil { throw CLIFailure.usage("--budget needs --workspace") }
        let store = try await database.open(migrations: .apply)
        print("✓ database ready at \(store.location)")
        if let org {
            let organization = try await store.createOrganization(name: org, plan: plan, ownerEmail: email)
            print("✓ organization \(organization.name) (\(organization.id), \(plan.displayName) plan)")
            if let workspace {
                let created = try await store.createWorkspace(organization.id, name: workspace, monthlyBudget: monthlyBudget)
                print("✓ workspace \(created.name) (\(created.id)) budget \(monthlyBudget?.formatted ?? "none")")
            }
        }
        print(
            "Next: `plutus topup --amount 50`, `plutus meter --provider anthropic --model claude-sonnet-4-5 --input 1000 --output 500`, `plutus status`."
        )
    }
}

struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Manage organizations.",
        subcommands: [Create.self, List.self, AllowNegative.self, EnforceBalance.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The organization's name.") var name: String
        @Option(help: "Plan: free, pro, team or enterprise.") var tier = "free"
        @Option(help: "Owner email.") var email: String?

        func run() async throws {
            let plan = try parsePlan(tier)
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw CLIFailure.usage("NAME must not be empty") }
            let store = try await database.open()
            let org = try await store.createOrganization(name: name, plan: plan, ownerEmail: email)
            if output.json {
                printJSON(RecordJSON.organization(OrganizationListing(organization: org, balance: .zero, workspaceCount: 0)))
            } else {
                print("✓ created \(org.name) (\(org.id), slug \(org.slug), \(plan.displayName) plan)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organizations with their balances.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let listings = try await database.open().listOrganizations()
            if output.json { return printJSON(.object([("orgs", .array(listings.map(RecordJSON.organization)))])) }
            printTable(
                ["ID", "NAME", "TIER", "BALANCE", "WORKSPACES", ""],
                listings.map { listing in
                    [
                        listing.organization.id.rawValue, listing.organization.name, listing.organization.plan.rawValue,
                        listing.balance.formatted, String(listing.workspaceCount),
                        listing.organization.hardStopExempt ? "⚠ allow-negative" : "",
                    ]
                }, numeric: [3, 4])
        }
    }

    struct AllowNegative: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allow-negative", abstract: "Exempt an organization from the prepaid hard stop.")
        @OptionGroup var target: ExemptionTarget
        func run() async throws { try await target.set(exempt: true) }
    }

    struct EnforceBalance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enforce-balance", abstract: "Apply the prepaid hard stop to an organization again.")
        @OptionGroup var target: ExemptionTarget
        func run() async throws { try await target.set(exempt: false) }
    }

    /// The organization `allow-negative` and `enforce-balance` act on.
    struct ExemptionTarget: ParsableArguments {
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Organization id, slug or name.") var org: String

        func set(exempt: Bool) async throws {
            let store = try await database.open()
            let organization = try await resolveOrganization(org, in: store)
            _ = try await store.setHardStopExempt(organization.id, exempt: exempt)
            print(
                exempt
                    ? "✓ \(organization.name) may now run a negative balance (hard stop off for this org)"
                    : "✓ \(organization.name) is hard-stopped at zero balance again")
        }
    }
}

struct WorkspaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspace", abstract: "Manage workspaces.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a workspace.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The workspace's name.") var name: String
        @Option(help: "Monthly budget in USD (alerts at 50/80/100 %).") var budget: String?

        func run() async throws {
            let monthlyBudget = try budget.map { try money($0, option: "--budget") }
            if let monthlyBudget, !monthlyBudget.isPositive { throw CLIFailure.usage("--budget must be positive") }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw CLIFailure.usage("NAME must not be empty") }
            let (store, organization) = try await scope.open()
            let workspace = try await store.createWorkspace(organization.id, name: name, monthlyBudget: monthlyBudget)
            if output.json { return printJSON(RecordJSON.workspace(workspace)) }
            print(
                "✓ workspace \(workspace.name) (\(workspace.id)) in \(organization.name), budget \(monthlyBudget?.formatted ?? "no cap")"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's workspaces.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (store, organization) = try await scope.open()
            let workspaces = try await store.listWorkspaces(organization.id)
            if output.json { return printJSON(.object([("workspaces", .array(workspaces.map(RecordJSON.workspace)))])) }
            printTable(
                ["ID", "NAME", "SLUG", "MONTHLY BUDGET"],
                workspaces.map { [$0.id.rawValue, $0.name, $0.slug, $0.monthlyBudget?.formatted ?? "no cap"] },
                numeric: [3])
        }
    }
}
