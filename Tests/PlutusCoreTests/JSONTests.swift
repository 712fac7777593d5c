import PlutusCore
import Testing

@Suite("JSON: numbers kept as text, strict parsing, escaping")
struct JSONTests {
    @Test func keepsNumberLiteralsExactly() throws {
        let value = try JSONValue.parse(#"{"a": 0.1, "b": 12345678901234567890, "c": -1e-7, "d": [1, 2.50]}"#)
        #expect(value["a"] == .number("0.1"))
        #expect(value["b"] == .number("12345678901234567890"))
        #expect(value["c"] == .number("-1e-7"))
        #expect(value["d"] == .array([.number("1"), .number("2.50")]))
    }

    @Test func acceptsPythonNonFiniteLiteralsAsNumbersForValidationToName() throws {
        let value = try JSONValue.parse(#"[NaN, Infinity, -Infinity]"#)
        #expect(value == .array([.number("NaN"), .number("Infinity"), .number("-Infinity")]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "nul", "01", "1.", ".5", "-", "\"abc", "{\"a\":1}x", "[1] [2]",
        "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "+1", "1e", "tru",
    ])
    func refusesMalformedDocuments(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    /// Duplicate keys are found by scanning in small objects and by a set in large ones, so
    /// both sides of that switch are checked, with the duplicate early and late.
    @Test(arguments: [3, 16, 17, 40]) func refusesDuplicateKeysInObjectsOfAnySize(members: Int) throws {
        let keys = (0..<members).map { "\"k\($0)\": \($0)" }
        let distinct = try JSONValue.parse("{" + keys.joined(separator: ",") + "}")
        guard case .object(let parsed) = distinct else {
            Issue.record("not an object")
            return
        }
        #expect(parsed.count == members)
        for repeated in Set([0, members - 1]) {
            let text = "{" + (keys + ["\"k\(repeated)\": 1"]).joined(separator: ",") + "}"
            #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
        // Also after an escape (the string is then built byte by byte).
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        // An overlong encoding, a truncated sequence, an encoded surrogate, a stray continuation byte.
        for bad: [UInt8] in [[0xC0, 0x80], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0x61, 0x80]] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22] + bad + [0x22]) }
            #expect(throws: JSONParseError.self) { try JSONValue.parse([0x7B, 0x22] + bad + [0x22, 0x3A, 0x31, 0x7D]) }
        }
    }

    /// Strings without escapes are made straight from the input: ASCII without validation,
    /// anything else validated. Both kinds, as values and as keys, come out as written.
    @Test func keepsUnescapedTextAsWritten() throws {
        let value = try JSONValue.parse(#"{"ascii": "claude-sonnet-4-5", "é": "naïve 😀 ✓", "": ""}"#)
        #expect(value["ascii"] == .string("claude-sonnet-4-5"))
        #expect(value["é"] == .string("naïve 😀 ✓"))
        #expect(value[""] == .string(""))
    }

    @Test func boundsNestingDepth() throws {
        let shallow = String(repeating: "[", count: Limits.jsonDepthMax) + String(repeating: "]", count: Limits.jsonDepthMax)
        let deep = "[" + shallow + "]"
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        _ = try JSONValue.parse(String(shallow.dropFirst().dropLast()))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(#""a\"b\\c\n\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c\né😀"))
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let original: JSONValue = .object([
            ("text", .string("quote\" back\\ nl\n ctl\u{01} del\u{7F} é")), ("n", .number("0.0156")), ("t", .bool(true)),
            ("z", .null), ("list", .array([.int(Int64(1)), .string("x")])),
        ])
        let text = original.serialized()
        #expect(text.contains(#"\u0001"#))
        #expect(!text.contains("\n"))
        #expect(try JSONValue.parse(text) == original)
    }

    @Test func fingerprintIgnoresKeyOrderAndWhitespaceButNotValues() throws {
        let a = try JSONValue.parse(#"{"provider":"x","input_tokens":5}"#)
        let b = try JSONValue.parse(#"{ "input_tokens": 5, "provider": "x" }"#)
        let c = try JSONValue.parse(#"{"provider":"x","input_tokens":6}"#)
        #expect(RequestFingerprint.of(a) == RequestFingerprint.of(b))
        #expect(RequestFingerprint.of(a) != RequestFingerprint.of(c))
    }

    /// Stored idempotency records hold this hash: it must not drift between versions.
    @Test func fingerprintIsSHA256OfTheCanonicalText() throws {
        let body = try JSONValue.parse(#"{ "provider": "x", "input_tokens": 5 }"#)
        #expect(RequestFingerprint.of(body) == "aad80197731914ec62d0e606bdf773aaf15871e13bd9587f60935fa0ab0732b6")
    }

    @Test func writerEscapesEachKindExactly() {
        let text = JSONValue.string("a\"b\\c\nd\re\tf\u{01}g\u{7F}h\u{2028}i\u{2029}jé😀").serialized()
        #expect(text == #""a\"b\\c\nd\re\tf\u0001g\u007fh\u2028i\u2029jé😀""#)
        // U+2028's first byte alone, before other continuation bytes, is copied as it is.
        #expect(JSONValue.string("\u{20AC}\u{2000}").serialized() == "\"\u{20AC}\u{2000}\"")
    }

    @Test func objectWriterWritesMembersInOrder() {
        var writer = JSONObjectWriter(capacity: 16)
        writer.string("s", "x\"y")
        writer.string("none", nil)
        writer.integer("n", -42)
        writer.integer("missing", nil)
        writer.money("usd", MicroDollars(rawValue: 1_500))
        writer.bool("ok", true)
        writer.beginArray("list")
        writer.beginObject()
        writer.integer("max", .max)
        writer.end("}")
        writer.beginObject()
        writer.money("min", MicroDollars(rawValue: .min))
        writer.end("}")
        writer.end("]")
        #expect(
            writer.finish()
                == #"{"s":"x\"y","none":null,"n":-42,"missing":null,"usd":0.0015,"ok":true,"list":[{"max":9223372036854775807},{"min":-9223372036854.775808}]}"#
        )
    }
}
