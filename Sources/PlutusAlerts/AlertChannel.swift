import PlutusCore

/// A place alerts are delivered to: a webhook, a chat, a push topic or a mailbox.
public protocol AlertChannel: Sendable {
    /// The channel's name in the outbox and the delivery log (`webhook`, `slack`, …).
    var name: String { get }
    /// Makes one attempt to deliver `notice`. Never throws: every failure is a result.
    func deliver(_ notice: AlertNotice) async -> DeliveryResult
}

/// The outcome of one delivery attempt.
public struct DeliveryResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case delivered
        /// Worth trying again later (a 5xx, a timeout, a refused connection).
        case transientFailure
        /// Trying again would fail the same way (a 4xx, a refused mailbox, a bad configuration).
        case permanentFailure
    }

    public var outcome: Outcome
    /// The HTTP status or the SMTP server's last reply, when there was one.
    public var reply: String?
    public var errorText: String?

    public init(outcome: Outcome, reply: String? = nil, errorText: String? = nil) {
        self.outcome = outcome
        self.reply = reply.map { Self.clipped($0) }
        self.errorText = errorText.map { Self.clipped($0) }
    }

    /// At most `Limits.alertReplyBytesMax` bytes, cut at a character boundary.
    static func clipped(_ text: String) -> String {
        guard text.utf8.count > Limits.alertReplyBytesMax else { return text }
        var out = ""
        for character in text {
            if out.utf8.count + character.utf8.count > Limits.alertReplyBytesMax - 3 { break }
            out.append(character)
        }
        return out + "..."
    }
}
