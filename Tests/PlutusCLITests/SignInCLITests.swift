import Foundation
import PlutusCore
import PlutusStoreTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `plutus members …` and `plutus serve` with sign-in: the real binary, a real OpenID provider
/// (oidc-provider-mock) and a real headless Chromium.
@Suite("Sign-in from the command line and in Chromium")
struct SignInCLITests {
    @Test func membersAreManagedFromTheCommandLine() throws {
        let cli = CLI()
        #expect(try cli.run("org", "create", "Acme", "--tier", "pro").status == 0)
        let added = try cli.run("members", "add", "--org", "acme", "--email", "Olga@Acme.example", "--role", "owner")
        #expect(added.status == 0 && added.stdout.contains("olga@acme.example is now owner of Acme"), "\(added.stderr)")
        #expect(try cli.run("members", "add", "--org", "acme", "--email", "vic@acme.example", "--role", "viewer").status == 0)
        let listed = try cli.json("members", "list", "--org", "acme", "--json")
        guard case .array(let members)? = listed["members"], members.count == 2 else {
            Issue.record("two members expected: \(listed)")
            return
        }
        #expect(members[0]["email"] == .string("olga@acme.example") && members[1]["role"] == .string("viewer"))
        let role = try cli.run("members", "role", "--org", "acme", "--email", "vic@acme.example", "--role", "admin")
        #expect(role.status == 0 && role.stdout.contains("vic@acme.example: viewer → admin"))
        let badRole = try cli.run("members", "role", "--org", "acme", "--email", "vic@acme.example", "--role", "king")
        #expect(badRole.status != 0 && badRole.stderr.contains("--role must be one of viewer, member, admin, owner, got 'king'"))
        let lastOwner = try cli.run("members", "remove", "--org", "acme", "--email", "olga@acme.example")
        #expect(lastOwner.status != 0 && lastOwner.stderr.contains("only owner"))
        #expect(try cli.run("members", "remove", "--org", "acme", "--email", "vic@acme.example").status == 0)
        let nobody = try cli.run("members", "remove", "--org", "acme", "--email", "vic@acme.example")
        #expect(nobody.status != 0 && nobody.stderr.contains("vic@acme.example is not a member of this organization"))

        let noBase = try cli.run("members", "invite", "--org", "acme", "--email", "new@acme.example")
        #expect(noBase.status != 0 && noBase.stderr.contains("PLUTUS_BASE_URL"))
        let invited = try cli.run(
            "members", "invite", "--org", "acme", "--email", "new@acme.example", "--role", "member",
            environment: ["PLUTUS_BASE_URL": "https://billing.acme.example"])
        #expect(invited.status == 0 && invited.stdout.contains("new@acme.example invited to Acme as member"))
        #expect(invited.stdout.contains("https://billing.acme.example/auth/invitation?token="))
        #expect(invited.stdout.contains("no SMTP server is configured"))
        let pending = try cli.run("members", "list", "--org", "acme")
        #expect(pending.stdout.contains("invited  new@acme.example as member"))
    }

    @Test(
        .enabled(
            if: (BrowserTests.chromium != nil || BrowserTests.inCI)
                && (OpenIDProviderMock.executable != nil || BrowserTests.inCI),
            "needs chromium and oidc-provider-mock (scripts/test installs both)"))
    func aCustomerSignsInThroughTheProviderInChromium() async throws {
        let chromium = try #require(BrowserTests.chromium, "CI=true but chromium is not installed; scripts/test installs it")
        let python = try #require(SMTPTestServer.python, "needs the test Python (PLUTUS_TEST_PYTHON)")
        try await OpenIDProviderMock.with { provider in
            try await provider.person("ada", email: "ada@acme.example", name: "Ada")
            let cli = CLI()
            #expect(try cli.run("org", "create", "Acme", "--tier", "pro").status == 0)
            #expect(try cli.run("org", "create", "Beta", "--tier", "pro").status == 0)
            #expect(try cli.run("members", "add", "--org", "acme", "--email", "ada@acme.example", "--role", "member").status == 0)
            #expect(try cli.run("topup", "--org", "acme", "--amount", "25").status == 0)
            let port = try ServeTests.freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try ServeSession(
                cli,
                environment: [
                    "PLUTUS_OIDC_ISSUER": provider.issuer, "PLUTUS_OIDC_CLIENT_ID": "plutus-cli-test",
                    "PLUTUS_OIDC_CLIENT_SECRET": "cli-test-secret", "PLUTUS_BASE_URL": base,
                ], port: port)
            try await server.waitUntilUp()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("sign_in_browser.py")
                .path
            let screenshot = URL(fileURLWithPath: BrowserTests.screenshotPath).deletingLastPathComponent()
                .appendingPathComponent("signed-in-dashboard.png").path
            try? FileManager.default.removeItem(atPath: screenshot)
            let finished = try await ChildProcess.run(
                "/usr/bin/timeout", ["--kill-after=5", "90", python, script, chromium, base, "ada", screenshot])
            let (text, problems) = (finished.stdout, finished.stderr)
            let banner = server.stop().stdout
            #expect(banner.contains("sign-in    \(provider.issuer) (customers at /auth/login)"))
            try #require(finished.status == 0, "sign_in_browser.py failed: \(problems)")
            let state = try JSONValue.parse(text)
            #expect(state["url"]?.stringValue == base + "/", "\(text)")
            #expect(state["title"] == .string("Acme · Plutus"))
            #expect(state["person"]?.stringValue?.contains("ada@acme.example · member") == true)
            guard case .array(let actions)? = state["forms"] else {
                Issue.record("no forms in \(text)")
                return
            }
            let forms = actions.compactMap(\.stringValue)
            #expect(forms.contains("/keys/create") && forms.contains("/auth/logout"))
            let png = try #require(FileManager.default.contents(atPath: screenshot))
            #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }
}
