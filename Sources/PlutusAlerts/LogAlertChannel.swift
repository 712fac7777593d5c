import Logging

/// The channel of a server with no alert channel configured: each alert is written to the
/// server's log, once, so an operator sees what would have been sent. Its deliveries are kept
/// in the outbox like any channel's (as `log`), so a restart does not log them again.
public struct LogAlertChannel: AlertChannel {
    public let name = "log"
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func deliver(_ notice: AlertNotice) async -> DeliveryResult {
        logger.notice(
            "alert \(notice.kind) for \(notice.organizationName) (\(notice.organizationID)): \(notice.message) — not sent: no alert channel is configured"
        )
        return DeliveryResult(outcome: .delivered, reply: "logged")
    }
}
