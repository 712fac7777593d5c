import ArgumentParser
import Foundation
import PlutusCore
import PlutusStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Every organization's balance, month-to-date spend and quota.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try await database.open()
        let time = Timestamp.now()
        var snapshots: [(Organization, BalanceSnapshot)] = []
        for listing in try await store.listOrganizations() {
            snapshots.append((listing.organization, try await store.balance(listing.organization.id, at: time)))
        }
        let catalog = try await store.priceCatalog()
        if output.json {
            return printJSON(
                .object([
                    ("database", .string(store.location)), ("price_catalog", .string(catalog.version)),
                    ("orgs", .array(snapshots.map { RecordJSON.balance($0.1, name: $0.0.name) })),
                ]))
        }
        print("database: \(store.location)")
        print("prices:   \(catalog.version) (as of \(catalog.asOf))")
        print("month:    \(time.month.text) (UTC)\n")
        printTable(
            ["ORG", "TIER", "BALANCE", "MTD SPEND", "MTD CALLS", "MTD TOKENS", "WORKSPACES"],
            snapshots.map { org, snapshot in
                [
                    org.name, snapshot.plan.rawValue, snapshot.balance.formatted, snapshot.monthSpend.formatted,
                    formatTokens(snapshot.monthEvents),
                    formatTokens(snapshot.monthTrackedTokens)
                        + (snapshot.plan.trackedTokensPerMonth.map { " / " + formatTokens($0) } ?? ""),
                    String(snapshot.workspaceCount),
                ]
            }, numeric: [2, 3, 4, 5, 6])
    }
}

struct BalanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance", abstract: "One organization's balance, spend this month, quota and recent alerts.")
    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let (store, organization) = try await scope.open()
        let snapshot = try await store.balance(organization.id, at: Timestamp.now())
        let alerts = try await store.recentAlerts(organization.id, limit: 5)
        if output.json {
            var rendered = RecordJSON.balance(snapshot, name: organization.name)
            if case .object(var members) = rendered {
                members.append(("alerts", .array(alerts.map(RecordJSON.alert))))
                rendered = .object(members)
            }
            return printJSON(rendered)
        }
        print("\(organization.name) (\(organization.id)) · \(snapshot.plan.displayName) plan")
        print(
            "  balance      \(snapshot.balance.formatted)" + (organization.everCredited ? "" : "  (track-only: never topped up)")
                + (organization.hardStopExempt ? "  (allowed to go negative)" : ""))
        if snapshot.held.isPositive {
            print("  held         \(snapshot.held.formatted) by active holds · available \(snapshot.available.formatted)")
        }
        if snapshot.lots.count > 1 || snapshot.lots.contains(where: { $0.expiresAt != nil || $0.priority != nil }) {
            for lot in snapshot.lots {
                let terms = [
                    lot.expiresAt.map { "expires \($0.iso8601Seconds)" }, lot.priority.map { "priority \($0)" },
                ].compactMap { $0 }
                print(
                    "  credit       \(lot.remaining.formatted) left of a \(lot.amount.formatted) \(lot.kind.rawValue)"
                        + (terms.isEmpty ? "" : " · " + terms.joined(separator: " · ")))
            }
        }
        print(
            "  spend        \(snapshot.monthSpend.formatted) over \(counted(snapshot.monthEvents, "call")) in \(snapshot.month.text) (UTC)"
        )
        let limit = snapshot.plan.trackedTokensPerMonth.map { " of \(formatTokens($0))" } ?? " (unlimited)"
        print("  tokens       \(formatTokens(snapshot.monthTrackedTokens))\(limit)")
        print("  workspaces   \(snapshot.workspaceCount)" + (snapshot.plan.workspacesMax.map { " of \($0)" } ?? ""))
        for alert in alerts { print("  ▲ \(alert.createdAt.shortText) \(alert.message)") }
    }
}

/// `--limit` and `--before` for the paged listings.
struct PageOptions: ParsableArguments {
    @Option(help: "Rows per page (1–\(Limits.pageRowsMax)).") var limit = 20
    @Option(help: "Show rows older than this sequence number (the previous page's 'next').") var before: Int64?

    func request() throws -> PageRequest {
        guard (1...Limits.pageRowsMax).contains(limit) else {
            throw CLIFailure.usage("--limit must be between 1 and \(Limits.pageRowsMax)")
        }
        if let before, before <= 0 { throw CLIFailure.usage("--before must be positive") }
        return PageRequest(limit: limit, before: before)
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Recorded usage events, newest first.")
    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var paging: PageOptions

    func run() async throws {
        let request = try paging.request()
        let (store, organization) = try await scope.open()
        let page = try await store.usageEvents(organization.id, page: request)
        if output.json { return printJSON(RecordJSON.page(page, render: RecordJSON.event)) }
        printTable(
            ["SEQ", "TIME (UTC)", "PROVIDER/MODEL", "TASK", "WORKSPACE", "TOKENS", "COST", ""],
            page.items.map { event in
                [
                    String(event.sequence), event.timestamp.shortText, "\(event.provider)/\(event.model ?? "-")",
                    event.taskType, event.workspaceName ?? "-", formatTokens(event.tokens.tracked),
                    event.cost.formatted(decimals: 6), event.costKind == .exact ? "" : event.costKind.rawValue,
                ]
            }, numeric: [0, 5, 6])
        if let next = page.nextBefore { print("next page: --before \(next)") }
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger entries, newest first.")
    @OptionGroup var scope: OrganizationOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var paging: PageOptions

    func run() async throws {
        let request = try paging.request()
        let (store, organization) = try await scope.open()
        let page = try await store.ledgerEntries(organization.id, page: request)
        if output.json { return printJSON(RecordJSON.page(page, render: RecordJSON.entry)) }
        printTable(
            ["SEQ", "TIME (UTC)", "KIND", "AMOUNT", "BALANCE AFTER", "REFERENCE", "MEMO"],
            page.items.map { entry in
                [
                    String(entry.sequence), entry.timestamp.shortText, entry.kind.rawValue, entry.amount.formatted(decimals: 6),
                    entry.balanceAfter.formatted(decimals: 6), entry.reference, entry.memo ?? "",
                ]
            }, numeric: [0, 3, 4])
        if let next = page.nextBefore { print("next page: --before \(next)") }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every balance from the ledger and check its invariants (exit 1 on any divergence).")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        // On a terminal, each step as it begins (a large file takes a while); never on stdout.
        let showProgress = isatty(STDERR_FILENO) != 0
        let started = Date()
        let report = try await database.open().verify { stage in
            guard showProgress else { return }
            let elapsed = String(format: "%.1f", Date().timeIntervalSince(started))
            FileHandle.standardError.write(
                Data("verify: step \(stage.rawValue) of \(VerificationStage.allCases.count), \(stage) … (\(elapsed) s)\n".utf8))
        }
        if output.json {
            printJSON(
                .object([
                    ("ok", .bool(report.isClean)), ("accounts", .int(report.accountsChecked)),
                    ("entries", .int(report.entriesChecked)), ("events", .int(report.eventsChecked)),
                    ("problems", .array(report.problems.map(JSONValue.string))),
                ]))
        } else {
            print(
                "checked \(counted(Int64(report.accountsChecked), "account")), \(counted(Int64(report.entriesChecked), "entry", plural: "entries")), \(counted(Int64(report.eventsChecked), "usage event"))"
            )
            for problem in report.problems { print("✗ \(problem)") }
            if report.isClean { print("✓ ledger consistent: balances equal their entries and sum to zero") }
        }
        if !report.isClean { throw CLIFailure.runtime("ledger verification failed: \(report.problems.count) problem(s)") }
    }
}
