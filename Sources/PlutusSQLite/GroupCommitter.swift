import Dispatch
import GRDB
import PlutusStore
import Synchronization

/// Group commit: write requests queue here; one writer takes everything queued, runs it
/// in one `BEGIN IMMEDIATE` transaction with a savepoint per request, and commits once, so
/// one fsync serves many requests. Each request still succeeds or fails alone (its
/// savepoint is rolled back on error), and learns its result only after the commit is on
/// disk. The queue is bounded; past the bound a request is refused as busy at once.
public final class GroupCommitter: Sendable {
    /// Requests waiting at most by default; beyond the bound the caller gets `StoreError.busy`.
    public static let queueDepthMaxDefault = 4_096
    /// Requests in one transaction at most, so one group's latency stays bounded.
    static let groupRequestsMax = 512

    private struct Job: @unchecked Sendable {
        // The body runs on the writer thread; the continuation is resumed once, after commit.
        let body: (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private struct State {
        var pending: [Job] = []
        var draining = false
        var groups = 0
        var requests = 0
    }

    private let pool: DatabasePool
    private let queueDepthMax: Int
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "plutus.group-commit")

    init(pool: DatabasePool, queueDepthMax: Int = queueDepthMaxDefault) {
        precondition(queueDepthMax > 0, "the queue needs room")
        self.pool = pool
        self.queueDepthMax = queueDepthMax
    }

    /// Transactions committed and requests they carried, since the store opened.
    var counts: (groups: Int, requests: Int) { state.withLock { ($0.groups, $0.requests) } }

    /// Runs `body` inside the next group transaction and returns its result once durable.
    func submit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let job = Job(body: { try body($0) }, continuation: continuation)
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
        return value as! T  // the job was built from `body`, which returns T
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

    private func commit(_ group: [Job]) {
        var results: [Result<any Sendable, any Error>] = []
        results.reserveCapacity(group.count)
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // Savepoints through cached statements: GRDB's `inSavepoint` compiles
                    // its SQL afresh for every request.
                    let begin = try db.cachedStatement(sql: "SAVEPOINT request")
                    let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT request")
                    let undo = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT request")
                    for job in group {
                        try begin.execute()
                        do {
                            results.append(.success(try job.body(db)))
                        } catch {
                            results.append(.failure(error))
                            try undo.execute()
                        }
                        try release.execute()
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
        state.withLock {
            $0.groups += 1
            $0.requests += group.count
        }
        for (job, result) in zip(group, results) {
            switch result {
            case .success(let value): job.continuation.resume(returning: value)
            case .failure(let error): job.continuation.resume(throwing: SQLiteStore.translate(error))
            }
        }
    }
}
