import AsyncHTTPClient
import Foundation
import PlutusCore

/// A configuration value that cannot be used; `message` names the variable.
public struct AlertConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The alert channels configured in the environment (`PLUTUS_ALERT_*`, `PLUTUS_SMTP_*`).
/// Secrets are read here and never printed.
public struct AlertSettings: Sendable {
    public var webhookURL: String?
    public var webhookSecret: String?
    public var slackURL: String?
    public var discordURL: String?
    public var ntfyURL: String?
    public var smtp: SMTPConfiguration?

    /// Every channel name, in the order channels are built.
    public static let channelNames = ["webhook", "slack", "discord", "ntfy", "email"]

    /// Names of the configured channels.
    public var configuredChannelNames: [String] {
        var names: [String] = []
        if webhookURL != nil { names.append("webhook") }
        if slackURL != nil { names.append("slack") }
        if discordURL != nil { names.append("discord") }
        if ntfyURL != nil { names.append("ntfy") }
        if smtp != nil { names.append("email") }
        return names
    }

    public static func fromEnvironment(_ environment: [String: String]) throws(AlertConfigurationError) -> AlertSettings {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        func url(_ name: String) throws(AlertConfigurationError) -> String? {
            guard let text = value(name) else { return nil }
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                parsed.host?.isEmpty == false
            else { throw AlertConfigurationError(message: "\(name) must be an http(s) URL") }
            return text
        }
        var settings = AlertSettings()
        settings.webhookURL = try url("PLUTUS_ALERT_WEBHOOK_URL")
        settings.webhookSecret = value("PLUTUS_ALERT_WEBHOOK_SECRET")
        if settings.webhookURL != nil, settings.webhookSecret == nil {
            throw AlertConfigurationError(
                message: "PLUTUS_ALERT_WEBHOOK_SECRET is required with PLUTUS_ALERT_WEBHOOK_URL (alerts are signed)")
        }
        settings.slackURL = try url("PLUTUS_ALERT_SLACK_URL")
        settings.discordURL = try url("PLUTUS_ALERT_DISCORD_URL")
        settings.ntfyURL = try url("PLUTUS_ALERT_NTFY_URL")
        if let host = value("PLUTUS_SMTP_HOST") { settings.smtp = try smtp(host: host, value: value) }
        return settings
    }

    private static func smtp(host: String, value: (String) -> String?) throws(AlertConfigurationError) -> SMTPConfiguration {
        var port: Int?
        if let text = value("PLUTUS_SMTP_PORT") {
            guard let parsed = Int(text), (1...65_535).contains(parsed) else {
                throw AlertConfigurationError(message: "PLUTUS_SMTP_PORT must be a port number, got '\(text)'")
            }
            port = parsed
        }
        let tls: SMTPTLSMode
        if let text = value("PLUTUS_SMTP_TLS") {
            guard let mode = SMTPTLSMode(rawValue: text.lowercased()) else {
                throw AlertConfigurationError(message: "PLUTUS_SMTP_TLS must be starttls, implicit or none, got '\(text)'")
            }
            tls = mode
        } else {
            tls = port == 465 ? .implicit : .startTLS
        }
        let username = value("PLUTUS_SMTP_USERNAME")
        let password = value("PLUTUS_SMTP_PASSWORD")
        guard (username == nil) == (password == nil) else {
            throw AlertConfigurationError(message: "PLUTUS_SMTP_USERNAME and PLUTUS_SMTP_PASSWORD go together")
        }
        let allowPlaintextAuth: Bool
        switch value("PLUTUS_SMTP_ALLOW_PLAINTEXT_AUTH")?.lowercased() {
        case nil, "0", "false", "no", "off": allowPlaintextAuth = false
        case "1", "true", "yes", "on": allowPlaintextAuth = true
        case let other?:
            throw AlertConfigurationError(message: "PLUTUS_SMTP_ALLOW_PLAINTEXT_AUTH must be true or false, got '\(other)'")
        }
        guard let from = value("PLUTUS_SMTP_FROM") else {
            throw AlertConfigurationError(message: "PLUTUS_SMTP_FROM is required with PLUTUS_SMTP_HOST")
        }
        let to = (value("PLUTUS_SMTP_TO") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard !to.isEmpty else {
            throw AlertConfigurationError(message: "PLUTUS_SMTP_TO (comma-separated addresses) is required with PLUTUS_SMTP_HOST")
        }
        do {
            try SMTPMessage.checkAddress(from, field: "PLUTUS_SMTP_FROM")
            for address in to { try SMTPMessage.checkAddress(address, field: "PLUTUS_SMTP_TO") }
            try SMTPMessage.checkHeaderValue(value("PLUTUS_SMTP_HELO") ?? "", field: "PLUTUS_SMTP_HELO")
        } catch {
            throw AlertConfigurationError(message: error.message)
        }
        let caFile = value("PLUTUS_SMTP_CA_FILE")
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw AlertConfigurationError(message: "PLUTUS_SMTP_CA_FILE '\(caFile)' is not a readable file")
        }
        return SMTPConfiguration(
            host: host, port: port ?? (tls == .implicit ? 465 : 587), tls: tls, username: username, password: password,
            allowPlaintextAuth: allowPlaintextAuth, from: from, to: to, caFile: caFile,
            heloName: value("PLUTUS_SMTP_HELO") ?? "localhost")
    }

    /// The configured channels, ready to deliver.
    public func channels(http: HTTPClient = .shared, now: @escaping @Sendable () -> Timestamp) -> [any AlertChannel] {
        var channels: [any AlertChannel] = []
        if let webhookURL, let webhookSecret {
            channels.append(
                HTTPAlertChannel(name: "webhook", url: webhookURL, format: .webhook(secret: webhookSecret), http: http, now: now))
        }
        if let slackURL { channels.append(HTTPAlertChannel(name: "slack", url: slackURL, format: .slack, http: http, now: now)) }
        if let discordURL {
            channels.append(HTTPAlertChannel(name: "discord", url: discordURL, format: .discord, http: http, now: now))
        }
        if let ntfyURL { channels.append(HTTPAlertChannel(name: "ntfy", url: ntfyURL, format: .ntfy, http: http, now: now)) }
        if let smtp { channels.append(EmailAlertChannel(configuration: smtp, now: now)) }
        return channels
    }
}
