import Foundation
import PlutusCore
import Testing

/// The README's CLI tour, run as written on a fresh database, so the README cannot drift from
/// what the binary does.
@Suite("The README's CLI tour")
struct ReadmeTourTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    /// The first `sh` block after the `## The CLI` heading.
    static func tour() throws -> String {
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let section = text.range(of: "\n## The CLI\n"),
            let open = text.range(of: "```sh\n", range: section.upperBound..<text.endIndex),
            let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex)
        else { throw CLIHarnessFailure("README.md has no sh block under '## The CLI'") }
        return String(text[open.upperBound..<close.lowerBound])
    }

    @Test func theTourRunsTopToBottomOnAFreshDatabase() throws {
        let script = try Self.tour()
        #expect(script.contains("plutus adjust --amount -2.5"))
        let cli = CLI()
        // Each command must succeed; `plutus` is the binary under test, first on the PATH.
        let run = try cli.run(
            arguments: ["-euo", "pipefail", "-c", script],
            environment: [
                "PATH": URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":"
                    + (ProcessInfo.processInfo.environment["PATH"] ?? "")
            ], executable: "/bin/bash")
        let stdout = run.stdout
        #expect(run.status == 0, "the tour stopped: \(run.stderr)\n\(stdout.suffix(2_000))")
        // What the tour's comment promises for its first call.
        #expect(stdout.contains("cost $0.063000 (estimated) · balance $57.44"))
        #expect(stdout.contains("checked "), "verify ran last")
        #expect(try cli.json("verify")["ok"] == .bool(true))
        #expect(
            try cli.json("org", "list")["orgs"].map { value -> Int in
                if case .array(let orgs) = value { return orgs.count }
                return 0
            } == 2)
    }
}

struct CLIHarnessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
