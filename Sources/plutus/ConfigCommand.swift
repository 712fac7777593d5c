import ArgumentParser
import Foundation
import PlutusConfig
import PlutusCore

/// The settings of this process, loaded once before any command runs (defaults, then the
/// config file, then the environment; flags are applied by each command on top).
enum Config {
    nonisolated(unsafe) private static var loaded: PlutusConfig?

    static var current: PlutusConfig {
        if let loaded { return loaded }
        let config = load()
        loaded = config
        return config
    }

    /// Loads the settings, or stops the process (exit 2) naming the key and where it was set.
    @discardableResult
    static func load() -> PlutusConfig {
        do {
            let config = try PlutusConfig.load(environment: ProcessInfo.processInfo.environment, home: DatabaseOptions.home)
            loaded = config
            return config
        } catch {
            Main.fail("configuration: \(error.message)", code: 2)
        }
    }

    /// The effective settings under their environment variable names.
    static var environment: [String: String] { current.environment }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "The effective configuration, and every key it can have.",
        discussion: """
            Settings come from the defaults, then $PLUTUS_CONFIG (default $PLUTUS_HOME/config.yaml, the original's \
            file and keys), then the environment, then command-line flags. An unknown key or a wrong type stops \
            every command with the key and where it was set.
            """,
        subcommands: [Show.self, Keys.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Each setting in force, where it came from, secrets masked.")
        @Flag(help: "Also list the keys that are not set.") var all = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let config = Config.current
            let rows = config.rendered(showUnset: all)
            if output.json {
                return printJSON(
                    .object([
                        ("file", .string(config.file)), ("file_exists", .bool(config.fileExists)),
                        (
                            "settings",
                            .array(
                                rows.map { row in
                                    .object([
                                        ("key", .string(row.key)), ("value", .string(row.value)), ("source", .string(row.source)),
                                    ])
                                })
                        ),
                    ]))
            }
            print("config file: \(config.file)\(config.fileExists ? "" : " (none)")")
            printTable(["KEY", "VALUE", "FROM"], rows.map { [$0.key, $0.value, $0.source] })
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys", abstract: "Every configuration key: its variable, default and meaning.")
        @Flag(help: "As the Markdown table of docs/configuration.md.") var markdown = false

        func run() throws {
            if markdown {
                print(ConfigCommand.markdown())
                return
            }
            printTable(
                ["KEY", "VARIABLE", "DEFAULT", "MEANING"],
                ConfigKey.all.map { [$0.name, $0.environment, $0.defaultValue ?? "–", $0.help] })
        }
    }

    /// The documentation's table of every key.
    static func markdown() -> String {
        (["| key | variable | default | meaning |", "|---|---|---|---|"]
            + ConfigKey.all.map { key in
                "| `\(key.name)` | `\(key.environment)` | \(key.defaultValue.map { "`\($0)`" } ?? "–") | \(key.help)\(key.secret ? " (secret)" : "") |"
            }).joined(separator: "\n")
    }
}
