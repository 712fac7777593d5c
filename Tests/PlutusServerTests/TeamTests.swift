import Foundation
import PlutusAlerts
import PlutusCore
import PlutusServer
import PlutusStore
import PlutusStoreTesting
import Testing

/// Members managed by the operator (the admin API) and by the organization's own admins and
/// owners (the members page), invitations by email through a real SMTP server, and the
/// audit log of it all.
@Suite("Sign-in: members, invitations and the audit log", .enabled(if: SDKPython.available))
struct TeamTests {
    @Test func anInvitationByEmailMakesItsPersonAMemberOnce() async throws {
        try await SMTPTestServer.with { smtp in
            let mailer = Mailer { to, subject, body in
                let client = SMTPClient(
                    configuration: SMTPConfiguration(
                        host: "127.0.0.1", port: smtp.port, tls: .none, from: "plutus@billing.example", to: ["unused@example.com"]
                    ))
                _ = try await client.send(to: to, subject: subject, body: body, date: Timestamp.now())
            }
            try await OpenIDProviderMock.with { provider in
                try await provider.person("ada", email: "ada@acme.example", name: "Ada")
                try await provider.person("eve", email: "eve@acme.example")
                try await SignInTests.withServer(provider, mailer: mailer) { server in
                    let acme = try await server.store.createOrganization(
                        name: "Acme", plan: .pro, ownerEmail: "founder@acme.example")
                    let sent = try await server.admin(
                        "POST", "/v1/admin/invitations",
                        #"{"org_id": "\#(acme.id.rawValue)", "email": "Ada@acme.example", "role": "admin"}"#)
                    #expect(sent.status == 201, "\(sent.text)")
                    let answer = try JSONValue.parse(sent.text)
                    #expect(answer["emailed"] == .bool(true) && answer["email"] == .string("ada@acme.example"))
                    #expect(answer["role"] == .string("admin") && answer["email_problem"] == .null)

                    // The email carries the link; only its hash is stored.
                    let mail = try #require(smtp.received.first)
                    #expect(mail["rcpt_tos"] == .array([.string("ada@acme.example")]))
                    let data = try #require(mail["data"]?.stringValue)
                    #expect(data.contains("Subject: You're invited to Acme on Plutus"))
                    let prefix = "http://127.0.0.1:\(server.port)"
                    let link = try #require(
                        data.components(separatedBy: .whitespacesAndNewlines).first {
                            $0.hasPrefix(prefix + "/auth/invitation?token=")
                        })
                    #expect(answer["link"] == .string(link))
                    let token = String(link.dropFirst((prefix + "/auth/invitation?token=").count))
                    #expect(try await server.store.invitation(tokenHash: token) == nil)

                    // Eve, with the link, signs in as herself: refused, and the invitation still stands.
                    var eve = Browser(port: server.port)
                    let page = try await eve.get(String(link.dropFirst(prefix.count)))
                    #expect(page.status == 200 && page.text.contains("invites <b>ada@acme.example</b> to <b>Acme</b> as admin"))
                    _ = try await eve.get("/auth/login?invitation=\(token)")
                    eve.cookies = [:]
                    let refused = try await eve.signIn(provider, as: "eve", invitation: token)
                    #expect(refused.status == 403)
                    #expect(
                        refused.text.contains("this invitation is for ada@acme.example, but you signed in as eve@acme.example"))

                    var ada = Browser(port: server.port)
                    let joined = try await ada.signIn(provider, as: "ada", invitation: token)
                    #expect(joined.status == 303 && ada.cookies["plutus_session"] != nil)
                    #expect(try await server.store.memberships(email: "ada@acme.example").map(\.role) == [.admin])
                    let home = try await ada.get("/")
                    #expect(home.text.contains("ada@acme.example · admin") && home.text.contains("/audit?org="))

                    // Used once.
                    var again = Browser(port: server.port)
                    let used = try await again.get(String(link.dropFirst(prefix.count)))
                    #expect(used.status == 410 && used.text.contains("this invitation was used already"))

                    let log = try await server.store.auditLog(acme.id, before: nil, limit: 10).map(\.entry)
                    #expect(log.map(\.action) == [.signIn, .invitationAccepted, .invitationSent])
                    #expect(log[2].actor == "operator" && log[2].detail == "ada@acme.example as admin")
                    #expect(log[1].actor == "ada@acme.example" && log[0].detail == "as admin" && log[0].requestID != nil)
                }
            }
        }
    }

    @Test func theOperatorManagesMembersThroughTheAdminAPI() async throws {
        try await OpenIDProviderMock.with { provider in
            try await SignInTests.withServer(provider) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "founder@acme.example")
                let id = acme.id.rawValue
                let added = try await server.admin(
                    "POST", "/v1/admin/members", #"{"org_id": "\#(id)", "email": "Vic@Acme.example", "role": "viewer"}"#)
                #expect(added.status == 201 && added.text.contains(#""email":"vic@acme.example""#), "\(added.text)")
                let changed = try await server.admin(
                    "POST", "/v1/admin/members", #"{"org_id": "\#(id)", "email": "vic@acme.example", "role": "member"}"#)
                #expect(changed.status == 200 && changed.text.contains(#""role":"member""#))
                let badRole = try await server.admin(
                    "POST", "/v1/admin/members", #"{"org_id": "\#(id)", "email": "x@acme.example", "role": "god"}"#)
                #expect(badRole.status == 400 && badRole.text.contains(#""field":"role""#) && badRole.text.contains("'god'"))
                let badEmail = try await server.admin(
                    "POST", "/v1/admin/members", #"{"org_id": "\#(id)", "email": "not-an-email"}"#)
                #expect(badEmail.status == 400 && badEmail.text.contains(#""field":"email""#))
                let noOrg = try await server.admin("POST", "/v1/admin/members", #"{"org_id": "nope", "email": "a@b.example"}"#)
                #expect(noOrg.status == 404)
                #expect(
                    try await server.admin("POST", "/v1/admin/members", #"{"email": "a@b.example"}"#, token: "wrong").status
                        == 401)

                let listed = try JSONValue.parse(try await server.admin("GET", "/v1/admin/members?org_id=\(id)").text)
                #expect(listed["members"]?[0]?["email"] == .string("founder@acme.example"))
                #expect(listed["members"]?[1]?["role"] == .string("member") && listed["members"]?[2] == nil)

                let lastOwner = try await server.admin(
                    "POST", "/v1/admin/members/remove", #"{"org_id": "\#(id)", "email": "founder@acme.example"}"#)
                #expect(lastOwner.status == 409 && lastOwner.text.contains("only owner"))
                let removed = try await server.admin(
                    "POST", "/v1/admin/members/remove", #"{"org_id": "\#(id)", "email": "vic@acme.example"}"#)
                #expect(removed.status == 200)
                let gone = try await server.admin(
                    "POST", "/v1/admin/members/remove", #"{"org_id": "\#(id)", "email": "vic@acme.example"}"#)
                #expect(gone.status == 404 && gone.text.contains("member_not_found"))

                // Without SMTP the invitation stands and its link comes back to pass on.
                let invited = try JSONValue.parse(
                    try await server.admin("POST", "/v1/admin/invitations", #"{"org_id": "\#(id)", "email": "new@acme.example"}"#)
                        .text)
                #expect(invited["emailed"] == .bool(false) && invited["role"] == .string("member"))
                #expect(invited["email_problem"]?.stringValue?.contains("PLUTUS_SMTP_HOST") == true)
                #expect(invited["link"]?.stringValue?.hasPrefix("http://127.0.0.1:\(server.port)/auth/invitation?token=") == true)
                let member = try await server.admin(
                    "POST", "/v1/admin/invitations", #"{"org_id": "\#(id)", "email": "founder@acme.example"}"#)
                #expect(member.status == 409 && member.text.contains("already_member"))

                let log = try await server.store.auditLog(acme.id, before: nil, limit: 10).map(\.entry)
                #expect(log.map(\.action) == [.invitationSent, .memberRemoved, .roleChanged, .memberAdded])
                #expect(log[2].detail == "vic@acme.example → member (was viewer)" && log.allSatisfy { $0.actor == "operator" })
            }
        }
        // Without sign-in there is nothing to accept an invitation with.
        try await TestServer.with { server in
            let org = try await server.organization()
            let refused = try await server.admin(
                "POST", "/v1/admin/invitations", #"{"org_id": "\#(org.id.rawValue)", "email": "a@acme.example"}"#)
            #expect(refused.status == 409 && refused.text.contains("sign_in_disabled"))
        }
    }

    @Test func ownersManageRolesAdminsInviteAndReadTheAuditLog() async throws {
        try await OpenIDProviderMock.with { provider in
            for (sub, email) in [("olga", "olga@acme.example"), ("adam", "adam@acme.example"), ("mia", "mia@acme.example")] {
                try await provider.person(sub, email: email)
            }
            try await SignInTests.withServer(provider) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "olga@acme.example")
                let id = acme.id.rawValue
                _ = try await server.store.setMember(acme.id, email: "adam@acme.example", name: nil, role: .admin, at: .now())
                _ = try await server.store.setMember(acme.id, email: "mia@acme.example", name: nil, role: .member, at: .now())
                var olga = Browser(port: server.port)
                try await olga.expectSignedIn(provider, as: "olga")
                var adam = Browser(port: server.port)
                try await adam.expectSignedIn(provider, as: "adam")
                var mia = Browser(port: server.port)
                try await mia.expectSignedIn(provider, as: "mia")

                let ownersView = try await olga.get("/members?org=\(id)")
                #expect(ownersView.status == 200 && ownersView.text.contains("action=\"/members/role\""))
                #expect(
                    ownersView.text.contains("action=\"/members/remove\"")
                        && ownersView.text.contains("action=\"/members/invite\""))
                let adminsView = try await adam.get("/members?org=\(id)")
                #expect(
                    adminsView.text.contains("action=\"/members/invite\"")
                        && !adminsView.text.contains("action=\"/members/role\""))
                let membersView = try await mia.get("/members?org=\(id)")
                #expect(membersView.status == 200 && !membersView.text.contains("action=\"/members/invite\""))
                let csrf = DashboardTests.csrf(try await olga.get("/"))

                // A member cannot invite or change roles, even by hand; an admin cannot change roles.
                let miaInvites = try await mia.post(
                    "/members/invite", [("org", id), ("email", "x@acme.example"), ("_csrf", csrf)])
                #expect(miaInvites.status == 403 && miaInvites.text.contains("may not invite members"))
                let adamPromotes = try await adam.post(
                    "/members/role", [("org", id), ("email", "mia@acme.example"), ("role", "owner"), ("_csrf", csrf)])
                #expect(adamPromotes.status == 403 && adamPromotes.text.contains("may not change roles; ask an owner"))
                let adamInvites = try await adam.post(
                    "/members/invite", [("org", id), ("email", "new@acme.example"), ("role", "viewer"), ("_csrf", csrf)])
                #expect(adamInvites.status == 200 && adamInvites.text.contains("/auth/invitation?token="))
                let adamMakesOwner = try await adam.post(
                    "/members/invite", [("org", id), ("email", "boss@acme.example"), ("role", "owner"), ("_csrf", csrf)])
                #expect(adamMakesOwner.status == 403)
                let crossSite = try await LoopbackClient.send(
                    port: server.port, "POST", "/members/role",
                    headers: olga.cookieHeader + [
                        ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.example"),
                    ], body: Array("org=\(id)&email=mia%40acme.example&role=owner&_csrf=\(csrf)".utf8))
                #expect(crossSite.status == 403)

                let promoted = try await olga.post(
                    "/members/role", [("org", id), ("email", "mia@acme.example"), ("role", "viewer"), ("_csrf", csrf)])
                #expect(promoted.status == 303)
                #expect(try await server.store.memberships(email: "mia@acme.example").map(\.role) == [.viewer])
                let lastOwner = try await olga.post(
                    "/members/role", [("org", id), ("email", "olga@acme.example"), ("role", "admin"), ("_csrf", csrf)])
                #expect(lastOwner.status == 409 && lastOwner.text.contains("only owner"))
                #expect(
                    try await olga.post("/members/remove", [("org", id), ("email", "mia@acme.example"), ("_csrf", csrf)]).status
                        == 303)
                // Mia belonged nowhere else: her session ended with her membership.
                #expect(try await mia.get("/").status == 303)

                // The audit log: admins and owners read it, as a page and as CSV; members do not.
                let made = try await adam.post("/keys/create", [("org", id), ("name", "adam-ci"), ("_csrf", csrf)])
                #expect(made.status == 200)
                #expect(try await mia.get("/audit?org=\(id)").status == 303)
                var vic = Browser(port: server.port)
                _ = try await server.store.setMember(acme.id, email: "vic@acme.example", name: nil, role: .member, at: .now())
                try await provider.person("vic", email: "vic@acme.example")
                try await vic.expectSignedIn(provider, as: "vic")
                #expect(try await vic.get("/audit?org=\(id)").status == 403)
                let page = try await adam.get("/audit?org=\(id)")
                #expect(page.status == 200 && page.text.contains("key_created") && page.text.contains("adam-ci"))
                #expect(page.text.contains("member_removed") && page.text.contains("mia@acme.example → viewer (was member)"))
                let csv = try await adam.get("/audit?org=\(id)&format=csv")
                #expect(csv.status == 200 && csv.header("content-type")?.hasPrefix("text/csv") == true)
                let lines = csv.text.split(separator: "\n").map(String.init)
                #expect(lines.first == "seq,time,actor,action,detail,request_id")
                #expect(lines.contains { $0.contains(",adam@acme.example,key_created,adam-ci ") })
                #expect(lines.contains { $0.contains(",olga@acme.example,role_changed,mia@acme.example → viewer (was member),") })
                let signIns = lines.filter { $0.contains(",sign_in,") }.count
                #expect(signIns == 4)
            }
        }
    }

    @Test func adminsManageBudgetsFromTheDashboardAndMembersCannot() async throws {
        try await OpenIDProviderMock.with { provider in
            try await provider.person("adam", email: "adam@acme.example")
            try await provider.person("mia", email: "mia@acme.example")
            try await SignInTests.withServer(provider) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "olga@acme.example")
                let id = acme.id.rawValue
                _ = try await server.store.setMember(acme.id, email: "adam@acme.example", name: nil, role: .admin, at: .now())
                _ = try await server.store.setMember(acme.id, email: "mia@acme.example", name: nil, role: .member, at: .now())
                var adam = Browser(port: server.port)
                try await adam.expectSignedIn(provider, as: "adam")
                var mia = Browser(port: server.port)
                try await mia.expectSignedIn(provider, as: "mia")
                let adminsPage = try await adam.get("/?org=\(id)")
                #expect(adminsPage.text.contains("action=\"/budgets/create\""))
                let membersPage = try await mia.get("/?org=\(id)")
                #expect(!membersPage.text.contains("action=\"/budgets/create\""))
                let csrf = DashboardTests.csrf(adminsPage)
                let fields = [
                    ("org", id), ("scope", "workspace"), ("scope_id", "research"), ("limit_usd", "400"), ("period", "month"),
                    ("mode", "hard"), ("_csrf", csrf),
                ]
                let refused = try await mia.post("/budgets/create", fields)
                #expect(refused.status == 403 && refused.text.contains("may not manage budgets"))
                let bad = try await adam.post(
                    "/budgets/create", [("org", id), ("scope", "galaxy"), ("limit_usd", "5"), ("_csrf", csrf)])
                #expect(bad.status == 400)
                let noLimit = try await adam.post(
                    "/budgets/create", [("org", id), ("scope", "org"), ("limit_usd", "lots"), ("_csrf", csrf)])
                #expect(noLimit.status == 400 && noLimit.text.contains("the limit must be an amount in dollars"))
                #expect(try await server.store.budgets(acme.id, at: .now(), includingDisabled: true).isEmpty)
                let made = try await adam.post("/budgets/create", fields)
                #expect(made.status == 303)
                let budgets = try await server.store.budgets(acme.id, at: .now(), includingDisabled: false)
                #expect(budgets.count == 1 && budgets[0].budget.limit == MicroDollars.dollars(400)!)
                #expect(budgets[0].budget.scope == .workspace && budgets[0].budget.mode == .hard)
                let budgetID = budgets[0].budget.id.rawValue
                let miaDisables = try await mia.post("/budgets/disable", [("org", id), ("budget", budgetID), ("_csrf", csrf)])
                #expect(miaDisables.status == 403)
                #expect(
                    try await adam.post("/budgets/disable", [("org", id), ("budget", budgetID), ("_csrf", csrf)]).status == 303)
                #expect(try await server.store.budgets(acme.id, at: .now(), includingDisabled: false).isEmpty)
                let log = try await server.store.auditLog(acme.id, before: nil, limit: 10).map(\.entry).filter {
                    $0.action == .budgetChanged
                }
                #expect(log.count == 2 && log.allSatisfy { $0.actor == "adam@acme.example" })
                #expect(log[0].detail == "disabled \(budgetID)" && log[1].detail.hasPrefix("created \(budgetID)"))
            }
        }
    }
}
