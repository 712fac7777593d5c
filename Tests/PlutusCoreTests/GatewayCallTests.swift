import PlutusCore
import Testing

@Suite("Gateway rules: reading a call, its worst case, and the usage in its answer")
struct GatewayCallTests {
    static func read(_ text: String, _ route: GatewayRoute, defaultOutput: Int64 = 1_000) throws -> GatewayCall {
        try GatewayCalls.read(try JSONValue.parse(text), bytes: text.utf8.count, route: route, defaultOutputTokens: defaultOutput)
    }

    static func refusal(_ text: String, _ route: GatewayRoute) -> GatewayRefusal? {
        do {
            _ = try read(text, route)
            return nil
        } catch {
            return error as? GatewayRefusal
        }
    }

    @Test func theOutputCapComesFromEachRoutesOwnField() throws {
        #expect(
            try Self.read(#"{"model":"m","max_completion_tokens":50,"max_tokens":70}"#, .chatCompletions).outputTokensBound == 50)
        #expect(try Self.read(#"{"model":"m","max_tokens":70}"#, .chatCompletions).outputTokensBound == 70)
        #expect(try Self.read(#"{"model":"m","max_tokens":70,"n":3}"#, .chatCompletions).outputTokensBound == 210)
        #expect(try Self.read(#"{"model":"m","max_output_tokens":90}"#, .responses).outputTokensBound == 90)
        #expect(try Self.read(#"{"model":"m","max_tokens":30}"#, .messages).outputTokensBound == 30)
        #expect(try Self.read(#"{"model":"m"}"#, .messages, defaultOutput: 4_096).outputTokensBound == 4_096)
        #expect(try Self.read(#"{"model":"m","input":"hi"}"#, .embeddings).outputTokensBound == 0)
        #expect(try Self.read(#"{"model":"m","max_tokens":null}"#, .chatCompletions).outputTokensBound == 1_000)
    }

    @Test func aBadCallIsRefusedNamingTheField() {
        #expect(Self.refusal(#"{"messages":[]}"#, .chatCompletions)?.kind == .invalidRequest(field: "model"))
        #expect(Self.refusal(#"{"model":""}"#, .chatCompletions)?.kind == .invalidRequest(field: "model"))
        #expect(Self.refusal(#"{"model":"m","stream":"yes"}"#, .chatCompletions)?.kind == .invalidRequest(field: "stream"))
        #expect(Self.refusal(#"{"model":"m","max_tokens":-1}"#, .messages)?.kind == .invalidRequest(field: "max_tokens"))
        #expect(Self.refusal(#"{"model":"m","max_tokens":1.5}"#, .messages)?.kind == .invalidRequest(field: "max_tokens"))
        #expect(Self.refusal(#"{"model":"m","stream":true}"#, .embeddings)?.kind == .invalidRequest(field: "stream"))
        #expect(Self.refusal(#"[1]"#, .messages)?.kind == .invalidRequest(field: nil))
    }

    @Test func theInputBoundIsTheBodysBytesWithImagesAtAFixedBound() throws {
        let text = #"{"model":"m","messages":[{"role":"user","content":"héllo"}]}"#
        #expect(try Self.read(text, .chatCompletions).inputTokensBound == Int64(text.utf8.count))
        let image = "data:image/png;base64," + String(repeating: "A", count: 40_000)
        let openAI =
            #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"\#(image)"}}]}]}"#
        #expect(
            try Self.read(openAI, .chatCompletions).inputTokensBound
                == Int64(openAI.utf8.count - image.utf8.count) + Limits.gatewayImageTokensBound)
        let data = String(repeating: "B", count: 30_000)
        let anthropic =
            #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"\#(data)"}},{"type":"text","text":"what is it"}]}]}"#
        #expect(
            try Self.read(anthropic, .messages).inputTokensBound
                == Int64(anthropic.utf8.count - data.utf8.count) + Limits.gatewayImageTokensBound)
        let byURL =
            #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}"#
        #expect(try Self.read(byURL, .messages).inputTokensBound == Int64(byURL.utf8.count) + Limits.gatewayImageTokensBound)
    }

    @Test func aStreamedChatCallAsksForUsageKeepingItsOtherOptions() throws {
        let text = #"{"model":"m","stream":true,"stream_options":{"include_obfuscation":false},"messages":[]}"#
        let call = try Self.read(text, .chatCompletions)
        #expect(call.forcesStreamUsage)
        let forwarded = try JSONValue.parse(try #require(GatewayCalls.forwardedBody(try JSONValue.parse(text), call: call)))
        #expect(
            forwarded["stream_options"]
                == .object([("include_obfuscation", .bool(false)), ("include_usage", .bool(true))]))
        #expect(forwarded["messages"] == .array([]) && forwarded["stream"] == .bool(true))
        let asked = #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#
        #expect(!(try Self.read(asked, .chatCompletions)).forcesStreamUsage)
        #expect(GatewayCalls.forwardedBody(try JSONValue.parse(asked), call: try Self.read(asked, .chatCompletions)) == nil)
        #expect(!(try Self.read(#"{"model":"m","stream":true}"#, .responses)).forcesStreamUsage)
        let chunk = Array(#"data: {"id":"c","choices":[{"delta":{"content":"a"}}],"usage":null}"#.utf8) + [10, 10]
        #expect(
            GatewayCalls.withoutNullUsage(chunk) == Array(#"data: {"id":"c","choices":[{"delta":{"content":"a"}}]}"#.utf8) + [
                10, 10,
            ])
    }

    @Test func theWorstCaseTakesTheDearestRateForEachSide() throws {
        let catalog = PriceCatalog.builtin
        // Anthropic writes cache at 1.25× input: the worst case prices input that way.
        let messages = try Self.read(#"{"model":"claude-sonnet-4-6","max_tokens":1000}"#, .messages)
        let tokens = TokenCounts(output: messages.outputTokensBound, cacheWrite: messages.inputTokensBound)
        #expect(
            try GatewayCalls.worstCase(messages, catalog: catalog, allowUnpriced: false)
                == catalog.price(provider: "anthropic", model: "claude-sonnet-4-6", tokens: tokens, exactCost: nil)?.cost)
        let unknown = try Self.read(#"{"model":"gpt-unknown","max_tokens":10}"#, .chatCompletions)
        #expect(throws: GatewayRefusal.self) { try GatewayCalls.worstCase(unknown, catalog: catalog, allowUnpriced: false) }
        #expect(try GatewayCalls.worstCase(unknown, catalog: catalog, allowUnpriced: true).isPositive)
        let huge = try Self.read(#"{"model":"gpt-5","max_tokens":900000000000}"#, .chatCompletions)
        do {
            _ = try GatewayCalls.worstCase(huge, catalog: catalog, allowUnpriced: false)
            Issue.record("a worst case above the largest hold was accepted")
        } catch {
            #expect(error.kind == .tooExpensive)
        }
    }

    @Test func eventsAreSplitWhereverTheBytesBreak() {
        let stream =
            ": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: line one\ndata: line two\n\nevent: x\rdata: cr\r\rdata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        for size in [1, 2, 3, 7, bytes.count] {
            var splitter = ServerSentEventSplitter()
            var events: [ServerSentEvent] = []
            var start = 0
            while start < bytes.count {
                events += splitter.append(bytes[start..<min(start + size, bytes.count)])
                start += size
            }
            #expect(splitter.finish() == nil)
            #expect(events.map(\.data) == [#"{"a":1}"#, "line one\nline two", "cr", "[DONE]"], "pieces of \(size)")
            #expect(events.map(\.event) == ["message_start", nil, "x", nil])
            #expect(events.flatMap(\.raw) == bytes, "the bytes pass unchanged")
        }
        var splitter = ServerSentEventSplitter()
        _ = splitter.append(Array("data: partial".utf8))
        #expect(splitter.finish()?.data == "partial")
    }

    static func event(_ data: String, _ name: String? = nil) -> ServerSentEvent {
        ServerSentEvent(raw: Array("data: \(data)\n\n".utf8), event: name, data: data)
    }

    @Test func chatUsageComesFromTheFinalChunkWhichIsDroppedOnlyWhenAskedFor() {
        var reader = GatewayUsageReader(route: .chatCompletions)
        let role = reader.read(
            Self.event(#"{"model":"gpt-5-mini-2025","choices":[{"delta":{"role":"assistant","content":""}}]}"#),
            dropUsageChunk: true)
        #expect(role == .init(forward: true, terminal: false))
        _ = reader.read(Self.event(#"{"choices":[{"delta":{"content":"Hi"}}]}"#), dropUsageChunk: true)
        _ = reader.read(Self.event(#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#), dropUsageChunk: true)
        let usage = reader.read(
            Self.event(#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#), dropUsageChunk: true)
        #expect(usage == .init(forward: false, terminal: false))
        #expect(reader.read(Self.event("[DONE]"), dropUsageChunk: true) == .init(forward: true, terminal: true))
        #expect(reader.deltas == 2 && reader.model == "gpt-5-mini-2025")
        #expect(
            reader.usage.map { JSONValue.object($0) }
                == .object([("prompt_tokens", .number("9")), ("completion_tokens", .number("2"))]))
        var asked = GatewayUsageReader(route: .chatCompletions)
        #expect(asked.read(Self.event(#"{"choices":[],"usage":{"prompt_tokens":9}}"#), dropUsageChunk: false).forward)
    }

    @Test func anthropicUsageKeepsTheLatestCountOfEachKind() {
        var reader = GatewayUsageReader(route: .messages)
        _ = reader.read(
            Self.event(
                #"{"type":"message_start","message":{"model":"claude-sonnet-4-6","usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}"#
            ),
            dropUsageChunk: false)
        _ = reader.read(Self.event(#"{"type":"content_block_delta","delta":{"text":"a"}}"#), dropUsageChunk: false)
        _ = reader.read(Self.event(#"{"type":"message_delta","usage":{"output_tokens":7}}"#), dropUsageChunk: false)
        _ = reader.read(
            Self.event(#"{"type":"message_delta","usage":{"output_tokens":12,"input_tokens":null}}"#), dropUsageChunk: false)
        #expect(reader.read(Self.event(#"{"type":"message_stop"}"#), dropUsageChunk: false).terminal)
        #expect(
            reader.usage.map { JSONValue.object($0) }
                == .object([
                    ("input_tokens", .number("20")), ("cache_read_input_tokens", .number("5")), ("output_tokens", .number("12")),
                ]))
        #expect(reader.deltas == 1 && reader.model == "claude-sonnet-4-6")
    }

    @Test func responsesUsageComesWithWhicheverTerminalEventArrives() {
        for terminal in ["response.completed", "response.incomplete", "response.failed"] {
            var reader = GatewayUsageReader(route: .responses)
            _ = reader.read(Self.event(#"{"type":"response.output_text.delta","delta":"a"}"#), dropUsageChunk: false)
            let handling = reader.read(
                Self.event(#"{"type":"\#(terminal)","response":{"model":"gpt-5","usage":{"input_tokens":3,"output_tokens":1}}}"#),
                dropUsageChunk: false)
            #expect(handling == .init(forward: true, terminal: true))
            #expect(reader.usage?.count == 2 && reader.model == "gpt-5" && reader.deltas == 1)
        }
    }
}
