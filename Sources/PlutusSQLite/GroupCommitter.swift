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
/// Ingest requests that sit next to each other in a group are applied together per
/// organization (`applyIngest`, one savepoint for all of them): one read of the
/// organization, one bulk write of their rows, one update of its balances and counters.
/// If that shared write fails, its savepoint is rolled back and each of those requests runs
/// again in a savepoint of its own, so one bad request still fails alone.
public final class GroupCommitter: Sendable {
    /// Requests waiting at most by default; beyond the bound the caller gets `StoreError.busy`.
    public static let queueDepthMaxDefault = 4_096
    /// Requests in one transaction at most, so one group's latency stays bounded.
    static let groupRequestsMax = 512

    /// One ingest request, which the writer may apply together with others of its organization.
    package struct Ingest: Sendable {
        let batch: UsageBatch
        let priced: [PricedCost]
    }

    /// Applies ingest requests of one organization together, in order: one result per
    /// request. Throws when the shared write fails; nothing of it then stays.
    package typealias ApplyIngest = @Sendable (Database, [Ingest]) throws -> [Result<any Sendable, any Error>]

    private struct Job: @unchecked Sendable {
        // The body runs on the writer thread; the continuation is resumed once, after commit.
        let body: (Database) throws -> any Sendable
        /// Set for ingest requests, which may be applied together.
        let ingest: Ingest?
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
    private let applyIngest: ApplyIngest
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "plutus.group-commit")

    package init(pool: DatabasePool, queueDepthMax: Int = queueDepthMaxDefault, applyIngest: @escaping ApplyIngest) {
        precondition(queueDepthMax > 0, "the queue needs room")
        self.pool = pool
        self.queueDepthMax = queueDepthMax
        self.applyIngest = applyIngest
    }

    package var counts: Counts { state.withLock { $0.counts } }

    /// Runs `body` inside the next group transaction and returns its result once durable.
    /// An ingest request (`ingest`) may be applied together with the other requests of its
    /// organization instead; `body` is how it runs in a savepoint of its own.
    package func submit<T: Sendable>(ingest: Ingest? = nil, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T
    {
        try await enqueue(ingest: ingest) { try body($0) } as! T  // both paths answer with what `body` returns
    }

    private func enqueue(ingest: Ingest?, body: @escaping @Sendable (Database) throws -> any Sendable) async throws
        -> any Sendable
    {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let job = Job(body: body, ingest: ingest, continuation: continuation)
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
                        guard group[index].ingest != nil else {
                            results[index] = try savepoint.run { try group[index].body(db) }
                            index += 1
                            continue
                        }
                        var end = index + 1
                        while end < group.count, group[end].ingest != nil { end += 1 }
                        try applyIngestRun(db, group, index..<end, savepoint: savepoint, into: &results, tally: &tally)
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

    /// Consecutive ingest requests: those of one organization are applied together (in
    /// their queue order); different organizations touch different rows.
    private func applyIngestRun(
        _ db: Database, _ group: [Job], _ run: Range<Int>, savepoint: Savepoint,
        into results: inout [Result<any Sendable, any Error>?], tally: inout Counts
    ) throws {
        var byOrganization: [OrganizationID: [Int]] = [:]
        var order: [OrganizationID] = []
        for index in run {
            let organization = group[index].ingest!.batch.organizationID
            if byOrganization[organization] == nil { order.append(organization) }
            byOrganization[organization, default: []].append(index)
        }
        for organization in order {
            let indices = byOrganization[organization]!
            if indices.count > 1 {
                let together = try savepoint.run { try applyIngest(db, indices.map { group[$0].ingest! }) }
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
    /// Ingest requests applied together with others of their organization.
    public var merged = 0
    /// Shared ingest writes that failed and were retried request by request.
    public var fallbacks = 0

    mutating func add(_ other: GroupCommitCounts) {
        transactions += other.transactions
        requests += other.requests
        merged += other.merged
        fallbacks += other.fallbacks
    }
}
