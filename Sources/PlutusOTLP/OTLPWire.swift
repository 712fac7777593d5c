import PlutusCore

/// OTLP/protobuf trace exports read straight from protobuf's wire format into `OTLPSpan`s.
///
/// The exporters' default encoding is the hot path of span ingest, and decoding it through
/// the generated messages built a heap object per span and per attribute, and a string per
/// attribute key, before any of it was looked at (half of an export's CPU time). This reads
/// the same fields of the same messages (`opentelemetry/proto/collector/trace/v1`,
/// `trace/v1`, `common/v1`, `resource/v1`) in one pass over the bytes: attribute keys that
/// billing reads are matched against interned strings instead of being allocated, and every
/// field it does not need is skipped. It answers exactly as `OTLPProtobuf.spans` does (the
/// tests compare them), which stays the reference and reads log exports.
public enum OTLPWire {
    /// The spans of an `ExportTraceServiceRequest`.
    public static func spans(_ bytes: [UInt8]) throws(OTLPDecodeError) -> [OTLPSpan] {
        try bytes.withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) throws(OTLPDecodeError) -> [OTLPSpan] in
            var reader = Reader(buffer: buffer, position: 0, end: buffer.count)
            var spans: [OTLPSpan] = []
            while !reader.atEnd {
                let (field, wireType) = try reader.key()
                if field == 1, wireType == 2 {
                    try resourceSpans(try reader.message(), into: &spans)
                } else {
                    try reader.skip(wireType)
                }
            }
            return spans
        }
    }

    /// A `ResourceSpans`: its resource's attributes, then the spans of each `ScopeSpans`.
    private static func resourceSpans(_ message: Reader, into spans: inout [OTLPSpan]) throws(OTLPDecodeError) {
        // The resource's attributes apply to every span, wherever it comes in the message.
        var resource = OTLPAttributes()
        var scopes: [Reader] = []
        var reader = message
        while !reader.atEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                var inner = try reader.message()
                while !inner.atEnd {
                    let (resourceField, resourceWire) = try inner.key()
                    if resourceField == 1, resourceWire == 2 {
                        resource.list.append(try attribute(try inner.message(), depth: 0))
                        try checkCount(resource.list.count, "resource")
                    } else {
                        try inner.skip(resourceWire)
                    }
                }
            case (2, 2):
                scopes.append(try reader.message())
                guard scopes.count <= Limits.otlpItemsPerExportMax else {
                    throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) scopes per resource")
                }
            default: try reader.skip(wireType)
            }
        }
        for scopeSpans in scopes {
            var scopeName = ""
            var spanMessages: [Reader] = []
            var reader = scopeSpans
            while !reader.atEnd {
                let (field, wireType) = try reader.key()
                switch (field, wireType) {
                case (1, 2):
                    var scope = try reader.message()
                    while !scope.atEnd {
                        let (scopeField, scopeWire) = try scope.key()
                        if scopeField == 1, scopeWire == 2 { scopeName = try scope.string() } else { try scope.skip(scopeWire) }
                    }
                case (2, 2):
                    spanMessages.append(try reader.message())
                    guard spans.count + spanMessages.count <= Limits.otlpItemsPerExportMax else {
                        throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) spans")
                    }
                default: try reader.skip(wireType)
                }
            }
            for spanMessage in spanMessages {
                spans.append(try span(spanMessage, resource: resource, scope: scopeName))
                guard spans.count <= Limits.otlpItemsPerExportMax else {
                    throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) spans")
                }
            }
        }
    }

    private static func span(_ message: Reader, resource: OTLPAttributes, scope: String) throws(OTLPDecodeError) -> OTLPSpan {
        var span = OTLPSpan(
            traceID: [], spanID: [], name: "", startNanos: 0, endNanos: 0, attributes: OTLPAttributes(), resource: resource,
            scope: scope)
        var reader = message
        while !reader.atEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): span.traceID = try reader.bytes()
            case (2, 2): span.spanID = try reader.bytes()
            case (5, 2): span.name = try reader.string()
            case (7, 1): span.startNanos = try reader.fixed64()
            case (8, 1): span.endNanos = try reader.fixed64()
            case (9, 2):
                span.attributes.list.append(try attribute(try reader.message(), depth: 0))
                try checkCount(span.attributes.list.count, "span")
            default: try reader.skip(wireType)
            }
        }
        return span
    }

    /// An array or map attribute value holds at most `Limits.otlpValuesPerListMax` values
    /// (a body of empty values would otherwise become millions of them).
    private static func checkValues(_ count: Int) throws(OTLPDecodeError) {
        guard count <= Limits.otlpValuesPerListMax else {
            throw OTLPDecodeError("an attribute's array or map holds more than \(Limits.otlpValuesPerListMax) values")
        }
    }

    private static func checkCount(_ count: Int, _ what: String) throws(OTLPDecodeError) {
        guard count <= Limits.otlpAttributesPerItemMax else {
            throw OTLPDecodeError("a \(what) has \(count) attributes; at most \(Limits.otlpAttributesPerItemMax) are read")
        }
    }

    /// A `KeyValue`.
    private static func attribute(_ message: Reader, depth: Int) throws(OTLPDecodeError) -> OTLPAttribute {
        var key = ""
        var value = OTLPValue.string("")
        var reader = message
        while !reader.atEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): key = try reader.key(interned: ())
            case (2, 2): value = try anyValue(try reader.message(), depth: depth + 1)
            default: try reader.skip(wireType)
            }
        }
        return OTLPAttribute(key: key, value: value)
    }

    /// An `AnyValue`: the last of its `oneof` members present wins, as protobuf merges it.
    private static func anyValue(_ message: Reader, depth: Int) throws(OTLPDecodeError) -> OTLPValue {
        guard depth <= nestingMax else { throw Reader.malformed }
        var value = OTLPValue.string("")
        var reader = message
        while !reader.atEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): value = .string(try reader.string())
            case (2, 0): value = .bool(try reader.varint() != 0)
            case (3, 0): value = .int(Int64(bitPattern: try reader.varint()))
            case (4, 1): value = .double(Double(bitPattern: try reader.fixed64()))
            case (5, 2):
                var list: [OTLPValue] = []
                var array = try reader.message()
                while !array.atEnd {
                    let (arrayField, arrayWire) = try array.key()
                    if arrayField == 1, arrayWire == 2 {
                        list.append(try anyValue(try array.message(), depth: depth + 1))
                        try checkValues(list.count)
                    } else {
                        try array.skip(arrayWire)
                    }
                }
                value = .array(list)
            case (6, 2):
                var list: [OTLPAttribute] = []
                var map = try reader.message()
                while !map.atEnd {
                    let (mapField, mapWire) = try map.key()
                    if mapField == 1, mapWire == 2 {
                        list.append(try attribute(try map.message(), depth: depth + 1))
                        try checkValues(list.count)
                    } else {
                        try map.skip(mapWire)
                    }
                }
                value = .map(list)
            case (7, 2): value = .bytes(try reader.bytes())
            default: try reader.skip(wireType)
            }
        }
        return value
    }

    /// Nested arrays and maps deeper than this are refused (protobuf's own readers stop at 100).
    static let nestingMax = 64

    /// The attribute keys billing reads, and others GenAI instrumentations send on every span,
    /// by length: a key among them costs a comparison instead of an allocation.
    static let internedKeys: [[(bytes: [UInt8], key: String)]] = {
        let keys = [
            "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
            "gen_ai.response.model", "gen_ai.response.id", "gen_ai.response.finish_reasons", "gen_ai.request.max_tokens",
            "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
            "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens", "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens", "llm.usage.total_tokens", "llm.request.type", "llm.is_streaming",
            "llm.provider", "llm.system", "llm.model_name", "llm.token_count.prompt", "llm.token_count.completion",
            "llm.token_count.total", "llm.token_count.prompt_details.cache_read",
            "llm.token_count.prompt_details.cache_write", "llm.token_count.completion_details.reasoning",
            "openinference.span.kind", "server.address", "server.port", "plutus.workspace", "plutus.task", "plutus.run",
            "service.name", "service.version", "service.instance.id", "session.id", "telemetry.sdk.name",
            "telemetry.sdk.language", "telemetry.sdk.version",
        ]
        var table = [[(bytes: [UInt8], key: String)]](repeating: [], count: 64)
        for key in keys { table[key.utf8.count].append((Array(key.utf8), key)) }
        return table
    }()

    /// A cursor over one message's bytes. Every read checks its bounds: a truncated or
    /// overlong field is an unreadable export, never a read past the body.
    struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var position: Int
        let end: Int

        static let malformed = OTLPDecodeError("the body is not an OTLP ExportTraceServiceRequest in protobuf")

        var atEnd: Bool { position >= end }

        mutating func varint() throws(OTLPDecodeError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < end, shift < 64 {
                let byte = buffer[position]
                position += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            throw Self.malformed
        }

        mutating func fixed64() throws(OTLPDecodeError) -> UInt64 {
            guard end - position >= 8 else { throw Self.malformed }
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(buffer[position + index]) << (8 * UInt64(index)) }
            position += 8
            return value
        }

        /// A field's number and wire type.
        mutating func key() throws(OTLPDecodeError) -> (field: UInt64, wireType: UInt64) {
            let key = try varint()
            guard key >> 3 != 0 else { throw Self.malformed }
            return (key >> 3, key & 7)
        }

        /// The bounds of a length-delimited value.
        mutating func length() throws(OTLPDecodeError) -> Range<Int> {
            let count = try varint()
            guard count <= UInt64(end - position) else { throw Self.malformed }
            let range = position..<(position + Int(count))
            position = range.upperBound
            return range
        }

        mutating func message() throws(OTLPDecodeError) -> Reader {
            let range = try length()
            return Reader(buffer: buffer, position: range.lowerBound, end: range.upperBound)
        }

        mutating func bytes() throws(OTLPDecodeError) -> [UInt8] {
            Array(UnsafeBufferPointer(rebasing: buffer[try length()]))
        }

        /// A string field, which protobuf requires to be UTF-8.
        mutating func string() throws(OTLPDecodeError) -> String {
            guard let text = String(validating: UnsafeBufferPointer(rebasing: buffer[try length()]), as: UTF8.self) else {
                throw Self.malformed
            }
            return text
        }

        /// An attribute key: one of `internedKeys` when it is one, else a new string.
        mutating func key(interned: Void) throws(OTLPDecodeError) -> String {
            let range = try length()
            if range.count < OTLPWire.internedKeys.count {
                candidates: for candidate in OTLPWire.internedKeys[range.count] {
                    for offset in 0..<range.count where candidate.bytes[offset] != buffer[range.lowerBound + offset] {
                        continue candidates
                    }
                    return candidate.key
                }
            }
            guard let text = String(validating: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self) else {
                throw Self.malformed
            }
            return text
        }

        mutating func skip(_ wireType: UInt64) throws(OTLPDecodeError) {
            switch wireType {
            case 0: _ = try varint()
            case 1:
                guard end - position >= 8 else { throw Self.malformed }
                position += 8
            case 2: _ = try length()
            case 5:
                guard end - position >= 4 else { throw Self.malformed }
                position += 4
            default: throw Self.malformed  // groups (3, 4) are not in OTLP; 6 and 7 are not wire types
            }
        }
    }
}
