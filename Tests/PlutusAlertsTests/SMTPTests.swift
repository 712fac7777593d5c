import Foundation
import PlutusAlerts
import PlutusCore
import PlutusStoreTesting
import Testing

/// Email through a real SMTP server (aiosmtpd) on 127.0.0.1: plaintext, STARTTLS and
/// implicit TLS with a certificate made by openssl for the test.
@Suite(
    "SMTP delivery to a real server", .enabled(if: SMTPTestServer.python != nil, SMTPTestServer.skipReason),
    .timeLimit(.minutes(2)))
struct SMTPTests {
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!

    static let notice = AlertNotice(
        alertID: "alr_0123456789abcdef", kind: "hard_stop", title: "Hard stop engaged",
        message: "Hard stop engaged: usage refused at balance $0.00\n.a line that starts with a dot",
        organizationID: "org_1", organizationName: "Acme Ünïcode", workspaceID: nil, period: "2026-11-20", createdAt: time,
        isUrgent: true)

    static func configuration(
        port: Int, tls: SMTPTLSMode, credentials: Bool = false, allowPlaintextAuth: Bool = false, caFile: String? = nil
    ) -> SMTPConfiguration {
        SMTPConfiguration(
            host: "127.0.0.1", port: port, tls: tls, username: credentials ? "alice" : nil,
            password: credentials ? "s3cret" : nil, allowPlaintextAuth: allowPlaintextAuth, from: "plutus@example.test",
            to: ["ops@example.test", "cfo@example.test"], caFile: caFile, sessionTimeoutSeconds: 10)
    }

    static func deliver(_ configuration: SMTPConfiguration) async -> DeliveryResult {
        await EmailAlertChannel(configuration: configuration, now: { time }).deliver(notice)
    }

    @Test func sendsAPlaintextMessageWithHeadersAndDotStuffedBody() async throws {
        try await SMTPTestServer.with { server in
            let result = await Self.deliver(Self.configuration(port: server.port, tls: .none))
            #expect(result.outcome == .delivered, "\(result)")
            #expect(result.reply == "250 2.0.0 Message accepted")
            let message = try #require(server.received.first)
            #expect(message["mail_from"] == .string("plutus@example.test"))
            #expect(message["rcpt_tos"] == .array([.string("ops@example.test"), .string("cfo@example.test")]))
            let data = try #require(message["data"]?.stringValue)
            #expect(data.contains("From: <plutus@example.test>"))
            #expect(data.contains("To: <ops@example.test>, <cfo@example.test>"))
            #expect(data.contains("Subject: =?UTF-8?B?"))
            #expect(data.contains("Date: Fri, 20 Nov 2026 12:00:00 +0000"))
            #expect(data.contains("\n.a line that starts with a dot"), "the server un-stuffs the dot")
            #expect(!data.contains("\n..a line"))
            #expect(data.contains("Organization: Acme Ünïcode (org_1)"))
            #expect(message["authenticated"] == .bool(false))
        }
    }

    @Test func authOverPlaintextIsRefusedUnlessAllowed() async throws {
        try await SMTPTestServer.with(auth: true) { server in
            let refused = await Self.deliver(Self.configuration(port: server.port, tls: .none, credentials: true))
            #expect(refused.outcome == .permanentFailure)
            #expect(refused.errorText?.contains("refusing to send SMTP credentials") == true)
            #expect(server.received.isEmpty)
            let allowed = await Self.deliver(
                Self.configuration(port: server.port, tls: .none, credentials: true, allowPlaintextAuth: true))
            #expect(allowed.outcome == .delivered, "\(allowed)")
            #expect(server.received.first?["authenticated"] == .bool(true))
        }
    }

    @Test func wrongCredentialsArePermanent() async throws {
        try await SMTPTestServer.with(auth: true) { server in
            var configuration = Self.configuration(port: server.port, tls: .none, credentials: true, allowPlaintextAuth: true)
            configuration.password = "wrong"
            let result = await Self.deliver(configuration)
            #expect(result.outcome == .permanentFailure)
            #expect(result.reply?.hasPrefix("535") == true)
            #expect(result.errorText?.contains("wrong") == false)
        }
    }

    @Test func startTLSThenAuthenticates() async throws {
        let certificate = try await SMTPTestServer.makeCertificate(in: Scratch.directory())
        try await SMTPTestServer.with(tls: "starttls", auth: true, certificate: certificate) { server in
            let result = await Self.deliver(
                Self.configuration(port: server.port, tls: .startTLS, credentials: true, caFile: certificate.cert))
            #expect(result.outcome == .delivered, "\(result)")
            let message = try #require(server.received.first)
            #expect(message["tls"] == .bool(true) && message["authenticated"] == .bool(true))
            // Without the test CA the certificate is not trusted: nothing is sent.
            let untrusted = await Self.deliver(Self.configuration(port: server.port, tls: .startTLS, credentials: true))
            #expect(untrusted.outcome != .delivered)
            #expect(server.received.count == 1)
        }
    }

    @Test func implicitTLSDelivers() async throws {
        let certificate = try await SMTPTestServer.makeCertificate(in: Scratch.directory())
        try await SMTPTestServer.with(tls: "implicit", auth: true, certificate: certificate) { server in
            let result = await Self.deliver(
                Self.configuration(port: server.port, tls: .implicit, credentials: true, caFile: certificate.cert))
            #expect(result.outcome == .delivered, "\(result)")
            #expect(server.received.first?["authenticated"] == .bool(true))
        }
    }

    @Test func startTLSIsNeverDowngraded() async throws {
        try await SMTPTestServer.with { server in
            let result = await Self.deliver(Self.configuration(port: server.port, tls: .startTLS))
            #expect(result.outcome == .permanentFailure)
            #expect(result.errorText?.contains("does not offer STARTTLS") == true)
            #expect(server.received.isEmpty)
        }
    }
}
