import Foundation
import PlutusCore
import PlutusStore

/// Bills an agent's model calls to a Plutus organization.
///
/// A meter talks to a Plutus server over HTTP with an API key (``init(url:apiKey:configuration:)``),
/// or to a `BillingStore` in the same process (``embedded(store:organization:policy:configuration:)``);
/// both decide the same way, in the same transactions.
///
/// ```swift
/// let meter = Meter(url: "http://127.0.0.1:8420", apiKey: "plutus_sk_…")
/// try await meter.track(Call(provider: "anthropic", model: "claude-sonnet-4-5",
///                            usage: .tokens(input: 1_200, output: 380), workspace: "research"))
/// try await meter.shutdown()  // sends what is still queued
/// ```
///
/// ``track(_:)`` queues a call and returns; a background flush sends the queue in batches
/// every ``Configuration/flushInterval`` or as soon as a batch is full. ``record(_:)`` sends
/// one call now and tells you what it cost, or throws why it was refused. ``withHold(_:workspace:taskType:runID:ttl:isolation:_:)``
/// sets credit aside before a call and settles or releases it afterwards.
///
/// Every request that gets no answer (connection refused or reset, timeout) or a 429 or 503
/// is sent again with the same `Idempotency-Key`, and every call carries its own event id,
/// so a retry never bills twice and a server restart loses nothing.
public actor Meter {
    /// How a meter batches and retries.
    public struct Configuration: Sendable {
        /// Calls per request, 1–1,000.
        public var batchSize: Int
        /// How often queued calls are sent.
        public var flushInterval: Duration
        /// Calls queued at most; past it ``Meter/track(_:)`` waits for a flush to make room.
        public var queueLimit: Int
        /// How long one request is retried (no answer, 429, 503) before the attempt gives up;
        /// a batch that gave up stays queued for the next flush.
        public var retryFor: Duration
        /// How long one HTTP request may take.
        public var requestTimeout: Duration
        /// Called for each call a background flush sent and Plutus refused (hard stop,
        /// budget, quota); nothing was charged for it.
        public var onRefusal: (@Sendable (Refusal) -> Void)?

        public init(
            batchSize: Int = Limits.clientBatchDefault, flushInterval: Duration = .seconds(2),
            queueLimit: Int = Limits.clientQueueDefault, retryFor: Duration = .seconds(60),
            requestTimeout: Duration = .seconds(30), onRefusal: (@Sendable (Refusal) -> Void)? = nil
        ) {
            precondition((1...Limits.batchEventsMax).contains(batchSize), "batchSize must be 1–\(Limits.batchEventsMax)")
            precondition(queueLimit >= batchSize, "queueLimit must be at least batchSize")
            self.batchSize = batchSize
            self.flushInterval = flushInterval
            self.queueLimit = queueLimit
            self.retryFor = retryFor
            self.requestTimeout = requestTimeout
            self.onRefusal = onRefusal
        }
    }

    /// What a meter has sent so far.
    public struct Totals: Sendable, Equatable {
        /// Calls recorded now, and what they cost.
        public var recorded = 0
        public var cost = MicroDollars.zero
        /// Calls Plutus had recorded before under the same event id (nothing charged).
        public var duplicates = 0
        /// Calls refused (nothing charged).
        public var refused = 0
    }

    private struct Queued: Sendable {
        var eventID: String
        var event: JSONValue
    }

    /// A batch keeps its events and its Idempotency-Key from its first attempt to its answer.
    private struct Batch: Sendable {
        var key: String
        var events: [Queued]
    }

    private let transport: any Transport
    private let configuration: Configuration
    private var queue: [Queued] = []
    private var inFlight: Batch?
    private var draining: Task<Void, any Error>?
    private var ticker: Task<Void, Never>?
    private var refusals: [Refusal] = []
    private var isShutDown = false

    /// Counts of what was sent.
    public private(set) var totals = Totals()
    /// The error the last background flush met; `nil` once a flush succeeds.
    public private(set) var lastFlushError: PlutusClientError?

    /// A meter that sends to a Plutus server, e.g. `http://127.0.0.1:8420`, with one of the
    /// organization's API keys (`plutus_sk_…`).
    public init(url: String, apiKey: String, configuration: Configuration = Configuration()) {
        self.transport = RemoteTransport(baseURL: url, apiKey: apiKey, timeout: configuration.requestTimeout)
        self.configuration = configuration
    }

    /// A meter configured from `PLUTUS_REMOTE_URL` and `PLUTUS_API_KEY`, as the Python SDK
    /// reads them; `nil` when either is unset.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, configuration: Configuration = Configuration()
    ) -> Meter? {
        guard let url = environment["PLUTUS_REMOTE_URL"], !url.isEmpty, let key = environment["PLUTUS_API_KEY"], !key.isEmpty
        else { return nil }
        return Meter(url: url, apiKey: key, configuration: configuration)
    }

    init(transport: any Transport, configuration: Configuration) {
        self.transport = transport
        self.configuration = configuration
    }

    /// A meter that writes to a store in this process (for example a `SQLiteStore`), billing
    /// the organization named by id, slug or name.
    ///
    /// - Throws: ``PlutusClientError/invalidCall(field:message:)`` when no organization matches.
    public static func embedded(
        store: any BillingStore, organization: String, policy: MeteringPolicy = .standard,
        configuration: Configuration = Configuration()
    ) async throws -> Meter {
        guard let found = try await store.findOrganization(organization) else {
            throw PlutusClientError.invalidCall(field: "organization", message: "no organization matches '\(organization)'")
        }
        return Meter(
            transport: EmbeddedTransport(store: store, organizationID: found.id, policy: policy), configuration: configuration)
    }

    deinit {
        ticker?.cancel()
    }

    // MARK: - Calls

    /// Queues a call to be sent with the next batch and returns at once.
    ///
    /// The call is checked here as Plutus checks it, so a call Plutus would refuse as
    /// malformed throws now instead of in the background. When the queue is full, `track`
    /// waits for a flush; if Plutus cannot be reached it throws ``PlutusClientError/queueFull(limit:)``
    /// and the call is not queued.
    public func track(_ call: Call) async throws {
        guard !isShutDown else { throw PlutusClientError.shutDown }
        let event = try Self.checked(call)
        if pendingCount >= configuration.queueLimit {
            try? await flush()
            // The meter may have been shut down while this call waited.
            guard !isShutDown else { throw PlutusClientError.shutDown }
            guard pendingCount < configuration.queueLimit else {
                throw PlutusClientError.queueFull(limit: configuration.queueLimit)
            }
        }
        queue.append(Queued(eventID: call.eventID, event: event))
        startTicker()
        if queue.count >= configuration.batchSize, draining == nil {
            Task { await self.backgroundFlush() }
        }
    }

    /// Sends one call now and returns what it cost.
    ///
    /// - Throws: ``PlutusClientError/insufficientCredit(message:required:balance:)``,
    ///   ``PlutusClientError/budgetExceeded(_:)`` or ``PlutusClientError/quotaExceeded(message:)``
    ///   when Plutus refused it (nothing was charged); ``PlutusClientError/unauthorized(message:)``,
    ///   ``PlutusClientError/invalidCall(field:message:)``, ``PlutusClientError/unavailable(message:)``.
    @discardableResult
    public func record(_ call: Call) async throws -> Recorded {
        guard !isShutDown else { throw PlutusClientError.shutDown }
        let event = try Self.checked(call)
        let reply = try await exchange(.usage, body: event, key: Self.newKey())
        switch reply.status {
        case 200:
            let recorded = Answer.recorded(reply.body, eventID: call.eventID)
            count(recorded)
            return recorded
        case 402:
            totals.refused += 1
            throw Answer.refusal(reply.body, top: reply.body)
        default:
            throw Answer.failure(status: reply.status, body: reply.body)
        }
    }

    /// Calls queued or being sent.
    public var pendingCount: Int { queue.count + (inFlight?.events.count ?? 0) }

    /// The calls background flushes sent and Plutus refused since the last time they were
    /// taken; taking them empties the list.
    public func takeRefusals() -> [Refusal] {
        defer { refusals.removeAll() }
        return refusals
    }

    /// Sends every queued call now, in batches, and returns when Plutus has answered for all.
    ///
    /// - Throws: the error that stopped it (the calls not sent stay queued).
    public func flush() async throws {
        while true {
            if let running = draining {
                // Someone else's drain: its outcome is this flush's (a drain that gave up
                // is not started again at once, so a flush waits for one retry time at most
                // beyond its own).
                do {
                    try await running.value
                } catch let error as PlutusClientError {
                    lastFlushError = error
                    throw error
                }
                continue
            }
            guard pendingCount > 0 else { return }
            let task = Task { try await self.drainAndClear() }
            draining = task
            do {
                try await task.value
                lastFlushError = nil
            } catch let error as PlutusClientError {
                lastFlushError = error
                throw error
            }
            return
        }
    }

    /// Stops the background flush and sends what is still queued. A meter that was shut down
    /// refuses new calls.
    ///
    /// - Throws: ``PlutusClientError/notSent(count:reason:)`` when calls could not be sent.
    public func shutdown() async throws {
        guard !isShutDown else { return }
        // Closed first: a call tracked while the last flush runs is refused, not left behind.
        isShutDown = true
        ticker?.cancel()
        ticker = nil
        var failure: PlutusClientError?
        do {
            try await flush()
        } catch let error as PlutusClientError {
            failure = .notSent(count: pendingCount, reason: error.description)
        } catch {
            failure = .notSent(count: pendingCount, reason: String(describing: error))
        }
        await transport.shutdown()
        if let failure { throw failure }
    }

    // MARK: - Holds

    /// Places a hold: credit set aside for a call about to run, that no other spend may use.
    ///
    /// - Throws: ``PlutusClientError/insufficientCredit(message:required:balance:)`` or
    ///   ``PlutusClientError/budgetExceeded(_:)`` when nothing could be held.
    public func placeHold(
        _ estimate: HoldEstimate, workspace: String? = nil, taskType: String? = nil, runID: String? = nil,
        ttl: Duration? = nil
    ) async throws -> Hold {
        guard !isShutDown else { throw PlutusClientError.shutDown }
        var members: [(String, JSONValue)] = []
        var provider: String?
        var model: String?
        switch estimate {
        case .amount(let amount):
            members.append(("amount_usd", .number(amount.decimalString)))
        case .worstCase(let name, let modelName, let input, let maxOutput):
            provider = name
            model = modelName
            members.append(("provider", .string(name)))
            if let modelName { members.append(("model", .string(modelName))) }
            members.append(("input_tokens", .number(String(input))))
            members.append(("max_output_tokens", .number(String(maxOutput))))
        }
        if let workspace { members.append(("workspace", .string(workspace))) }
        if let taskType { members.append(("task_type", .string(taskType))) }
        if let runID { members.append(("run_id", .string(runID))) }
        if let ttl { members.append(("ttl_seconds", .number(String(ttl.components.seconds)))) }
        let reply = try await exchange(.placeHold, body: .object(members), key: Self.newKey())
        switch reply.status {
        case 201, 200:
            guard let id = reply.body["reservation_id"]?.stringValue, let held = Answer.money(reply.body["held_usd"]) else {
                throw PlutusClientError.unexpected(status: reply.status, message: "a hold answer without reservation_id")
            }
            return Hold(
                id: id, amount: held, provider: provider, model: model, workspace: workspace, taskType: taskType, runID: runID)
        case 402:
            throw Answer.refusal(reply.body, top: reply.body)
        default:
            throw Answer.failure(status: reply.status, body: reply.body)
        }
    }

    /// Records the call a hold was for, at its actual cost (above the hold too: the call
    /// happened), and releases the rest. Settling again answers as the first time.
    @discardableResult
    public func settle(_ hold: Hold, with call: Call) async throws -> Recorded {
        let event = try Self.checked(call)
        let reply = try await exchange(.settle(hold.id), body: event, key: nil)
        switch reply.status {
        case 200:
            let recorded = Answer.recorded(reply.body, eventID: call.eventID)
            count(recorded)
            return recorded
        case 409: throw PlutusClientError.holdClosed(id: hold.id, message: Answer.message(reply.body))
        default: throw Answer.failure(status: reply.status, body: reply.body)
        }
    }

    /// Gives a hold's credit back: the call did not happen.
    public func release(_ hold: Hold) async throws {
        let reply = try await exchange(.release(hold.id), body: nil, key: nil)
        switch reply.status {
        case 200: return
        case 409: throw PlutusClientError.holdClosed(id: hold.id, message: Answer.message(reply.body))
        default: throw Answer.failure(status: reply.status, body: reply.body)
        }
    }

    /// Holds `estimate`, runs `body`, then settles the hold with what the body recorded on it
    /// (``Hold/record(_:)``), or releases it when the body recorded nothing, whether the
    /// body returned or threw.
    ///
    /// ```swift
    /// let reply = try await meter.withHold(.worstCase(provider: "anthropic", model: "claude-sonnet-4-5",
    ///                                                 inputTokens: 2_000, maxOutputTokens: 1_024)) { hold in
    ///     let response = try await anthropic.messages(…)
    ///     hold.record(try .native(encoding: response.usage))
    ///     return response
    /// }
    /// ```
    ///
    /// A settle that fails is thrown (the call is not billed until it succeeds); a hold that
    /// lapsed before the settle has the call recorded on its own; a release that fails is not
    /// thrown, because the hold lapses by itself at its time to live. Settling and releasing
    /// run in a task of their own, so a cancelled caller still pays for a call it made.
    ///
    /// - Throws: the hold's refusal before the body runs (the body does not run); the
    ///   body's error after settling or releasing; a failed settle.
    public func withHold<T>(
        _ estimate: HoldEstimate, workspace: String? = nil, taskType: String? = nil, runID: String? = nil,
        ttl: Duration? = nil, isolation: isolated (any Actor)? = #isolation, _ body: (Hold) async throws -> T
    ) async throws -> T {
        let hold = try await placeHold(estimate, workspace: workspace, taskType: taskType, runID: runID, ttl: ttl)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(hold))
        } catch {
            result = .failure(error)
        }
        // In a task of its own: a caller cancelled after the call must still pay for it.
        if let call = hold.recordedCall {
            try await Task { try await self.close(hold, settlingWith: call) }.value
        } else {
            _ = await Task { try? await self.release(hold) }.value
        }
        return try result.get()
    }

    /// Settles a hold with the call it was for. A hold that lapsed meanwhile (or was
    /// closed) cannot take it, so the call is recorded on its own: it happened, and its
    /// event id keeps it from being billed twice. A call Plutus would refuse as malformed
    /// releases the hold before the error is thrown.
    private func close(_ hold: Hold, settlingWith call: Call) async throws {
        do {
            try await settle(hold, with: call)
        } catch PlutusClientError.holdClosed {
            try await record(call)
        } catch let error as PlutusClientError {
            if case .invalidCall = error { try? await release(hold) }
            throw error
        }
    }

    // MARK: - Sending

    /// The longest `Retry-After` honoured; a longer one is waited this long.
    static let retryAfterSecondsMax = 300.0

    private static func newKey() -> String { "plutus-swift-" + UUID().uuidString.lowercased() }

    /// The call as an event, checked as Plutus checks it.
    private static func checked(_ call: Call) throws -> JSONValue {
        let event = call.json
        do {
            _ = try UsageValidation.validate(event, index: 0, now: Timestamp.now(), defaultSource: "swift")
        } catch {
            throw PlutusClientError.invalidCall(field: error.field, message: "\(error.rule) (got \(error.found))")
        }
        return event
    }

    private func count(_ recorded: Recorded) {
        if recorded.duplicate {
            totals.duplicates += 1
        } else {
            totals.recorded += 1
            totals.cost = MicroDollars(rawValue: totals.cost.rawValue &+ recorded.cost.rawValue)
        }
    }

    private func startTicker() {
        guard ticker == nil else { return }
        let interval = configuration.flushInterval
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                await self.backgroundFlush()
            }
        }
    }

    private func backgroundFlush() async {
        try? await flush()
    }

    private func drainAndClear() async throws {
        defer { draining = nil }
        try await drain()
    }

    /// Sends batches until the queue is empty. Only this removes calls from the queue.
    private func drain() async throws {
        while true {
            if inFlight == nil {
                guard !queue.isEmpty else { return }
                let size = min(configuration.batchSize, queue.count)
                inFlight = Batch(key: Self.newKey(), events: Array(queue.prefix(size)))
                queue.removeFirst(size)
            }
            let batch = inFlight!
            let body: JSONValue = batch.events.count == 1 ? batch.events[0].event : .array(batch.events.map(\.event))
            let reply = try await exchange(.usage, body: body, key: batch.key)
            switch reply.status {
            case 200, 402:
                take(reply.body, for: batch.events)
                inFlight = nil
            case 400 where batch.events.count > 1, 413 where batch.events.count > 1:
                // Plutus refused the batch whole (one call it does not accept, or a body too
                // large): send them one by one, so the others are recorded and the one named.
                inFlight = nil
                queue.insert(contentsOf: batch.events, at: 0)
                try await drainOneByOne(batch.events.count)
            case 400, 413:
                refuse(batch.events[0].eventID, Answer.failure(status: reply.status, body: reply.body))
                inFlight = nil
            default:
                throw Answer.failure(status: reply.status, body: reply.body)
            }
        }
    }

    private func drainOneByOne(_ count: Int) async throws {
        for _ in 0..<count {
            let event = queue.removeFirst()
            inFlight = Batch(key: Self.newKey(), events: [event])
            let reply = try await exchange(.usage, body: event.event, key: inFlight!.key)
            switch reply.status {
            case 200, 402: take(reply.body, for: [event])
            case 400, 413: refuse(event.eventID, Answer.failure(status: reply.status, body: reply.body))
            default: throw Answer.failure(status: reply.status, body: reply.body)
            }
            inFlight = nil
        }
    }

    /// Counts a `/v1/usage` answer's events and keeps its refusals.
    private func take(_ body: JSONValue, for events: [Queued]) {
        let results: [JSONValue]
        if case .array(let elements) = body["results"] { results = elements } else { results = [body] }
        for (index, result) in results.enumerated() where index < events.count {
            if Answer.bool(result["recorded"]) || Answer.bool(result["duplicate"]) {
                count(Answer.recorded(result, eventID: events[index].eventID))
            } else {
                refuse(events[index].eventID, Answer.refusal(result, top: events.count == 1 ? body : .object([])))
            }
        }
    }

    private func refuse(_ eventID: String, _ reason: PlutusClientError) {
        let refusal = Refusal(eventID: eventID, reason: reason)
        totals.refused += 1
        refusals.append(refusal)
        configuration.onRefusal?(refusal)
    }

    /// Sends one request, again with the same key while it gets no answer, a 429 or a 503,
    /// waiting `Retry-After` or a doubling delay, for at most ``Configuration/retryFor``.
    private func exchange(_ endpoint: Endpoint, body: JSONValue?, key: String?) async throws -> Reply {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.retryFor
        var delay = Duration.milliseconds(100)
        while true {
            let problem: String
            var wait = delay
            do {
                let reply = try await transport.send(endpoint, body: body, idempotencyKey: key)
                guard reply.status == 429 || reply.status == 503 else { return reply }
                problem = "HTTP \(reply.status): \(Answer.message(reply.body))"
                if let seconds = reply.retryAfterSeconds, seconds.isFinite, seconds > 0 {
                    wait = .milliseconds(Int64(min(seconds, Self.retryAfterSecondsMax) * 1000))
                }
            } catch let failure as TransportFailure {
                problem = failure.message
            }
            guard clock.now + wait < deadline else { throw PlutusClientError.unavailable(message: problem) }
            try await Task.sleep(for: wait)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
