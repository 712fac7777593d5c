/// A hold request as accepted from a caller (`POST /v1/reservations`), after validation.
public struct HoldInput: Sendable, Equatable {
    /// What to hold: a known amount, or the worst case of a call priced from the catalog.
    public enum Amount: Sendable, Equatable {
        case fixed(MicroDollars)
        case worstCase(provider: String, model: String?, inputTokens: Int64, maxOutputTokens: Int64)
    }

    public var amount: Amount
    public var workspace: String?
    public var taskType: String?
    public var runID: String?
    public var ttlSeconds: Int64
    /// The caller's `metadata` object, as compact JSON text.
    public var metadata: String?

    public init(
        amount: Amount, workspace: String? = nil, taskType: String? = nil, runID: String? = nil,
        ttlSeconds: Int64 = Limits.holdTTLSecondsDefault, metadata: String? = nil
    ) {
        self.amount = amount
        self.workspace = workspace
        self.taskType = taskType
        self.runID = runID
        self.ttlSeconds = ttlSeconds
        self.metadata = metadata
    }

    /// The provider and model a worst-case hold names (for the record).
    public var provider: String? {
        if case .worstCase(let provider, _, _, _) = amount { return provider }
        return nil
    }

    public var model: String? {
        if case .worstCase(_, let model, _, _) = amount { return model }
        return nil
    }
}

/// A field of a request body (a hold, a budget) that failed validation.
public struct InputFieldError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

public enum HoldValidation {
    /// The fields a hold request may carry; any other is refused by name, so a misspelt
    /// field never silently places a hold other than the one meant.
    public static let fields: Set<String> = [
        "amount_usd", "provider", "model", "input_tokens", "max_output_tokens", "workspace", "task_type", "run_id",
        "ttl_seconds", "metadata",
    ]

    public static func validate(_ body: JSONValue) throws(InputFieldError) -> HoldInput {
        guard case .object(let members) = body else {
            throw InputFieldError(field: "", message: "the body must be a JSON object")
        }
        var values: [String: JSONValue] = [:]
        for (name, value) in members {
            guard fields.contains(name) else {
                throw InputFieldError(
                    field: name,
                    message:
                        "'\(name)' is not a field of a hold; send amount_usd, or provider, model, input_tokens and max_output_tokens"
                )
            }
            if case .null = value { continue }
            values[name] = value
        }
        let amount: HoldInput.Amount
        switch (values["amount_usd"], values["provider"]) {
        case (let value?, nil):
            for field in ["model", "input_tokens", "max_output_tokens"] where values[field] != nil {
                throw InputFieldError(
                    field: field, message: "'\(field)' prices a hold from the catalog; with amount_usd, leave it out")
            }
            amount = .fixed(try fixedAmount(value))
        case (nil, let value?):
            guard case .string(let provider) = value, !UsageValidation.isBlank(provider) else {
                throw InputFieldError(field: "provider", message: "'provider' must be a non-empty string")
            }
            try label(provider, "provider", bytesMax: Limits.providerBytesMax)
            let model = try optionalLabel(values["model"], "model", bytesMax: Limits.labelBytesMax)
            let input = try tokens(values["input_tokens"], "input_tokens")
            let output = try tokens(values["max_output_tokens"], "max_output_tokens")
            guard input + output > 0 else {
                throw InputFieldError(
                    field: "max_output_tokens",
                    message: "a priced hold needs input_tokens or max_output_tokens above zero (or send amount_usd)")
            }
            amount = .worstCase(provider: provider, model: model, inputTokens: input, maxOutputTokens: output)
        case (_?, _?):
            throw InputFieldError(
                field: "amount_usd", message: "send either amount_usd or provider and tokens to price from, not both")
        case (nil, nil):
            throw InputFieldError(
                field: "amount_usd",
                message: "a hold needs amount_usd, or provider, model, input_tokens and max_output_tokens to price it from")
        }
        var ttl = Limits.holdTTLSecondsDefault
        if let value = values["ttl_seconds"] {
            guard case .number(let text) = value, let seconds = Int64(text), Limits.holdTTLSeconds.contains(seconds) else {
                throw InputFieldError(
                    field: "ttl_seconds",
                    message:
                        "'ttl_seconds' must be a whole number of seconds from \(Limits.holdTTLSeconds.lowerBound) to \(Limits.holdTTLSeconds.upperBound)"
                )
            }
            ttl = seconds
        }
        var metadata: String?
        if let value = values["metadata"] {
            guard case .object = value else {
                throw InputFieldError(field: "metadata", message: "'metadata' must be a JSON object")
            }
            let text = value.serialized()
            guard text.utf8.count <= Limits.holdMetadataBytesMax else {
                throw InputFieldError(
                    field: "metadata", message: "'metadata' must be at most \(Limits.holdMetadataBytesMax) bytes as JSON")
            }
            metadata = text
        }
        return HoldInput(
            amount: amount, workspace: try optionalLabel(values["workspace"], "workspace", bytesMax: Limits.labelBytesMax),
            taskType: try optionalLabel(values["task_type"], "task_type", bytesMax: Limits.labelBytesMax),
            runID: try optionalLabel(values["run_id"], "run_id", bytesMax: Limits.runIDBytesMax), ttlSeconds: ttl,
            metadata: metadata)
    }

    /// The amount to hold for `input`: the fixed amount, or the worst case priced from the
    /// catalog (all input at the input rate, every allowed output token at the output rate).
    public static func amount(_ input: HoldInput, catalog: PriceCatalog) throws(InputFieldError) -> MicroDollars {
        switch input.amount {
        case .fixed(let amount):
            return amount
        case .worstCase(let provider, let model, let inputTokens, let maxOutputTokens):
            let tokens = TokenCounts(input: inputTokens, output: maxOutputTokens)
            guard let priced = catalog.price(provider: provider, model: model, tokens: tokens, exactCost: nil),
                priced.cost <= Limits.holdAmountMax
            else {
                throw InputFieldError(
                    field: "max_output_tokens",
                    message: "the worst case of this call is more than the largest hold, \(Limits.holdAmountMax.formatted)")
            }
            guard priced.cost.isPositive else {
                throw InputFieldError(
                    field: "model", message: "the catalog prices this call at $0; send amount_usd to hold a known amount")
            }
            return priced.cost
        }
    }

    private static func fixedAmount(_ value: JSONValue) throws(InputFieldError) -> MicroDollars {
        let text: String
        switch value {
        case .number(let literal): text = literal
        case .string(let literal): text = literal.trimmingASCIISpaces()
        default: throw InputFieldError(field: "amount_usd", message: "'amount_usd' must be a number")
        }
        guard case .success(let amount) = MicroDollars.parse(text), amount.isPositive, amount <= Limits.holdAmountMax else {
            throw InputFieldError(
                field: "amount_usd",
                message: "'amount_usd' must be a number above 0 and at most \(Limits.holdAmountMax.decimalString)")
        }
        return amount
    }

    private static func tokens(_ value: JSONValue?, _ field: String) throws(InputFieldError) -> Int64 {
        do {
            return try UsageValidation.tokenCount(value, field: field, index: 0)
        } catch {
            throw InputFieldError(field: field, message: error.rule + " (found \(error.found))")
        }
    }

    private static func label(_ text: String, _ field: String, bytesMax: Int) throws(InputFieldError) {
        do {
            try UsageValidation.checkLabel(text, field: field, bytesMax: bytesMax, index: 0)
        } catch {
            throw InputFieldError(field: field, message: error.rule + " (found \(error.found))")
        }
    }

    private static func optionalLabel(_ value: JSONValue?, _ field: String, bytesMax: Int) throws(InputFieldError)
        -> String?
    {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            throw InputFieldError(field: field, message: "'\(field)' must be a string")
        }
        try label(text, field, bytesMax: bytesMax)
        return text.isEmpty ? nil : text
    }
}
