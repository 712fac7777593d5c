import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@testable import PlutusServer

@Suite("Dashboard: the default range, workspace drill-down, readable money, chart ticks and pages with a way on")
struct DashboardPagesTests {
    static func get(_ server: TestServer, _ path: String) async throws -> HTTPResult {
        try await LoopbackClient.send(port: server.port, "GET", path, headers: [("Accept", "text/html")])
    }

    @Test func theDefaultRangeIsTheTrailingThirtyDays() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await server.organization(credit: "5").id
            let page = try await Self.get(server, "/?org=\(org.rawValue)")
            let today = Timestamp.now().day
            #expect(page.text.contains(#"name="from" value="\#(today.adding(days: -29).text)""#))
            #expect(page.text.contains(#"name="to" value="\#(today.text)""#))
        }
    }

    @Test func aWorkspaceDrillDownFiltersTheFeedAndSaysTheRunwayIsTheOrganizations() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let (org, key) = try await server.organization(credit: "50")
            _ = try await server.ingest(key, #"{"provider": "anthropic", "model": "in-ci", "workspace": "ci", "cost_usd": 0.5}"#)
            _ = try await server.ingest(
                key, #"{"provider": "openai", "model": "in-research", "workspace": "research", "cost_usd": 0.25}"#)
            let ci = try #require(try await server.store.listWorkspaces(org).first { $0.name == "ci" })
            let page = try await Self.get(server, "/?org=\(org.rawValue)&workspace=\(ci.id.rawValue)")
            // The live feed is the workspace's (the ledger below stays the organization's: the credit is shared).
            let feed = try #require(
                page.text.components(separatedBy: #"id="feed""#).dropFirst().first?.components(separatedBy: "</tbody>").first)
            #expect(feed.contains("in-ci") && !feed.contains("in-research"))
            #expect(page.text.contains("Organization credit balance (shared by its workspaces)"))
            #expect(page.text.contains(#"data-workspace="\#(ci.id.rawValue)""#))
            let api = try await LoopbackClient.json(
                port: server.port, "GET", "/api/events?org=\(org.rawValue)&workspace=\(ci.id.rawValue)")
            guard case .array(let items) = api.json["items"] else {
                Issue.record("no items")
                return
            }
            #expect(items.map { $0["model"] } == [.string("in-ci")])
            let whole = try await Self.get(server, "/?org=\(org.rawValue)")
            #expect(whole.text.contains("in-ci") && whole.text.contains("in-research"))
            #expect(whole.text.contains(">Credit balance<"))
        }
    }

    @Test func moneyBelowADollarKeepsFourSignificantDigitsAndUnpricedSpendIsMarked() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let (org, key) = try await server.organization(credit: "1")
            _ = try await server.ingest(key, #"{"provider": "anthropic", "model": "claude-opus-9", "input_tokens": 1000}"#)
            let page = try await Self.get(server, "/?org=\(org.rawValue)")
            // 1,000 input tokens at Anthropic's fallback rate of $3 per million.
            #expect(page.text.contains("$0.003000"))
            #expect(page.text.contains(">unpriced</span>"))
            #expect(page.text.contains("$0.9970"))
        }
    }

    @Test(arguments: [
        (Int64(18_000), ["$0.000", "$0.005", "$0.010", "$0.015", "$0.020"]),
        (Int64(73_400_000), ["$0.00", "$20.00", "$40.00", "$60.00", "$80.00"]),
        (Int64(0), ["$0.000000", "$0.000001", "$0.000002", "$0.000003", "$0.000004"]),
        (Int64(9_990), ["$0.0000", "$0.0025", "$0.0050", "$0.0075", "$0.0100"]),
    ])
    func chartTicksAreRoundAndDistinct(peak: Int64, labels: [String]) {
        let ticks = DashboardView.Ticks(peak: peak, count: 4)
        #expect((0...4).map(ticks.label) == labels)
        #expect(ticks.top >= peak)
        #expect(Set(labels).count == labels.count)
    }

    @Test func pagesThatUsedToBeDeadEndsOfferAWayOn() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let empty = try await Self.get(server, "/")
            #expect(empty.status == 200)
            #expect(
                empty.text.contains("<code>plutus org create &quot;Acme&quot; --tier pro")
                    || empty.text.contains("<code>plutus org create \"Acme\" --tier pro"))
            #expect(!empty.text.contains("`"))
            let success = try await Self.get(server, "/billing/success")
            #expect(success.text.contains(#"href="/""#))
            let cancel = try await Self.get(server, "/billing/cancel")
            #expect(cancel.text.contains(#"href="/""#) && cancel.text.contains(#"href="/billing""#))
            let acme = try await server.organization("Acme", credit: "5").id
            _ = try await server.organization("Beta")
            let billing = try await Self.get(server, "/billing")
            #expect(billing.text.contains("/billing?org=\(acme.rawValue)"))
            let one = try await Self.get(server, "/billing?org=\(acme.rawValue)")
            #expect(one.text.contains(#"href="/?org=\#(acme.rawValue)""#) && one.text.contains(#"href="/pricing""#))
        }
    }

    @Test func theKeyCreatedPageHasACopyButtonAndACurlExample() async throws {
        try await TestServer.with(adminToken: nil) { server in
            let org = try await server.organization(credit: "5").id
            let dashboard = try await Self.get(server, "/?org=\(org.rawValue)")
            let csrf = DashboardTests.csrf(dashboard)
            let created = try await DashboardTests.post(
                server, "/keys/create", [("_csrf", csrf), ("org", org.rawValue), ("name", "bot")])
            #expect(created.status == 200)
            #expect(created.text.contains(#"id="copy""#))
            let secret = try #require(
                created.text.components(separatedBy: #"<span id="secret">"#).dropFirst().first?.prefix { $0 != "<" })
            #expect(secret.hasPrefix("plutus_sk_"))
            #expect(created.text.contains("Bearer \(secret)"))
            #expect(created.text.contains("http://127.0.0.1:\(server.port)/v1/usage"))
        }
    }
}

@Suite("Dashboard: the balance chart")
struct BalanceChartTests {
    func history(_ closings: [Int64], topUpOn: Int? = nil) -> CreditHistory {
        let start = CivilDay(text: "2026-11-01")!
        var movements: [Int64: (net: Int64, topUps: Int64)] = [:]
        var previous: Int64 = 0
        for (index, closing) in closings.enumerated() {
            movements[start.adding(days: Int64(index)).daysSinceEpoch] = (closing - previous, index == topUpOn ? 50_000_000 : 0)
            previous = closing
        }
        return CreditHistory(days: start..<start.adding(days: Int64(closings.count)), opening: .zero, movements: movements)
    }

    @Test func topUpsAreMarkedAndTheRunwayIsProjectedToZero() {
        let chart = DashboardView.BalanceChart(
            history([60_000_000, 50_000_000, 40_000_000], topUpOn: 0), projectFrom: MicroDollars(rawValue: 40_000_000),
            burnPerDay: MicroDollars(rawValue: 10_000_000))
        #expect(chart.topUps.count == 1 && chart.topUps[0].label == "2026-11-01: top-up $50.00")
        #expect(chart.line.split(separator: " ").count == 3)
        // $40 at $10 a day: four days, to zero, on 2026-11-07.
        #expect(chart.projectionNote == "at $10.00/day the credit runs out around 2026-11-07")
        #expect(chart.projection.split(separator: " ").last?.hasSuffix("," + chart.zeroY) == true)
    }

    @Test func aSlowBurnIsProjectedAMonthAheadAndAPastRangeNotAtAll() {
        let slow = DashboardView.BalanceChart(
            history([100_000_000]), projectFrom: MicroDollars(rawValue: 100_000_000),
            burnPerDay: MicroDollars(rawValue: 1_000_000))
        #expect(slow.projectionNote == "at $1.00/day, $70.00 is left in 30 days")
        let past = DashboardView.BalanceChart(
            history([100_000_000]), projectFrom: nil, burnPerDay: MicroDollars(rawValue: 1_000_000))
        #expect(past.projection.isEmpty && past.projectionNote.isEmpty)
    }
}
