import PlutusCore
import Testing

@Suite("Validation of hold requests: an amount or a worst case to price, and a named error for every field")
struct HoldValidationTests {
    private func validate(_ json: String) throws(InputFieldError) -> HoldInput {
        try HoldValidation.validate(try! JSONValue.parse(json))
    }

    private func failure(_ json: String) -> InputFieldError? {
        do {
            _ = try validate(json)
            return nil
        } catch {
            return error
        }
    }

    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    @Test func aKnownAmountWithEveryOptionalField() throws {
        let input = try validate(
            #"{"amount_usd": 0.5, "workspace": "research", "task_type": "code", "run_id": "r-1", "ttl_seconds": 86400, "metadata": {"b": 1, "a": [true]}}"#
        )
        #expect(input.amount == .fixed(Self.dollars("0.5")))
        #expect(input.workspace == "research" && input.taskType == "code" && input.runID == "r-1")
        #expect(input.ttlSeconds == 86_400)
        #expect(input.metadata == #"{"b":1,"a":[true]}"#)
        #expect(try validate(#"{"amount_usd": "2.25"}"#).amount == .fixed(Self.dollars("2.25")))
        #expect(try validate(#"{"amount_usd": 1}"#).ttlSeconds == Limits.holdTTLSecondsDefault)
    }

    /// The worst case of a call, at catalog prices: every input token at the input rate, every
    /// allowed output token at the output rate. claude-opus-4-8 is $15 / $75 per million.
    @Test func theWorstCaseIsPricedFromTheCatalog() throws {
        let input = try validate(
            #"{"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 12000, "max_output_tokens": 4096}"#)
        #expect(
            input.amount
                == .worstCase(provider: "anthropic", model: "claude-opus-4-8", inputTokens: 12_000, maxOutputTokens: 4_096))
        #expect(input.provider == "anthropic" && input.model == "claude-opus-4-8")
        // 12,000 × $15 / 1M + 4,096 × $75 / 1M = $0.18 + $0.3072.
        #expect(try HoldValidation.amount(input, catalog: .builtin) == Self.dollars("0.4872"))
        #expect(try HoldValidation.amount(try validate(#"{"amount_usd": 3}"#), catalog: .builtin) == Self.dollars("3"))
    }

    @Test func aWorstCaseAboveTheLargestHoldIsRefused() throws {
        let input = try validate(
            #"{"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 1000000000000, "max_output_tokens": 1000000000000}"#
        )
        #expect(throws: InputFieldError.self) { try HoldValidation.amount(input, catalog: .builtin) }
    }

    /// Each bad body, and the field its error names.
    @Test(arguments: [
        (#"[]"#, ""),
        (#"{}"#, "amount_usd"),
        (#"{"amount_usd": 0}"#, "amount_usd"),
        (#"{"amount_usd": -1}"#, "amount_usd"),
        (#"{"amount_usd": 1000000.000001}"#, "amount_usd"),
        (#"{"amount_usd": "lots"}"#, "amount_usd"),
        (#"{"amount_usd": true}"#, "amount_usd"),
        (#"{"amount_usd": 1, "provider": "openai"}"#, "amount_usd"),
        (#"{"amount_usd": 1, "max_output_tokens": 10}"#, "max_output_tokens"),
        (#"{"amount": 1}"#, "amount"),
        (#"{"provider": "", "input_tokens": 5}"#, "provider"),
        (#"{"provider": 7, "input_tokens": 5}"#, "provider"),
        (#"{"provider": "openai", "model": "gpt-5"}"#, "max_output_tokens"),
        (#"{"provider": "openai", "input_tokens": -5}"#, "input_tokens"),
        (#"{"provider": "openai", "input_tokens": 1.5}"#, "input_tokens"),
        (#"{"provider": "openai", "max_output_tokens": "9"}"#, "max_output_tokens"),
        (#"{"amount_usd": 1, "ttl_seconds": 0}"#, "ttl_seconds"),
        (#"{"amount_usd": 1, "ttl_seconds": 86401}"#, "ttl_seconds"),
        (#"{"amount_usd": 1, "ttl_seconds": 1.5}"#, "ttl_seconds"),
        (#"{"amount_usd": 1, "metadata": [1]}"#, "metadata"),
        (#"{"amount_usd": 1, "workspace": 3}"#, "workspace"),
        (#"{"amount_usd": 1, "run_id": "a\u0001b"}"#, "run_id"),
    ])
    func refusesWithTheFieldNamed(body: String, field: String) {
        let error = failure(body)
        #expect(error?.field == field, "\(body)")
        #expect(error.map { !$0.message.isEmpty } ?? false)
    }

    @Test func metadataIsBounded() {
        let big = String(repeating: "x", count: Limits.holdMetadataBytesMax)
        #expect(failure(#"{"amount_usd": 1, "metadata": {"note": "\#(big)"}}"#)?.field == "metadata")
        let fits = String(repeating: "x", count: Limits.holdMetadataBytesMax - 11)
        #expect(failure(#"{"amount_usd": 1, "metadata": {"note": "\#(fits)"}}"#) == nil)
    }
}
