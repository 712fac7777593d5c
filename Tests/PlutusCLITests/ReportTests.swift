import Foundation
import PlutusCore
import Testing

@Suite("plutus report: the monthly statement")
struct ReportTests {
    /// A demo database, and this month's statement as CSV credit lines.
    static func demo() throws -> (CLI, String) {
        let cli = CLI()
        let seeded = try cli.run("demo")
        #expect(seeded.status == 0, "demo failed: \(seeded.stderr)")
        return (cli, cli.home + "/demo.db")
    }

    @Test func theCSVStatementReconcilesWithTheBalance() throws {
        let (cli, db) = try Self.demo()
        let month = Timestamp.now().month.text
        let csv = try cli.run("report", "--db", db, "--month", month, "--format", "csv")
        #expect(csv.status == 0, "report failed: \(csv.stderr)")
        var credit: [String: Int64] = [:]
        for line in csv.stdout.split(separator: "\n") where line.hasPrefix("credit,") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            credit[String(fields[1])] = try MicroDollars.parse(String(fields[3])).get().rawValue
        }
        let movements = credit.filter { $0.key != "opening" && $0.key != "closing" }.values.reduce(0, +)
        let opening = try #require(credit["opening"])
        #expect(opening + movements == credit["closing"])
        #expect(credit["usage"].map { $0 < 0 } == true)
        // The usage debit in the credit half is the usage the tables below show, for every
        // breakdown: entries and events are placed in months by the same time.
        for section in ["provider", "model", "workspace", "task"] {
            let rows = csv.stdout.split(separator: "\n").filter { $0.hasPrefix(section + ",") }
            let total = try rows.reduce(Int64(0)) { sum, line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return sum + (try MicroDollars.parse(String(fields[3])).get().rawValue)
            }
            #expect(total == -(credit["usage"] ?? 0), "\(section) rows add up to the usage debit")
        }
        #expect(csv.stdout.contains("note,placement,"))
        let previous = try cli.run(
            "report", "--db", db, "--month", Timestamp.now().month.start.adding(seconds: -1).month.text, "--format", "csv")
        let previousClosing = previous.stdout.split(separator: "\n").first { $0.hasPrefix("credit,closing,") }
        #expect(
            previousClosing?.split(separator: ",")[3]
                == csv.stdout.split(separator: "\n").first { $0.hasPrefix("credit,opening,") }?.split(separator: ",")[3])
        let balance = try cli.json("balance", "--db", db)
        #expect(
            balance["balance"].flatMap { value -> Int64? in
                if case .number(let text) = value { return try? MicroDollars.parse(text).get().rawValue }
                return nil
            } == credit["closing"])
    }

    @Test func htmlIsPrintReadyAndPDFSaysWhenChromiumIsMissing() throws {
        let (cli, db) = try Self.demo()
        let output = cli.home + "/statement.html"
        let html = try cli.run("report", "--db", db, "--format", "html", "--output", output)
        #expect(html.status == 0)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains("Opening balance") && text.contains("Closing balance") && text.contains("@page"))
        #expect(text.contains("By workspace") && text.contains("prod-support-bot"))
        let noChromium = try cli.run(
            "report", "--db", db, "--format", "pdf", "--output", cli.home + "/s.pdf", environment: ["PATH": "/nonexistent"])
        #expect(noChromium.status == 1 && noChromium.stderr.contains("Chromium, which is not installed"))
        let badMonth = try cli.run("report", "--db", db, "--month", "2026-13")
        #expect(badMonth.status == 2)
    }

    @Test(.enabled(if: BrowserTests.chromium != nil || BrowserTests.inCI, "chromium is not installed"))
    func pdfIsPrintedByChromium() throws {
        let (cli, db) = try Self.demo()
        let output = cli.home + "/statement.pdf"
        let pdf = try cli.run("report", "--db", db, "--format", "pdf", "--output", output)
        #expect(pdf.status == 0, "report failed: \(pdf.stderr)")
        #expect(FileManager.default.contents(atPath: output)?.starts(with: Array("%PDF".utf8)) == true)
    }
}
