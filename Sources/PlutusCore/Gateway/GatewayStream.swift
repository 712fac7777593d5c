/// One server-sent event as it arrived: its bytes (through the blank line that ends it) and
/// what its `event:` and `data:` lines say.
public struct ServerSentEvent: Sendable, Equatable {
    public var raw: [UInt8]
    public var event: String?
    /// The `data:` lines joined by newlines.
    public var data: String

    public init(raw: [UInt8], event: String?, data: String) {
        self.raw = raw
        self.event = event
        self.data = data
    }
}

/// Splits a `text/event-stream` into events as its bytes arrive, in pieces of any size.
/// Lines end in LF, CRLF or CR; an empty line ends an event.
public struct ServerSentEventSplitter: Sendable {
    private var buffer: [UInt8] = []
    /// Where the scan for the next line end resumes, and where the current line and event start.
    private var scan = 0
    private var lineStart = 0
    private var event: String?
    private var data: [UInt8] = []
    private var hasData = false

    public init() {}

    /// Bytes held for an event not complete yet.
    public var pendingBytes: Int { buffer.count }

    /// Takes the next bytes and returns the events they complete.
    public mutating func append(_ bytes: some Collection<UInt8>) -> [ServerSentEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ServerSentEvent] = []
        while scan < buffer.count {
            let byte = buffer[scan]
            guard byte == 0x0A || byte == 0x0D else {
                scan += 1
                continue
            }
            var end = scan + 1
            if byte == 0x0D {
                // A CR at the end of what has arrived may be the first half of a CRLF.
                guard end < buffer.count else { break }
                if buffer[end] == 0x0A { end += 1 }
            }
            let line = buffer[lineStart..<scan]
            scan = end
            lineStart = end
            if line.isEmpty {
                events.append(
                    ServerSentEvent(
                        raw: Array(buffer[0..<end]), event: event, data: String(decoding: data, as: UTF8.self)))
                buffer.removeFirst(end)
                scan = 0
                lineStart = 0
                event = nil
                data = []
                hasData = false
            } else {
                field(line)
            }
        }
        return events
    }

    /// What is left when the stream ends without a final blank line: the bytes, as an
    /// event when they hold one.
    public mutating func finish() -> ServerSentEvent? {
        guard !buffer.isEmpty else { return nil }
        if lineStart < buffer.count { field(buffer[lineStart..<buffer.count]) }
        let last = ServerSentEvent(raw: buffer, event: event, data: String(decoding: data, as: UTF8.self))
        buffer = []
        scan = 0
        lineStart = 0
        return last
    }

    private mutating func field(_ line: ArraySlice<UInt8>) {
        guard line.first != 0x3A else { return }  // a comment
        let colon = line.firstIndex(of: 0x3A) ?? line.endIndex
        let name = line[line.startIndex..<colon]
        var value = line[colon..<line.endIndex].dropFirst()
        if value.first == 0x20 { value = value.dropFirst() }
        if name.elementsEqual("data".utf8) {
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if name.elementsEqual("event".utf8) {
            event = String(decoding: value, as: UTF8.self)
        }
    }
}

/// What the gateway learns of a call's usage from its answer, streamed or not, per route:
///
/// - Chat Completions: the `usage` of the answer, or of the chunk that carries it (the last
///   before `[DONE]`, with no choices).
/// - Responses: the `response.usage` of whichever terminal event arrives
///   (`response.completed`, `response.incomplete`, `response.failed`).
/// - Messages: the usage of `message_start`, then each `message_delta`'s usage, which is
///   cumulative: a later count replaces an earlier one, never adds to it.
///
/// It also counts the content deltas streamed, for the estimate when no usage arrives.
public struct GatewayUsageReader: Sendable {
    public let route: GatewayRoute
    /// The usage object as last reported (for Messages, merged member by member).
    public private(set) var usage: [(String, JSONValue)]?
    /// The model the answer names.
    public private(set) var model: String?
    /// Content deltas streamed so far (each is about one token).
    public private(set) var deltas: Int64 = 0

    public init(route: GatewayRoute) {
        self.route = route
    }

    /// What to do with a streamed event.
    public struct Handling: Sendable, Equatable {
        /// Pass it on to the agent (false only for the usage chunk the gateway asked for).
        public var forward: Bool
        /// It ends the answer: the hold is settled before it is passed on.
        public var terminal: Bool

        public init(forward: Bool, terminal: Bool) {
            self.forward = forward
            self.terminal = terminal
        }
    }

    /// Reads one streamed event. `dropUsageChunk`: the agent did not ask for Chat's usage
    /// chunk, so it is not passed on.
    public mutating func read(_ event: ServerSentEvent, dropUsageChunk: Bool) -> Handling {
        if route == .chatCompletions, event.data == "[DONE]" { return Handling(forward: true, terminal: true) }
        guard let value = try? JSONValue.parse(event.data) else { return Handling(forward: true, terminal: false) }
        switch route {
        case .chatCompletions, .embeddings:
            if let name = value["model"]?.stringValue { model = name }
            if case .array(let choices)? = value["choices"] {
                for choice in choices {
                    guard case .object(let delta)? = choice["delta"] else { continue }
                    let content = delta.contains { $0.0 == "content" && $0.1 != .null && $0.1 != .string("") }
                    if content || delta.contains(where: { $0.0 == "tool_calls" && $0.1 != .null }) { deltas += 1 }
                }
            }
            if case .object(let members)? = value["usage"] {
                usage = members
                if dropUsageChunk, case .array(let choices)? = value["choices"], choices.isEmpty {
                    return Handling(forward: false, terminal: false)
                }
            }
            return Handling(forward: true, terminal: false)
        case .responses:
            let type = value["type"]?.stringValue ?? event.event ?? ""
            if type.hasSuffix(".delta") { deltas += 1 }
            if let response = value["response"] {
                if let name = response["model"]?.stringValue { model = name }
                if case .object(let members)? = response["usage"] { usage = members }
            }
            let terminal = ["response.completed", "response.incomplete", "response.failed"].contains(type)
            return Handling(forward: true, terminal: terminal)
        case .messages:
            let type = value["type"]?.stringValue ?? event.event ?? ""
            switch type {
            case "message_start":
                if let name = value["message"]?["model"]?.stringValue { model = name }
                if case .object(let members)? = value["message"]?["usage"] { merge(members) }
            case "message_delta":
                if case .object(let members)? = value["usage"] { merge(members) }
            case "content_block_delta":
                deltas += 1
            default:
                break
            }
            return Handling(forward: true, terminal: type == "message_stop")
        }
    }

    /// Reads a whole answer (not streamed).
    public mutating func read(answer value: JSONValue) {
        if let name = value["model"]?.stringValue { model = name }
        if case .object(let members)? = value["usage"] { usage = members }
    }

    /// Later counts replace earlier ones (Anthropic's stream reports running totals).
    private mutating func merge(_ members: [(String, JSONValue)]) {
        var merged = usage ?? []
        for (name, value) in members where value != .null {
            if let index = merged.firstIndex(where: { $0.0 == name }) {
                merged[index].1 = value
            } else {
                merged.append((name, value))
            }
        }
        usage = merged
    }
}
