import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PlutusCore
import Synchronization

/// A local stand-in for the OpenAI and Anthropic APIs, built from their documented shapes,
/// for the gateway's tests and benchmark (nothing here reaches a real provider). It answers
/// Chat Completions, Responses, Embeddings and Messages, streamed (server-sent events) and
/// not, and `GET /v1/models` and `POST /v1/messages/count_tokens`.
///
/// Every answer reports usage the way the provider does: Chat's streamed usage only in the
/// final chunk and only when `stream_options.include_usage` asks for it; Responses' in its
/// `response.completed` event; Anthropic's input in `message_start` and the running output
/// count in `message_delta`. Input tokens are the request body's bytes / 4, output tokens the
/// words answered (`FakeUpstream.words` of them).
///
/// A marker in the last message's text asks for a failure: `[fail:429]` (with `Retry-After`),
/// `[fail:500]`, `[interrupt]` (the stream stops after three deltas, before any usage),
/// `[slow]` (20 ms between streamed events), `[gate]` (a streamed answer's head is sent at
/// once, its events only after `openGate()`). A request without the expected key gets 401.
public final class FakeUpstream: Sendable {
    /// Words in every answer, one per streamed delta.
    public static let words = 12
    /// Cached input tokens reported on every answer that can report them.
    public static let cachedTokens: Int64 = 4

    public let key: String
    private let counts = Mutex(Counts())
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    public struct Counts: Sendable, Equatable {
        /// Calls answered on a billed route (successfully or not).
        public var calls = 0
        /// Requests with a wrong or missing key.
        public var unauthorized = 0
        /// Streamed calls whose answer the agent stopped reading before the end.
        public var streamsCut = 0

        public init(calls: Int = 0, unauthorized: Int = 0, streamsCut: Int = 0) {
            self.calls = calls
            self.unauthorized = unauthorized
            self.streamsCut = streamsCut
        }
    }

    public init(key: String) {
        self.key = key
    }

    public var seen: Counts { counts.withLock { $0 } }

    /// Lets every `[gate]` answer go on, and those after it at once.
    public func openGate() {
        let waiting = gate.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func passGate() async {
        await withCheckedContinuation { continuation in
            let open = gate.withLock { state in
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    /// Runs the fake on an ephemeral loopback port for the duration of `body`.
    public func run<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ in try await self.answer(request, .chatCompletions) }
        router.post("/v1/responses") { request, _ in try await self.answer(request, .responses) }
        router.post("/v1/embeddings") { request, _ in try await self.answer(request, .embeddings) }
        router.post("/v1/messages") { request, _ in try await self.answer(request, .messages) }
        router.post("/v1/messages/count_tokens") { request, _ -> Response in
            guard self.authorized(request) else { return self.unauthorized() }
            let bytes = try await request.body.collect(upTo: 64 * 1_048_576)
            return Self.json(.ok, #"{"input_tokens":\#(bytes.readableBytes / 4)}"#)
        }
        router.get("/v1/models") { request, _ -> Response in
            guard self.authorized(request) else { return self.unauthorized() }
            return Self.json(
                .ok,
                #"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}"#)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "fake-upstream", factory: { _ in SwiftLogNoOpLogHandler() }))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }

    private func authorized(_ request: Request) -> Bool {
        let bearer = request.headers[.authorization]
        let apiKey = request.headers[HTTPField.Name("x-api-key")!]
        let ok = bearer == "Bearer \(key)" || apiKey == key
        if !ok { counts.withLock { $0.unauthorized += 1 } }
        return ok
    }

    private func unauthorized() -> Response {
        Self.json(
            .unauthorized,
            #"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
        )
    }

    private func answer(_ request: Request, _ route: GatewayRoute) async throws -> Response {
        guard authorized(request) else { return unauthorized() }
        let bytes = try await request.body.collect(upTo: 64 * 1_048_576)
        counts.withLock { $0.calls += 1 }
        let body = (try? JSONValue.parse(bytes.readableBytesView)) ?? .null
        let text = String(buffer: bytes)
        let model = body["model"]?.stringValue ?? "unknown"
        let input = Int64(bytes.readableBytes / 4)
        if text.contains("[fail:429]") {
            var response = Self.error(route, .tooManyRequests, "rate_limit_error", "Rate limit reached (fake)")
            response.headers[.retryAfter] = "7"
            return response
        }
        if text.contains("[fail:500]") {
            return Self.error(route, .internalServerError, "api_error", "The server had an error (fake)")
        }
        let stream = body["stream"] == .bool(true)
        let plan = Plan(
            route: route, model: model, input: input, interrupt: text.contains("[interrupt]"), slow: text.contains("[slow]"),
            includeUsage: body["stream_options"]?["include_usage"] == .bool(true))
        guard stream else { return Self.json(.ok, plan.whole()) }
        let events = plan.events()
        let gated = text.contains("[gate]")
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                if gated { await self.passGate() }
                do {
                    for event in events {
                        try await writer.write(ByteBuffer(string: event))
                        if plan.slow { try await Task.sleep(nanoseconds: 20_000_000) }
                    }
                    try await writer.finish(nil)
                } catch {
                    self.counts.withLock { $0.streamsCut += 1 }
                    throw error
                }
            })
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func error(_ route: GatewayRoute, _ status: HTTPResponse.Status, _ type: String, _ message: String) -> Response {
        route == .messages
            ? json(status, #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"}}"#)
            : json(status, #"{"error":{"message":"\#(message)","type":"\#(type)","param":null,"code":null}}"#)
    }

    /// One answer's content and usage.
    struct Plan: Sendable {
        let route: GatewayRoute
        let model: String
        let input: Int64
        let interrupt: Bool
        let slow: Bool
        let includeUsage: Bool

        var output: Int64 { Int64(FakeUpstream.words) }
        var cached: Int64 { min(FakeUpstream.cachedTokens, input) }
        var words: [String] { (0..<FakeUpstream.words).map { $0 == 0 ? "Hello" : " word\($0)" } }
        var content: String { words.joined() }

        /// The answer not streamed.
        func whole() -> String {
            switch route {
            case .chatCompletions:
                return #"""
                    {"id":"chatcmpl-fake","object":"chat.completion","created":1765000000,"model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":"\#(content)","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":\#(chatUsage),"system_fingerprint":"fp_fake"}
                    """#
            case .responses:
                return #"""
                    {"id":"resp_fake","object":"response","created_at":1765000000,"status":"completed","model":"\#(model)","output":[{"type":"message","id":"msg_fake","status":"completed","role":"assistant","content":[{"type":"output_text","text":"\#(content)","annotations":[]}]}],"usage":\#(responsesUsage)}
                    """#
            case .embeddings:
                return #"""
                    {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347]}],"model":"\#(model)","usage":{"prompt_tokens":\#(input),"total_tokens":\#(input)}}
                    """#
            case .messages:
                return #"""
                    {"id":"msg_fake","type":"message","role":"assistant","model":"\#(model)","content":[{"type":"text","text":"\#(content)"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":\#(input - cached),"cache_creation_input_tokens":0,"cache_read_input_tokens":\#(cached),"output_tokens":\#(output)}}
                    """#
            }
        }

        var chatUsage: String {
            #"{"prompt_tokens":\#(input),"completion_tokens":\#(output),"total_tokens":\#(input + output),"prompt_tokens_details":{"cached_tokens":\#(cached)},"completion_tokens_details":{"reasoning_tokens":0}}"#
        }

        var responsesUsage: String {
            #"{"input_tokens":\#(input),"input_tokens_details":{"cached_tokens":\#(cached)},"output_tokens":\#(output),"output_tokens_details":{"reasoning_tokens":0},"total_tokens":\#(input + output)}"#
        }

        /// The answer streamed, event by event.
        func events() -> [String] {
            let shown = interrupt ? Array(words.prefix(3)) : words
            var events: [String] = []
            switch route {
            case .chatCompletions:
                let usageField = includeUsage ? #","usage":null"# : ""
                func chunk(_ delta: String, finish: String?) -> String {
                    let reason = finish.map { #""\#($0)""# } ?? "null"
                    return
                        #"data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1765000000,"model":"\#(model)","choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(reason)}]\#(usageField)}"#
                        + "\n\n"
                }
                events.append(chunk(#"{"role":"assistant","content":""}"#, finish: nil))
                for word in shown { events.append(chunk(#"{"content":"\#(word)"}"#, finish: nil)) }
                if interrupt { return events }
                events.append(chunk("{}", finish: "stop"))
                if includeUsage {
                    events.append(
                        #"data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1765000000,"model":"\#(model)","choices":[],"usage":\#(chatUsage)}"#
                            + "\n\n")
                }
                events.append("data: [DONE]\n\n")
            case .responses:
                func event(_ type: String, _ data: String) -> String { "event: \(type)\ndata: \(data)\n\n" }
                events.append(
                    event(
                        "response.created",
                        #"{"type":"response.created","sequence_number":0,"response":{"id":"resp_fake","object":"response","created_at":1765000000,"status":"in_progress","model":"\#(model)","output":[],"usage":null}}"#
                    ))
                for (index, word) in shown.enumerated() {
                    events.append(
                        event(
                            "response.output_text.delta",
                            #"{"type":"response.output_text.delta","sequence_number":\#(index + 1),"item_id":"msg_fake","output_index":0,"content_index":0,"delta":"\#(word)","logprobs":[]}"#
                        ))
                }
                if interrupt { return events }
                events.append(
                    event(
                        "response.completed",
                        #"{"type":"response.completed","sequence_number":\#(shown.count + 1),"response":{"id":"resp_fake","object":"response","created_at":1765000000,"status":"completed","model":"\#(model)","output":[{"type":"message","id":"msg_fake","status":"completed","role":"assistant","content":[{"type":"output_text","text":"\#(content)","annotations":[]}]}],"usage":\#(responsesUsage)}}"#
                    ))
            case .embeddings:
                break
            case .messages:
                func event(_ type: String, _ data: String) -> String { "event: \(type)\ndata: \(data)\n\n" }
                events.append(
                    event(
                        "message_start",
                        #"{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","model":"\#(model)","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(input - cached),"cache_creation_input_tokens":0,"cache_read_input_tokens":\#(cached),"output_tokens":1}}}"#
                    ))
                events.append(
                    event(
                        "content_block_start",
                        #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#))
                events.append(event("ping", #"{"type": "ping"}"#))
                for word in shown {
                    events.append(
                        event(
                            "content_block_delta",
                            #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#(word)"}}"#))
                }
                if interrupt { return events }
                events.append(event("content_block_stop", #"{"type":"content_block_stop","index":0}"#))
                events.append(
                    event(
                        "message_delta",
                        #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":\#(output)}}"#
                    ))
                events.append(event("message_stop", #"{"type":"message_stop"}"#))
            }
            return events
        }
    }
}
