import NIOCore
import PlutusCore
import Testing

@testable import PlutusAlerts

@Suite("Alert delivery pieces without I/O")
struct AlertUnitTests {
    @Test func retryDelaysDoubleUpToTheCapAndStopAtTheLastAttempt() {
        let schedule = RetrySchedule(attemptsMax: 6, baseDelayMillis: 1_000, maxDelayMillis: 5_000)
        #expect((1...6).map { schedule.delayMillis(afterAttempt: $0) } == [1_000, 2_000, 4_000, 5_000, 5_000, nil])
        #expect(RetrySchedule.standard.delayMillis(afterAttempt: 1) == Limits.alertRetryDelayBaseSeconds * 1_000)
        #expect(RetrySchedule.standard.delayMillis(afterAttempt: Limits.alertDeliveryAttemptsMax) == nil)
    }

    @Test func repliesAreDecodedWholeAcrossLinesAndChunks() throws {
        var buffer = ByteBuffer(
            string: "250-mail.example greets you\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n354")
        var code: Int?
        var lines: [String] = []
        let reply = try #require(try SMTPReplyDecoder.nextReply(&buffer, code: &code, lines: &lines))
        #expect(reply.code == 250 && reply.lines.count == 4)
        #expect(reply.offers("STARTTLS") && reply.offers("8BITMIME") && reply.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(try SMTPReplyDecoder.nextReply(&buffer, code: &code, lines: &lines) == nil)
        buffer.writeString(" go ahead\n")
        #expect(try SMTPReplyDecoder.nextReply(&buffer, code: &code, lines: &lines) == SMTPReply(code: 354, lines: ["go ahead"]))
    }

    @Test(arguments: ["hello\r\n", "25\r\n", "250-a\r\n251 b\r\n", "250x\r\n", "600 no\r\n"])
    func malformedRepliesAreRefused(text: String) {
        var buffer = ByteBuffer(string: text)
        var code: Int?
        var lines: [String] = []
        #expect(throws: SMTPError.self) {
            while try SMTPReplyDecoder.nextReply(&buffer, code: &code, lines: &lines) == nil, buffer.readableBytes > 0 {}
        }
    }

    @Test func anEndlessReplyLineIsRefused() {
        var buffer = ByteBuffer(string: "250 " + String(repeating: "x", count: Limits.smtpReplyLineBytesMax + 1))
        var code: Int?
        var lines: [String] = []
        #expect(throws: SMTPError.self) { try SMTPReplyDecoder.nextReply(&buffer, code: &code, lines: &lines) }
    }

    @Test(arguments: [
        ("Subject", "hi\r\nBcc: victim@example.test"), ("From", "a@b.test\r\nBcc: x@y.test"),
        ("To", "x@y.test>\r\nBcc: <z@w.test"), ("To", "a@b.test\n"), ("From", "no-at-sign"), ("To", "two@@at.test"),
    ])
    func headerInjectionIsRefused(field: String, value: String) {
        #expect(throws: SMTPError.self) {
            try SMTPMessage.render(
                from: field == "From" ? value : "p@example.test", to: [field == "To" ? value : "ops@example.test"],
                subject: field == "Subject" ? value : "fine", body: "body", date: Timestamp(rawValue: 0), messageID: "m@p")
        }
    }

    @Test func messagesAreDotStuffedWithCRLFAndTerminated() throws {
        let bytes = try SMTPMessage.render(
            from: "p@example.test", to: ["ops@example.test"], subject: "Plain", body: "one\n.two\r\n..three\rfour",
            date: Timestamp(rawValue: 0), messageID: "m@p")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: <p@example.test>\r\nTo: <ops@example.test>\r\n"))
        #expect(text.hasSuffix("\r\n\r\none\r\n..two\r\n...three\r\nfour\r\n.\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func longLinesAreCutAndNonASCIISubjectsEncoded() {
        #expect(SMTPMessage.bodyLines(String(repeating: "é", count: 600)).map(\.utf8.count) == [998, 202])
        #expect(SMTPMessage.encodedSubject("ASCII only") == "ASCII only")
        #expect(SMTPMessage.encodedSubject("Ünï") == "=?UTF-8?B?w5xuw68=?=")
    }

    @Test func settingsComeFromTheEnvironment() throws {
        let settings = try AlertSettings.fromEnvironment([
            "PLUTUS_ALERT_WEBHOOK_URL": "https://hooks.example.test/plutus", "PLUTUS_ALERT_WEBHOOK_SECRET": "s",
            "PLUTUS_ALERT_NTFY_URL": "https://ntfy.sh/plutus-ops", "PLUTUS_SMTP_HOST": "smtp.example.test",
            "PLUTUS_SMTP_PORT": "465", "PLUTUS_SMTP_FROM": "plutus@example.test",
            "PLUTUS_SMTP_TO": "ops@example.test, cfo@example.test", "PLUTUS_SMTP_USERNAME": "u", "PLUTUS_SMTP_PASSWORD": "p",
        ])
        #expect(settings.configuredChannelNames == ["webhook", "ntfy", "email"])
        let smtp = try #require(settings.smtp)
        #expect(smtp.tls == .implicit && smtp.port == 465 && smtp.to == ["ops@example.test", "cfo@example.test"])
        #expect(!smtp.allowPlaintextAuth)
        #expect(try AlertSettings.fromEnvironment([:]).configuredChannelNames.isEmpty)
        let defaults = try #require(
            try AlertSettings.fromEnvironment([
                "PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test", "PLUTUS_SMTP_TO": "c@d.test",
            ]).smtp)
        #expect(defaults.tls == .startTLS && defaults.port == 587)
    }

    @Test(arguments: [
        ["PLUTUS_ALERT_WEBHOOK_URL": "https://x.test/h"], ["PLUTUS_ALERT_SLACK_URL": "ftp://x.test/h"],
        ["PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_TO": "c@d.test"],
        ["PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test"],
        ["PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test", "PLUTUS_SMTP_TO": "c@d.test", "PLUTUS_SMTP_TLS": "ssl"],
        ["PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test", "PLUTUS_SMTP_TO": "c@d.test", "PLUTUS_SMTP_PORT": "0"],
        [
            "PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test", "PLUTUS_SMTP_TO": "c@d.test",
            "PLUTUS_SMTP_USERNAME": "u",
        ],
        ["PLUTUS_SMTP_HOST": "h.test", "PLUTUS_SMTP_FROM": "a@b.test\r\nBcc: x@y.test", "PLUTUS_SMTP_TO": "c@d.test"],
    ])
    func badSettingsAreRefused(environment: [String: String]) {
        #expect(throws: AlertConfigurationError.self) { try AlertSettings.fromEnvironment(environment) }
    }

    @Test func urgentKindsAndSubjectsStayOnOneLine() {
        let notice = AlertNotice(
            alertID: "alr_1", kind: "hard_stop", title: "Hard stop engaged", message: "m", organizationID: "org_1",
            organizationName: "Evil\r\nBcc: x@y.test", workspaceID: nil, period: "p", createdAt: Timestamp(rawValue: 0),
            isUrgent: true)
        #expect(notice.subject == "[Plutus] Hard stop engaged — Evil  Bcc: x@y.test")
        #expect(
            HTTPAlertChannel.prepare(notice, format: .ntfy, at: Timestamp(rawValue: 0)).headers.contains {
                $0 == ("Priority", "high")
            })
    }
}
