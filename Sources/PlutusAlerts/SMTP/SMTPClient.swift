import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PlutusCore

/// How the SMTP link is encrypted.
public enum SMTPTLSMode: String, Sendable, CaseIterable {
    /// Plain connect, then `STARTTLS`; a server that does not offer it is refused.
    case startTLS = "starttls"
    /// TLS from the first byte (usually port 465).
    case implicit
    /// No encryption. AUTH is then refused unless `allowPlaintextAuth` is set.
    case none
}

public struct SMTPConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var tls: SMTPTLSMode
    public var username: String?
    public var password: String?
    /// Sends credentials over an unencrypted link. Only for a relay on a trusted network.
    public var allowPlaintextAuth: Bool
    public var from: String
    public var to: [String]
    /// A PEM file of CA certificates to trust instead of the system's (a private relay, tests).
    public var caFile: String?
    /// The name this client gives in EHLO.
    public var heloName: String
    public var sessionTimeoutSeconds: Int64

    public init(
        host: String, port: Int, tls: SMTPTLSMode, username: String? = nil, password: String? = nil,
        allowPlaintextAuth: Bool = false, from: String, to: [String], caFile: String? = nil, heloName: String = "localhost",
        sessionTimeoutSeconds: Int64 = Limits.smtpSessionTimeoutSeconds
    ) {
        precondition(!host.isEmpty && (1...65_535).contains(port), "SMTP host and port are validated when configured")
        precondition(!to.isEmpty && sessionTimeoutSeconds > 0, "recipients and a timeout are required")
        precondition((username == nil) == (password == nil), "credentials come as a pair")
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.allowPlaintextAuth = allowPlaintextAuth
        self.from = from
        self.to = to
        self.caFile = caFile
        self.heloName = heloName
        self.sessionTimeoutSeconds = sessionTimeoutSeconds
    }
}

/// A minimal SMTP submission client on SwiftNIO: one session per message (EHLO, STARTTLS,
/// AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA, QUIT), bounded in time as a whole.
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration

    public init(configuration: SMTPConfiguration) {
        self.configuration = configuration
    }

    /// Sends one message; returns the server's reply to the end of DATA (`250 …`).
    /// Sends one message to `recipient` alone, not to the configured recipients (an
    /// invitation, say), through the same server.
    public func send(to recipient: String, subject: String, body: String, date: Timestamp) async throws(SMTPError) -> SMTPReply {
        try SMTPMessage.checkAddress(recipient, field: "recipient")
        var single = configuration
        single.to = [recipient]
        return try await SMTPClient(configuration: single).send(
            subject: subject, body: body, messageID: "\(date.millis).\(UInt32.random(in: 0...UInt32.max))@plutus", date: date)
    }

    public func send(subject: String, body: String, messageID: String, date: Timestamp) async throws(SMTPError) -> SMTPReply {
        let message = try SMTPMessage.render(
            from: configuration.from, to: configuration.to, subject: subject, body: body, date: date, messageID: messageID)
        try SMTPMessage.checkHeaderValue(configuration.heloName, field: "EHLO name")
        let deadline = ContinuousClock.now + .seconds(configuration.sessionTimeoutSeconds)
        var session = try await SMTPSession.open(configuration, deadline: deadline)
        do {
            let reply = try await session.converse(configuration, message: message)
            await session.close()
            return reply
        } catch {
            await session.close()
            throw error
        }
    }
}

/// One connection's dialogue. Replies arrive through an async stream fed by the pipeline; a
/// task scheduled on the event loop closes the channel at the deadline, which ends the stream.
struct SMTPSession {
    let channel: any Channel
    let deadlineTask: Scheduled<Void>
    let deadline: ContinuousClock.Instant
    let tlsContext: NIOSSLContext?
    var replies: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator
    var isEncrypted: Bool

    static func open(_ configuration: SMTPConfiguration, deadline: ContinuousClock.Instant) async throws(SMTPError)
        -> SMTPSession
    {
        let tlsContext = try makeTLSContext(configuration)
        let serverName = isIPAddress(configuration.host) ? nil : configuration.host
        let implicit = configuration.tls == .implicit
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: SMTPReply.self)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(configuration.sessionTimeoutSeconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if implicit, let tlsContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try pipeline.addHandler(ReplyForwarder(continuation: continuation))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw SMTPError(.connectionFailed, "could not connect to \(configuration.host):\(configuration.port): \(error)")
        }
        let remaining = max(.zero, deadline - ContinuousClock.now)
        let deadlineTask = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(remaining.nanosecondsClamped))) {
            channel.close(promise: nil)
        }
        return SMTPSession(
            channel: channel, deadlineTask: deadlineTask, deadline: deadline, tlsContext: tlsContext,
            replies: stream.makeAsyncIterator(), isEncrypted: implicit)
    }

    /// The dialogue after connecting, up to the reply to the message's end.
    mutating func converse(_ configuration: SMTPConfiguration, message: [UInt8]) async throws(SMTPError) -> SMTPReply {
        _ = try await expect([220], after: "greeting")
        var hello = try await command("EHLO \(configuration.heloName)", expecting: [250])
        if configuration.tls == .startTLS {
            guard hello.offers("STARTTLS") else {
                throw SMTPError(.startTLSUnavailable, "the server does not offer STARTTLS; refusing to continue unencrypted")
            }
            _ = try await command("STARTTLS", expecting: [220])
            try await startTLS(serverName: Self.isIPAddress(configuration.host) ? nil : configuration.host)
            hello = try await command("EHLO \(configuration.heloName)", expecting: [250])
        }
        if let username = configuration.username, let password = configuration.password {
            guard isEncrypted || configuration.allowPlaintextAuth else {
                throw SMTPError(
                    .plaintextAuthRefused,
                    "refusing to send SMTP credentials over an unencrypted connection (use TLS, or set PLUTUS_SMTP_ALLOW_PLAINTEXT_AUTH)"
                )
            }
            try await authenticate(username: username, password: password, offered: hello.authMechanisms)
        }
        let bodyParameter = hello.offers("8BITMIME") ? " BODY=8BITMIME" : ""
        _ = try await command("MAIL FROM:<\(configuration.from)>\(bodyParameter)", expecting: [250])
        for recipient in configuration.to { _ = try await command("RCPT TO:<\(recipient)>", expecting: [250, 251]) }
        _ = try await command("DATA", expecting: [354])
        try await write(message)
        let accepted = try await expect([250], after: "end of DATA")
        _ = try? await command("QUIT", expecting: [221])
        return accepted
    }

    private mutating func authenticate(username: String, password: String, offered: Set<String>) async throws(SMTPError) {
        if offered.contains("PLAIN") {
            let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
            _ = try await command("AUTH PLAIN \(token)", expecting: [235], shown: "AUTH PLAIN")
        } else if offered.contains("LOGIN") {
            _ = try await command("AUTH LOGIN", expecting: [334])
            _ = try await command(Data(username.utf8).base64EncodedString(), expecting: [334], shown: "AUTH LOGIN username")
            _ = try await command(Data(password.utf8).base64EncodedString(), expecting: [235], shown: "AUTH LOGIN password")
        } else {
            throw SMTPError(.authUnavailable, "the server offers no AUTH mechanism Plutus speaks (PLAIN, LOGIN)")
        }
    }

    /// Sends one command line and reads its reply. `shown` replaces the line in errors, so
    /// credentials never reach a log.
    private mutating func command(_ line: String, expecting codes: Set<Int>, shown: String? = nil) async throws(SMTPError)
        -> SMTPReply
    {
        try await write(Array((line + "\r\n").utf8))
        return try await expect(codes, after: shown ?? String(line.prefix { $0 != " " && $0 != ":" }))
    }

    private mutating func expect(_ codes: Set<Int>, after step: String) async throws(SMTPError) -> SMTPReply {
        let reply: SMTPReply?
        do {
            reply = try await replies.next()
        } catch let error as SMTPError {
            throw error
        } catch {
            throw SMTPError(.connectionClosed, "connection failed after \(step): \(error)")
        }
        guard let reply else {
            if ContinuousClock.now >= deadline { throw SMTPError(.timedOut, "SMTP session timed out after \(step)") }
            throw SMTPError(.connectionClosed, "the server closed the connection after \(step)")
        }
        guard codes.contains(reply.code) else { throw SMTPError(.rejected, "the server refused \(step)", reply: reply) }
        return reply
    }

    private func write(_ bytes: [UInt8]) async throws(SMTPError) {
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        } catch {
            if ContinuousClock.now >= deadline { throw SMTPError(.timedOut, "SMTP session timed out while sending") }
            throw SMTPError(.connectionClosed, "could not write to the SMTP server: \(error)")
        }
    }

    /// Puts TLS under the reply decoder after the server's `220` to STARTTLS; the server says
    /// nothing more until the handshake, so no plaintext byte is read as encrypted or back.
    private mutating func startTLS(serverName: String?) async throws(SMTPError) {
        guard let tlsContext else { preconditionFailure("a STARTTLS session has a TLS context") }
        let channel = self.channel
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: tlsContext, serverHostname: serverName), position: .first)
            }.get()
        } catch {
            throw SMTPError(.connectionFailed, "could not start TLS: \(error)")
        }
        isEncrypted = true
    }

    func close() async {
        deadlineTask.cancel()
        try? await channel.close().get()
    }

    private static func makeTLSContext(_ configuration: SMTPConfiguration) throws(SMTPError) -> NIOSSLContext? {
        guard configuration.tls != .none else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = configuration.caFile { tls.trustRoots = .file(caFile) }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SMTPError(.connectionFailed, "could not set up TLS: \(error)")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Forwards decoded replies to the session's stream; a pipeline error or a closed connection ends it.
private final class ReplyForwarder: ChannelInboundHandler {
    typealias InboundIn = SMTPReply

    let continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation

    init(continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}

extension Duration {
    /// The duration in nanoseconds, clamped to `Int64`.
    fileprivate var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
