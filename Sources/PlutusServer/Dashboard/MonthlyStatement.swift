import Foundation
import PlutusCore
import PlutusStore

/// One organization's statement for one UTC month: how its credit moved (opening balance,
/// top-ups, grants, refunds and adjustments, usage, closing balance) and where the usage
/// went. Rendered as print-ready HTML, CSV, or (through Chromium) PDF.
public struct MonthlyStatement: Sendable {
    public var organization: Organization
    public var month: CivilMonth
    public var credit: CreditStatement
    public var usage: UsageSummary
    /// Credit set aside by holds active at `heldAt` (the period's end, or now for the current
    /// month): still in the balance, not an entry.
    public var held: MicroDollars
    public var heldAt: Timestamp
    public var catalogVersion: String
    public var catalogAsOf: String
    public var generatedAt: Timestamp

    public static func load(_ store: some BillingStore, _ organization: Organization, month: CivilMonth, now: Timestamp)
        async throws -> MonthlyStatement
    {
        // Credit past its expiry leaves the ledger before the statement reads it.
        _ = try await store.expireCredits(at: now)
        let catalog = try await store.priceCatalog()
        let heldAt = min(month.end, now)
        return MonthlyStatement(
            organization: organization, month: month,
            credit: try await store.creditStatement(organization.id, from: month.start, to: month.end),
            usage: try await store.usageSummary(organization.id, days: month.start.day..<month.end.day, workspace: nil),
            held: try await store.heldAmount(organization.id, at: heldAt), heldAt: heldAt,
            catalogVersion: catalog.version, catalogAsOf: catalog.asOf, generatedAt: now)
    }

    public var fileName: String { "plutus-\(organization.slug)-\(month.text)" }

    /// How usage is placed in months, said on every statement.
    static let placement =
        "Usage is placed by each call's own time: a call reported late (with ts, up to 35 days back) counts in the month it happened, and so does the ledger entry that paid for it."

    static func label(_ kind: EntryKind) -> String {
        switch kind {
        case .usage: "Usage"
        case .topUp: "Top-ups"
        case .grant: "Grants"
        case .adjustment: "Adjustments"
        case .refund: "Refunds"
        case .dispute: "Disputes"
        case .expiry: "Expired grants"
        }
    }

    private var breakdowns: [(title: String, groups: [UsageSummary.Group])] {
        [("workspace", usage.byWorkspace), ("provider", usage.byProvider), ("model", usage.byModel), ("task", usage.byTask)]
    }

    func context(nonce: String) -> [String: Any] {
        [
            "nonce": nonce, "orgName": organization.name, "plan": organization.plan.displayName, "month": month.text,
            "periodStart": month.start.iso8601, "periodEnd": month.end.iso8601,
            "generated": DashboardView.time(generatedAt), "catalogVersion": catalogVersion, "catalogAsOf": catalogAsOf,
            "placement": Self.placement,
            "opening": DashboardView.money(credit.opening), "closing": DashboardView.money(credit.closing),
            "held": DashboardView.money(held), "heldLabel": heldLabel,
            "movements": credit.movements.map { movement -> [String: Any] in
                [
                    "label": Self.label(movement.kind),
                    "entries": movement.entries == 1 ? "1 entry" : "\(movement.entries) entries",
                    "net": DashboardView.money(movement.net),
                ]
            },
            "usageCost": DashboardView.money(usage.totals.cost), "usageCalls": DashboardView.calls(usage.totals.events),
            "usageTokens": DashboardView.grouped(usage.totals.tokens.tracked),
            "breakdowns": breakdowns.map { breakdown -> [String: Any] in
                [
                    "title": breakdown.title,
                    "rows": breakdown.groups.map { group -> [String: Any] in
                        [
                            "label": group.label, "cost": DashboardView.money(group.totals.cost),
                            "events": DashboardView.grouped(group.totals.events),
                            "tokens": DashboardView.grouped(group.totals.tokens.tracked),
                        ]
                    },
                ]
            },
        ]
    }

    /// What the held line says: holds are not entries, so they are shown beside the balance.
    var heldLabel: String {
        "Held by active holds at \(heldAt.iso8601) (set aside for calls in flight: still in the balance and not an entry)"
    }

    /// The print-ready page (its style carries a fresh nonce).
    public var html: String { Templates.render("statement", context(nonce: HTMLPage.nonce())) }

    /// `section,key,label,amount_usd,events,tokens` rows: the credit lines, then each usage
    /// breakdown. Amounts are exact decimal dollars.
    public var csv: String {
        var lines = ["section,key,label,amount_usd,events,tokens"]
        func row(_ fields: [String]) { lines.append(fields.map(Self.csvField).joined(separator: ",")) }
        row(["period", month.text, "\(month.start.iso8601)/\(month.end.iso8601)", "", "", ""])
        row(["price_catalog", catalogVersion, catalogAsOf, "", "", ""])
        row(["note", "placement", Self.placement, "", "", ""])
        row(["credit", "opening", "Opening balance", credit.opening.decimalString, "", ""])
        for movement in credit.movements {
            row([
                "credit", movement.kind.rawValue, Self.label(movement.kind), movement.net.decimalString, String(movement.entries),
                "",
            ])
        }
        row(["credit", "closing", "Closing balance", credit.closing.decimalString, "", ""])
        // Its own section: a hold is no movement of credit, so the credit rows still add up.
        row(["holds", "active", heldLabel, held.decimalString, "", ""])
        for breakdown in breakdowns {
            for group in breakdown.groups {
                row([
                    breakdown.title, group.key, group.label, group.totals.cost.decimalString, String(group.totals.events),
                    String(group.totals.tokens.tracked),
                ])
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Quotes a field when needed, and defuses text a spreadsheet would run as a formula.
    static func csvField(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first), Double(value) == nil { value = "'" + value }
        guard value.contains(where: { ",\"\n\r".contains($0) }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Prints HTML to PDF with headless Chromium, when it is installed.
public enum StatementPDF {
    public struct Unavailable: Error, Sendable {
        public var message: String
    }

    /// How long one PDF rendering may take.
    static let renderSecondsMax = 60
    static let candidates = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]

    /// The first Chromium on `PATH`, if any.
    public static func chromiumPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in candidates {
            for directory in path.split(separator: ":") {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    public static func render(_ html: String) async throws -> [UInt8] {
        guard let chromium = chromiumPath() else {
            throw Unavailable(
                message:
                    "PDF needs Chromium, which is not installed here (apt-get install chromium); use --format html and print it instead."
            )
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-pdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("statement.html")
        let output = directory.appendingPathComponent("statement.pdf")
        try Data(html.utf8).write(to: input)
        // coreutils `timeout` bounds the run: Chromium can hang on a broken profile or display.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [
            "--kill-after=5", String(renderSecondsMax), chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer",
            "--user-data-dir=\(directory.appendingPathComponent("profile").path)",
            "--print-to-pdf=\(output.path)", input.absoluteString,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: Unavailable(message: "could not start \(chromium): \(error)"))
            }
        }
        guard status == 0, let pdf = FileManager.default.contents(atPath: output.path), pdf.starts(with: Array("%PDF".utf8))
        else {
            throw Unavailable(message: "\(chromium) exited with status \(status) without writing a PDF")
        }
        return Array(pdf)
    }
}
