import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("POST /v1/usage over real loopback HTTP")
struct IngestTests {
    func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    @Test func recordsOneEventWithTheOriginalResponseShape() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "50")
            let response = try await server.ingest(
                key,
                #"{"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 1000, "output_tokens": 500, "cache_read_tokens": 2000, "reasoning_tokens": 100}"#
            )
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("x-request-id")?.isEmpty == false)
            let body = response.json
            #expect(body["org_id"] == .string(org.rawValue))
            #expect(body["recorded"] == .bool(true))
            #expect(body["cost_usd"] == .number("0.063"))
            #expect(body["balance_after"] == .number("49.937"))
            #expect(body["tier"] == .string("pro"))
            #expect(body["tracked_tokens_mtd"] == .number("3600"))
            #expect(try await server.balance(org) == dollars("49.937"))
        }
    }

    @Test func batchesReportCountersAnd402WhenNothingLands() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "2")
            let mixed = try await server.ingest(
                key, #"[{"provider": "p", "cost_usd": 1}, {"provider": "p", "cost_usd": 5}, {"provider": "p", "cost_usd": 1}]"#)
            #expect(mixed.status == 200)
            #expect(mixed.json["recorded"] == .number("2"))
            #expect(mixed.json["blocked"] == .number("1"))
            #expect(mixed.json["over_balance_blocked"] == .number("1"))
            let refused = try await server.ingest(key, #"[{"provider": "p", "cost_usd": 0.5}]"#)
            #expect(refused.status == 402)
            #expect(refused.json["error"] == .string("prepaid credit exhausted"))
            #expect(refused.json["upgrade_url"] == .string("/pricing"))
            #expect(try await server.eventCount(org) == 2)
        }
    }

    @Test func freeTierQuotaAnswers402WhenBlocking() async throws {
        try await TestServer.with(policy: MeteringPolicy(blockOverFreeLimit: true)) { server in
            let (_, key) = try await server.organization(plan: .free)
            #expect(
                try await server.ingest(key, #"{"provider": "p", "input_tokens": 10000}"#).json["over_free_limit"] == .bool(true))
            let blocked = try await server.ingest(key, #"{"provider": "p", "input_tokens": 1}"#)
            #expect(blocked.status == 402)
            #expect(blocked.json["error"] == .string("free-tier token quota reached — upgrade to Pro"))
        }
    }

    @Test func credentialsAreCheckedFirst() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            for bearer in [nil, "", "plutus_sk_nope", "plutus_sk_" + String(repeating: "A", count: 32), key + "x"] as [String?] {
                let response = try await server.ingest(bearer, #"{"provider": "p"}"#)
                #expect(response.status == 401)
                #expect(response.json["error"] == .string("invalid or missing API key"))
            }
            let wrongScheme = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage", headers: [("Authorization", "Basic \(key)")],
                body: Array(#"{"provider":"p"}"#.utf8))
            #expect(wrongScheme.status == 401)
            let lowerScheme = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage", headers: [("Authorization", "bearer \(key)")],
                body: Array(#"{"provider":"p"}"#.utf8))
            #expect(lowerScheme.status == 200)
            let spaced = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage", headers: [("Authorization", "BEARER  \t\(key) \t")],
                body: Array(#"{"provider":"p"}"#.utf8))
            #expect(spaced.status == 200)
            for header in ["Bearer", "Bearer ", "Bearerx \(key)", "Bear \(key)", "Bearer\t\(key)"] {
                let refused = try await LoopbackClient.send(
                    port: server.port, "POST", "/v1/usage", headers: [("Authorization", header)],
                    body: Array(#"{"provider":"p"}"#.utf8))
                #expect(refused.status == 401, "\(header)")
            }
            // Two Authorization fields read as one joined value, which is no bearer token.
            let twice = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage",
                headers: [("Authorization", "Bearer \(key)"), ("Authorization", "Bearer \(key)")],
                body: Array(#"{"provider":"p"}"#.utf8))
            #expect(twice.status == 401)
            #expect(try await server.eventCount(org) == 2)
        }
    }

    @Test func revokingAKeyTakesEffectAtOnce() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            #expect(try await server.ingest(key, #"{"provider": "p"}"#).status == 200)
            let keyID = try await server.store.listAPIKeys(org)[0].id
            let revoked = try await server.admin(
                "POST", "/v1/admin/keys/revoke", #"{"org_id": "\#(org)", "key_id": "\#(keyID)"}"#)
            #expect(revoked.status == 200)
            #expect(try await server.ingest(key, #"{"provider": "p"}"#).status == 401)
        }
    }

    /// Every kind of bad input gets a clean 4xx naming the problem and records nothing.
    @Test(
        arguments: [
            ("{not json", 400, "body must be JSON"),
            ("[]", 400, "send 1–1000 events"),
            ("\"text\"", 400, "body must be a JSON object or an array of events"),
            ("{}", 400, "each event needs a 'provider'"),
            (#"{"provider": true}"#, 400, "each event needs a 'provider'"),
            (
                #"[{"provider": "p"}, {"provider": "p", "input_tokens": "5"}]"#, 400,
                "token fields must be integers (event 1, field 'input_tokens'"
            ),
            (#"{"provider": "p", "output_tokens": 1.5}"#, 400, "token fields must be integers"),
            (#"{"provider": "p", "output_tokens": false}"#, 400, "token fields must be integers"),
            (#"{"provider": "p", "input_tokens": -1}"#, 400, "token fields must be non-negative"),
            (#"{"provider": "p", "input_tokens": 123456789012345678901234567890}"#, 400, "token fields must be at most"),
            (#"{"provider": "p", "cost_usd": NaN}"#, 400, "cost_usd must be a finite number"),
            (#"{"provider": "p", "cost_usd": Infinity}"#, 400, "cost_usd must be a finite number"),
            (#"{"provider": "p", "cost_usd": 1e400}"#, 400, "cost_usd must be at most"),
            (#"{"provider": "p", "cost_usd": -0.5}"#, 400, "cost_usd must be non-negative"),
            (#"{"provider": "p", "cost_usd": "lots"}"#, 400, "cost_usd must be a number"),
            (#"{"provider": "p\u0007"}"#, 400, "'provider' must not contain control characters"),
            (#"{"provider": "p", "model": "m\nm"}"#, 400, "'model' must not contain control characters"),
            (#"{"provider": "p", "ts": "last week"}"#, 400, "'ts' must be epoch seconds"),
            (#"{"provider": "p", "ts": 1000}"#, 400, "'ts' must be within the last 35 days"),
            (#"{"provider": "p", "a": 1, "a": 2}"#, 400, "body must be JSON"),
            (#"{"provider": "p", "output_tokens": 1000000000000}"#, 400, "the estimated cost must be at most"),
        ] as [(String, Int, String)])
    func badInputIsACleanClientError(body: String, status: Int, message: String) async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization(credit: "10")
            let response = try await server.ingest(key, body)
            #expect(response.status == status)
            guard case .string(let error) = response.json["error"] else {
                Issue.record("no error in \(response.text)")
                return
            }
            #expect(error.hasPrefix(message) || error.contains(message), "\(error)")
            #expect(try await server.eventCount(org) == 0)
            #expect(try await server.balance(org) == dollars("10"))
        }
    }

    @Test func longStringsAreRefusedByName() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let response = try await server.ingest(key, #"{"provider": "\#(String(repeating: "x", count: 65))"}"#)
            #expect(response.status == 400)
            #expect(response.json["field"] == .string("provider"))
            let model = try await server.ingest(key, #"{"provider": "p", "model": "\#(String(repeating: "m", count: 129))"}"#)
            #expect(model.json["field"] == .string("model"))
            #expect(try await server.eventCount(org) == 0)
        }
    }

    @Test func bodiesOverOneMebibyteAre413WhateverTheyClaim() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let big = Array(repeating: UInt8(ascii: " "), count: Limits.bodyBytesMax + 1)
            let declared = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage", headers: [("Authorization", "Bearer \(key)")], body: big)
            #expect(declared.status == 413)
            #expect(declared.json["error"] == .string("request body too large"))
            // A small Content-Length with a huge declared-later body cannot sneak past either:
            // chunked transfer has no Content-Length at all.
            var chunked: [UInt8] = []
            for _ in 0..<17 {
                chunked += Array("10000\r\n".utf8) + Array(repeating: UInt8(ascii: " "), count: 65_536) + Array("\r\n".utf8)
            }
            chunked += Array("0\r\n\r\n".utf8)
            let streamed = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage",
                headers: [("Authorization", "Bearer \(key)"), ("Transfer-Encoding", "chunked")], body: chunked)
            #expect(streamed.status == 413)
            // A chunked body under the cap is fine.
            let small = "{\"provider\":\"p\"}"
            let ok = try await LoopbackClient.send(
                port: server.port, "POST", "/v1/usage",
                headers: [("Authorization", "Bearer \(key)"), ("Transfer-Encoding", "chunked")],
                body: Array((String(small.utf8.count, radix: 16) + "\r\n" + small + "\r\n0\r\n\r\n").utf8))
            #expect(ok.status == 200)
            #expect(try await server.eventCount(org) == 1)
        }
    }

    @Test(arguments: ["-5", "abc", "1e3"])
    func badContentLengthIs400(value: String) async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let request =
                "POST /v1/usage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Length: \(value)\r\n\r\n{\"provider\":\"p\"}"
            let response = try await LoopbackClient.raw(port: server.port, Array(request.utf8))
            #expect(response.status == 400)
            #expect(try await server.eventCount(org) == 0)
        }
    }

    @Test func aKeyOnlyEverReachesItsOwnOrganization() async throws {
        try await TestServer.with { server in
            let (first, firstKey) = try await server.organization("First")
            let (second, secondKey) = try await server.organization("Second")
            _ = try await server.ingest(firstKey, #"{"provider": "p", "cost_usd": 1, "workspace": "shared"}"#)
            _ = try await server.ingest(secondKey, #"{"provider": "p", "cost_usd": 2}"#)
            let export = try await LoopbackClient.json(port: server.port, "GET", "/v1/usage/export.json", bearer: secondKey)
            #expect(export.json["org_id"] == .string(second.rawValue))
            #expect(export.json["count"] == .number("1"))
            let balance = try await LoopbackClient.json(port: server.port, "GET", "/v1/balance", bearer: firstKey)
            #expect(balance.json["org_id"] == .string(first.rawValue))
            #expect(balance.json["balance"] == .number("-1"))
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        // 1/min with a burst of 2: the third request in a row is refused (a token comes back
        // only after a minute, so a slow, loaded machine cannot refill the bucket mid-test).
        try await TestServer.with(rate: 1) { server in
            let (org, key) = try await server.organization()
            #expect(try await server.ingest(key, #"{"provider": "p"}"#).status == 200)
            #expect(try await server.ingest(key, #"{"provider": "p"}"#).status == 200)
            let limited = try await server.ingest(key, #"{"provider": "p"}"#)
            #expect(limited.status == 429)
            #expect(limited.json["error"] == .string("rate limit exceeded — slow down"))
            #expect(Int(limited.header("retry-after") ?? "") ?? 0 >= 1)
            #expect(try await server.eventCount(org) == 2)
        }
    }

    @Test func idempotencyKeysReplayAndConflict() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let body = #"[{"provider": "p", "cost_usd": 1}, {"provider": "p", "cost_usd": 2}]"#
            let first = try await server.ingest(key, body, idempotencyKey: "job-42")
            let again = try await server.ingest(key, body, idempotencyKey: "job-42")
            #expect(first.status == 200 && again.status == 200)
            #expect(again.json["idempotent_replay"] == .bool(true))
            #expect(again.json["results"] == first.json["results"])
            let changed = try await server.ingest(key, #"[{"provider": "p", "cost_usd": 9}]"#, idempotencyKey: "job-42")
            #expect(changed.status == 409)
            let tooLong = try await server.ingest(key, body, idempotencyKey: String(repeating: "k", count: 256))
            #expect(tooLong.status == 400)
            #expect(try await server.eventCount(org) == 2)
        }
    }

    @Test func clientEventIDsDeduplicateForever() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let first = try await server.ingest(key, #"{"provider": "p", "cost_usd": 1, "event_id": "call-7"}"#)
            let again = try await server.ingest(key, #"{"provider": "p", "cost_usd": 1, "event_id": "call-7"}"#)
            #expect(again.status == 200)
            #expect(again.json["duplicate"] == .bool(true))
            #expect(again.json["event_id"] == first.json["event_id"])
            #expect(try await server.eventCount(org) == 1)
        }
    }

    @Test func backfilledTimestampsAreAccepted() async throws {
        try await TestServer.with { server in
            let (org, key) = try await server.organization()
            let twoDaysAgo = Int(Date().timeIntervalSince1970) - 2 * 86_400
            #expect(try await server.ingest(key, #"{"provider": "p", "ts": \#(twoDaysAgo)}"#).status == 200)
            let stored = try await server.store.exportUsageEvents(org, after: nil, from: nil, to: nil, limit: 10)
            #expect(stored.first?.timestamp == Timestamp.seconds(Int64(twoDaysAgo)))
        }
    }

    @Test func contentionIs503WithRetryAfterNot400() async throws {
        try await TestServer.with(busyTimeoutSeconds: 0.2) { server in
            let (org, key) = try await server.organization()
            // Another process holds the write lock past the busy timeout, until the answer is in.
            let (holder, release) = try ForeignWriteLock.holdUntilReleased(server.store.path)
            let response = try await server.ingest(key, #"{"provider": "p", "cost_usd": 1}"#)
            release()
            holder.waitUntilExit()
            #expect(response.status == 503)
            #expect(response.header("retry-after") == "1")
            #expect(try await server.eventCount(org) == 0)
            #expect(try await server.ingest(key, #"{"provider": "p", "cost_usd": 1}"#).status == 200)
        }
    }
}
