import ArgumentParser
import Foundation

/// `plutus-bench`: the measurements, kept apart from the product. `plutus-bench` (or
/// `plutus-bench ingest`) times the HTTP ingest path beside its ceilings; `dashboard` times
/// summaries over a million events; `scale` runs several `plutus serve` processes on one
/// PostgreSQL database.
@main
struct PlutusBench: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "plutus-bench",
        abstract: "Plutus's benchmarks: figures to read, not assertions.",
        subcommands: [
            BenchCommand.self, BenchDashboardCommand.self, ScaleBenchCommand.self, GatewayBenchCommand.self,
            WrkScriptCommand.self, OTLPBenchCommand.self,
        ],
        defaultSubcommand: BenchCommand.self)

    /// The `plutus` binary built beside this one, which `scale` starts as servers.
    static var plutusBinary: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("plutus").path
    }
}

/// A failure the bench reports in one line, with its exit code (2 bad arguments, 1 otherwise).
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    var description: String { message }

    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 2) }
    static func runtime(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 1) }
}
