import Foundation
import PlutusCore
import Testing

/// A browser's cookie jar against one Plutus, enough for the sign-in flow.
public struct Browser: Sendable {
    public let port: Int
    public var cookies: [String: String] = [:]
    /// The page's origin sent with forms; the server's own address unless set (behind a
    /// load balancer, the address browsers use).
    public var origin: String?

    public init(port: Int) { self.port = port }

    public mutating func take(_ answer: HTTPResult) {
        for cookie in answer.setCookies {
            let pair = cookie.prefix { $0 != ";" }
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let value = String(pair[pair.index(after: equals)...])
            let name = String(pair[..<equals])
            if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
    }

    public var cookieHeader: [(String, String)] {
        cookies.isEmpty
            ? [] : [("Cookie", cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))]
    }

    public mutating func get(_ path: String) async throws -> HTTPResult {
        let answer = try await LoopbackClient.send(port: port, "GET", path, headers: cookieHeader)
        take(answer)
        return answer
    }

    public mutating func post(_ path: String, _ fields: [(String, String)]) async throws -> HTTPResult {
        let body = fields.map { "\($0.0)=\(OpenIDProviderMockForm.encode($0.1))" }.joined(separator: "&")
        let answer = try await LoopbackClient.send(
            port: port, "POST", path,
            headers: cookieHeader + [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", origin ?? "http://127.0.0.1:\(port)"),
            ], body: Array(body.utf8))
        take(answer)
        return answer
    }

    /// Signs in as `sub` through the provider; returns the callback's answer.
    public mutating func signIn(_ provider: OpenIDProviderMock, as sub: String, invitation: String? = nil) async throws
        -> HTTPResult
    {
        let start = try await get("/auth/login" + (invitation.map { "?invitation=\($0)" } ?? ""))
        try #require(start.status == 303, "sign-in did not start: \(start.status) \(start.text)")
        let back = try await provider.authorize(try #require(start.header("location")), as: sub)
        try #require(back.status == 302, "the provider did not send the browser back: \(back.status) \(back.text)")
        let callback = try #require(back.header("location"))
        let prefix = "http://127.0.0.1:\(port)"
        try #require(callback.hasPrefix(prefix + "/auth/callback?"), "the provider returned to \(callback)")
        return try await get(String(callback.dropFirst(prefix.count)))
    }
}

public enum OpenIDProviderMockForm {
    public static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension Browser {
    /// Signs in as `sub` and expects to be signed in.
    public mutating func expectSignedIn(_ provider: OpenIDProviderMock, as sub: String) async throws {
        let answer = try await signIn(provider, as: sub)
        try #require(
            answer.status == 303 && cookies["plutus_session"] != nil, "sign-in as \(sub): \(answer.status) \(answer.text)")
    }

    /// The status a fresh sign-in as `sub` ends with.
    public func signInStatus(_ provider: OpenIDProviderMock, _ sub: String) async throws -> Int {
        var copy = self
        return try await copy.signIn(provider, as: sub).status
    }
}
