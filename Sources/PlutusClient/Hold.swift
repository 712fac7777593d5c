import PlutusCore
import Synchronization

/// How much to set aside before a call.
public enum HoldEstimate: Sendable, Equatable {
    /// A known amount.
    case amount(MicroDollars)
    /// The call's worst case at catalog prices: its input and the most output it may produce.
    case worstCase(provider: String, model: String?, inputTokens: Int64, maxOutputTokens: Int64)
}

/// Credit set aside for one call. Record what the call used on it with ``record(_:)``;
/// ``Meter/withHold(_:workspace:taskType:runID:ttl:isolation:_:)`` settles with that, or
/// releases the hold when nothing was recorded.
public final class Hold: Sendable {
    /// The reservation id (`rsv_…`).
    public let id: String
    /// The amount set aside.
    public let amount: MicroDollars
    /// The provider and model of a worst-case hold, used by ``record(usage:)``.
    public let provider: String?
    public let model: String?
    let workspace: String?
    let taskType: String?
    let runID: String?
    private let recorded = Mutex<Call?>(nil)

    init(
        id: String, amount: MicroDollars, provider: String?, model: String?, workspace: String?, taskType: String?,
        runID: String?
    ) {
        self.id = id
        self.amount = amount
        self.provider = provider
        self.model = model
        self.workspace = workspace
        self.taskType = taskType
        self.runID = runID
    }

    /// Says what the call used; the hold is settled with it. Recording again replaces it.
    public func record(_ call: Call) {
        recorded.withLock { $0 = call }
    }

    /// Says what the call used, for the provider and model the hold was priced for (a
    /// worst-case hold), in the hold's workspace, task and run. A hold of an amount names no
    /// provider: record a whole ``Call`` on it instead (this one is refused at the settle,
    /// and the hold released).
    public func record(usage: Usage, model: String? = nil) {
        record(
            Call(
                provider: provider ?? "", model: model ?? self.model, usage: usage, workspace: workspace,
                taskType: taskType, runID: runID))
    }

    /// What was recorded, if anything.
    public var recordedCall: Call? { recorded.withLock { $0 } }
}
