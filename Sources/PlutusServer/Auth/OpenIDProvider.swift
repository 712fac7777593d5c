import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import PlutusCore

/// The configured OpenID provider, as this process knows it: its discovery document and its
/// signing keys, fetched when first needed and kept; the keys are fetched again when a token
/// names one not among them.
actor OpenIDProvider {
    struct Endpoints: Sendable {
        var issuer: String
        var authorization: String
        var token: String
        var keys: String
    }

    let configuration: SignInConfiguration
    private var endpoints: Endpoints?
    private var keys: IDTokens.PublishedKeys?
    private var keysFetchedAt: ContinuousClock.Instant?

    /// Time one call to the provider may take.
    static let timeoutSeconds: Int64 = 10
    /// Answers from the provider read at most.
    static let answerBytesMax = 1_048_576
    /// Keys are fetched again for an unknown `kid` at most this often.
    static let refetchSecondsMin: Int64 = 10

    init(configuration: SignInConfiguration) {
        self.configuration = configuration
    }

    /// The endpoints from `<issuer>/.well-known/openid-configuration`.
    func discovered() async throws(SignInFailure) -> Endpoints {
        if let endpoints { return endpoints }
        let document = try await Self.getJSON(
            configuration.discoveryURL, what: "discovery document")
        guard let issuer = document["issuer"]?.stringValue, let authorization = document["authorization_endpoint"]?.stringValue,
            let token = document["token_endpoint"]?.stringValue, let keys = document["jwks_uri"]?.stringValue
        else { throw SignInFailure("the provider's discovery document lacks its endpoints") }
        guard issuer == configuration.issuer else {
            throw SignInFailure("the provider says its issuer is '\(issuer)', not the configured '\(configuration.issuer)'")
        }
        let found = Endpoints(issuer: issuer, authorization: authorization, token: token, keys: keys)
        endpoints = found
        return found
    }

    /// Verifies an ID token against the provider's keys, fetching them again once when the
    /// token names a key not among them.
    func verify(_ token: String, nonce: String, now: Timestamp) async throws(SignInFailure) -> IDTokenClaims {
        let endpoints = try await discovered()
        let collection = try await signingKeys(endpoints, refresh: false)
        do {
            return try await IDTokens.verify(
                token, keys: collection, issuer: endpoints.issuer, clientID: configuration.clientID, nonce: nonce, now: now)
        } catch  where error == IDTokens.unknownKey {
            let recent = keysFetchedAt.map { ContinuousClock.now - $0 < .seconds(Self.refetchSecondsMin) } ?? false
            guard !recent else { throw error }
            let refreshed = try await signingKeys(endpoints, refresh: true)
            return try await IDTokens.verify(
                token, keys: refreshed, issuer: endpoints.issuer, clientID: configuration.clientID, nonce: nonce, now: now)
        }
    }

    private func signingKeys(_ endpoints: Endpoints, refresh: Bool) async throws(SignInFailure) -> IDTokens.PublishedKeys {
        if let keys, !refresh { return keys }
        let text = try await Self.get(endpoints.keys, what: "signing keys")
        let collection = try await IDTokens.publishedKeys(jwksJSON: text)
        keys = collection
        keysFetchedAt = ContinuousClock.now
        return collection
    }

    /// Exchanges the authorization code (with its PKCE verifier) for the ID token.
    func exchange(code: String, verifier: String, redirectURI: String) async throws(SignInFailure) -> String {
        let endpoints = try await discovered()
        var request = HTTPClientRequest(url: endpoints.token)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        let credentials = Data("\(Self.formEncode(configuration.clientID)):\(Self.formEncode(configuration.clientSecret))".utf8)
        request.headers.add(name: "authorization", value: "Basic \(credentials.base64EncodedString())")
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier),
            ("client_id", configuration.clientID),
        ].map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        let (status, body) = try await Self.send(request, what: "token exchange")
        guard (200..<300).contains(status) else {
            throw SignInFailure("the provider refused the sign-in code (HTTP \(status): \(String(body.prefix(200))))")
        }
        guard let value = try? JSONValue.parse(body), let token = value["id_token"]?.stringValue else {
            throw SignInFailure("the provider's answer carries no ID token")
        }
        return token
    }

    private static func getJSON(_ url: String, what: String) async throws(SignInFailure) -> JSONValue {
        let text = try await get(url, what: what)
        guard let value = try? JSONValue.parse(text), case .object = value else {
            throw SignInFailure("the provider's \(what) is not JSON")
        }
        return value
    }

    private static func get(_ url: String, what: String) async throws(SignInFailure) -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        let (status, body) = try await send(request, what: what)
        guard (200..<300).contains(status) else { throw SignInFailure("the provider's \(what) answered HTTP \(status)") }
        return body
    }

    private static func send(_ request: HTTPClientRequest, what: String) async throws(SignInFailure) -> (Int, String) {
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeoutSeconds))
            let body = try await response.body.collect(upTo: answerBytesMax)
            return (Int(response.status.code), String(buffer: body))
        } catch {
            throw SignInFailure("the provider could not be reached for its \(what)")
        }
    }

    /// `application/x-www-form-urlencoded` for one value.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
