import HTTPTypes
import Testing

@testable import PlutusServer

@Suite("Security headers on every response")
struct SecurityHeaderTests {
    func values(_ headers: HTTPFields, _ name: String) -> [String] {
        headers.filter { $0.name.canonicalName == name }.map(\.value)
    }

    @Test func aBareResponseGetsAllFive() {
        var headers: HTTPFields = [.contentType: "application/json"]
        ErrorMiddleware.stamp(&headers, requestID: "abc")
        #expect(values(headers, "x-request-id") == ["abc"])
        #expect(values(headers, "x-content-type-options") == ["nosniff"])
        #expect(values(headers, "x-frame-options") == ["DENY"])
        #expect(values(headers, "referrer-policy") == ["same-origin"])
        #expect(values(headers, "content-security-policy") == [ErrorMiddleware.defaultContentSecurityPolicy])
        #expect(values(headers, "content-type") == ["application/json"])
    }

    @Test func aPagesOwnPolicyStaysAndFixedOnesAreReplacedNotDoubled() {
        var headers: HTTPFields = [.contentSecurityPolicy: "default-src 'self'", .init("X-Frame-Options")!: "SAMEORIGIN"]
        ErrorMiddleware.stamp(&headers, requestID: "r1")
        #expect(values(headers, "content-security-policy") == ["default-src 'self'"])
        #expect(values(headers, "x-frame-options") == ["DENY"])
        #expect(values(headers, "x-request-id") == ["r1"])
        #expect(values(headers, "x-content-type-options") == ["nosniff"])
        #expect(values(headers, "referrer-policy") == ["same-origin"])
    }
}
