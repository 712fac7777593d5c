import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("Dashboard: pages, JSON, escaping, CSP, CSRF and sign-in over loopback HTTP")
struct DashboardTests {
    static let hostile = "<script>alert(1)</script>"

    static func get(_ server: TestServer, _ path: String, headers: [(String, String)] = []) async throws -> HTTPResult {
        try await LoopbackClient.send(port: server.port, "GET", path, headers: headers)
    }

    static func post(_ server: TestServer, _ path: String, _ fields: [(String, String)], origin: String? = nil)
        async throws -> HTTPResult
    {
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
        return try await LoopbackClient.send(
            port: server.port, "POST", path,
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", origin ?? "http://127.0.0.1:\(server.port)"),
            ], body: Array(body.utf8))
    }

    static func csrf(_ page: HTTPResult) -> String {
        String(page.text.components(separatedBy: "name=\"_csrf\" value=\"").dropFirst().first?.prefix(64) ?? "")
    }

    /// An organization with a hostile name, workspace and model, and some usage.
    static func seed(_ server: TestServer) async throws -> OrganizationID {
        let org = try await server.organization(hostile, credit: "50").id
        _ = try await server.store.createWorkspace(org, name: "ws \(hostile)", monthlyBudget: MicroDollars.dollars(10))
        _ = try await server.store.recordUsage(
            UsageBatch(
                organizationID: org,
                events: [
                    UsageEventInput(
                        provider: "anthropic", model: "m\(hostile)", taskType: "chat", workspace: "ws \(hostile)",
                        exactCost: MicroDollars.dollars(3)),
                    UsageEventInput(provider: "openai", model: "gpt-5-mini", tokens: TokenCounts(input: 1_000, output: 500)),
                ], receivedAt: Timestamp.now()))
        return org
    }

    @Test func theDashboardShowsTheOrganizationWithEveryUserStringEscaped() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await Self.seed(server)
            let page = try await Self.get(server, "/?org=\(org.rawValue)")
            #expect(page.status == 200)
            #expect(!page.text.contains(Self.hostile))
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            let balance = try await server.balance(org)
            #expect(page.text.contains("id=\"balance\">\(balance.formatted)<"))
            #expect(page.text.contains("<svg class=\"chart\""))
            #expect(page.text.contains("id=\"feed\""))
            #expect(page.text.contains("anthropic") && page.text.contains("gpt-5-mini"))
            let csp = try #require(page.header("content-security-policy"))
            #expect(!csp.contains("unsafe-inline") && csp.contains("script-src 'nonce-"))
            let nonce = try #require(csp.components(separatedBy: "script-src 'nonce-").dropFirst().first?.prefix(32))
            #expect(page.text.contains("<script nonce=\"\(nonce)\">"))
            #expect(page.header("x-frame-options") == "DENY" && page.header("x-content-type-options") == "nosniff")
        }
    }

    @Test func drillDownAndDateRangeNarrowTheSummary() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await Self.seed(server)
            let workspace = try #require(try await server.store.listWorkspaces(org).first)
            let today = Timestamp.now().day.text
            let page = try await Self.get(
                server, "/?org=\(org.rawValue)&workspace=\(workspace.id.rawValue)&from=\(today)&to=\(today)")
            #expect(page.status == 200 && page.text.contains("all workspaces"))
            #expect(!page.text.contains("gpt-5-mini</a>") && !page.text.contains(">gpt-5-mini</td>"))
            let summary = try await LoopbackClient.json(
                port: server.port, "GET", "/api/summary?org=\(org.rawValue)&workspace=\(workspace.id.rawValue)")
            #expect(summary.status == 200)
            #expect(summary.json["totals"]?["cost"] == .number("3"))
            #expect(summary.json["totals"]?["events"] == .number("1"))
            let all = try await LoopbackClient.json(port: server.port, "GET", "/api/summary?org=\(org.rawValue)")
            #expect(all.json["totals"]?["events"] == .number("2"))
            let bad = try await LoopbackClient.json(port: server.port, "GET", "/api/summary?org=\(org.rawValue)&from=2026-13-01")
            #expect(bad.status == 400)
        }
    }

    @Test func eventsAndLedgerPageWithACursor() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await Self.seed(server)
            let first = try await LoopbackClient.json(port: server.port, "GET", "/api/events?org=\(org.rawValue)&limit=1")
            #expect(first.status == 200)
            guard case .array(let items)? = first.json["items"], case .number(let cursor)? = first.json["next_before"] else {
                Issue.record("no items or cursor: \(first.text)")
                return
            }
            #expect(items.count == 1)
            let second = try await LoopbackClient.json(
                port: server.port, "GET", "/api/events?org=\(org.rawValue)&limit=1&before=\(cursor)")
            guard case .array(let rest)? = second.json["items"] else {
                Issue.record("no items")
                return
            }
            #expect(rest.count == 1 && rest[0]["seq"] != items[0]["seq"] && second.json["next_before"] == .null)
            let ledger = try await LoopbackClient.json(port: server.port, "GET", "/api/ledger?org=\(org.rawValue)&limit=1")
            #expect(ledger.status == 200 && ledger.json["next_before"] != .null)
            let orgs = try await LoopbackClient.json(port: server.port, "GET", "/api/orgs")
            #expect(orgs.text.contains("\\u003cscript") || orgs.text.contains("<script>alert(1)"))
            #expect(orgs.header("content-type") == "application/json")
            let unknown = try await LoopbackClient.json(port: server.port, "GET", "/api/events?org=nope")
            #expect(unknown.status == 404)
        }
    }

    @Test func keyFormsNeedTheTokenAndThisOrigin() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await Self.seed(server)
            let token = Self.csrf(try await Self.get(server, "/?org=\(org.rawValue)"))
            #expect(token.count == 64)
            let noToken = try await Self.post(server, "/keys/create", [("org", org.rawValue), ("name", "x")])
            #expect(noToken.status == 403)
            let otherOrigin = try await Self.post(
                server, "/keys/create", [("org", org.rawValue), ("name", "x"), ("_csrf", token)], origin: "http://evil.example")
            #expect(otherOrigin.status == 403)
            #expect(otherOrigin.header("x-frame-options") == "DENY")
            let created = try await Self.post(
                server, "/keys/create", [("org", org.rawValue), ("name", Self.hostile), ("_csrf", token)])
            #expect(created.status == 200 && created.text.contains("plutus_sk_") && !created.text.contains(Self.hostile))
            #expect(created.header("cache-control") == "no-store")
            let keys = try await server.store.listAPIKeys(org)
            let made = try #require(keys.first { $0.name == Self.hostile })
            let revokeWithoutToken = try await Self.post(
                server, "/keys/revoke", [("org", org.rawValue), ("key", made.id.rawValue)])
            #expect(revokeWithoutToken.status == 403)
            let revoked = try await Self.post(
                server, "/keys/revoke", [("org", org.rawValue), ("key", made.id.rawValue), ("_csrf", token)])
            #expect(revoked.status == 303 && revoked.header("location") == "/?org=\(org.rawValue)")
            #expect(revoked.header("x-content-type-options") == "nosniff" && revoked.header("content-security-policy") != nil)
            #expect(try await server.store.listAPIKeys(org).first { $0.id == made.id }?.revokedAt != nil)
        }
    }

    @Test func notFoundPagesEscapeThePath() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let html = try await Self.get(server, "/%3Cscript%3Ealert(1)%3C/script%3E", headers: [("Accept", "text/html")])
            #expect(html.status == 404 && html.header("content-type")?.hasPrefix("text/html") == true)
            #expect(!html.text.contains("<script>"))
            let json = try await Self.get(server, "/nothing-here")
            #expect(json.status == 404 && json.header("content-type") == "application/json")
            let org = try await Self.get(
                server, "/?org=\(Self.hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect(org.status == 404 && !org.text.contains(Self.hostile) && org.text.contains("&lt;script&gt;"))
        }
    }

    @Test func pricingIsPublicAndNamesTheCatalog() async throws {
        try await TestServer.with { server in
            let page = try await Self.get(server, "/pricing")
            #expect(page.status == 200)
            #expect(page.text.contains("Pro") && page.text.contains("$20/mo") && page.text.contains("claude-opus-4-8"))
            #expect(page.text.contains(PriceCatalog.builtin.asOf))
        }
    }

    @Test func withAnAdminTokenPagesAndJSONAskForIt() async throws {
        try await TestServer.with(adminToken: "test-admin-token") { server in
            let org = try await Self.seed(server)
            let page = try await Self.get(server, "/?org=\(org.rawValue)")
            #expect(page.status == 303 && page.header("location") == "/login")
            #expect(try await Self.get(server, "/report?org=\(org.rawValue)").status == 303)
            #expect(try await LoopbackClient.json(port: server.port, "GET", "/api/orgs").status == 401)
            let bearer = try await LoopbackClient.json(port: server.port, "GET", "/api/orgs", bearer: "test-admin-token")
            #expect(bearer.status == 200)
            let login = try await Self.get(server, "/login")
            let token = Self.csrf(login)
            let wrong = try await Self.post(server, "/login", [("token", "nope"), ("_csrf", token)])
            #expect(wrong.status == 401)
            let forged = try await Self.post(server, "/login", [("token", "test-admin-token")])
            #expect(forged.status == 403)
            let signedIn = try await Self.post(server, "/login", [("token", "test-admin-token"), ("_csrf", token)])
            #expect(signedIn.status == 303)
            let cookie = try #require(signedIn.header("set-cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("test-admin-token"))
            let session = String(cookie.prefix { $0 != ";" })
            let dashboard = try await Self.get(server, "/?org=\(org.rawValue)", headers: [("Cookie", session)])
            #expect(dashboard.status == 200 && dashboard.text.contains("id=\"balance\""))
        }
    }

    @Test func theStatementReconcilesInHTMLAndCSV() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await Self.seed(server)
            let month = Timestamp.now().month.text
            let html = try await Self.get(server, "/report?org=\(org.rawValue)&month=\(month)&format=html")
            #expect(html.status == 200 && html.text.contains("Opening balance") && html.text.contains("Closing balance"))
            #expect(!html.text.contains(Self.hostile))
            let csv = try await Self.get(server, "/report?org=\(org.rawValue)&month=\(month)&format=csv")
            #expect(csv.status == 200 && csv.header("content-type")?.hasPrefix("text/csv") == true)
            var credit: [String: Int64] = [:]
            for line in csv.text.split(separator: "\n") where line.hasPrefix("credit,") {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                credit[String(fields[1])] = try MicroDollars.parse(String(fields[3])).get().rawValue
            }
            let movements = credit.filter { $0.key != "opening" && $0.key != "closing" }.values.reduce(0, +)
            #expect(credit["opening"] == 0)
            #expect(credit["opening"]! + movements == credit["closing"])
            #expect(credit["closing"] == (try await server.balance(org)).rawValue)
            #expect(try await Self.get(server, "/report?org=\(org.rawValue)&month=2999-01").status == 400)
        }
    }
}
