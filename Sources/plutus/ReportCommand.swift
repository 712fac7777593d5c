import ArgumentParser
import Foundation
import PlutusCore
import PlutusServer
import PlutusStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an organization's monthly statement (UTC month) as HTML, CSV or PDF.",
        discussion: """
            The statement reconciles: opening balance + top-ups + grants ± refunds, disputes and adjustments \
            − usage = closing balance, with usage by workspace, provider, model and task. PDF is printed by \
            headless Chromium; without it the command fails and says so.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case html, csv, pdf
    }

    @OptionGroup var organization: OrganizationOptions
    @Option(help: "Month as YYYY-MM (default: this UTC month).") var month: String?
    @Option(help: "html, csv or pdf.") var format: Format = .html
    @Option(
        help:
            "File to write (default: standard output when it is a pipe or a file; in a terminal, plutus-<org>-<month>.<format> here)."
    )
    var output: String?

    func run() async throws {
        let now = Timestamp.now()
        let period =
            try month.map { text in
                guard let parsed = CivilMonth(text: text) else {
                    throw CLIFailure.usage("--month must be YYYY-MM, got '\(text)'")
                }
                return parsed
            } ?? now.month
        guard period.start <= now else { throw CLIFailure.usage("--month \(period.text) has not started yet") }
        if format == .pdf {
            guard StatementPDF.chromiumPath() != nil else {
                throw CLIFailure.runtime(
                    "PDF needs Chromium, which is not installed (apt-get install chromium); use --format html and print it")
            }
        }
        let (store, org) = try await organization.open()
        // A statement is a document: in a terminal (or as PDF) it goes to a file, never as
        // markup over the screen.
        let destination =
            output
            ?? ((isatty(STDOUT_FILENO) != 0 || format == .pdf)
                ? "plutus-\(org.slug)-\(period.text).\(format.rawValue)" : nil)
        let statement = try await MonthlyStatement.load(store, org, month: period, now: now)
        let bytes: [UInt8]
        switch format {
        case .html: bytes = Array(statement.html.utf8)
        case .csv: bytes = Array(statement.csv.utf8)
        case .pdf:
            do {
                bytes = try await StatementPDF.render(statement.html)
            } catch let error as StatementPDF.Unavailable {
                throw CLIFailure.runtime(error.message)
            }
        }
        if let destination {
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: (destination as NSString).expandingTildeInPath))
            } catch {
                throw CLIFailure.runtime("could not write \(destination): \((error as NSError).localizedDescription)")
            }
            FileHandle.standardError.write(Data("wrote \(destination) (\(bytes.count) bytes)\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}
