import Foundation
import PlutusAlerts
import PlutusCore
import Synchronization
import Testing

@Suite("HTTP alert channels against a local receiver")
struct HTTPChannelTests {
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!

    static let notice = AlertNotice(
        alertID: "alr_0123456789abcdef", kind: "low_balance", title: "Low balance",
        message: "Low credit balance: $5.00 (threshold $10.00)", organizationID: "org_1", organizationName: "Acme \"Labs\"",
        workspaceID: nil, period: "2026-11-20", createdAt: time, isUrgent: false)

    @Test func webhookBodyIsCompleteAndSigned() async throws {
        let receiver = Receiver()
        try await receiver.with { base in
            let channel = HTTPAlertChannel(
                name: "webhook", url: base + "/hooks/plutus", format: .webhook(secret: "whsec_test"), now: { Self.time })
            let result = await channel.deliver(Self.notice)
            #expect(result == DeliveryResult(outcome: .delivered, reply: "HTTP 200"))
        }
        let request = try #require(receiver.recorded.first)
        #expect(request.path == "/hooks/plutus")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["plutus-alert-id"] == "alr_0123456789abcdef")
        let json = try JSONValue.parse(request.body)
        #expect(json["id"] == .string("alr_0123456789abcdef") && json["kind"] == .string("low_balance"))
        #expect(json["organization_name"] == .string("Acme \"Labs\"") && json["workspace_id"] == .null)
        #expect(json["message"] == .string(Self.notice.message) && json["created_at"] == .string("2026-11-20T12:00:00.000Z"))
        let signature = try #require(request.headers["plutus-signature"])
        #expect(signature.hasPrefix("t=\(Self.time.seconds),v1="))
        #expect(
            WebhookSignature.isValid(
                header: signature, secret: "whsec_test", body: request.body, nowSeconds: Self.time.seconds, toleranceSeconds: 300)
        )
        // The wrong secret, a changed body or a stale timestamp do not verify.
        #expect(
            !WebhookSignature.isValid(
                header: signature, secret: "whsec_other", body: request.body, nowSeconds: Self.time.seconds, toleranceSeconds: 300
            ))
        #expect(
            !WebhookSignature.isValid(
                header: signature, secret: "whsec_test", body: request.body + [32], nowSeconds: Self.time.seconds,
                toleranceSeconds: 300))
        #expect(
            !WebhookSignature.isValid(
                header: signature, secret: "whsec_test", body: request.body, nowSeconds: Self.time.seconds + 301,
                toleranceSeconds: 300))
    }

    @Test func chatChannelsSendTheirShapes() async throws {
        let receiver = Receiver()
        try await receiver.with { base in
            for (name, format) in [("slack", HTTPAlertChannel.Format.slack), ("discord", .discord), ("ntfy", .ntfy)] {
                let channel = HTTPAlertChannel(name: name, url: base + "/" + name, format: format, now: { Self.time })
                #expect(await channel.deliver(Self.notice).outcome == .delivered)
            }
        }
        let byPath = Dictionary(uniqueKeysWithValues: receiver.recorded.map { ($0.path, $0) })
        let line = "[Plutus] Low balance — Acme \"Labs\": Low credit balance: $5.00 (threshold $10.00)"
        #expect(try JSONValue.parse(try #require(byPath["/slack"]).body) == .object([("text", .string(line))]))
        #expect(try JSONValue.parse(try #require(byPath["/discord"]).body) == .object([("content", .string(line))]))
        let ntfy = try #require(byPath["/ntfy"])
        #expect(ntfy.text == Self.notice.message)
        #expect(ntfy.headers["title"] == "[Plutus] Low balance — Acme \"Labs\"")
        #expect(ntfy.headers["priority"] == "default" && ntfy.headers["tags"] == "warning,plutus")
    }

    @Test(arguments: [(500, DeliveryResult.Outcome.transientFailure), (429, .transientFailure), (404, .permanentFailure)])
    func answersAreClassified(status: Int, expected: DeliveryResult.Outcome) async throws {
        let receiver = Receiver()
        receiver.failNext([status])
        try await receiver.with { base in
            let channel = HTTPAlertChannel(name: "slack", url: base + "/x", format: .slack, now: { Self.time })
            let result = await channel.deliver(Self.notice)
            #expect(result.outcome == expected && result.reply == "HTTP \(status)")
            #expect(result.errorText == "answer \(status)")
        }
    }

    @Test func anUnreachableEndpointIsTransient() async throws {
        // A port nothing listens on: grab one, release it, and send there.
        let receiver = Receiver()
        let url = Mutex("")
        try await receiver.with { base in url.withLock { $0 = base + "/gone" } }
        let channel = HTTPAlertChannel(
            name: "slack", url: url.withLock { $0 }, format: .slack, timeoutSeconds: 1, now: { Self.time })
        let result = await channel.deliver(Self.notice)
        #expect(result.outcome == .transientFailure && result.errorText != nil)
    }

    @Test func discordContentIsCutToItsLimit() {
        var notice = Self.notice
        notice.message = String(repeating: "x", count: 5_000)
        let prepared = HTTPAlertChannel.prepare(notice, format: .discord, at: Self.time)
        let content = try? JSONValue.parse(prepared.body)["content"]?.stringValue
        #expect(content?.count == 2_000)
    }
}
