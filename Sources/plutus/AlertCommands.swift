import ArgumentParser
import Foundation
import PlutusAlerts
import PlutusCore
import PlutusStore

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Check alert channels and read the delivery log.",
        discussion: """
            Channels come from the environment: PLUTUS_ALERT_WEBHOOK_URL with PLUTUS_ALERT_WEBHOOK_SECRET, \
            PLUTUS_ALERT_SLACK_URL, PLUTUS_ALERT_DISCORD_URL, PLUTUS_ALERT_NTFY_URL, and PLUTUS_SMTP_HOST, _PORT, \
            _USERNAME, _PASSWORD, _FROM, _TO, _TLS (starttls|implicit|none), _ALLOW_PLAINTEXT_AUTH, _CA_FILE, _HELO. \
            `plutus serve` delivers alerts to every configured channel.
            """,
        subcommands: [Test.self, Log.self])

    /// The configured channels, or a one-line usage error naming the bad variable.
    static func settings() throws -> AlertSettings {
        do {
            return try AlertSettings.fromEnvironment(Config.environment)
        } catch {
            throw CLIFailure.usage(error.message)
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test", abstract: "Send a test alert through one configured channel and say what happened.")

        @Option(help: "Channel: \(AlertSettings.channelNames.joined(separator: "|")).") var channel: String
        // Accepted like every sibling's (scripts pass it to every command); a test alert is
        // sent, never stored, so no database is opened.
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard AlertSettings.channelNames.contains(channel) else {
                throw CLIFailure.usage(
                    "--channel must be one of \(AlertSettings.channelNames.joined(separator: "|")), got '\(channel)'")
            }
            let configured = try AlertsCommand.settings().channels(now: { Timestamp.now() })
            guard let target = configured.first(where: { $0.name == channel }) else {
                throw CLIFailure.usage("the \(channel) channel is not configured (see 'plutus alerts --help')")
            }
            let result = await target.deliver(.test(at: Timestamp.now()))
            let reply = result.reply.map { " (\($0))" } ?? ""
            guard result.outcome == .delivered else {
                let detail = (result.errorText ?? "no detail").split(whereSeparator: \.isNewline).joined(separator: " ")
                throw CLIFailure.runtime("\(channel): test alert not delivered\(reply): \(detail)")
            }
            print("✓ \(channel): test alert delivered\(reply)")
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "log", abstract: "The alert delivery log, newest first.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Rows to show (at most \(Limits.pageRowsMax)).") var limit = 50

        func run() async throws {
            guard (1...Limits.pageRowsMax).contains(limit) else {
                throw CLIFailure.usage("--limit must be 1–\(Limits.pageRowsMax)")
            }
            let rows = try await database.open().alertDeliveryLog(limit: limit)
            if output.json {
                return printJSON(
                    .array(
                        rows.map { row in
                            .object([
                                ("alert_id", .string(row.alertID.rawValue)), ("channel", .string(row.channel)),
                                ("attempt", .int(row.attempt)), ("status", .string(row.status.rawValue)),
                                ("reply", .optionalString(row.reply)), ("error", .optionalString(row.errorText)),
                                ("attempted_at", .string(row.attemptedAt.iso8601)),
                                ("next_attempt_at", .optionalString(row.nextAttemptAt?.iso8601)),
                            ])
                        }))
            }
            if rows.isEmpty { return print("no delivery attempts yet") }
            printTable(
                ["when", "alert", "channel", "attempt", "status", "reply / error"],
                rows.map { row in
                    [
                        row.attemptedAt.shortText, row.alertID.rawValue, row.channel, String(row.attempt), row.status.rawValue,
                        [row.reply, row.errorText].compactMap { $0 }.joined(separator: " — "),
                    ]
                }, numeric: [3])
        }
    }
}
