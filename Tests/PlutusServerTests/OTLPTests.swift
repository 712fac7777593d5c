import Foundation
import PlutusCore
import PlutusGatewayTesting
import PlutusOTLP
import PlutusOTLPProto
import PlutusStore
import PlutusStoreTesting
import Testing

/// The mapping from spans and log records to usage events, without a server.
@Suite struct OTLPUsageTests {
    static func span(_ attributes: [(String, OTLPValue)], resource: [(String, OTLPValue)] = []) -> OTLPSpan {
        OTLPSpan(
            traceID: Array(repeating: 0xab, count: 16), spanID: Array(repeating: 0xcd, count: 8), name: "chat",
            startNanos: 1_000_000_000, endNanos: 2_500_000_000,
            attributes: OTLPAttributes(attributes.map { OTLPAttribute(key: $0.0, value: $0.1) }),
            resource: OTLPAttributes(resource.map { OTLPAttribute(key: $0.0, value: $0.1) }), scope: "test")
    }

    static func event(_ item: OTLPUsageItem) throws -> JSONValue {
        guard case .event(let event) = item else {
            Issue.record("expected an event, got \(item)")
            throw OTLPDecodeError("not an event")
        }
        // The typed event and its /v1/usage object are checked alike.
        let now = Timestamp.seconds(1)
        let typed = Result { () throws(UsageFieldError) in try event.input(now: now) }
        let asObject = Result { () throws(UsageFieldError) in
            try UsageValidation.validate(event.json, index: 0, now: now, defaultSource: "otlp")
        }
        #expect(typed == asObject)
        return event.json
    }

    @Test func semanticConventionSpansBillEachTokenOnce() throws {
        let object = try Self.event(
            OTLPUsage.event(
                Self.span(
                    [
                        ("gen_ai.provider.name", .string("openai")), ("gen_ai.request.model", .string("gpt-5")),
                        ("gen_ai.response.model", .string("gpt-5-2025-08-07")), ("gen_ai.usage.input_tokens", .int(2_006)),
                        ("gen_ai.usage.cache_read.input_tokens", .int(1_920)), ("gen_ai.usage.output_tokens", .int(300)),
                        ("gen_ai.usage.reasoning.output_tokens", .int(256)), ("gen_ai.operation.name", .string("chat")),
                        ("gen_ai.usage.cost", .double(99)),
                    ], resource: [("service.name", .string("support-bot"))])))
        #expect(object["provider"] == .string("openai") && object["model"] == .string("gpt-5-2025-08-07"))
        #expect(object["input_tokens"] == .int(86) && object["cache_read_tokens"] == .int(1_920))
        #expect(object["output_tokens"] == .int(44) && object["reasoning_tokens"] == .int(256))
        #expect(
            object["event_id"]
                == .string(
                    "otlp-000000009502f900-" + String(repeating: "ab", count: 16) + "-" + String(repeating: "cd", count: 8)))
        #expect(object["workspace"] == .string("support-bot") && object["task_type"] == .string("chat"))
        #expect(object["ts"] == .number("2.5") && object["source"] == .string("otlp") && object["cost_usd"] == nil)
    }

    @Test func olderAndOpenInferenceNamesAreRead() throws {
        let older = try Self.event(
            OTLPUsage.event(
                Self.span([
                    ("gen_ai.system", .string("Anthropic")), ("gen_ai.request.model", .string("claude-sonnet-4-5")),
                    ("gen_ai.usage.prompt_tokens", .string("1200")), ("gen_ai.usage.completion_tokens", .double(300)),
                    ("plutus.workspace", .string("research")),
                ])))
        #expect(older["provider"] == .string("anthropic") && older["input_tokens"] == .int(1_200))
        #expect(older["output_tokens"] == .int(300) && older["workspace"] == .string("research"))
        let inference = try Self.event(
            OTLPUsage.event(
                Self.span([
                    ("llm.provider", .string("openai")), ("llm.model_name", .string("gpt-4o")),
                    ("llm.token_count.prompt", .int(2_000)), ("llm.token_count.completion", .int(100)),
                    ("llm.token_count.prompt_details.cache_read", .int(1_500)),
                ])))
        #expect(inference["input_tokens"] == .int(500) && inference["cache_read_tokens"] == .int(1_500))
        #expect(
            OTLPUsage.event(Self.span([("gen_ai.provider.name", .string("gcp.gemini")), ("gen_ai.usage.input_tokens", .int(5))]))
                .eventProvider == "google")
    }

    @Test func spansWithoutUsageAreIgnoredAndBadOnesSayWhy() {
        #expect(OTLPUsage.event(Self.span([("http.method", .string("GET"))])) == .ignored)
        #expect(
            OTLPUsage.event(Self.span([("gen_ai.usage.input_tokens", .int(10))]))
                == .rejected("the span reports token usage but names no provider (gen_ai.provider.name)"))
        #expect(
            OTLPUsage.event(Self.span([("gen_ai.provider.name", .string("openai")), ("gen_ai.usage.input_tokens", .int(-3))]))
                == .rejected("gen_ai.usage.input_tokens must be a token count from 0 to 1000000000000, got -3"))
        var anonymous = Self.span([("gen_ai.provider.name", .string("openai")), ("gen_ai.usage.output_tokens", .int(1))])
        anonymous.spanID = []
        #expect(OTLPUsage.event(anonymous) == .rejected("the span has no trace or span id, so it cannot be billed exactly once"))
    }

    @Test func claudeCodeAndCodexRecordsBecomeEventsWithAStableIdentity() throws {
        func record(_ name: String, _ attributes: [(String, OTLPValue)], service: String) -> OTLPLogRecord {
            OTLPLogRecord(
                timeNanos: 3_000_000_000, observedNanos: 0, eventName: "", body: .string(name),
                attributes: OTLPAttributes(attributes.map { OTLPAttribute(key: $0.0, value: $0.1) }),
                resource: OTLPAttributes([OTLPAttribute(key: "service.name", value: .string(service))]), scope: "", traceID: [],
                spanID: [])
        }
        let claude = record(
            "claude_code.api_request",
            [
                ("model", .string("claude-sonnet-4-5")), ("input_tokens", .int(12)), ("output_tokens", .int(640)),
                ("cache_read_tokens", .int(18_000)), ("cache_creation_tokens", .int(2_400)), ("cost_usd", .double(12.5)),
            ], service: "claude-code")
        let object = try Self.event(OTLPUsage.event(claude))
        // Anthropic's counts: the input already excludes the cache.
        #expect(object["input_tokens"] == .int(12) && object["cache_read_tokens"] == .int(18_000))
        #expect(object["cache_write_tokens"] == .int(2_400) && object["output_tokens"] == .int(640))
        #expect(object["provider"] == .string("anthropic") && object["source"] == .string("claude-code"))
        #expect(object["workspace"] == .string("claude-code"))
        #expect(try Self.event(OTLPUsage.event(claude))["event_id"] == object["event_id"])
        var other = claude
        other.timeNanos += 1
        #expect(try Self.event(OTLPUsage.event(other))["event_id"] != object["event_id"])

        let codex = record(
            "codex.sse_event",
            [
                ("event.kind", .string("response.completed")), ("model", .string("gpt-5")),
                ("input_token_count", .int(24_000)), ("cached_token_count", .int(20_000)),
                ("output_token_count", .int(1_500)), ("reasoning_token_count", .int(1_000)),
            ], service: "codex_cli_rs")
        let billed = try Self.event(OTLPUsage.event(codex))
        #expect(billed["input_tokens"] == .int(4_000) && billed["cache_read_tokens"] == .int(20_000))
        #expect(billed["output_tokens"] == .int(500) && billed["reasoning_tokens"] == .int(1_000))
        #expect(billed["provider"] == .string("openai") && billed["source"] == .string("codex"))
        #expect(
            OTLPUsage.event(record("codex.sse_event", [("event.kind", .string("response.created"))], service: "codex"))
                == .ignored)
        #expect(OTLPUsage.event(record("claude_code.user_prompt", [], service: "claude-code")) == .ignored)
    }

    @Test func otlpJSONIsReadWithHexIdsAndStringIntegers() throws {
        let body = try JSONValue.parse(
            #"""
            {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
              "scopeSpans": [{"scope": {"name": "s"}, "spans": [{"traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174", "name": "chat", "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": 1544712661000000000, "attributes": [
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}},
                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
                {"key": "blob", "value": {"bytesValue": "AAE="}}]}]}]}]}
            """#)
        let spans = try OTLPJSON.spans(body)
        #expect(
            spans.count == 1 && spans[0].traceID.count == 16
                && spans[0].spanID == [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74])
        #expect(spans[0].attributes["gen_ai.usage.input_tokens"] == .int(7) && spans[0].endNanos == 1_544_712_661_000_000_000)
        #expect(spans[0].attributes["blob"] == .bytes([0, 1]) && spans[0].resource.text("service.name") == "bot")
        #expect(throws: OTLPDecodeError("traceId must be hex, got \"xyz\"")) {
            _ = try OTLPJSON.spans(
                try JSONValue.parse(#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}"#))
        }
    }

    @Test func gzipBodiesInflateWithinTheirLimit() throws {
        let text = String(repeating: "hello ", count: 100)
        let gz = try Gunzip.inflate(Self.gzipped, limit: 1_000)
        #expect(String(decoding: gz, as: UTF8.self) == text)
        #expect(throws: Gunzip.Failure.tooLarge) { _ = try Gunzip.inflate(Self.gzipped, limit: 100) }
        #expect(throws: Gunzip.Failure.invalid) { _ = try Gunzip.inflate(Array("not gzip".utf8)) }
        #expect(throws: Gunzip.Failure.invalid) { _ = try Gunzip.inflate(Array(Self.gzipped.prefix(12))) }
    }

    /// A typed event is refused exactly as its /v1/usage object would be: a blank provider,
    /// a label too long or with a control character, a time out of its window.
    @Test func typedEventsAreCheckedByTheEventRules() {
        let now = Timestamp.seconds(1_800_000_000)
        let good = OTLPEvent(
            provider: "openai", model: "gpt-5", tokens: TokenCounts(input: 10, output: 5), eventID: "otlp-1",
            timestamp: now.adding(seconds: -60), workspace: "research", taskType: "chat", runID: "run-1", source: "otlp")
        var variants = [good]
        for change in [
            { (event: inout OTLPEvent) in event.provider = " " }, { $0.provider = String(repeating: "p", count: 65) },
            { $0.model = "gpt\u{7}" }, { $0.workspace = String(repeating: "w", count: 129) }, { $0.runID = "" },
            { $0.eventID = String(repeating: "e", count: 129) }, { $0.taskType = "" }, { $0.model = nil },
            { $0.timestamp = now.adding(seconds: -36 * 86_400) }, { $0.timestamp = now.adding(seconds: 600) },
            { $0.timestamp = nil },
        ] {
            var event = good
            change(&event)
            variants.append(event)
        }
        var refused = 0
        for event in variants {
            let typed = Result { () throws(UsageFieldError) in try event.input(now: now) }
            let asObject = Result { () throws(UsageFieldError) in
                try UsageValidation.validate(event.json, index: 0, now: now, defaultSource: "otlp")
            }
            #expect(typed == asObject, "\(event)")
            if case .failure = typed { refused += 1 }
        }
        #expect(refused == 7)
    }

    /// An export with every kind of value, nesting, several resources and scopes, keys billing
    /// reads and keys it does not (non-ASCII, empty), an attribute with no value, a scope with
    /// no name: the wire reader answers exactly as the generated messages do, and so does
    /// every truncation of it (both refuse, or both read the same spans).
    @Test func theWireReaderReadsTracesAsTheGeneratedMessagesDo() throws {
        typealias KeyValue = Opentelemetry_Proto_Common_V1_KeyValue
        typealias AnyValue = Opentelemetry_Proto_Common_V1_AnyValue
        func pair(_ key: String, _ value: AnyValue.OneOf_Value?) -> KeyValue {
            var pair = KeyValue()
            pair.key = key
            if let value { pair.value.value = value }
            return pair
        }
        func any(_ value: AnyValue.OneOf_Value) -> AnyValue {
            var any = AnyValue()
            any.value = value
            return any
        }
        var nested = Opentelemetry_Proto_Common_V1_KeyValueList()
        var array = Opentelemetry_Proto_Common_V1_ArrayValue()
        array.values = [
            any(.intValue(-7)), any(.doubleValue(2.5)), any(.boolValue(true)), any(.bytesValue(Data([1, 2, 255]))),
            any(.stringValue("x")),
        ]
        nested.values = [pair("inner", .arrayValue(array)), pair("gen_ai.system", .stringValue("openai"))]
        func span(_ id: UInt8, _ attributes: [KeyValue]) -> Opentelemetry_Proto_Trace_V1_Span {
            var span = Opentelemetry_Proto_Trace_V1_Span()
            span.traceID = Data(repeating: id, count: 16)
            span.spanID = Data(repeating: id &+ 1, count: 8)
            span.parentSpanID = Data(repeating: 9, count: 8)
            span.name = "chat \(id)"
            span.kind = 3
            span.startTimeUnixNano = 1_700_000_000_000_000_000 + UInt64(id)
            span.endTimeUnixNano = 1_700_000_001_000_000_000 + UInt64(id)
            span.attributes = attributes
            return span
        }
        var first = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        first.resource.attributes = [
            pair("service.name", .stringValue("agent-a")), pair("plutus.workspace", .stringValue("research")),
            pair("custom.map", .kvlistValue(nested)),
        ]
        var scoped = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scoped.scope.name = "opentelemetry.instrumentation.openai.v1"
        scoped.spans = [
            span(
                1,
                [
                    pair("gen_ai.provider.name", .stringValue("openai")), pair("gen_ai.request.model", .stringValue("gpt-5")),
                    pair("gen_ai.usage.input_tokens", .intValue(1_200)), pair("gen_ai.usage.output_tokens", .intValue(300)),
                    pair("gen_ai.usage.cache_read.input_tokens", .doubleValue(200)), pair("modèle", .stringValue("é")),
                    pair("", .stringValue("empty key")), pair("no.value", nil),
                    pair(String(repeating: "k", count: 80), .boolValue(false)),
                ]),
            span(2, []),
        ]
        var unnamed = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        unnamed.spans = [span(3, [pair("llm.token_count.prompt", .stringValue("42"))])]
        first.scopeSpans = [scoped, unnamed]
        var second = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var lone = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        lone.spans = [span(4, [pair("gen_ai.system", .stringValue("anthropic"))])]
        second.scopeSpans = [lone]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [first, second]
        let bytes = Array(try request.serializedData())

        let reference = try OTLPProtobuf.spans(bytes)
        #expect(reference.count == 4)
        #expect(try OTLPWire.spans(bytes) == reference)
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            let expected = try? OTLPProtobuf.spans(prefix)
            let read = try? OTLPWire.spans(prefix)
            #expect(read == expected, "the first \(length) bytes")
        }
        // Past the attribute limit: the same refusal.
        var crowded = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.spans = [span(5, (0...Limits.otlpAttributesPerItemMax).map { pair("key.\($0)", .intValue(Int64($0))) })]
        resource.scopeSpans = [scope]
        crowded.resourceSpans = [resource]
        let crowdedBytes = Array(try crowded.serializedData())
        #expect(throws: OTLPDecodeError("a span has 257 attributes; at most 256 are read")) {
            _ = try OTLPWire.spans(crowdedBytes)
        }
        #expect(throws: OTLPDecodeError("a span has 257 attributes; at most 256 are read")) {
            _ = try OTLPProtobuf.spans(crowdedBytes)
        }
        #expect(throws: OTLPDecodeError.self) { _ = try OTLPWire.spans(Array("not protobuf at all".utf8)) }
        // An array value of more values than are read: refused, not built.
        var huge = Opentelemetry_Proto_Common_V1_ArrayValue()
        huge.values = Array(repeating: AnyValue(), count: Limits.otlpValuesPerListMax + 1)
        var listed = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        var listedResource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var listedScope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        listedScope.spans = [span(6, [pair("gen_ai.prompt", .arrayValue(huge))])]
        listedResource.scopeSpans = [listedScope]
        listed.resourceSpans = [listedResource]
        let listedBytes = Array(try listed.serializedData())
        #expect(throws: OTLPDecodeError("an attribute's array or map holds more than 10000 values")) {
            _ = try OTLPWire.spans(listedBytes)
        }
    }

    /// "hello hello hello…" (600 bytes) as `gzip -9` writes it (the tool, not this code).
    static let gzipped: [UInt8] = {
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-gzip-\(UUID().uuidString)")
        try? Data(String(repeating: "hello ", count: 100).utf8).write(to: source)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-9", "-f", source.path]
        try? process.run()
        process.waitUntilExit()
        return Array((try? Data(contentsOf: source.appendingPathExtension("gz"))) ?? Data())
    }()
}

extension OTLPUsageItem {
    var eventProvider: String? {
        if case .event(let event) = self { return event.provider }
        return nil
    }
}

/// The real OpenTelemetry Python SDK exporting to a real `plutus` server over loopback.
@Suite("OTLP: the OpenTelemetry SDK's exports as usage events", .enabled(if: SDKPython.available))
struct OTLPExportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    @Test func everyExportedCallIsBilledOnceAtTheCatalogsPrice() async throws {
        let fake = FakeUpstream(key: "sk-test")
        try await fake.run { upstreamPort in
            try await TestServer.with { server in
                let (org, key) = try await server.organization(credit: "100")
                let output = try await SDKPython.run(
                    "otlp_export.py",
                    environment: [
                        "PLUTUS_URL": "http://127.0.0.1:\(server.port)", "PLUTUS_KEY": key,
                        "FAKE_OPENAI_URL": "http://127.0.0.1:\(upstreamPort)", "FIXTURES": Self.fixtures,
                    ])
                let result = try JSONValue.parse(output)
                #expect(result["instrumented_spans"] == .number("2"), "\(output)")
                #expect(result["protobuf_first"] == .string("SUCCESS") && result["protobuf_again"] == .string("SUCCESS"))
                for answer in ["json_first", "json_again"] {
                    #expect(result[answer]?["status"] == .number("200"))
                    let partial = result[answer]?["body"]?["partialSuccess"]
                    #expect(partial?["rejectedSpans"] == .string("1"), "\(output)")
                    #expect(partial?["errorMessage"]?.stringValue?.contains("names no provider") == true)
                }
                for name in ["claude_code_logs.json", "codex_logs.json"] {
                    for pass in ["_first", "_again"] {
                        #expect(result[name + pass]?["status"] == .number("200") && result[name + pass]?["body"] == .object([]))
                    }
                }

                let events = try await server.store.exportUsageEvents(
                    org, after: nil, from: nil, to: nil, limit: Limits.pageRowsMax)
                let bySource = Dictionary(grouping: events, by: \.source)
                #expect(events.count == 8, "\(events.map { ($0.source, $0.provider, $0.model ?? "") })")
                let instrumented = (bySource["otlp"] ?? []).filter { $0.model == "gpt-4o-mini" }
                #expect(instrumented.count == 2)
                for event in instrumented {
                    #expect(event.provider == "openai" && event.workspaceName == "support-bot")
                    #expect(event.tokens.cacheRead == FakeUpstream.cachedTokens && event.tokens.output == 12)
                    #expect(event.tokens.input > 0)
                }
                let claude = try #require((bySource["otlp"] ?? []).first { $0.provider == "anthropic" })
                #expect(claude.workspaceName == "research" && claude.taskType == "triage" && claude.tokens.input == 1_200)
                let inference = try #require((bySource["otlp"] ?? []).first { $0.model == "gpt-4o" })
                #expect(inference.tokens.input == 500 && inference.tokens.cacheRead == 1_500)
                let claudeCode = bySource["claude-code"] ?? []
                #expect(claudeCode.count == 3)
                #expect(claudeCode.filter { $0.workspaceName == "payments-service" }.count == 2)
                let fromSDK = try #require(claudeCode.first { $0.workspaceName == "billing-app" })
                #expect(fromSDK.tokens.input == 40 && fromSDK.tokens.cacheRead == 30_000 && fromSDK.tokens.cacheWrite == 2_000)
                let codex = try #require(bySource["codex"]?.first)
                #expect(codex.tokens.input == 4_000 && codex.tokens.cacheRead == 20_000 && codex.tokens.reasoning == 1_000)
                #expect(codex.workspaceName == "codex_cli_rs")

                // Every cost is the catalog's price of the tokens (the exported cost is never taken).
                let catalog = try await server.store.priceCatalog()
                var total: Int64 = 0
                for event in events {
                    let price = try #require(
                        catalog.price(provider: event.provider, model: event.model ?? "", tokens: event.tokens, exactCost: nil))
                    #expect(event.cost == price.cost, "\(event.provider) \(event.model ?? "")")
                    total += event.cost.rawValue
                }
                #expect(try await server.balance(org).rawValue == MicroDollars.dollars(100)!.rawValue - total)
            }
        }
    }

    @Test func badExportsAreRefusedWithAReason() async throws {
        try await TestServer.with { server in
            let (_, key) = try await server.organization(credit: "1")
            func post(_ headers: [(String, String)], _ body: [UInt8], path: String = "/v1/traces") async throws -> HTTPResult {
                try await LoopbackClient.send(port: server.port, "POST", path, headers: headers, body: body)
            }
            let json = [("Content-Type", "application/json"), ("Authorization", "Bearer \(key)")]
            #expect(try await post([("Content-Type", "application/json")], Array("{}".utf8)).status == 401)
            let wrongType = try await post([("Content-Type", "text/plain"), ("Authorization", "Bearer \(key)")], Array("x".utf8))
            #expect(wrongType.status == 415 && wrongType.text.contains("application/x-protobuf or application/json"))
            let badGzip = try await post(json + [("Content-Encoding", "gzip")], Array("not gzip".utf8))
            #expect(badGzip.status == 400 && badGzip.text.contains("not a whole gzip stream"))
            let brotli = try await post(json + [("Content-Encoding", "br")], Array("{}".utf8))
            #expect(brotli.status == 415)
            let badProtobuf = try await post(
                [("Content-Type", "application/x-protobuf"), ("Authorization", "Bearer \(key)")], [0xff, 0xff, 0xff],
                path: "/v1/logs")
            #expect(badProtobuf.status == 400 && badProtobuf.text.contains("not an OTLP ExportLogsServiceRequest"))
            let notJSON = try await post(json, Array("{".utf8))
            #expect(notJSON.status == 400 && notJSON.text.contains("invalid_otlp"))
            let empty = try await post(json, Array("{}".utf8))
            #expect(empty.status == 200 && empty.text == "{}")
            let emptyProtobuf = try await post(
                [("Content-Type", "application/x-protobuf"), ("Authorization", "Bearer \(key)")], [])
            #expect(emptyProtobuf.status == 200 && emptyProtobuf.header("content-type") == "application/x-protobuf")

            // Three calls of $0.39 against $1: each decided on its own, the third refused and
            // named in partialSuccess while the first two are recorded.
            let nanos = UInt64(Date().timeIntervalSince1970) * 1_000_000_000
            let spans = (1...3).map { index in
                #"{"traceId": "\#(String(repeating: "a", count: 31))\#(index)", "spanId": "\#(String(repeating: "b", count: 15))\#(index)", "name": "chat", "startTimeUnixNano": "\#(nanos)", "endTimeUnixNano": "\#(nanos)", "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "anthropic"}}, {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}}, {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "130000"}}, {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "0"}}]}"#
            }
            let export = #"{"resourceSpans": [{"scopeSpans": [{"spans": [\#(spans.joined(separator: ","))]}]}]}"#
            let partly = try await post(json, Array(export.utf8))
            #expect(partly.status == 200, "\(partly.text)")
            #expect(partly.text.contains("rejectedSpans") && partly.text.contains("insufficient credit"), "\(partly.text)")
            let organization = try #require(try await server.store.listOrganizations().first?.organization)
            let balance = try await server.store.balance(organization.id, at: Timestamp.now())
            #expect(balance.monthEvents == 2)
            #expect(balance.balance == MicroDollars(rawValue: 1_000_000 - 2 * 390_000))
        }
    }
}
