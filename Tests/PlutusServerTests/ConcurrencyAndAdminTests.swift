import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("Money guards under concurrent HTTP load")
struct HTTPConcurrencyTests {
    func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    @Test func sixteenConnectionsOfFiftyEventsGiveTheExactBalance() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "100")
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        var seen: [Int] = []
                        for _ in 0..<50 {
                            seen.append(try await server.ingest(key, #"{"provider": "p", "cost_usd": 0.01}"#).status)
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(statuses.count == 800 && statuses.allSatisfy { $0 == 200 })
            #expect(try await server.balance(org) == dollars("92"))
            #expect(
                try await server.store.balance(org, at: Timestamp.seconds(Int64(Date().timeIntervalSince1970))).monthEvents == 800
            )
            #expect(try await server.store.verify().isClean)
        }
    }

    @Test func twentyFourRequestsWithOneKeyRecordOneBatch() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let replays = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        let response = try await server.ingest(
                            key, #"[{"provider": "p", "cost_usd": 1}, {"provider": "p", "cost_usd": 1}]"#, idempotencyKey: "burst"
                        )
                        return (response.status, response.json["idempotent_replay"] == .bool(true))
                    }
                }
                return try await group.reduce(into: [(Int, Bool)]()) { $0.append($1) }
            }
            #expect(replays.allSatisfy { $0.0 == 200 })
            #expect(replays.filter(\.1).count == 23)
            #expect(try await server.eventCount(org) == 2)
            #expect(try await server.balance(org) == dollars("-2"))
        }
    }

    @Test func twentyRequestsRacingFiveDollarsRecordExactlyFive() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "5")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await server.ingest(key, #"{"provider": "p", "cost_usd": 1}"#).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 5)
            #expect(statuses.filter { $0 == 402 }.count == 15)
            #expect(try await server.balance(org) == .zero)
            #expect(try await server.eventCount(org) == 5)
        }
    }
}

@Suite("Exports, admin API, health and metrics over loopback HTTP")
struct ExportAndAdminTests {
    @Test func exportsPageByCursorWithoutSkipsOrRepeats() async throws {
        try await TestServer.with { server in
            let (_, key) = try await server.organization()
            for index in 0..<23 {
                _ = try await server.ingest(key, #"{"provider": "p", "cost_usd": 0.01, "event_id": "e\#(index)"}"#)
            }
            // Newest first by default, as the original lists them; oldest first with order=asc.
            for (order, expected) in [("", (0..<23).reversed().map { "e\($0)" }), ("&order=asc", (0..<23).map { "e\($0)" })] {
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let path = "/v1/usage/export.json?limit=5" + order + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try await LoopbackClient.json(port: server.port, "GET", path, bearer: key)
                    #expect(page.status == 200)
                    guard case .array(let events) = page.json["events"] else {
                        Issue.record("no events")
                        return
                    }
                    seen += events.compactMap { $0["event_id"]?.stringValue }
                    cursor = page.json["next_cursor"].flatMap { if case .number(let n) = $0 { n } else { nil } }
                } while cursor != nil
                #expect(seen == expected)
            }
            // Without a limit everything is streamed at once, in the same order.
            let all = try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.json", bearer: key)
            #expect(all.json["count"] == .number("23"))
            guard case .array(let streamed) = all.json["events"] else {
                Issue.record("no events")
                return
            }
            #expect(streamed.first?["event_id"] == .string("e22") && streamed.last?["event_id"] == .string("e0"))
            let wrong = try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.json?order=up", bearer: key)
            #expect(wrong.status == 400 && wrong.json["field"] == .string("order"))
        }
    }

    @Test func csvExportNeutralisesFormulasAndFiltersByTime() async throws {
        try await TestServer.with { server in
            let (_, key) = try await server.organization()
            _ = try await server.ingest(
                key, #"{"provider": "=cmd|' /C calc'!A0", "model": "@SUM(1,2)", "task_type": "-x", "cost_usd": 1}"#)
            let csv = try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.csv", bearer: key)
            #expect(csv.status == 200)
            #expect(csv.header("content-type") == "text/csv; charset=utf-8")
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.count == 2)
            #expect(lines[0].hasPrefix("id,ts,provider,model,task_type,workspace,input_tokens"))
            #expect(lines[1].contains(",'=cmd|' /C calc'!A0,\"'@SUM(1,2)\",'-x,"))
            // Booleans read true/false, and the last column is the call's time in ISO 8601.
            #expect(lines[0].hasSuffix(",event_id,seq,time"))
            #expect(lines[1].contains(",false,api,"))
            let today = Timestamp.now().day
            #expect(lines[1].split(separator: ",").last?.hasPrefix(today.text + "T") == true)
            // Date filters read as the dashboard's: from the start of a day to the end of one.
            let byDay = try await LoopbackClient.json(
                port: server.port, "GET", "/v1/usage/export.csv?from=\(today.text)&to=\(today.text)", bearer: key)
            #expect(byDay.text.split(separator: "\r\n").count == 2)
            let before = try await LoopbackClient.json(
                port: server.port, "GET", "/v1/usage/export.csv?to=\(today.adding(days: -1).text)", bearer: key)
            #expect(before.text.split(separator: "\r\n").count == 1)
            let future = Int(Date().timeIntervalSince1970) + 3_600
            let none = try await LoopbackClient.json(
                port: server.port, "GET", "/v1/usage/export.csv?since=\(future)", bearer: key)
            #expect(none.text.split(separator: "\r\n").count == 1)
            let bad = try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.csv?since=soon", bearer: key)
            #expect(bad.status == 400)
            #expect(try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.csv").status == 401)
        }
    }

    @Test func adminAPILifecycle() async throws {
        try await TestServer.with { server in
            #expect(try await server.admin("GET", "/v1/admin/orgs", token: nil).status == 401)
            #expect(
                try await server.admin("GET", "/v1/admin/orgs", token: "wrong").json["error"] == .string("invalid admin token"))
            let created = try await server.admin("POST", "/v1/admin/orgs", #"{"name": " Beta Co ", "tier": "PRO"}"#)
            #expect(created.status == 201)
            #expect(created.json["tier"] == .string("pro"))
            guard case .string(let org) = created.json["id"] else {
                Issue.record("no id")
                return
            }
            let grant = try await server.admin(
                "POST", "/v1/admin/credits", #"{"org_id": "\#(org)", "amount_usd": 25}"#, headers: [("Idempotency-Key", "g1")])
            #expect(grant.status == 201)
            #expect(grant.json["balance_after"] == .number("25"))
            let retried = try await server.admin(
                "POST", "/v1/admin/credits", #"{"org_id": "\#(org)", "amount_usd": 25}"#, headers: [("Idempotency-Key", "g1")])
            #expect(retried.status == 200 && retried.json["idempotent_replay"] == .bool(true))
            let adjusted = try await server.admin(
                "POST", "/v1/admin/credits", #"{"org_id": "\#(org)", "amount_usd": -5, "kind": "adjust"}"#)
            #expect(adjusted.json["balance_after"] == .number("20"))
            let key = try await server.admin("POST", "/v1/admin/keys", #"{"org_id": "\#(org)", "name": "bot"}"#)
            #expect(key.status == 201)
            #expect(key.json["secret"]?.stringValue?.hasPrefix("plutus_sk_") == true)
            let keys = try await server.admin("GET", "/v1/admin/keys?org=\(org)")
            #expect(!keys.text.contains("secret"))
            // org_id, like every other admin call; a missing org names the parameter.
            let byID = try await server.admin("GET", "/v1/admin/keys?org_id=\(org)")
            #expect(byID.status == 200 && byID.json["keys"] == keys.json["keys"])
            let missing = try await server.admin("GET", "/v1/admin/keys")
            #expect(missing.status == 400 && missing.json["field"] == .string("org_id"))
            #expect(try await server.admin("GET", "/v1/admin/keys?org_id=nope").status == 404)
            // One name, one organization: no silent twins, unless a keyed retry replays it.
            let twin = try await server.admin("POST", "/v1/admin/orgs", #"{"name": "Beta Co", "tier": "pro"}"#)
            #expect(twin.status == 409)
            #expect(twin.json["error"]?.stringValue?.contains(org) == true)
            let sameSlug = try await server.admin("POST", "/v1/admin/orgs", #"{"name": "BETA  co"}"#)
            #expect(sameSlug.status == 409)
            let replay = try await server.admin(
                "POST", "/v1/admin/orgs", #"{"name": "Beta Co", "tier": "pro"}"#, headers: [("Idempotency-Key", "create-beta")])
            #expect(replay.status == 200 && replay.json["id"] == .string(org) && replay.json["idempotent_replay"] == .bool(true))
            let otherTier = try await server.admin(
                "POST", "/v1/admin/orgs", #"{"name": "Beta Co", "tier": "free"}"#, headers: [("Idempotency-Key", "create-beta-2")]
            )
            #expect(otherTier.status == 409)
            let orgs = try await server.admin("GET", "/v1/admin/orgs")
            #expect(orgs.json["orgs"].map { if case .array(let list) = $0 { list.count } else { 0 } } == 1)
        }
    }

    @Test(
        arguments: [
            ("/v1/admin/orgs", #"{"tier": "pro"}"#, 400, "name is required"),
            ("/v1/admin/orgs", #"{"name": "X", "tier": "gold"}"#, 400, "tier must be free|pro|team|enterprise"),
            ("/v1/admin/orgs", #"{"name": 5}"#, 400, "name must be a string"),
            ("/v1/admin/orgs", #"[1]"#, 400, "body must be a JSON object"),
            ("/v1/admin/orgs", #"nope"#, 400, "body must be JSON"),
            ("/v1/admin/credits", #"{"org_id": "nope", "amount_usd": 5}"#, 404, "unknown org"),
            (
                "/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": "five"}"#, 400,
                "amount_usd must be a non-zero finite number"
            ),
            ("/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": true}"#, 400, "amount_usd must be a number"),
            ("/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": 0}"#, 400, "amount_usd must be a non-zero finite number"),
            ("/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": NaN}"#, 400, "amount_usd must be a non-zero finite number"),
            (
                "/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": -1}"#, 400,
                "a grant must be positive; use kind=adjust to debit"
            ),
            ("/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": 1, "kind": "gift"}"#, 400, "kind must be grant|adjust"),
            ("/v1/admin/credits", #"{"org_id": "ORG", "amount_usd": 1e12}"#, 400, "amount_usd must be at most"),
            ("/v1/admin/credits", #"{"org_id": 7, "amount_usd": 1}"#, 400, "org_id must be a string"),
            ("/v1/admin/keys", #"{"org_id": "nope"}"#, 404, "unknown org"),
            ("/v1/admin/keys/revoke", #"{"org_id": "ORG", "key_id": "x"}"#, 400, "key_id must look like"),
            ("/v1/admin/elsewhere", #"{}"#, 404, "no admin route for /v1/admin/elsewhere"),
        ] as [(String, String, Int, String)])
    func adminErrorsAreClean(path: String, body: String, status: Int, message: String) async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            let response = try await server.admin("POST", path, body.replacingOccurrences(of: "ORG", with: org.rawValue))
            #expect(response.status == status)
            #expect(response.json["error"]?.stringValue?.hasPrefix(message) == true, "\(response.text)")
            #expect(try await server.balance(org) == .zero)
        }
    }

    @Test func adminIsOffWithoutAToken() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let response = try await LoopbackClient.json(port: server.port, "GET", "/v1/admin/orgs", bearer: "anything")
            #expect(response.status == 404)
            #expect(response.json["error"] == .string("admin API not enabled"))
        }
    }

    @Test func healthMetricsAndUnknownRoutes() async throws {
        try await TestServer.with { server in
            let health = try await LoopbackClient.json(port: server.port, "GET", "/healthz")
            #expect(health.status == 200 && health.json["ok"] == .bool(true))
            #expect(health.header("x-content-type-options") == "nosniff")
            let (_, key) = try await server.organization(credit: "1")
            _ = try await server.ingest(key, #"{"provider": "p", "cost_usd": 0.5}"#)
            _ = try await server.ingest(key, #"{"provider": "p", "cost_usd": 5}"#)
            let missing = try await LoopbackClient.json(port: server.port, "POST", "/nowhere/<script>", "{}")
            #expect(missing.status == 404)
            #expect(missing.header("content-type") == "application/json")
            let wrongMethod = try await LoopbackClient.json(port: server.port, "DELETE", "/v1/usage")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("allow") == "POST")
            let metrics = try await LoopbackClient.json(port: server.port, "GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"plutus_http_requests_total{route="/v1/usage",method="POST",status="200"} 1"#))
            #expect(metrics.text.contains(#"plutus_http_requests_total{route="/v1/usage",method="POST",status="402"} 1"#))
            #expect(metrics.text.contains(#"plutus_usage_events_total{outcome="recorded"} 1"#))
            #expect(metrics.text.contains(#"plutus_usage_events_total{outcome="rejected_over_balance"} 1"#))
            #expect(metrics.text.contains("plutus_http_request_duration_seconds_bucket"))
        }
    }
}
