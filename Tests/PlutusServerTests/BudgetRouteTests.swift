import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("/v1/admin/budgets over real loopback HTTP, and the 402s budgets answer")
struct BudgetRouteTests {
    func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    @Test func createListRefuseAndDisable() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "1000")
            let created = try await server.admin(
                "POST", "/v1/admin/budgets",
                #"{"org_id": "\#(org.rawValue)", "scope": "workspace", "scope_id": "research", "limit_usd": 400, "period": "month", "mode": "hard", "alert_at": [0.8, 0.9, 1.0]}"#
            )
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["scope"] == .string("workspace") && created.json["label"] == .string("research"))
            #expect(created.json["limit_usd"] == .number("400") && created.json["spent_usd"] == .number("0"))
            #expect(created.json["alert_at"] == .array([.number("0.8"), .number("0.9"), .number("1")]))
            guard case .string(let id) = created.json["budget_id"] else {
                Issue.record("no budget id: \(created.text)")
                return
            }
            #expect(try await server.ingest(key, #"{"provider": "p", "cost_usd": 399.9, "workspace": "research"}"#).status == 200)
            let refused = try await server.ingest(key, #"{"provider": "p", "cost_usd": 0.5, "workspace": "research"}"#)
            #expect(refused.status == 402)
            #expect(refused.json["code"] == .string("budget_exceeded"))
            let month = Timestamp.now().month
            #expect(
                refused.json["error"]
                    == .string(
                        "budget exceeded: workspace research, $400.00 monthly, spent $399.90, this call $0.50, resets \(month.end.iso8601Seconds)"
                    ))
            #expect(refused.json["budget"]?["budget_id"] == .string(id))
            #expect(refused.json["budget"]?["spent_usd"] == .number("399.9"))
            #expect(refused.json["over_budget"] == .bool(true))
            #expect(refused.json["upgrade_url"] != nil)
            // A batch: the refused event is counted, the others land.
            let batch = try await server.ingest(
                key, #"[{"provider": "p", "cost_usd": 0.5, "workspace": "research"}, {"provider": "p", "cost_usd": 0.5}]"#)
            #expect(
                batch.status == 200 && batch.json["over_budget_blocked"] == .number("1") && batch.json["recorded"] == .number("1")
            )
            let hold = try await LoopbackClient.json(
                port: server.port, "POST", "/v1/reservations", bearer: key, #"{"amount_usd": 1, "workspace": "research"}"#)
            #expect(hold.status == 402 && hold.json["code"] == .string("budget_exceeded"))

            let listed = try await server.admin("GET", "/v1/admin/budgets?org_id=\(org.rawValue)")
            guard case .array(let budgets)? = listed.json["budgets"] else {
                Issue.record("no list: \(listed.text)")
                return
            }
            #expect(budgets.count == 1 && budgets[0]["spent_usd"] == .number("399.9"))
            #expect(budgets[0]["resets_at"] == .string(month.end.iso8601Seconds))

            let disabled = try await server.admin("POST", "/v1/admin/budgets/\(id)/disable", #"{"org_id": "\#(org.rawValue)"}"#)
            #expect(disabled.status == 200 && disabled.json["disabled_at"] != .null)
            #expect(try await server.ingest(key, #"{"provider": "p", "cost_usd": 0.5, "workspace": "research"}"#).status == 200)
            guard
                case .array(let remaining)? = try await server.admin("GET", "/v1/admin/budgets?org_id=\(org.rawValue)").json[
                    "budgets"]
            else { return }
            #expect(remaining.isEmpty)
            guard
                case .array(let everything)? = try await server.admin(
                    "GET", "/v1/admin/budgets?org_id=\(org.rawValue)&include_disabled=true"
                ).json["budgets"]
            else { return }
            #expect(everything.count == 1)
        }
    }

    @Test func badBudgetsNameTheField() async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            for (body, field, status) in [
                (#"{"org_id": "\#(org.rawValue)", "scope": "team", "limit_usd": 1}"#, "scope", 400),
                (#"{"org_id": "\#(org.rawValue)", "scope": "org", "limit_usd": -1}"#, "limit_usd", 400),
                (
                    #"{"org_id": "\#(org.rawValue)", "scope": "key", "scope_id": "key_0000000000000000", "limit_usd": 1}"#,
                    "scope_id", 400
                ),
                (#"{"org_id": "\#(org.rawValue)", "scope": "org", "limit_usd": 1, "limits": 2}"#, "limits", 400),
            ] {
                let response = try await server.admin("POST", "/v1/admin/budgets", body)
                #expect(response.status == status, "\(body): \(response.text)")
                #expect(response.json["field"] == .string(field), "\(body)")
            }
            #expect(
                try await server.admin("POST", "/v1/admin/budgets", #"{"org_id": "nope", "scope": "org", "limit_usd": 1}"#).status
                    == 404)
            #expect(try await server.admin("GET", "/v1/admin/budgets").status == 400)
            #expect(
                try await server.admin(
                    "POST", "/v1/admin/budgets/bgt_0000000000000000/disable", #"{"org_id": "\#(org.rawValue)"}"#
                )
                .status == 404)
            #expect(try await server.admin("GET", "/v1/admin/budgets?org_id=\(org.rawValue)", token: "wrong").status == 401)
        }
    }
}

@Suite("Expiring, prioritised grants over real loopback HTTP")
struct GrantRouteTests {
    @Test func anExpiringGrantIsListedAndSpentFirst() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let expires = Timestamp.now().adding(seconds: 86_400)
            let granted = try await server.admin(
                "POST", "/v1/admin/credits",
                #"{"org_id": "\#(org.rawValue)", "amount_usd": 5, "kind": "grant", "expires_at": "\#(expires.iso8601)", "priority": 1}"#
            )
            #expect(granted.status == 201, "\(granted.text)")
            #expect(granted.json["priority"] == .number("1"))
            #expect(try await server.ingest(key, #"{"provider": "p", "cost_usd": 2}"#).status == 200)
            let balance = try await LoopbackClient.json(port: server.port, "GET", "/v1/balance", bearer: key)
            guard case .array(let grants)? = balance.json["grants"] else {
                Issue.record("no grants: \(balance.text)")
                return
            }
            #expect(grants.count == 2)
            #expect(grants.first?["remaining_usd"] == .number("3") && grants.first?["priority"] == .number("1"))
            #expect(grants.first?["expires_at"] == .string(expires.iso8601Seconds))
            #expect(grants.last?["remaining_usd"] == .number("10"))
            for (body, field) in [
                (#"{"org_id": "\#(org.rawValue)", "amount_usd": 1, "expires_at": "yesterday"}"#, "expires_at"),
                (#"{"org_id": "\#(org.rawValue)", "amount_usd": 1, "expires_at": "2001-01-01T00:00:00Z"}"#, "expires_at"),
                (#"{"org_id": "\#(org.rawValue)", "amount_usd": 1, "priority": -3}"#, "priority"),
                (#"{"org_id": "\#(org.rawValue)", "amount_usd": 1, "priority": 1.5}"#, "priority"),
                (#"{"org_id": "\#(org.rawValue)", "amount_usd": -1, "kind": "adjust", "priority": 2}"#, "priority"),
            ] {
                let refused = try await server.admin("POST", "/v1/admin/credits", body)
                #expect(refused.status == 400 && refused.json["field"] == .string(field), "\(body): \(refused.text)")
            }
        }
    }
}
