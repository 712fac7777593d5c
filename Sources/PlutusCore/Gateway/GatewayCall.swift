/// The providers the gateway stands in front of.
public enum GatewayProvider: String, Sendable, CaseIterable {
    case openai, anthropic

    /// The provider name events are priced and recorded under.
    public var catalogName: String { rawValue }
}

/// The gateway's billed routes.
public enum GatewayRoute: String, Sendable, CaseIterable {
    /// `POST /v1/chat/completions` (OpenAI and compatible upstreams).
    case chatCompletions = "chat/completions"
    /// `POST /v1/responses` (OpenAI).
    case responses
    /// `POST /v1/embeddings` (OpenAI and compatible upstreams).
    case embeddings
    /// `POST /v1/messages` (Anthropic).
    case messages

    public var provider: GatewayProvider { self == .messages ? .anthropic : .openai }
    /// The upstream path, after the upstream's base URL.
    public var upstreamPath: String { "/v1/" + rawValue }
}

/// What the gateway reads of a call before forwarding it: enough to price its worst case.
public struct GatewayCall: Sendable, Equatable {
    public var route: GatewayRoute
    public var model: String
    public var stream: Bool
    /// At least the input tokens the call can be billed for (`GatewayCalls.inputTokensBound`).
    public var inputTokensBound: Int64
    /// At most the output tokens the call may produce: the request's own cap (times `n`
    /// choices), else the operator's default.
    public var outputTokensBound: Int64
    /// A streamed chat call that asked for the usage chunk itself
    /// (`stream_options.include_usage`); when it did not, the gateway asks for it and takes
    /// that chunk out of the stream again.
    public var asksForStreamUsage: Bool

    public init(
        route: GatewayRoute, model: String, stream: Bool, inputTokensBound: Int64, outputTokensBound: Int64,
        asksForStreamUsage: Bool
    ) {
        self.route = route
        self.model = model
        self.stream = stream
        self.inputTokensBound = inputTokensBound
        self.outputTokensBound = outputTokensBound
        self.asksForStreamUsage = asksForStreamUsage
    }

    /// Whether the gateway adds `stream_options.include_usage` to the forwarded request.
    public var forcesStreamUsage: Bool { route == .chatCompletions && stream && !asksForStreamUsage }
}

/// Why the gateway will not forward a call.
public struct GatewayRefusal: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The request itself is wrong (400).
        case invalidRequest(field: String?)
        /// The model is not in the price catalog and unpriced models are not allowed (400).
        case unpricedModel
        /// The worst case is above the largest hold (400).
        case tooExpensive
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// The rules for a call before it is forwarded: reading it, bounding its tokens, pricing its
/// worst case. Pure; the server applies them.
///
/// **The input bound** needs no tokenizer: every tokenizer the providers use turns at least
/// one byte of UTF-8 text into each token, so the request body's size in bytes is at least
/// its input tokens, whatever the language; JSON punctuation and field names only add to it.
/// Images are the exception (their bytes are an encoding of pixels, not text): each inline
/// image (a `data:` URL, or a base64 `source`) counts `Limits.gatewayImageTokensBound` tokens
/// instead of its bytes, and so does an image given by URL. The bound is conservative by
/// design: a hold is released down to the call's real cost when it settles.
public enum GatewayCalls {
    /// Reads a call's JSON body (`bytes` long) for `route`.
    public static func read(_ body: JSONValue, bytes: Int, route: GatewayRoute, defaultOutputTokens: Int64) throws(GatewayRefusal)
        -> GatewayCall
    {
        guard case .object = body else {
            throw GatewayRefusal(.invalidRequest(field: nil), "the request body must be a JSON object")
        }
        guard case .string(let model)? = body["model"], !model.isEmpty else {
            throw GatewayRefusal(.invalidRequest(field: "model"), "'model' must be a non-empty string")
        }
        guard model.utf8.count <= Limits.labelBytesMax else {
            throw GatewayRefusal(
                .invalidRequest(field: "model"), "'model' must be at most \(Limits.labelBytesMax) bytes")
        }
        var stream = false
        switch body["stream"] {
        case nil, .null?: break
        case .bool(let flag)?: stream = flag
        default: throw GatewayRefusal(.invalidRequest(field: "stream"), "'stream' must be true or false")
        }
        if route == .embeddings, stream {
            throw GatewayRefusal(.invalidRequest(field: "stream"), "embeddings are not streamed")
        }
        var output: Int64 = 0
        if route != .embeddings {
            let fields: [String] =
                switch route {
                case .chatCompletions: ["max_completion_tokens", "max_tokens"]
                case .responses: ["max_output_tokens"]
                case .messages: ["max_tokens"]
                case .embeddings: []
                }
            output = defaultOutputTokens
            for field in fields {
                guard let value = body[field], value != .null else { continue }
                output = try count(value, field: field)
                break
            }
            if route == .chatCompletions, let choices = body["n"], choices != .null {
                let (product, overflow) = output.multipliedReportingOverflow(by: try count(choices, field: "n"))
                output = overflow ? Int64.max : product
            }
        }
        var asksForUsage = false
        if route == .chatCompletions, case .object(let options)? = body["stream_options"] {
            asksForUsage = options.contains { $0.0 == "include_usage" && $0.1 == .bool(true) }
        }
        return GatewayCall(
            route: route, model: model, stream: stream, inputTokensBound: inputTokensBound(body, bytes: bytes),
            outputTokensBound: min(output, Limits.tokensPerFieldMax), asksForStreamUsage: asksForUsage)
    }

    /// The input bound of a body `bytes` long: its bytes, with each image counted as
    /// `Limits.gatewayImageTokensBound` tokens instead of its own bytes.
    public static func inputTokensBound(_ body: JSONValue, bytes: Int) -> Int64 {
        var imageBytes = 0
        var images = 0
        visitImages(body, bytes: &imageBytes, count: &images)
        return Int64(max(0, bytes - imageBytes)) + Int64(images) * Limits.gatewayImageTokensBound
    }

    private static func visitImages(_ value: JSONValue, bytes: inout Int, count: inout Int) {
        switch value {
        case .string(let text):
            if text.hasPrefix("data:image/") {
                bytes += text.utf8.count
                count += 1
            }
        case .array(let elements):
            for element in elements { visitImages(element, bytes: &bytes, count: &count) }
        case .object(let members):
            // Anthropic: {"type": "image", "source": {"type": "base64" | "url", "data" | "url": …}}.
            // OpenAI: {"type": "image_url", "image_url": {"url": …}} and {"type": "input_image", "image_url": …}.
            let type = value["type"]?.stringValue
            if type == "image" || type == "image_url" || type == "input_image" {
                var inner = 0
                var nested = 0
                for (_, member) in members { visitImages(member, bytes: &inner, count: &nested) }
                if let data = value["source"]?["data"]?.stringValue { inner += data.utf8.count }
                bytes += inner
                count += 1
                return
            }
            for (_, member) in members { visitImages(member, bytes: &bytes, count: &count) }
        default:
            break
        }
    }

    private static func count(_ value: JSONValue, field: String) throws(GatewayRefusal) -> Int64 {
        guard case .number(let text) = value, let number = Int64(text), number >= 0 else {
            throw GatewayRefusal(.invalidRequest(field: field), "'\(field)' must be a whole number of at least 0")
        }
        return number
    }

    /// The body to forward: the agent's own bytes, except for a streamed chat call that did
    /// not ask for usage, which gets `stream_options.include_usage: true` (its other stream
    /// options kept).
    public static func forwardedBody(_ body: JSONValue, call: GatewayCall) -> [UInt8]? {
        guard call.forcesStreamUsage, case .object(var members) = body else { return nil }
        var options: [(String, JSONValue)] = []
        if let index = members.firstIndex(where: { $0.0 == "stream_options" }) {
            if case .object(let existing) = members[index].1 { options = existing.filter { $0.0 != "include_usage" } }
            members.remove(at: index)
        }
        options.append(("include_usage", .bool(true)))
        members.append(("stream_options", .object(options)))
        var out: [UInt8] = []
        JSONValue.object(members).write(into: &out)
        return out
    }

    /// A chat chunk as the agent would have had it without `include_usage`: the upstream adds
    /// `"usage":null` to every chunk when asked for usage, and the gateway asked on the
    /// agent's behalf, so the member is taken out again (compact JSON, as the upstream writes
    /// it; a chunk written otherwise passes unchanged).
    public static func withoutNullUsage(_ raw: [UInt8]) -> [UInt8] {
        let member = Array(#","usage":null"#.utf8)
        guard raw.count >= member.count else { return raw }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            if raw[index] == member[0], index + member.count <= raw.count,
                raw[index..<(index + member.count)].elementsEqual(member)
            {
                index += member.count
                continue
            }
            out.append(raw[index])
            index += 1
        }
        return out
    }

    /// The most the call can cost: every input token at the dearest input rate (plain or
    /// cache write) and every output token at the dearest output rate (plain or reasoning).
    /// A model the catalog does not name is refused unless `allowUnpriced` (then it is held
    /// at the fallback rate).
    public static func worstCase(_ call: GatewayCall, catalog: PriceCatalog, allowUnpriced: Bool) throws(GatewayRefusal)
        -> MicroDollars
    {
        let provider = call.route.provider.catalogName
        let (_, exact) = catalog.resolve(provider: provider, model: call.model)
        if !exact && !allowUnpriced {
            throw GatewayRefusal(
                .unpricedModel,
                "the model '\(call.model)' is not in Plutus's price catalog, so this call cannot be held; ask the operator to add its price"
            )
        }
        let input = call.inputTokensBound
        let output = call.outputTokensBound
        let shapes = [
            TokenCounts(input: input, output: output), TokenCounts(input: input, reasoning: output),
            TokenCounts(output: output, cacheWrite: input), TokenCounts(cacheWrite: input, reasoning: output),
        ]
        var worst = MicroDollars.zero
        for tokens in shapes {
            guard let priced = catalog.price(provider: provider, model: call.model, tokens: tokens, exactCost: nil),
                priced.cost <= Limits.holdAmountMax
            else {
                throw GatewayRefusal(
                    .tooExpensive,
                    "the worst case of this call (\(input) input and \(output) output tokens) is more than the largest hold, \(Limits.holdAmountMax.formatted); lower its max tokens"
                )
            }
            worst = max(worst, priced.cost)
        }
        // A hold is of at least one micro-dollar: a free model still takes a hold, released at settle.
        return max(worst, MicroDollars(rawValue: 1))
    }
}
