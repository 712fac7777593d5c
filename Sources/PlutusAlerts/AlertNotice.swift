import PlutusCore
import PlutusStore

/// What a channel delivers: one alert with the names a reader needs, already rendered as text.
public struct AlertNotice: Sendable, Equatable {
    public var alertID: String
    /// The alert kind's wire name (`low_balance`, …), or `test` for `plutus alerts test`.
    public var kind: String
    public var title: String
    public var message: String
    public var organizationID: String
    public var organizationName: String
    public var workspaceID: String?
    public var period: String
    public var createdAt: Timestamp
    /// How urgent the alert is, for channels that have a notion of priority (ntfy).
    public var isUrgent: Bool

    public init(
        alertID: String, kind: String, title: String, message: String, organizationID: String, organizationName: String,
        workspaceID: String?, period: String, createdAt: Timestamp, isUrgent: Bool
    ) {
        self.alertID = alertID
        self.kind = kind
        self.title = title
        self.message = message
        self.organizationID = organizationID
        self.organizationName = organizationName
        self.workspaceID = workspaceID
        self.period = period
        self.createdAt = createdAt
        self.isUrgent = isUrgent
    }

    public init(_ pending: PendingAlertDelivery) {
        let alert = pending.alert
        self.init(
            alertID: alert.id.rawValue, kind: alert.kind.rawValue, title: alert.kind.title, message: alert.message,
            organizationID: alert.organizationID.rawValue, organizationName: pending.organizationName,
            workspaceID: alert.workspaceID?.rawValue, period: alert.period, createdAt: alert.createdAt,
            isUrgent: Self.urgentKinds.contains(alert.kind))
    }

    /// A harmless notice for checking a channel's configuration.
    public static func test(at time: Timestamp) -> AlertNotice {
        AlertNotice(
            alertID: "alr_test_\(time.millis)", kind: "test", title: "Test alert",
            message: "This is a test alert from Plutus: the channel works.", organizationID: "org_test",
            organizationName: "Plutus", workspaceID: nil, period: time.day.text, createdAt: time, isUrgent: false)
    }

    /// Kinds that mean usage is being refused or money did not arrive.
    static let urgentKinds: Set<AlertKind> = [.balanceExhausted, .budgetCap, .freeTierOver, .hardStop, .paymentFailed]

    /// `[Plutus] Low balance — Acme`, with control characters of the organization name
    /// turned into spaces so the line stays one header line.
    public var subject: String {
        "[Plutus] \(title) — \(Self.singleLine(organizationName))"
    }

    /// The one-line text chat channels show.
    public var chatText: String {
        "\(subject): \(Self.singleLine(message))"
    }

    /// The plain-text body of an email.
    public var emailBody: String {
        var lines = [message, "", "Organization: \(organizationName) (\(organizationID))", "Alert: \(kind) (\(alertID))"]
        if let workspaceID { lines.append("Workspace: \(workspaceID)") }
        lines += ["Period: \(period)", "Raised at: \(createdAt.iso8601)", "", "— Plutus"]
        return lines.joined(separator: "\n")
    }

    static func singleLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    }
}
