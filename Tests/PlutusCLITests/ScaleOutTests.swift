import Foundation
import PlutusCore
import PlutusGatewayTesting
import PlutusPostgres
import PlutusStoreTesting
import Synchronization
import Testing

let testServerURL = ProcessInfo.processInfo.environment["PLUTUS_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

/// Three real `plutus serve` processes on one PostgreSQL database, load spread over them.
@Suite(
    "Scale-out: three servers on one PostgreSQL database", .serialized,
    .enabled(if: testServerURL != nil, "set PLUTUS_TEST_DATABASE_URL"))
struct ScaleOutTests {
    static let webhookSecret = "whsec_scale"

    /// A fresh database of its own, with one organization, a grant and a key.
    static func setUp(_ cli: CLI, grant: String) async throws -> (url: String, name: String, secret: String, org: String) {
        let name = "plutus_scale_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try await PostgresAdmin.createDatabase(url: try #require(testServerURL), name: name)
        let created = try cli.run("init", "--org", "Scale Co", "--tier", "pro", "--database-url", url)
        #expect(created.status == 0, "\(created.stderr)")
        try cli.run("grant", "--amount", grant, "--database-url", url)
        let secret = try cli.json("keys", "create", "--database-url", url)["secret"]?.stringValue ?? ""
        let org = try cli.json("balance", "--database-url", url)["org_id"]?.stringValue ?? ""
        return (url, name, secret, org)
    }

    static func startThree(_ url: String, environment: [String: String] = [:]) async throws -> [ServeProcess] {
        let servers = try (0..<3).map { _ in
            try ServeProcess(
                port: try ServeTests.freePort(), arguments: ["--database-url", url],
                environment: environment.merging(["STRIPE_WEBHOOK_SECRET": webhookSecret]) { $1 })
        }
        for server in servers { try await CrashSafetyTests.waitUntilUp(server.port) }
        return servers
    }

    static func usage(_ port: Int, _ secret: String, cost: String, eventID: String, key: String? = nil) async throws -> HTTPResult
    {
        try await LoopbackClient.json(
            port: port, "POST", "/v1/usage", bearer: secret, headers: key.map { [("Idempotency-Key", $0)] } ?? [],
            #"{"provider": "p", "cost_usd": \#(cost), "event_id": "\#(eventID)"}"#)
    }

    @Test func loadSpreadOverThreeServersKeepsExactBooks() async throws {
        let cli = CLI()
        let setup = try await Self.setUp(cli, grant: "100")
        let servers = try await Self.startThree(setup.url)
        defer { servers.forEach { $0.stop() } }
        // 3 servers × 8 clients × 25 calls of $0.01, every call acknowledged.
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for (s, server) in servers.enumerated() {
                for client in 0..<8 {
                    group.addTask {
                        var seen: [Int] = []
                        for call in 0..<25 {
                            seen.append(
                                try await Self.usage(server.port, setup.secret, cost: "0.01", eventID: "e-\(s)-\(client)-\(call)")
                                    .status)
                        }
                        return seen
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(
            statuses.count == 600 && statuses.allSatisfy { $0 == 200 },
            "\(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        // The same Idempotency-Key sent to two processes at once records once.
        let pairs = try await withThrowingTaskGroup(of: (Int, HTTPResult).self) { group in
            for pair in 0..<10 {
                for server in servers.prefix(2) {
                    group.addTask {
                        (
                            pair,
                            try await Self.usage(
                                server.port, setup.secret, cost: "0.01", eventID: "dup-\(pair)", key: "key-\(pair)")
                        )
                    }
                }
            }
            return try await group.reduce(into: [Int: [HTTPResult]]()) { $0[$1.0, default: []].append($1.1) }
        }
        for (pair, results) in pairs {
            #expect(results.map(\.status) == [200, 200], "pair \(pair)")
            #expect(results[0].json["event_id"] == results[1].json["event_id"], "pair \(pair): one event for one key")
        }
        // One Stripe event delivered to all three at once credits once.
        let checkout = StripeFixtures.event(
            id: "evt_scale", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: setup.org, amountCents: "2500", paymentIntent: "pi_scale"))
        let deliveries = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for server in servers {
                group.addTask {
                    let signed = StripeSignature.header(
                        payload: Array(checkout.utf8), secret: Self.webhookSecret, timestamp: Int64(Date().timeIntervalSince1970))
                    return try await LoopbackClient.send(
                        port: server.port, "POST", "/webhook/stripe", headers: [("Stripe-Signature", signed)],
                        body: Array(checkout.utf8))
                }
            }
            return try await group.reduce(into: [HTTPResult]()) { $0.append($1) }
        }
        #expect(deliveries.allSatisfy { $0.status == 200 })
        #expect(deliveries.filter { $0.json["result"]?["status"] == .string("credited") }.count == 1)
        // $100 + $25 − 610 × $0.01 = $118.90, 610 events, and the ledger verifies.
        let balance = try cli.json("balance", "--database-url", setup.url)
        #expect(balance["balance"] == .money(MicroDollars(rawValue: 118_900_000)))
        #expect(balance["mtd_events"] == .number("610"), "\(balance)")
        #expect(try cli.run("verify", "--database-url", setup.url).status == 0)
        servers.forEach { $0.stop() }
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
    }

    @Test func hardStopHoldsAcrossProcesses() async throws {
        let cli = CLI()
        let setup = try await Self.setUp(cli, grant: "5")
        let servers = try await Self.startThree(setup.url)
        defer { servers.forEach { $0.stop() } }
        // $5 of credit, 30 concurrent $1 calls over three processes: exactly five land.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for call in 0..<30 {
                let server = servers[call % 3]
                group.addTask { try await Self.usage(server.port, setup.secret, cost: "1", eventID: "stop-\(call)").status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count == 5)
        #expect(statuses.filter { $0 == 402 }.count == 25)
        #expect(try cli.json("balance", "--database-url", setup.url)["balance"] == .money(.zero))
        #expect(try cli.run("verify", "--database-url", setup.url).status == 0)
        servers.forEach { $0.stop() }
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
    }

    /// $1.00 of credit, 64 concurrent holds of $0.10 over three processes: exactly ten are
    /// placed, then settled and released over the three, and the books verify.
    @Test func holdsNeverOverspendAcrossProcesses() async throws {
        let cli = CLI()
        let setup = try await Self.setUp(cli, grant: "1")
        let servers = try await Self.startThree(setup.url)
        defer { servers.forEach { $0.stop() } }
        let answers = try await withThrowingTaskGroup(of: (Int, HTTPResult).self) { group in
            for call in 0..<64 {
                let server = servers[call % 3]
                group.addTask {
                    (
                        call,
                        try await LoopbackClient.json(
                            port: server.port, "POST", "/v1/reservations", bearer: setup.secret, #"{"amount_usd": 0.1}"#)
                    )
                }
            }
            return try await group.reduce(into: [(Int, HTTPResult)]()) { $0.append($1) }
        }
        let placed = answers.filter { $0.1.status == 201 }
        #expect(placed.count == 10, "\(Dictionary(grouping: answers.map(\.1.status), by: { $0 }).mapValues(\.count))")
        #expect(answers.filter { $0.1.status == 402 }.count == 54)
        var balance = try cli.json("balance", "--database-url", setup.url)
        #expect(balance["held_usd"] == .money(MicroDollars(rawValue: 1_000_000)) && balance["available_usd"] == .money(.zero))
        // Half are settled at $0.04 and half released, each on another process than placed it.
        for (index, (call, answer)) in placed.enumerated() {
            guard case .string(let id)? = answer.json["reservation_id"] else { continue }
            let port = servers[(call + 1) % 3].port
            let closed =
                index % 2 == 0
                ? try await LoopbackClient.json(
                    port: port, "POST", "/v1/reservations/\(id)/settle", bearer: setup.secret,
                    #"{"provider": "p", "cost_usd": 0.04}"#)
                : try await LoopbackClient.json(port: port, "POST", "/v1/reservations/\(id)/release", bearer: setup.secret)
            #expect(closed.status == 200, "\(closed.body)")
        }
        balance = try cli.json("balance", "--database-url", setup.url)
        #expect(balance["held_usd"] == .money(.zero))
        #expect(balance["balance"] == .money(MicroDollars(rawValue: 800_000)), "\(balance)")
        #expect(try cli.run("verify", "--database-url", setup.url).status == 0)
        servers.forEach { $0.stop() }
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
    }

    /// 64 streamed calls through the gateways of three servers, with credit for ten of their
    /// worst cases: exactly ten reach the provider. The fake provider holds every answer back
    /// until all 64 are decided, so no settle gives credit back early.
    @Test func gatewayCallsNeverOverspendAcrossProcesses() async throws {
        let cli = CLI()
        let fake = FakeUpstream(key: "sk-upstream-scale")
        try await fake.run { upstreamPort in
            let body =
                #"{"model":"gpt-5-mini","stream":true,"max_completion_tokens":100,"messages":[{"role":"user","content":"[gate] hello"}]}"#
            let call = try GatewayCalls.read(
                try JSONValue.parse(body), bytes: body.utf8.count, route: .chatCompletions,
                defaultOutputTokens: Limits.gatewayOutputTokensDefault)
            let worst = try GatewayCalls.worstCase(call, catalog: .builtin, allowUnpriced: false)
            let setup = try await Self.setUp(cli, grant: MicroDollars(rawValue: worst.rawValue * 10).decimalString)
            let servers = try await Self.startThree(
                setup.url,
                environment: [
                    "PLUTUS_GATEWAY_OPENAI_URL": "http://127.0.0.1:\(upstreamPort)",
                    "PLUTUS_GATEWAY_OPENAI_KEY": "sk-upstream-scale",
                ])
            defer { servers.forEach { $0.stop() } }
            let refused = Tally()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for call in 0..<64 {
                    let server = servers[call % 3]
                    group.addTask {
                        let status = try await LoopbackClient.json(
                            port: server.port, "POST", "/gateway/openai/v1/chat/completions", bearer: setup.secret, body
                        ).status
                        if status == 402 { refused.add() }
                        return status
                    }
                }
                for _ in 0..<1_000 where refused.count + fake.seen.calls < 64 { try await Task.sleep(nanoseconds: 10_000_000) }
                fake.openGate()
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 10, "\(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            #expect(statuses.filter { $0 == 402 }.count == 54)
            #expect(fake.seen.calls == 10)
            let balance = try cli.json("balance", "--database-url", setup.url)
            #expect(balance["held_usd"] == .money(.zero) && balance["mtd_events"] == .number("10"), "\(balance)")
            #expect(try cli.run("verify", "--database-url", setup.url).status == 0)
            servers.forEach { $0.stop() }
            try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
        }
    }

    /// The same against a $1.00 workspace budget, with plenty of credit: exactly ten holds.
    @Test func budgetsNeverOverspendAcrossProcesses() async throws {
        let cli = CLI()
        let setup = try await Self.setUp(cli, grant: "100")
        let created = try cli.run(
            "budget", "create", "--scope", "workspace", "--scope-id", "research", "--limit", "1", "--database-url", setup.url)
        #expect(created.status == 0, "\(created.stderr)")
        let servers = try await Self.startThree(setup.url)
        defer { servers.forEach { $0.stop() } }
        let answers = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for call in 0..<64 {
                let server = servers[call % 3]
                group.addTask {
                    try await LoopbackClient.json(
                        port: server.port, "POST", "/v1/reservations", bearer: setup.secret,
                        #"{"amount_usd": 0.1, "workspace": "research"}"#)
                }
            }
            return try await group.reduce(into: [HTTPResult]()) { $0.append($1) }
        }
        #expect(answers.filter { $0.status == 201 }.count == 10)
        #expect(answers.filter { $0.status == 402 && $0.json["code"] == .string("budget_exceeded") }.count == 54)
        let listed = try cli.json("budget", "list", "--database-url", setup.url)
        guard case .array(let budgets)? = listed["budgets"] else {
            Issue.record("no budgets listed: \(listed)")
            return
        }
        #expect(budgets.count == 1 && budgets[0]["held_usd"] == .money(MicroDollars(rawValue: 1_000_000)))
        #expect(try cli.run("verify", "--database-url", setup.url).status == 0)
        servers.forEach { $0.stop() }
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
    }

    /// Behind one address: a sign-in begun on one server ends on another (its state is in the
    /// database), the session works on all three, and signing out everywhere on one ends it on all.
    @Test(.enabled(if: OpenIDProviderMock.executable != nil || BrowserTests.inCI, "needs oidc-provider-mock"))
    func sessionsWorkOnEveryServer() async throws {
        let cli = CLI()
        let setup = try await Self.setUp(cli, grant: "10")
        let added = try cli.run(
            "members", "add", "--org", setup.org, "--email", "ada@scale.example", "--role", "admin", "--database-url", setup.url)
        #expect(added.status == 0, "\(added.stderr)")
        try await OpenIDProviderMock.with { provider in
            try await provider.person("ada", email: "ada@scale.example")
            let ports = try (0..<3).map { _ in try ServeTests.freePort() }
            let base = "http://127.0.0.1:\(ports[0])"
            let servers = try ports.map { port in
                try ServeProcess(
                    port: port, arguments: ["--database-url", setup.url],
                    environment: [
                        "PLUTUS_OIDC_ISSUER": provider.issuer, "PLUTUS_OIDC_CLIENT_ID": "plutus-scale",
                        "PLUTUS_OIDC_CLIENT_SECRET": "scale-secret", "PLUTUS_BASE_URL": base,
                    ])
            }
            defer { for server in servers { server.stop() } }
            for server in servers { try await CrashSafetyTests.waitUntilUp(server.port) }

            // Begun on the first server, ended on the second.
            var first = Browser(port: ports[0])
            let start = try await first.get("/auth/login")
            let back = try await provider.authorize(try #require(start.header("location")), as: "ada")
            let callback = String(try #require(back.header("location")).dropFirst(base.count))
            var second = Browser(port: ports[1])
            second.cookies = first.cookies
            let signedIn = try await second.get(callback)
            #expect(signedIn.status == 303 && second.cookies["plutus_session"] != nil, "\(signedIn.text)")

            // The session, on every server.
            for port in ports {
                var browser = Browser(port: port)
                browser.cookies = second.cookies
                let page = try await browser.get("/?org=\(setup.org)")
                #expect(page.status == 200 && page.text.contains("ada@scale.example · admin"), "server on \(port)")
            }
            // A second session elsewhere, then sign out everywhere from the third server.
            var laptop = Browser(port: ports[2])
            let again = try await laptop.get("/auth/login")
            let answer = try await provider.authorize(try #require(again.header("location")), as: "ada")
            let laptopSignedIn = try await laptop.get(String(try #require(answer.header("location")).dropFirst(base.count)))
            #expect(laptopSignedIn.status == 303)
            var third = Browser(port: ports[2])
            third.cookies = second.cookies
            third.origin = base
            // The form comes from the first server and is posted to the third: both issue one token.
            var formPage = Browser(port: ports[0])
            formPage.cookies = second.cookies
            let csrf =
                try await formPage.get("/?org=\(setup.org)").text.components(separatedBy: "name=\"_csrf\" value=\"")
                .dropFirst().first.map { String($0.prefix(64)) } ?? ""
            let out = try await third.post("/auth/logout", [("everywhere", "1"), ("_csrf", csrf)])
            #expect(out.status == 303)
            for port in ports {
                var stale = Browser(port: port)
                stale.cookies = second.cookies
                #expect(try await stale.get("/").status == 303)
                var laptopHere = Browser(port: port)
                laptopHere.cookies = laptop.cookies
                #expect(try await laptopHere.get("/").status == 303)
            }
        }
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: setup.name)
    }

    @Test func serveRefusesAnUnmigratedDatabaseUntilAsked() async throws {
        let cli = CLI()
        let name = "plutus_scale_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try await PostgresAdmin.createDatabase(url: try #require(testServerURL), name: name)
        let refused = try cli.run("serve", "--port", String(try ServeTests.freePort()), "--database-url", url)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("plutus migrate"), "\(refused.stderr)")
        let migrated = try cli.run("migrate", "--database-url", url)
        #expect(migrated.status == 0 && migrated.stdout.contains("applied v1-foundation"), "\(migrated.stdout)\(migrated.stderr)")
        #expect(try cli.run("migrate", "--database-url", url).stdout.contains("nothing to do"))
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: name)
    }

    @Test func migrateDataMovesAnEmbeddedInstallAndProvesIt() async throws {
        let cli = CLI()
        #expect(try cli.run("demo").status == 0)
        let name = "plutus_scale_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try await PostgresAdmin.createDatabase(url: try #require(testServerURL), name: name)
        let moved = try cli.run("migrate-data", "--from", cli.home + "/demo.db", "--to", url)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("all equal ✓") && moved.stdout.contains("verify PostgreSQL: clean ✓"))
        let before = try cli.json("balance", "--db", cli.home + "/demo.db")
        let after = try cli.json("balance", "--database-url", url)
        #expect(before["balance"] == after["balance"] && before["balance"] != nil)
        // A second run refuses: the target is no longer empty, and nothing changes.
        let again = try cli.run("migrate-data", "--from", cli.home + "/demo.db", "--to", url)
        #expect(again.status == 1 && again.stderr.contains("empty database"))
        #expect(try cli.json("balance", "--database-url", url)["balance"] == after["balance"])
        try await PostgresAdmin.dropDatabase(url: try #require(testServerURL), name: name)
    }
}

/// A count shared by concurrent tasks.
final class Tally: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
