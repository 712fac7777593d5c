import Dispatch
import GRDB
import PlutusCore
import PlutusStore
import Synchronization

/// Group commit: write requests queue here; one writer takes everything queued, runs it
/// in one `BEGIN IMMEDIATE` transaction with a savepoint per request, and commits once, so
/// one fsync serves many requests. Each request still succeeds or fails alone (its
/// savepoint is rolled back on error), and learns its result only after the commit is on
/// disk. The queue is bounded; past the bound a request is refused as busy at once.
///
/// Money requests that sit next to each other in a group (ingest, holds, settles) are
/// applied together per organization (`applyTogether`, one savepoint for all of them): one
/// read of the organization under the lock, one bulk write of their rows, one update of its
/// balances, holds and counters. If that shared write fails, its savepoint is rolled back
/// and each of those requests runs again in a savepoint of its own, so one bad request
/// still fails alone.
public final class GroupCommitter: Sendable {
    /// Requests waiting at most by default; beyond the bound the caller gets `StoreError.busy`.
    public static let queueDepthMaxDefault = 4_096
    /// Requests in one transaction at most, so one group's latency stays bounded.
    static let groupRequestsMax = 512

    /// A batch of usage events and their prices, priced before the transaction.
    package struct Ingest: Sendable {
        let batch: UsageBatch
        let priced: [PricedCost]
    }

    /// A request that may be applied together with others of its organization.
    package enum Mergeable: Sendable {
        case usage(Ingest)
        case hold(HoldRequest)
        /// Settles the hold with the request's one event.
        case settle(ReservationID, Ingest)

        var organizationID: OrganizationID {
            switch self {
            case .usage(let ingest), .settle(_, let ingest): ingest.batch.organizationID
            case .hold(let request): request.organizationID
            }
        }
    }

    /// Applies requests of one organization together: one result per request, in their
    /// order, each what the request's own body would have returned. Throws when the shared
    /// write fails; nothing of it then stays.
    package typealias ApplyTogether = @Sendable (Database, [Mergeable]) throws -> [Result<any Sendable, any Error>]

    private struct Job: @unchecked Sendable {
        // The body runs on the writer thread; the continuation is resumed once, after commit.
        let body: (Database) throws -> any Sendable
        /// Set for requests that may be applied together.
        let merge: Mergeable?
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    package typealias Counts = GroupCommitCounts

    private struct State {
        var pending: [Job] = []
        var draining = false
        var counts = Counts()
    }

    private let pool: DatabasePool
    private let queueDepthMax: Int
    private let applyTogether: ApplyTogether
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "plutus.group-commit")

    package init(pool: DatabasePool, queueDepthMax: Int = queueDepthMaxDefault, applyTogether: @escaping ApplyTogether) {
        precondition(queueDepthMax > 0, "the queue needs room")
        self.pool = pool
        self.queueDepthMax = queueDepthMax
        self.applyTogether = applyTogether
    }

    package var counts: Counts { state.withLock { $0.counts } }

    /// Runs `body` inside the next group transaction and returns its result once durable.
    /// A money request (`merge`) may be applied together with the other requests of its
    /// organization instead; `body` is how it runs in a savepoint of its own.
    package func submit<T: Sendable>(merge: Mergeable? = nil, _ body: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        try await enqueue(merge: merge) { try body($0) } as! T  // both paths answer with what `body` returns
    }

    private func enqueue(merge: Mergeable?, body: @escaping @Sendable (Database) throws -> any Sendable) async throws
        -> any Sendable
    {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let job = Job(body: body, merge: merge, continuation: continuation)
            let startDraining: Bool? = state.withLock { state in
                guard state.pending.count < queueDepthMax else { return nil }
                state.pending.append(job)
                if state.draining { return false }
                state.draining = true
                return true
            }
            switch startDraining {
            case nil: continuation.resume(throwing: StoreError.busy(retryAfterSeconds: 1))
            case true?: queue.async { self.drain() }
            case false?: break
            }
        }
    }

    private func drain() {
        while true {
            let group: [Job] = state.withLock { state in
                let taken = Array(state.pending.prefix(Self.groupRequestsMax))
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if group.isEmpty { return }
            commit(group)
        }
    }

    /// The savepoint statements, cached: GRDB's `inSavepoint` compiles its SQL afresh each time.
    private struct Savepoint {
        let begin: Statement
        let release: Statement
        let undo: Statement

        init(_ db: Database) throws {
            begin = try db.cachedStatement(sql: "SAVEPOINT request")
            release = try db.cachedStatement(sql: "RELEASE SAVEPOINT request")
            undo = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT request")
        }

        /// Runs `body` in the savepoint; on error rolls it back and returns the error.
        func run<T>(_ body: () throws -> T) throws -> Result<T, any Error> {
            try begin.execute()
            let result: Result<T, any Error>
            do {
                result = .success(try body())
            } catch {
                result = .failure(error)
                try undo.execute()
            }
            try release.execute()
            return result
        }
    }

    private func commit(_ group: [Job]) {
        var results = [Result<any Sendable, any Error>?](repeating: nil, count: group.count)
        var tally = Counts(transactions: 1, requests: group.count)
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let savepoint = try Savepoint(db)
                    var index = 0
                    while index < group.count {
                        guard group[index].merge != nil else {
                            results[index] = try savepoint.run { try group[index].body(db) }
                            index += 1
                            continue
                        }
                        var end = index + 1
                        while end < group.count, group[end].merge != nil { end += 1 }
                        try applyTogetherRun(db, group, index..<end, savepoint: savepoint, into: &results, tally: &tally)
                        index = end
                    }
                    return .commit
                }
            }
        } catch {
            // BEGIN or COMMIT failed: nothing of this group is on disk.
            let failure = SQLiteStore.translate(error)
            for job in group { job.continuation.resume(throwing: failure) }
            return
        }
        state.withLock { $0.counts.add(tally) }
        for (job, result) in zip(group, results) {
            switch result! {  // every position was filled before commit
            case .success(let value): job.continuation.resume(returning: value)
            case .failure(let error): job.continuation.resume(throwing: SQLiteStore.translate(error))
            }
        }
    }

    /// Consecutive money requests: those of one organization are applied together (in
    /// their queue order); different organizations touch different rows.
    private func applyTogetherRun(
        _ db: Database, _ group: [Job], _ run: Range<Int>, savepoint: Savepoint,
        into results: inout [Result<any Sendable, any Error>?], tally: inout Counts
    ) throws {
        var byOrganization: [OrganizationID: [Int]] = [:]
        var order: [OrganizationID] = []
        for index in run {
            let organization = group[index].merge!.organizationID
            if byOrganization[organization] == nil { order.append(organization) }
            byOrganization[organization, default: []].append(index)
        }
        for organization in order {
            let indices = byOrganization[organization]!
            if indices.count > 1 {
                let together = try savepoint.run { try applyTogether(db, indices.map { group[$0].merge! }) }
                if case .success(let each) = together {
                    precondition(each.count == indices.count, "one result per request")
                    for (index, result) in zip(indices, each) { results[index] = result }
                    tally.merged += indices.count
                    continue
                }
                tally.fallbacks += 1
            }
            for index in indices { results[index] = try savepoint.run { try group[index].body(db) } }
        }
    }
}

/// What a store's group committer has done since the store opened.
public struct GroupCommitCounts: Sendable, Equatable {
    /// Transactions committed, and the write requests they carried.
    public var transactions = 0
    public var requests = 0
    /// Money requests applied together with others of their organization.
    public var merged = 0
    /// Shared writes that failed and were retried request by request.
    public var fallbacks = 0

    mutating func add(_ other: GroupCommitCounts) {
        transactions += other.transactions
        requests += other.requests
        merged += other.merged
        fallbacks += other.fallbacks
    }
}
