import PlutusCore

/// Alerts as plain-text email through an SMTP server: one message per alert to every
/// configured recipient.
public struct EmailAlertChannel: AlertChannel {
    public let name = "email"
    public let client: SMTPClient
    let now: @Sendable () -> Timestamp

    public init(configuration: SMTPConfiguration, now: @escaping @Sendable () -> Timestamp) {
        self.client = SMTPClient(configuration: configuration)
        self.now = now
    }

    public func deliver(_ notice: AlertNotice) async -> DeliveryResult {
        let time = now()
        do {
            let reply = try await client.send(
                subject: notice.subject, body: notice.emailBody, messageID: "\(notice.alertID).\(time.millis)@plutus",
                date: time)
            return DeliveryResult(outcome: .delivered, reply: reply.text)
        } catch {
            return DeliveryResult(
                outcome: error.isTransient ? .transientFailure : .permanentFailure, reply: error.reply?.text,
                errorText: error.message)
        }
    }
}
