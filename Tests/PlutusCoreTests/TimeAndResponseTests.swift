import PlutusCore
import Testing

@Suite("UTC calendar maths")
struct TimeTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)), ("2000-02-29T12:00:00Z", 951_825_600_000),
        ("2026-11-25T10:00:00.250Z", 1_795_600_800_250), ("2026-11-25T11:00:00+01:00", 1_795_600_800_000),
        ("1969-12-31T23:59:59Z", -1_000),
    ])
    func parsesISO8601(text: String, millis: Int64) {
        #expect(Timestamp.parseISO8601(text) == Timestamp(rawValue: millis))
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25", "2026-11-25T10:00:00",
        "2026-11-25T10:00:00+1:00", "garbage",
    ])
    func refusesBadISO8601(text: String) {
        #expect(Timestamp.parseISO8601(text) == nil)
    }

    @Test func monthsAreUTCWithExclusiveEnds() {
        let lastMilliOfOctober = Timestamp.parseISO8601("2026-11-01T00:00:00Z")!.adding(seconds: 0).rawValue - 1
        #expect(Timestamp(rawValue: lastMilliOfOctober).month == CivilMonth(year: 2026, month: 10))
        #expect(Timestamp.parseISO8601("2026-11-01T00:00:00Z")!.month == CivilMonth(year: 2026, month: 11))
        #expect(CivilMonth(year: 2026, month: 12).next == CivilMonth(year: 2027, month: 1))
        #expect(CivilMonth(year: 2024, month: 2).dayCount == 29)
        #expect(CivilMonth(year: 2100, month: 2).dayCount == 28)
        #expect(CivilMonth(text: "2026-07")?.end == Timestamp.parseISO8601("2026-08-01T00:00:00Z"))
        #expect(CivilMonth(text: "2026-7") == nil)
        #expect(Timestamp(rawValue: -1).day.text == "1969-12-31")
        #expect(Timestamp(rawValue: 1_795_600_800_250).iso8601 == "2026-11-25T10:00:00.250Z")
    }

    @Test func dayNumbersRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            #expect(CivilDay(daysSinceEpoch: days).daysSinceEpoch == days)
        }
    }

    /// `epochDay` is the calendar day's number, including before 1970 and at the last and
    /// first millisecond of a day.
    @Test func epochDayIsTheCalendarDaysNumber() {
        for millis: Int64 in [0, 1, -1, 86_399_999, 86_400_000, -86_400_000, -86_400_001, 1_764_547_199_999, 1_764_547_200_000] {
            let time = Timestamp(rawValue: millis)
            #expect(time.epochDay == time.day.daysSinceEpoch, "\(millis)")
        }
        #expect(Timestamp(rawValue: -1).epochDay == -1)
        #expect(Timestamp(rawValue: 1_764_547_200_000).epochDay == 20_423)
    }
}

@Suite("The /v1/usage response contract")
struct ResponseTests {
    let org = OrganizationID(rawValue: "org_00000000000000aa")

    func outcome(_ statuses: [EventOutcome.Status], plan: Plan = .free) -> UsageBatchOutcome {
        UsageBatchOutcome(
            organizationID: org, plan: plan, trackedTokensThisMonth: 2_000,
            events: statuses.map { status in
                EventOutcome(
                    status: status, eventID: status == .recorded ? UsageEventID(rawValue: "evt_0000000000000001") : nil,
                    cost: MicroDollars(rawValue: 15_600), costKind: .estimated, balanceAfter: MicroDollars(rawValue: 49_980_000),
                    overFreeLimit: false, workspaceID: nil, alerts: [])
            })
    }

    @Test func oneEventMergesItsResultIntoTheTopLevel() throws {
        let response = UsageResponse.render(outcome([.recorded]), upgradeURL: "/pricing")
        #expect(response.status == 200)
        #expect(
            response.body.hasPrefix(
                #"{"org_id":"org_00000000000000aa","tracked_tokens_mtd":2000,"tracked_limit":10000,"tier":"free","recorded":true,"event_id":"evt_0000000000000001","cost_usd":0.0156,"estimated":true,"balance_after":49.98,"over_free_limit":false,"over_balance":false,"unpriced":false"#
            ))
    }

    @Test func batchesCountEachOutcome() throws {
        let response = UsageResponse.render(
            outcome([.recorded, .rejected(.overBalance), .rejected(.overFreeLimit), .recorded], plan: .pro),
            upgradeURL: "/pricing")
        let body = try JSONValue.parse(response.body)
        #expect(response.status == 200)
        #expect(body["recorded"] == .number("2"))
        #expect(body["blocked"] == .number("2"))
        #expect(body["free_limit_blocked"] == .number("1"))
        #expect(body["over_balance_blocked"] == .number("1"))
        #expect(body["tracked_limit"] == .null)
        guard case .array(let results) = body["results"] else {
            Issue.record("no results")
            return
        }
        #expect(results.count == 4)
        #expect(results[1]["over_balance"] == .bool(true))
    }

    @Test(arguments: [
        ([EventOutcome.Status.rejected(.overBalance)], "prepaid credit exhausted"),
        ([.rejected(.overFreeLimit), .rejected(.overFreeLimit)], "free-tier token quota reached — upgrade to Pro"),
        (
            [.rejected(.overFreeLimit), .rejected(.overBalance)],
            "usage rejected: free-tier quota and prepaid credit both exhausted"
        ),
    ])
    func nothingRecordedIs402(statuses: [EventOutcome.Status], message: String) throws {
        let response = UsageResponse.render(outcome(statuses), upgradeURL: "https://x.example/pricing")
        #expect(response.status == 402)
        let body = try JSONValue.parse(response.body)
        #expect(body["error"] == .string(message))
        #expect(body["upgrade_url"] == .string("https://x.example/pricing"))
    }

    @Test func batchResultsCarryAlertsAndDuplicatesInOrder() throws {
        var events = outcome([.recorded, .duplicate], plan: .pro)
        events.events[0].alerts = [
            AlertDraft(kind: .lowBalance, subject: "org", period: "2026-11-20", workspaceID: nil, message: "Low \"credit\"\n")
        ]
        let response = UsageResponse.render(events, upgradeURL: "/pricing")
        #expect(
            response.body.contains(
                #","unpriced":false,"workspace_id":null,"alerts":[{"kind":"low_balance","message":"Low \"credit\"\n"}]},{"recorded":false,"#
            ))
        #expect(
            response.body.hasSuffix(
                #""unpriced":false,"workspace_id":null,"duplicate":true}],"recorded":1,"blocked":0,"free_limit_blocked":0,"over_balance_blocked":0,"duplicates":1}"#
            ))
        #expect(try JSONValue.parse(response.body)["results"] != nil)
        let refused = UsageResponse.render(outcome([.rejected(.overBalance)]), upgradeURL: "/pricing")
        #expect(
            refused.body.hasPrefix(
                #"{"error":"prepaid credit exhausted","detail":"insufficient credit: this call costs $0.01560, balance $49.98","required_usd":0.0156,"balance_usd":49.98,"upgrade_url":"/pricing","org_id":"#
            ))
    }

    @Test func replayKeepsStatusAndMarksTheBody() throws {
        let stored = UsageResponse.render(outcome([.rejected(.overBalance)]), upgradeURL: "/pricing")
        let replayed = UsageResponse.replay(stored)
        #expect(replayed.status == 402)
        let body = try JSONValue.parse(replayed.body)
        #expect(body["idempotent_replay"] == .bool(true))
        #expect(body["error"] == .string("prepaid credit exhausted"))
    }
}

@Suite("Identifiers")
struct IdentifierTests {
    @Test func timeOrderedIDsSortByCreationAndDoNotCollide() {
        let earlier = Timestamp.parseISO8601("2026-11-25T10:00:00Z")!
        let later = earlier.adding(seconds: 1)
        let first = UsageEventID.timeOrdered(at: earlier)
        let second = UsageEventID.timeOrdered(at: later)
        #expect(first.rawValue.hasPrefix("evt_") && first.rawValue.utf8.count == 4 + 24)
        #expect(first < second)
        #expect(first.rawValue.dropFirst(4).prefix(12) == "01a21225d900")  // 1795600800000 ms in hex
        let many = Set((0..<10_000).map { _ in EntryID.timeOrdered(at: earlier).rawValue })
        #expect(many.count == 10_000)
    }

    /// Usage events have no unique index in SQLite: ids minted in one millisecond must still
    /// differ, and they keep their minting order (the counter wraps only after 2^48 ids).
    @Test func idsOfOneMillisecondAreDistinctAndAscending() {
        let instant = Timestamp.parseISO8601("2026-12-01T17:00:00Z")!
        let ids = (0..<100_000).map { _ in UsageEventID.timeOrdered(at: instant).rawValue }
        #expect(Set(ids).count == ids.count)
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func randomIDsHaveTheOriginalShape() {
        let id = OrganizationID.random()
        #expect(OrganizationID.isWellFormed(id.rawValue))
        #expect(!OrganizationID.isWellFormed("org_XYZ"))
        #expect(!OrganizationID.isWellFormed("ws_0123456789abcdef"))
    }
}
