import ArgumentParser
import Foundation
import PlutusCore
import PlutusStore

struct Plutus: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "plutus",
        abstract: "Plutus — the billing layer for AI agents.",
        version: "plutus v\(version)",
        subcommands: [
            InitCommand.self, OrgCommand.self, WorkspaceCommand.self, TopUpCommand.self, GrantCommand.self,
            AdjustCommand.self, MeterCommand.self, StatusCommand.self, BalanceCommand.self, EventsCommand.self,
            LedgerCommand.self, KeysCommand.self, PricingCommand.self, VerifyCommand.self, DemoCommand.self, ServeCommand.self, BenchCommand.self, BenchDashboardCommand.self, ReportCommand.self,
            StripeSignCommand.self, StripeSetupCommand.self,
            ReconcileWebhooksCommand.self, MigrateCommand.self, MigrateDataCommand.self, AlertsCommand.self, ScaleBenchCommand.self,
        ])
}

/// A failure the CLI reports in one line, with its exit code.
struct CLIFailure: Error {
    var message: String
    var exitCode: Int32

    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 2) }
    static func runtime(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 1) }
}

/// Exit codes: 0 ok, 1 operating error (including `verify` finding a divergence),
/// 2 bad arguments (nothing written), 3 usage refused by the hard stop or quota.
@main
enum Main {
    static func main() async {
        do {
            var command = try Plutus.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            fail(failure.message, code: failure.exitCode)
        } catch let error as StoreError {
            fail(error.description, code: 1)
        } catch let error as UsageFieldError {
            fail(error.message, code: 2)
        } catch {
            if Plutus.exitCode(for: error) == .success { Plutus.exit(withError: error) }
            let message = Plutus.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            fail("\(message) (see 'plutus help')", code: 2)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("plutus: \(message)\n".utf8))
        exit(code)
    }
}
