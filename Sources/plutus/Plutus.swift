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
            AdjustCommand.self, MeterCommand.self, HoldCommand.self, SettleCommand.self, ReleaseCommand.self,
            HoldsCommand.self, HookCommand.self, BudgetCommand.self, MembersCommand.self, ConfigCommand.self, StatusCommand.self,
            BalanceCommand.self,
            EventsCommand.self,
            LedgerCommand.self, KeysCommand.self, PricingCommand.self, VerifyCommand.self, DemoCommand.self, ServeCommand.self,
            ReportCommand.self,
            StripeSignCommand.self, StripeSetupCommand.self,
            ReconcileWebhooksCommand.self, MigrateCommand.self, MigrateDataCommand.self, AlertsCommand.self,
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
        var command: any ParsableCommand
        do {
            command = try Plutus.parseAsRoot()
        } catch {
            argumentFailure(error)
        }
        // Every command reads the same settings; a bad config file stops them all here (a
        // hook reports it and lets its agent go on).
        neverFail = command is ClaudeCodeHook
        Config.load()
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            fail(failure.message, code: failure.exitCode)
        } catch StoreError.backend(let detail) {
            // The operator's own terminal: the storage error itself, in one line, without the
            // library's type names (an HTTP client only ever sees a reference).
            fail("the database failed: \(humanized(detail))", code: 1)
        } catch let error as StoreError {
            fail(error.description, code: 1)
        } catch let error as UsageFieldError {
            fail(error.message, code: 2)
        } catch let error as ValidationError {
            argumentFailure(error)
        } catch let error as ExitCode {
            Plutus.exit(withError: error)
        } catch let error as CleanExit {
            Plutus.exit(withError: error)
        } catch {
            // `--help` and `plutus help …` arrive here as the help command's error: print the help.
            if Plutus.exitCode(for: error) == .success { Plutus.exit(withError: error) }
            // A library's error (a socket, a file, a connection): its sentence, without the
            // function signatures and errno numbers libraries put in their descriptions.
            fail(humanized(error), code: 1)
        }
    }

    static func argumentFailure(_ error: any Error) -> Never {
        if Plutus.exitCode(for: error) == .success { Plutus.exit(withError: error) }
        let message = Plutus.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        fail("\(message) (see 'plutus help')", code: 2)
    }

    /// An error's description for people: `bind(descriptor:ptr:bytes:): Address already in
    /// use (errno: 98)` reads "address already in use".
    static func humanized(_ error: any Error) -> String { humanized(String(describing: error)) }

    static func humanized(_ description: String) -> String {
        var text = description.split(separator: "\n").first.map(String.init) ?? description
        if let range = text.range(of: #"[A-Za-z_]+\((?:[A-Za-z_]+:)*\):\s*"#, options: .regularExpression) {
            text.removeSubrange(range)
        }
        if let range = text.range(of: #"\s*\(errno: -?\d+\)"#, options: .regularExpression) { text.removeSubrange(range) }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = text.first else { return "unexpected error" }
        return first.lowercased() + text.dropFirst()
    }

    /// Set for commands that run as an agent's hook: they report problems but never fail.
    nonisolated(unsafe) static var neverFail = false

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("plutus: \(message)\n".utf8))
        exit(neverFail ? 0 : code)
    }
}
