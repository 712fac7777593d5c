/// Why an email was not sent. `description` never contains credentials.
public struct SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Credentials are configured but the link is not encrypted, and plaintext AUTH was not allowed.
        case plaintextAuthRefused
        /// `starttls` was asked for and the server does not offer it: never downgraded.
        case startTLSUnavailable
        /// The server offers none of the AUTH mechanisms Plutus speaks (PLAIN, LOGIN).
        case authUnavailable
        /// A header value or address contains a line break or another control character.
        case invalidHeader
        /// The server answered a command with an unexpected code.
        case rejected
        case malformedReply
        case connectionFailed
        case connectionClosed
        case timedOut
    }

    public var code: Code
    public var message: String
    /// The server's reply that caused the error, when there was one.
    public var reply: SMTPReply?

    public init(_ code: Code, _ message: String, reply: SMTPReply? = nil) {
        self.code = code
        self.message = message
        self.reply = reply
    }

    public var description: String { message + (reply.map { " (server said: \($0.text))" } ?? "") }

    /// Whether sending again later could succeed: a 4xx reply or a network problem.
    public var isTransient: Bool {
        switch code {
        case .rejected: (reply?.code ?? 500) < 500
        case .connectionFailed, .connectionClosed, .timedOut, .malformedReply: true
        case .plaintextAuthRefused, .startTLSUnavailable, .authUnavailable, .invalidHeader: false
        }
    }
}
