import GRDB
import PlutusCore
import PlutusStore

/// Money requests of one organization applied together, in one savepoint of the group
/// commit: one read of the organization under the lock, one ingest group for every event,
/// one write of the hold totals.
extension SQLiteStore {
    /// `GroupCommitter.ApplyTogether`. None of the requests has been answered, so any order
    /// is one they could have run in; this one is: the ingest requests (every hold still
    /// active), then the settles one by one (each event spends with its own hold released),
    /// then the new holds one by one (against the balance, holds and budget spend all of that
    /// left). The events of the ingest requests and of the settles are decided by one
    /// `IngestGroup`. Each request's result is what its own body would have returned.
    static func applyTogether(_ db: Database, _ requests: [GroupCommitter.Mergeable]) throws -> [Result<
        any Sendable, any Error
    >] {
        let organizationID = requests[0].organizationID
        precondition(requests.allSatisfy { $0.organizationID == organizationID }, "one organization")
        let now = requests.map(\.receivedAt).max()!
        let (organization, accounts, locked) = try lockForMoney(db, organizationID, now: now)
        var results = [Result<any Sendable, any Error>?](repeating: nil, count: requests.count)
        var totals = locked

        var ingest: [(index: Int, request: IngestRequest)] = []
        for (index, request) in requests.enumerated() {
            if case .usage(let usage) = request {
                ingest.append((index, IngestRequest(batch: usage.batch, priced: usage.priced)))
            }
        }
        // The settles' holds as they stand before any of them closes.
        var settles: [(index: Int, hold: Reservation, batch: UsageBatch)] = []
        var settling = Set<ReservationID>()
        for (index, request) in requests.enumerated() {
            guard case .settle(let id, let usage) = request else { continue }
            // The same hold settled twice in one group: the shared write is given up and each
            // request runs alone, where the second replays the first.
            guard settling.insert(id).inserted else { throw StoreError.backend("hold \(id) settled twice in one group") }
            do {
                switch try Holds.startSettle(id, found: try hold(db, organizationID, id), batch: usage.batch, totals: totals) {
                case .replay(let stored):
                    results[index] = .success(SettleResult.replayed(stored))
                case .settle(let hold, let batch, _):
                    settles.append((index, hold, batch))
                    ingest.append((index, IngestRequest(batch: batch, priced: usage.priced, releasing: hold.amount)))
                }
            } catch let error as StoreError {
                results[index] = .failure(error)  // not there, or closed otherwise: nothing written
            }
        }

        var balance = MicroDollars(rawValue: accounts[.credit]!.balance)
        if !ingest.isEmpty {
            let written = try recordUsage(
                db, ingest.map(\.request), organization: organization, accounts: accounts, held: totals.held)
            balance = written.creditBalance
            let usageCount = ingest.count - settles.count
            for (position, answer) in written.answers.prefix(usageCount).enumerated() {
                results[ingest[position].index] = answer.map { $0 as any Sendable }.mapError { $0 as any Error }
            }
            for (settle, answer) in zip(settles, written.answers.dropFirst(usageCount)) {
                let (result, after) = try finishSettle(db, settle.hold, try answer.get(), batch: settle.batch, totals: totals)
                results[settle.index] = .success(result)
                totals = after
            }
        }

        for (index, request) in requests.enumerated() {
            guard case .hold(let hold) = request else { continue }
            do {
                let (result, after) = try placeHold(db, hold, organization: organization, balance: balance, totals: totals)
                results[index] = .success(result)
                totals = after
            } catch let error as StoreError {
                results[index] = .failure(error)  // decided before anything was written
            }
        }
        if totals != locked { try writeHoldTotals(db, organizationID, totals) }
        return results.map { $0! }  // every request is answered above
    }
}

extension GroupCommitter.Mergeable {
    var receivedAt: Timestamp {
        switch self {
        case .usage(let ingest), .settle(_, let ingest): ingest.batch.receivedAt
        case .hold(let request): request.receivedAt
        }
    }
}
