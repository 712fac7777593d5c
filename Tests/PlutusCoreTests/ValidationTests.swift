import PlutusCore
import Testing

@Suite("Validation of usage events: a named error for every field at every boundary")
struct ValidationTests {
    let now = Timestamp.seconds(1_795_000_000)

    private func validate(_ json: String) throws(UsageFieldError) -> UsageEventInput {
        let value = try! JSONValue.parse(json)
        return try UsageValidation.validate(value, index: 3, now: now)
    }

    private func failure(_ json: String) -> UsageFieldError? {
        do {
            _ = try validate(json)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsAMinimalEventWithDefaults() throws {
        let event = try validate(#"{"provider": "anthropic", "unknown_field": [1, 2]}"#)
        #expect(event == UsageEventInput(provider: "anthropic", taskType: "general", source: "api"))
    }

    @Test func acceptsEveryField() throws {
        let event = try validate(
            #"""
            {"provider": "anthropic", "model": "claude-opus-4-8", "task_type": "code_review", "workspace": "ci",
             "source": "sdk", "input_tokens": 1000, "output_tokens": 500, "cache_read_tokens": 2000,
             "cache_write_tokens": 7, "reasoning_tokens": 100, "cost_usd": "0.0156", "event_id": "run-1/step-2",
             "ts": "2026-11-18T10:00:00.250+01:00"}
            """#)
        #expect(event.tokens == TokenCounts(input: 1_000, output: 500, cacheRead: 2_000, cacheWrite: 7, reasoning: 100))
        #expect(event.exactCost == MicroDollars(rawValue: 15_600))
        #expect(event.clientEventID == "run-1/step-2")
        #expect(event.timestamp == Timestamp.parseISO8601("2026-11-18T09:00:00.250Z"))
        #expect(event.workspace == "ci" && event.source == "sdk" && event.taskType == "code_review")
    }

    @Test func emptyOptionalStringsMeanAbsent() throws {
        let event = try validate(#"{"provider": "p", "model": "", "workspace": "", "task_type": "", "source": null}"#)
        #expect(event.model == nil && event.workspace == nil && event.taskType == "general" && event.source == "api")
    }

    @Test(
        arguments: [
            (#"{}"#, "provider", UsageFieldError.Code.missingProvider),
            (#"{"provider": null}"#, "provider", .missingProvider),
            (#"{"provider": "  "}"#, "provider", .missingProvider),
            (#"{"provider": 5}"#, "provider", .wrongType),
            (#"{"provider": "p", "model": 7}"#, "model", .wrongType),
            (#"{"provider": "p", "workspace": ["a"]}"#, "workspace", .wrongType),
            (#"{"provider": "p\u0000"}"#, "provider", .controlCharacter),
            (#"{"provider": "p", "task_type": "a\nb"}"#, "task_type", .controlCharacter),
            (#"{"provider": "p", "input_tokens": true}"#, "input_tokens", .wrongType),
            (#"{"provider": "p", "output_tokens": "5"}"#, "output_tokens", .wrongType),
            (#"{"provider": "p", "cache_read_tokens": 5.0}"#, "cache_read_tokens", .wrongType),
            (#"{"provider": "p", "cache_write_tokens": 1e3}"#, "cache_write_tokens", .wrongType),
            (#"{"provider": "p", "reasoning_tokens": NaN}"#, "reasoning_tokens", .wrongType),
            (#"{"provider": "p", "input_tokens": -1}"#, "input_tokens", .negative),
            (#"{"provider": "p", "input_tokens": 1000000000001}"#, "input_tokens", .tooLarge),
            (#"{"provider": "p", "input_tokens": 99999999999999999999999}"#, "input_tokens", .tooLarge),
            (#"{"provider": "p", "cost_usd": true}"#, "cost_usd", .wrongType),
            (#"{"provider": "p", "cost_usd": "abc"}"#, "cost_usd", .wrongType),
            (#"{"provider": "p", "cost_usd": NaN}"#, "cost_usd", .notFinite),
            (#"{"provider": "p", "cost_usd": Infinity}"#, "cost_usd", .notFinite),
            (#"{"provider": "p", "cost_usd": -0.01}"#, "cost_usd", .negative),
            (#"{"provider": "p", "cost_usd": 1000000.000001}"#, "cost_usd", .tooLarge),
            (#"{"provider": "p", "cost_usd": 1e300}"#, "cost_usd", .tooLarge),
            (#"{"provider": "p", "ts": "yesterday"}"#, "ts", .invalidTimestamp),
            (#"{"provider": "p", "ts": "2026-11-18T10:00:00"}"#, "ts", .invalidTimestamp),
            (#"{"provider": "p", "ts": true}"#, "ts", .invalidTimestamp),
            (#"{"provider": "p", "ts": 0}"#, "ts", .timestampOutOfRange),
            (#"{"provider": "p", "event_id": 12}"#, "event_id", .wrongType),
        ] as [(String, String, UsageFieldError.Code)])
    func refusesBadFieldsByName(json: String, field: String, code: UsageFieldError.Code) {
        let error = failure(json)
        #expect(error?.field == field)
        #expect(error?.code == code)
        #expect(error?.index == 3)
        #expect(error?.message.contains("event 3, field '\(field)'") == true)
    }

    /// Fields are read in one pass over the object; the first failing field in the fixed
    /// order (provider, model, task_type, workspace, source, event_id, tokens, cost, ts) is
    /// the one named, wherever it sits in the object, and null means absent.
    @Test func namesTheFirstBadFieldInFieldOrderWhateverTheMemberOrder() throws {
        #expect(failure(#"{"event_id": 12, "model": 7, "provider": "p"}"#)?.field == "model")
        #expect(failure(#"{"ts": "x", "input_tokens": -1, "provider": 5}"#)?.field == "provider")
        #expect(failure(#"{"ts": "x", "cost_usd": "y", "reasoning_tokens": 1.5, "provider": "p"}"#)?.field == "reasoning_tokens")
        #expect(failure(#"{"ts": "x", "cost_usd": "y", "provider": "p"}"#)?.field == "cost_usd")
        let event = try validate(
            #"{"input_tokens": null, "cost_usd": null, "ts": null, "event_id": null, "model": null, "provider": "p"}"#)
        #expect(event == UsageEventInput(provider: "p"))
    }

    /// The control-character check reads UTF-8 bytes; it must agree with the scalar rule
    /// (C0, DEL, C1) for every scalar of the first planes' interesting ranges.
    @Test func controlCharactersAreC0DelAndC1Only() throws {
        let scalars = (Array(0x00...0x2FF) + [0x2028, 0xFEFF, 0x1F600]).compactMap { Unicode.Scalar(UInt32($0)) }
        for scalar in scalars {
            let isControl = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            for text in ["\(Character(scalar))", "ab\(Character(scalar))", "é\(Character(scalar))z"] {
                #expect(UsageValidation.containsControlCharacter(text) == isControl, "U+\(String(scalar.value, radix: 16))")
            }
        }
        #expect(failure(#"{"provider": "p", "model": "a\u0085b"}"#)?.code == .controlCharacter)
        #expect(failure(#"{"provider": "p", "model": "a\u007fb"}"#)?.code == .controlCharacter)
        #expect(try validate(#"{"provider": "p", "model": "a\u00a0b\u0100"}"#).model == "a\u{A0}b\u{100}")
    }

    @Test func aProviderOfOnlyWhitespaceIsMissingUnicodeWhitespaceIncluded() throws {
        for blank in [#""""#, #"" \t ""#, #""\u3000""#, #"" \u2003 ""#] {
            #expect(failure(#"{"provider": \#(blank)}"#)?.code == .missingProvider, "\(blank)")
        }
        #expect(try validate(#"{"provider": " x"}"#).provider == " x")
        #expect(try validate(#"{"provider": "\u3000é"}"#).provider == "\u{3000}é")
    }

    @Test func keepsTheOriginalErrorWordingClientsMatchOn() {
        #expect(failure(#"{"model": "m"}"#)?.rule == "each event needs a 'provider'")
        #expect(failure(#"{"provider": "p", "input_tokens": "x"}"#)?.rule == "token fields must be integers")
        #expect(failure(#"{"provider": "p", "input_tokens": -5}"#)?.rule == "token fields must be non-negative")
        #expect(failure(#"{"provider": "p", "cost_usd": {}}"#)?.rule == "cost_usd must be a number")
        #expect(failure(#"{"provider": "p", "cost_usd": -1}"#)?.rule == "cost_usd must be non-negative")
    }

    @Test func lengthBoundsAreInUTF8Bytes() throws {
        _ = try validate(#"{"provider": "\#(String(repeating: "p", count: 64))"}"#)
        #expect(failure(#"{"provider": "\#(String(repeating: "p", count: 65))"}"#)?.code == .tooLong)
        // 64 two-byte characters are 128 bytes: over the provider limit, at the model limit.
        let twoByte = String(repeating: "é", count: 64)
        #expect(failure(#"{"provider": "\#(twoByte)"}"#)?.code == .tooLong)
        _ = try validate(#"{"provider": "p", "model": "\#(twoByte)"}"#)
        #expect(failure(#"{"provider": "p", "model": "\#(twoByte)x"}"#)?.code == .tooLong)
        _ = try validate(#"{"provider": "p", "event_id": "\#(String(repeating: "e", count: 128))"}"#)
        #expect(failure(#"{"provider": "p", "event_id": "\#(String(repeating: "e", count: 129))"}"#)?.code == .tooLong)
    }

    @Test func numericBoundsAreInclusive() throws {
        #expect(try validate(#"{"provider": "p", "input_tokens": 1000000000000}"#).tokens.input == Limits.tokensPerFieldMax)
        #expect(try validate(#"{"provider": "p", "input_tokens": -0}"#).tokens.input == 0)
        #expect(try validate(#"{"provider": "p", "cost_usd": 1000000}"#).exactCost == Limits.eventCostMax)
        #expect(try validate(#"{"provider": "p", "cost_usd": 0}"#).exactCost == .zero)
        #expect(try validate(#"{"provider": "p", "cost_usd": 0.00000049}"#).exactCost == .zero)
    }

    @Test func timestampsMayReachBack35DaysAndAhead5Minutes() throws {
        let earliest = now.adding(seconds: -Limits.eventBackfillSecondsMax)
        let latest = now.adding(seconds: Limits.eventFutureSecondsMax)
        #expect(try validate(#"{"provider": "p", "ts": \#(earliest.epochSecondsText)}"#).timestamp == earliest)
        #expect(try validate(#"{"provider": "p", "ts": \#(latest.epochSecondsText)}"#).timestamp == latest)
        let tooOld = Timestamp(rawValue: earliest.rawValue - 1).epochSecondsText
        let tooNew = Timestamp(rawValue: latest.rawValue + 1).epochSecondsText
        #expect(failure(#"{"provider": "p", "ts": \#(tooOld)}"#)?.code == .timestampOutOfRange)
        #expect(failure(#"{"provider": "p", "ts": \#(tooNew)}"#)?.code == .timestampOutOfRange)
    }

    @Test func batchesAreOneToOneThousandObjects() throws {
        let one = try JSONValue.parse(#"{"provider": "p"}"#)
        #expect(try UsageValidation.validateBody(one, now: now).wasArray == false)
        let thousand = JSONValue.array(Array(repeating: one, count: 1_000))
        #expect(try UsageValidation.validateBody(thousand, now: now).events.count == 1_000)
        #expect(throws: UsageBatchShapeError(message: "send 1–1000 events")) {
            try UsageValidation.validateBody(.array([]), now: now)
        }
        #expect(throws: UsageBatchShapeError(message: "send 1–1000 events")) {
            try UsageValidation.validateBody(.array(Array(repeating: one, count: 1_001)), now: now)
        }
        #expect(throws: UsageBatchShapeError.self) { try UsageValidation.validateBody(.string("x"), now: now) }
        let secondBad = JSONValue.array([one, try JSONValue.parse(#"{"provider": "p", "input_tokens": -1}"#)])
        #expect(throws: UsageFieldError.self) { try UsageValidation.validateBody(secondBad, now: now) }
        #expect(throws: UsageFieldError.self) { try UsageValidation.validateBody(.array([one, .number("1")]), now: now) }
    }
}
