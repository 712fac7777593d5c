import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("POST /v1/usage: provider-native usage, warnings, strict mode and refusals that say what happened")
struct IngestWarningsTests {
    func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    @Test func anthropicCacheFieldsAreBilledNotDropped() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let response = try await server.ingest(
                key,
                #"{"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 210, "cache_read_input_tokens": 90000, "cache_creation_input_tokens": 20000}"#
            )
            #expect(response.status == 200)
            #expect(response.json["cost_usd"] == .number("0.10815"))
            #expect(response.json["warnings"] == nil)
            let openAI = try await server.ingest(
                key, #"{"provider": "openai", "model": "gpt-5", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}"#)
            // 1000 × 1.25 + 100 × 10 micro-dollars
            #expect(openAI.json["cost_usd"] == .number("0.00225"))
            #expect(try await server.balance(org) == dollars("9.88960"))
        }
    }

    @Test func unknownFieldsAreNamedBesideA200() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let response = try await server.ingest(
                key, #"[{"provider": "openai", "input_tokens": 10, "latency_ms": 900}, {"provider": "openai"}]"#)
            #expect(response.status == 200)
            #expect(response.json["recorded"] == .number("2"))
            guard case .array(let warnings) = response.json["warnings"] else {
                Issue.record("no warnings in \(response.text)")
                return
            }
            #expect(warnings.count == 2)
            #expect(warnings[0]["index"] == .number("0") && warnings[0]["field"] == .string("latency_ms"))
            #expect(warnings[0]["code"] == .string("unknown_field"))
            #expect(warnings[1]["index"] == .number("1") && warnings[1]["code"] == .string("nothing_to_bill"))
            #expect(try await server.eventCount(org) == 2)
        }
    }

    @Test func strictModeRefusesEveryWarningAndWritesNothing() async throws {
        try await TestServer.with(strictEvents: true) { server in
            let (org, key) = try await server.organization(credit: "10")
            let unknown = try await server.ingest(
                key, #"[{"provider": "openai", "input_tokens": 10}, {"provider": "openai", "input_tokens": 1, "modle": "gpt-5"}]"#
            )
            #expect(unknown.status == 400)
            #expect(unknown.json["field"] == .string("modle"))
            #expect(unknown.json["index"] == .number("1"))
            #expect(unknown.json["code"] == .string("unknown_field"))
            let empty = try await server.ingest(key, #"{"provider": "openai", "model": "gpt-5"}"#)
            #expect(empty.status == 400)
            #expect(empty.json["code"] == .string("nothing_to_bill"))
            #expect(try await server.eventCount(org) == 0)
            let clean = try await server.ingest(key, #"{"provider": "openai", "model": "gpt-5", "input_tokens": 10}"#)
            #expect(clean.status == 200)
        }
    }

    @Test func aCallBiggerThanTheCreditIsRefusedSayingSoAndSmallerCallsStillRun() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "57.44")
            let big = try await server.ingest(key, #"{"provider": "p", "cost_usd": 75.01}"#)
            #expect(big.status == 402)
            #expect(big.json["error"] == .string("prepaid credit exhausted"))
            #expect(big.json["detail"] == .string("insufficient credit: this call costs $75.01, balance $57.44"))
            #expect(big.json["required_usd"] == .number("75.01"))
            #expect(big.json["balance_usd"] == .number("57.44"))
            let small = try await server.ingest(key, #"{"provider": "p", "cost_usd": 7.44}"#)
            #expect(small.status == 200)
            let alerts = try await server.store.recentAlerts(org, limit: 10)
            #expect(alerts.contains { $0.kind == .callRefused && $0.message.contains("costs $75.01") })
            #expect(!alerts.contains { $0.kind == .hardStop })
            let last = try await server.ingest(key, #"{"provider": "p", "cost_usd": 50}"#)
            #expect(last.status == 200)
            let drained = try await server.ingest(key, #"[{"provider": "p", "cost_usd": 1}, {"provider": "p", "cost_usd": 2}]"#)
            #expect(drained.status == 402)
            #expect(drained.json["detail"] == .string("prepaid credit exhausted: balance $0.00, event 0 costs $1.00"))
            #expect(try await server.store.recentAlerts(org, limit: 10).contains { $0.kind == .hardStop })
        }
    }

    @Test func anEventsWrapperIsAcceptedAsABatch() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let response = try await server.ingest(
                key, #"{"events": [{"provider": "p", "cost_usd": 1}, {"provider": "p", "cost_usd": 2}]}"#)
            #expect(response.status == 200)
            #expect(response.json["recorded"] == .number("2"))
            let wrong = try await server.ingest(key, #"{"events": {"provider": "p"}}"#)
            #expect(wrong.status == 400)
            #expect(wrong.json["error"]?.stringValue?.contains(#"{"events": ["#) == true)
            #expect(try await server.eventCount(org) == 2)
        }
    }
}
