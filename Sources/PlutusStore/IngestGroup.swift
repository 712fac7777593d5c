import PlutusCore

/// The decisions for a group of ingest requests of one organization, made once for every
/// store. A store reads the facts inside its transaction (the organization under its lock,
/// the balances, the responses stored under the requests' keys, a `MeteringSource`), lets
/// this decide, writes `writes` in bulk, logs `alertsToLog` (each insert telling whether the
/// alert was new), and answers each request with `finish`.
///
/// Per request, in order: an Idempotency-Key used before (stored, or by an earlier request
/// of the group) replays the original response when the body is the same and fails that
/// request alone when it differs; otherwise its events are metered by a `MeteringRun` that
/// starts from the balances and counters the requests before it left.
public struct IngestGroup<Source: MeteringSource> {
    public struct Request: Sendable {
        public var batch: UsageBatch
        public var priced: [PricedCost]
        /// For a settle's event: the amount of the hold it settles, which is no longer set
        /// aside from this request on.
        public var releasing: MicroDollars

        public init(batch: UsageBatch, priced: [PricedCost], releasing: MicroDollars = .zero) {
            self.batch = batch
            self.priced = priced
            self.releasing = releasing
        }
    }

    /// What was decided for one request.
    public enum Decision: Sendable {
        case ran(events: [EventOutcome], alerts: [AlertDraft], tokens: Int64)
        /// The response stored under the request's key.
        case replay(StoredResponse)
        /// The same key and body as an earlier request of this group, by index.
        case replayOfEarlier(Int)
        case failed(StoreError)
    }

    /// The answer to one request.
    public enum Answer: Sendable, Equatable {
        /// Recorded; the response is rendered here only when a key needs it stored.
        case committed(UsageBatchOutcome, StoredResponse?)
        case replayed(StoredResponse)
    }

    /// A response to keep under its key, in the same transaction.
    public struct KeptResponse: Sendable, Equatable {
        public var claim: UsageBatch.IdempotencyClaim
        public var response: StoredResponse
        public var at: Timestamp
    }

    public let organization: Organization
    /// Credit set aside by the organization's active holds (after those due have expired),
    /// less the holds the requests decided so far settle.
    public private(set) var held: MicroDollars
    public private(set) var source: Source
    /// Everything the group writes, for the store to write in bulk.
    public private(set) var writes: MeteringWrites
    public private(set) var decisions: [Decision] = []

    public init(
        organization: Organization, source: Source, creditBalance: MicroDollars, usageBalance: Int64,
        held: MicroDollars = .zero
    ) {
        self.organization = organization
        self.held = held
        self.source = source
        writes = MeteringWrites(creditBalance: creditBalance, usageBalance: usageBalance)
    }

    /// Decides the requests in order. `storedResponse` answers a key with the fingerprint of
    /// the body it was first used with and the response stored for it. A settle's request
    /// (`releasing`) spends with its hold no longer set aside, as do the requests after it.
    public mutating func decide(
        _ requests: [Request], storedResponse: (String) throws -> (hash: String, response: StoredResponse)?
    ) throws {
        precondition(requests.allSatisfy { $0.batch.organizationID == organization.id }, "one organization per group")
        var claimedInGroup: [String: (hash: String, index: Int)] = [:]
        for request in requests {
            let batch = request.batch
            if request.releasing.isPositive {
                precondition(request.releasing <= held, "a settled hold is among the active holds")
                held = MicroDollars(rawValue: held.rawValue - request.releasing.rawValue)
            }
            if let claim = batch.idempotency {
                if let earlier = claimedInGroup[claim.key] {
                    decisions.append(
                        earlier.hash == claim.requestHash
                            ? .replayOfEarlier(earlier.index) : .failed(.idempotencyConflict(key: claim.key)))
                    continue
                }
                if let stored = try storedResponse(claim.key) {
                    decisions.append(
                        stored.hash == claim.requestHash
                            ? .replay(stored.response) : .failed(.idempotencyConflict(key: claim.key)))
                    continue
                }
                claimedInGroup[claim.key] = (claim.requestHash, decisions.count)
            }
            let clientEventIDs = batch.events.compactMap(\.clientEventID)
            if !clientEventIDs.isEmpty { try source.expect(clientEventIDs: clientEventIDs) }
            var run = MeteringRun(
                source: source, organization: organization, creditBalance: writes.creditBalance,
                usageBalance: writes.usageBalance, held: held, batch: batch)
            let events = try run.run(request.priced)
            let tokens = try run.monthTokens(batch.receivedAt.month)
            source = run.source
            source.absorb(run.writes)
            decisions.append(.ran(events: events, alerts: run.writes.alerts, tokens: tokens))
            writes.append(run.writes)
        }
    }

    /// The alerts to log, request by request (`index`), each at its request's time.
    public func alertsToLog(_ requests: [Request]) -> [(index: Int, draft: AlertDraft, at: Timestamp)] {
        decisions.enumerated().flatMap { index, decision -> [(index: Int, draft: AlertDraft, at: Timestamp)] in
            guard case .ran(_, let alerts, _) = decision else { return [] }
            return alerts.map { (index, $0, requests[index].batch.receivedAt) }
        }
    }

    /// Each request's answer, given the alerts the store logged as new for each request (by
    /// `MeteringRun.alertKey`), and the responses to keep under their keys.
    public func finish(_ requests: [Request], newAlerts: [Int: Set<String>]) -> (
        answers: [Result<Answer, StoreError>], kept: [KeptResponse]
    ) {
        precondition(requests.count == decisions.count, "one decision per request")
        var answers: [Result<Answer, StoreError>] = []
        var kept: [KeptResponse] = []
        answers.reserveCapacity(requests.count)
        for (index, (request, decision)) in zip(requests, decisions).enumerated() {
            let batch = request.batch
            switch decision {
            case .failed(let error):
                answers.append(.failure(error))
            case .replay(let stored):
                answers.append(.success(.replayed(stored)))
            case .replayOfEarlier(let earlier):
                guard case .success(.committed(_, let response?)) = answers[earlier] else {
                    // A keyed request that ran always keeps its response; anything else is a
                    // broken invariant, answered as an error rather than a crash.
                    answers.append(.failure(.backend("request \(earlier) of the group replayed without a kept response")))
                    continue
                }
                answers.append(.success(.replayed(response)))
            case .ran(let events, _, let tokens):
                let outcome = MeteringRun<Source>.outcome(
                    events, logged: newAlerts[index] ?? [], organization: organization, trackedTokensThisMonth: tokens)
                guard let claim = batch.idempotency else {
                    answers.append(.success(.committed(outcome, nil)))
                    continue
                }
                let response = UsageResponse.render(outcome, upgradeURL: batch.upgradeURL)
                kept.append(KeptResponse(claim: claim, response: response, at: batch.receivedAt))
                answers.append(.success(.committed(outcome, response)))
            }
        }
        return (answers, kept)
    }
}
