import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("/v1/reservations over real loopback HTTP: hold, settle, release")
struct ReservationTests {
    func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    func post(_ server: TestServer, _ key: String?, _ path: String, _ body: String?, idempotencyKey: String? = nil)
        async throws -> HTTPResult
    {
        try await LoopbackClient.json(
            port: server.port, "POST", path, bearer: key, headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [],
            body)
    }

    func get(_ server: TestServer, _ key: String?, _ path: String) async throws -> HTTPResult {
        try await LoopbackClient.json(port: server.port, "GET", path, bearer: key)
    }

    /// The issue's example: $10 of balance, $8 held, so `/v1/usage` can spend $2 and not $3;
    /// the settle records the call and gives back the rest; the balance shows what is held.
    @Test func holdSpendSettleAndRelease() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let placed = try await post(
                server, key, "/v1/reservations", #"{"amount_usd": 8, "workspace": "research", "run_id": "run-1"}"#)
            #expect(placed.status == 201)
            #expect(placed.json["status"] == .string("held"))
            #expect(placed.json["held_usd"] == .number("8"))
            #expect(placed.json["available_usd"] == .number("2"))
            #expect(placed.json["run_id"] == .string("run-1"))
            guard case .string(let id) = placed.json["reservation_id"], case .string(let expires) = placed.json["expires_at"]
            else {
                Issue.record("no reservation id: \(placed.body)")
                return
            }
            #expect(Timestamp.parseISO8601(expires) != nil)

            let balance = try await get(server, key, "/v1/balance")
            #expect(balance.json["balance"] == .number("10"))
            #expect(balance.json["held_usd"] == .number("8"))
            #expect(balance.json["available_usd"] == .number("2"))

            let refused = try await server.ingest(key, #"{"provider": "p", "cost_usd": 3}"#)
            #expect(refused.status == 402)
            #expect(
                refused.json["detail"]
                    == .string("insufficient credit: this call costs $3.00, available $2.00 (balance $10.00, $8.00 held)"))
            #expect(try await server.ingest(key, #"{"provider": "p", "cost_usd": 2}"#).status == 200)

            let settled = try await post(
                server, key, "/v1/reservations/\(id)/settle",
                #"{"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 1000, "output_tokens": 500}"#)
            #expect(settled.status == 200)
            #expect(settled.json["recorded"] == .bool(true))
            #expect(settled.json["cost_usd"] == .number("0.0525"))
            #expect(settled.json["released_usd"] == .number("7.9475"))
            #expect(settled.json["over_hold"] == .bool(false))
            #expect(settled.json["reservation_id"] == .string(id))
            let again = try await post(server, key, "/v1/reservations/\(id)/settle", #"{"provider": "p", "cost_usd": 9}"#)
            #expect(again.status == 200 && again.json["idempotent_replay"] == .bool(true))
            #expect(again.json["cost_usd"] == .number("0.0525"))
            #expect(try await server.balance(org) == dollars("7.9475"))
            #expect(try await server.eventCount(org) == 2)

            let shown = try await get(server, key, "/v1/reservations/\(id)")
            #expect(shown.status == 200)
            #expect(shown.json["status"] == .string("settled"))
            #expect(shown.json["workspace"] == .string("research"))
            let exported = try await server.store.exportUsageEvents(org, after: nil, from: nil, to: nil, limit: 10)
            #expect(exported.contains { $0.workspaceName == "research" && $0.cost == dollars("0.0525") })

            let conflict = try await post(server, key, "/v1/reservations/\(id)/release", nil)
            #expect(conflict.status == 409)
            #expect(conflict.json["code"] == .string("reservation_settled"))
            #expect(conflict.json["error"] == .string("reservation \(id) is settled"))

            let second = try await post(server, key, "/v1/reservations", #"{"amount_usd": "1.5"}"#)
            guard case .string(let other) = second.json["reservation_id"] else {
                Issue.record("no second hold: \(second.body)")
                return
            }
            let released = try await post(server, key, "/v1/reservations/\(other)/release", nil)
            #expect(released.status == 200)
            #expect(released.json["released_usd"] == .number("1.5"))
            let lateSettle = try await post(server, key, "/v1/reservations/\(other)/settle", #"{"provider": "p", "cost_usd": 1}"#)
            #expect(lateSettle.status == 409)
            #expect(lateSettle.json["code"] == .string("reservation_released"))

            let listed = try await get(server, key, "/v1/reservations")
            guard case .array(let all) = listed.json["reservations"] else {
                Issue.record("no list: \(listed.body)")
                return
            }
            #expect(all.count == 2)
            guard case .array(let active) = try await get(server, key, "/v1/reservations?active=true").json["reservations"]
            else {
                Issue.record("no active list")
                return
            }
            #expect(active.isEmpty)
            #expect(try await server.store.verify().isClean)
        }
    }

    @Test func aWorstCaseIsPricedAndARefusalHoldsNothing() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "1")
            let placed = try await post(
                server, key, "/v1/reservations",
                #"{"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 12000, "max_output_tokens": 4096}"#)
            #expect(placed.status == 201)
            #expect(placed.json["held_usd"] == .number("0.4872"))
            let refused = try await post(server, key, "/v1/reservations", #"{"amount_usd": 0.6}"#)
            #expect(refused.status == 402)
            #expect(refused.json["code"] == .string("insufficient_credit"))
            #expect(
                refused.json["error"]
                    == .string("insufficient credit: this hold costs $0.6000, available $0.5128 (balance $1.00, $0.4872 held)"))
            #expect(refused.json["available_usd"] == .number("0.5128"))
            #expect(try await server.store.balance(org, at: Timestamp.now()).held == dollars("0.4872"))
        }
    }

    @Test func idempotencyKeysReplayTheHold() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "5")
            let first = try await post(server, key, "/v1/reservations", #"{"amount_usd": 1}"#, idempotencyKey: "h-1")
            let again = try await post(server, key, "/v1/reservations", #"{"amount_usd": 1}"#, idempotencyKey: "h-1")
            #expect(first.status == 201 && again.status == 201)
            #expect(again.json["reservation_id"] == first.json["reservation_id"])
            #expect(again.json["idempotent_replay"] == .bool(true))
            let conflict = try await post(server, key, "/v1/reservations", #"{"amount_usd": 2}"#, idempotencyKey: "h-1")
            #expect(conflict.status == 409)
            #expect(try await server.store.balance(org, at: Timestamp.now()).held == dollars("1"))
        }
    }

    /// Bad input is a 400 naming the field; nothing is held; unknown and foreign ids are 404.
    @Test func badRequestsNameTheFieldAndHoldNothing() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "5")
            for (body, field) in [
                (#"{"amount": 1}"#, "amount"), (#"{"amount_usd": 0}"#, "amount_usd"),
                (#"{"amount_usd": 1, "ttl_seconds": 0}"#, "ttl_seconds"), (#"{"provider": "openai"}"#, "max_output_tokens"),
                (#"{"amount_usd": 1, "provider": "openai"}"#, "amount_usd"),
            ] {
                let response = try await post(server, key, "/v1/reservations", body)
                #expect(response.status == 400, "\(body)")
                #expect(response.json["field"] == .string(field), "\(body)")
                #expect(response.json["code"] == .string("invalid_hold"))
            }
            #expect(try await post(server, key, "/v1/reservations", "[1]").status == 400)
            #expect(try await post(server, nil, "/v1/reservations", #"{"amount_usd": 1}"#).status == 401)
            #expect(try await get(server, key, "/v1/reservations/rsv_0000000000000000").status == 404)
            #expect(try await get(server, key, "/v1/reservations/not-an-id").status == 404)
            #expect(try await post(server, key, "/v1/reservations/rsv_0000000000000000/release", nil).status == 404)
            let (_, otherKey) = try await server.organization("Other", credit: "5")
            let placed = try await post(server, otherKey, "/v1/reservations", #"{"amount_usd": 1}"#)
            guard case .string(let id) = placed.json["reservation_id"] else {
                Issue.record("no hold: \(placed.body)")
                return
            }
            #expect(try await get(server, key, "/v1/reservations/\(id)").status == 404)
            let settle = try await post(server, key, "/v1/reservations/\(id)/settle", #"{"provider": "p", "cost_usd": 1}"#)
            #expect(settle.status == 404)
            let badEvent = try await post(server, otherKey, "/v1/reservations/\(id)/settle", #"{"cost_usd": 1}"#)
            #expect(badEvent.status == 400 && badEvent.json["field"] == .string("provider"))
            #expect(try await server.store.balance(org, at: Timestamp.now()).held == .zero)
            #expect(try await get(server, key, "/v1/reservations?active=maybe").status == 400)
            let wrongMethod = try await LoopbackClient.json(port: server.port, "DELETE", "/v1/reservations/\(id)", bearer: key)
            #expect(wrongMethod.status == 405 && wrongMethod.header("allow") == "GET")
            let wrongSettle = try await LoopbackClient.json(
                port: server.port, "GET", "/v1/reservations/\(id)/settle", bearer: key)
            #expect(wrongSettle.status == 405 && wrongSettle.header("allow") == "POST")
        }
    }

    /// The dashboard shows what is held beside the balance; the statement has a line for it
    /// (holds are not entries).
    @Test func dashboardAndStatementShowWhatIsHeld() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let (org, key) = try await server.organization(credit: "10")
            #expect(try await post(server, key, "/v1/reservations", #"{"amount_usd": 8}"#).status == 201)
            let page = try await LoopbackClient.send(port: server.port, "GET", "/?org=\(org.rawValue)")
            #expect(page.status == 200)
            #expect(page.text.contains("$8.00 held by active holds · $2.00 available"), "\(page.text.prefix(400))")
            let month = Timestamp.now().month.text
            let csv = try await LoopbackClient.send(
                port: server.port, "GET", "/report?org=\(org.rawValue)&month=\(month)&format=csv")
            #expect(csv.status == 200)
            let heldLine = csv.text.split(separator: "\n").first { $0.hasPrefix("holds,active,") }
            #expect(heldLine?.hasSuffix(",8,,") == true, "\(csv.text)")
            let html = try await LoopbackClient.send(
                port: server.port, "GET", "/report?org=\(org.rawValue)&month=\(month)&format=html")
            #expect(html.text.contains("Held by active holds at"))
        }
    }
}
