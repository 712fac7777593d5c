import PlutusCore
import PlutusStore
import Testing

@Suite("CreditPosting and stored entries: decided and read once for every store")
struct CreditPostingTests {
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static func org(everCredited: Bool = false, id: String = "org_00000000000000aa") -> Organization {
        Organization(
            id: OrganizationID(rawValue: id), name: "Acme", slug: "acme", plan: .pro, hardStopExempt: false,
            everCredited: everCredited, stripeCustomerID: nil, createdAt: time)
    }
    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }
    static func entry(_ amount: String, org: String = "org_00000000000000aa") -> LedgerEntryRecord {
        LedgerEntryRecord(
            stored: 1, id: EntryID(rawValue: "ent_1"), organizationID: OrganizationID(rawValue: org), kind: .grant,
            amount: dollars(amount), debitAccount: .grants, creditAccount: .credit, reference: "g1", externalReference: nil,
            memo: nil, debitBalanceAfter: -5_000_000, creditBalanceAfter: 5_000_000, timestamp: time)
    }

    @Test func aNewMovementIsPostedAndTheFirstCreditTurnsTheHardStopOn() throws {
        let grant = try CreditMovement(kind: .grant, amount: Self.dollars("5"), reference: "g1", memo: nil)
        #expect(CreditPosting.decide(grant, organization: Self.org(), existing: nil) == .post(marksCredited: true))
        #expect(
            CreditPosting.decide(grant, organization: Self.org(everCredited: true), existing: nil) == .post(marksCredited: false))
        let adjustment = try CreditMovement(kind: .adjustment, amount: Self.dollars("-1"), reference: "a1", memo: nil)
        #expect(CreditPosting.decide(adjustment, organization: Self.org(), existing: nil) == .post(marksCredited: false))
    }

    @Test func aRepeatedReferenceReplaysOrConflicts() throws {
        let grant = try CreditMovement(kind: .grant, amount: Self.dollars("5"), reference: "g1", memo: nil)
        #expect(
            CreditPosting.decide(grant, organization: Self.org(), existing: Self.entry("5")) == .alreadyPosted(Self.entry("5")))
        #expect(
            CreditPosting.decide(grant, organization: Self.org(), existing: Self.entry("6"))
                == .conflict(.creditReferenceConflict(reference: "g1")))
        #expect(
            CreditPosting.decide(grant, organization: Self.org(), existing: Self.entry("5", org: "org_00000000000000bb"))
                == .conflict(.creditReferenceConflict(reference: "g1")))
    }

    @Test func aStoredEntryIsSignedAndBalancedFromTheOrganizationsSide() {
        let credited = Self.entry("5")
        #expect(credited.amount == Self.dollars("5") && credited.balanceAfter == Self.dollars("5"))
        let debited = LedgerEntryRecord(
            stored: 2, id: EntryID(rawValue: "ent_2"), organizationID: Self.org().id, kind: .usage, amount: Self.dollars("2"),
            debitAccount: .credit, creditAccount: .usage, reference: "evt_1", externalReference: nil, memo: nil,
            debitBalanceAfter: 3_000_000, creditBalanceAfter: 2_000_000, timestamp: Self.time)
        #expect(debited.amount == Self.dollars("-2") && debited.balanceAfter == Self.dollars("3"))
    }
}
