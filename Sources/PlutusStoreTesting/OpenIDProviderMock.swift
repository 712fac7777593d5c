import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `oidc-provider-mock` (PyPI), a real OpenID provider, on a loopback port for one test.
public struct OpenIDProviderMock: Sendable {
    public let port: Int
    public var issuer: String { "http://127.0.0.1:\(port)" }

    /// Beside the test interpreter (`PLUTUS_TEST_PYTHON`, else `.build/venv/bin/python`).
    public static var executable: String? {
        SMTPTestServer.python.map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("oidc-provider-mock").path
        }
    }

    public static func with(_ body: @Sendable (OpenIDProviderMock) async throws -> Void) async throws {
        let program = try #require(executable, "needs oidc-provider-mock in the test Python's environment")
        let port = try LoopbackClient.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["--port", String(port), "--require-nonce", "true"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // SIGKILL: a test process may ignore SIGTERM, and its children inherit that.
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let provider = OpenIDProviderMock(port: port)
        // Up to 60 s: the provider generates its signing key and imports its web framework,
        // which takes a while on 2 cores shared with the rest of the test run.
        var ready = false
        for _ in 0..<600 where !ready {
            ready = (try? await LoopbackClient.send(port: port, "GET", "/.well-known/openid-configuration"))?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready, "oidc-provider-mock did not start on port \(port)")
        try await body(provider)
    }

    /// Declares the person `sub` with these ID token claims.
    public func person(_ sub: String, email: String, verified: Bool? = true, name: String? = nil) async throws {
        var claims: [(String, JSONValue)] = [("email", .string(email))]
        if let verified { claims.append(("email_verified", .bool(verified))) }
        if let name { claims.append(("name", .string(name))) }
        let answer = try await LoopbackClient.json(port: port, "PUT", "/users/\(sub)", JSONValue.object(claims).serialized())
        try #require(answer.status == 204, "the provider did not take the user: \(answer.text)")
    }

    /// Submits the provider's authorization form at `location` as `sub`; returns its answer
    /// (a redirect back to the application's callback).
    public func authorize(_ location: String, as sub: String) async throws -> HTTPResult {
        try #require(location.hasPrefix(issuer + "/"), "sign-in went to \(location), not to the provider")
        return try await LoopbackClient.send(
            port: port, "POST", String(location.dropFirst(issuer.count)),
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("sub=\(sub)".utf8))
    }
}
