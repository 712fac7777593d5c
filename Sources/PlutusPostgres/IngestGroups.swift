import PlutusCore
import PlutusStore
import Synchronization

/// A request waiting for its organization's next group transaction.
struct IngestJob: Sendable {
    let batch: UsageBatch
    let priced: [PricedCost]
}

/// Group commit for PostgreSQL ingest. One organization's money moves one transaction at a
/// time (its accounts are locked), so per-request transactions would queue on that lock and
/// each pay for its own round trips and commit. Instead each process keeps, per organization,
/// the requests that arrive while a transaction of that organization runs, and the next
/// transaction takes them all: one lock, one read of the state, one bulk write, one commit.
/// Every request still gets its own outcome, after the commit. Bounded: past
/// `queueDepthMax` waiting requests the answer is busy at once.
final class IngestGroups: Sendable {
    static let queueDepthMax = 4_096
    static let groupRequestsMax = 64
    /// Events in one group transaction at most (one request may exceed it alone).
    static let groupEventsMax = 5_000

    private struct Waiting: Sendable {
        let job: IngestJob
        let continuation: CheckedContinuation<UsageBatchResult, any Error>
    }

    private struct State {
        /// Requests waiting per organization; a key with an empty list means its drainer runs.
        var waiting: [OrganizationID: [Waiting]] = [:]
        var queued = 0
    }

    private let state = Mutex(State())

    func submit(_ job: IngestJob, store: PostgresStore) async throws -> UsageBatchResult {
        let organization = job.batch.organizationID
        return try await withCheckedThrowingContinuation { continuation in
            let startDrainer: Bool? = state.withLock { state in
                guard state.queued < Self.queueDepthMax else { return nil }
                state.queued += 1
                let idle = state.waiting[organization] == nil
                state.waiting[organization, default: []].append(Waiting(job: job, continuation: continuation))
                return idle
            }
            switch startDrainer {
            case nil: continuation.resume(throwing: StoreError.busy(retryAfterSeconds: 1))
            case true?: Task { await self.drain(organization, store: store) }
            case false?: break
            }
        }
    }

    private func drain(_ organization: OrganizationID, store: PostgresStore) async {
        while true {
            let group = state.withLock { state -> [Waiting] in
                guard var waiting = state.waiting[organization], !waiting.isEmpty else {
                    state.waiting[organization] = nil
                    return []
                }
                var taken: [Waiting] = []
                var events = 0
                while let next = waiting.first, taken.count < Self.groupRequestsMax,
                    taken.isEmpty || events + next.job.batch.events.count <= Self.groupEventsMax
                {
                    taken.append(waiting.removeFirst())
                    events += next.job.batch.events.count
                }
                state.waiting[organization] = waiting
                state.queued -= taken.count
                return taken
            }
            if group.isEmpty { return }
            do {
                let results = try await store.commitGroup(group.map(\.job))
                for (waiting, result) in zip(group, results) {
                    waiting.continuation.resume(with: result.mapError { $0 as any Error })
                }
            } catch {
                for waiting in group { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
