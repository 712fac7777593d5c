import Foundation
import Logging
import PlutusCore
import PlutusStore

/// Settles or releases one gateway call's hold, once.
///
/// The event is the provider's usage object, read as `/v1/usage` reads it (so cached and
/// reasoning tokens are normalised per provider), priced by the catalog under the model the
/// answer names when the catalog knows it, else the model asked for. When no usage arrived
/// (the upstream broke off, or answered without one) the call is billed at an estimate and
/// its event's `source` is `gateway-estimated`: the input bound the call was held for, and
/// for a stream one output token per content delta passed on (the providers stream about one
/// token per delta), for an answer not streamed the whole output cap.
struct GatewaySettler<Store: BillingStore>: Sendable {
    let store: Store
    let hold: Reservation
    let call: GatewayCall
    let attribution: Attribution
    let identity: APIKeyIdentity
    let configuration: ServerConfiguration
    let logger: Logger

    struct Settled: Sendable {
        var cost: MicroDollars
        var balance: MicroDollars?
        var eventID: String?
    }

    /// Settles with what `reader` learned; `ended`: the answer arrived whole.
    func settle(_ reader: GatewayUsageReader, ended: Bool) async -> Settled? {
        let receivedAt = Timestamp.now()
        let event: UsageEventInput
        do {
            event = try await self.event(reader, ended: ended, at: receivedAt)
        } catch {
            logger.error("gateway event could not be built", metadata: ["error": "\(error)", "hold": "\(hold.id.rawValue)"])
            return nil
        }
        let batch = UsageBatch(
            organizationID: identity.organizationID, events: [event], policy: configuration.policy, receivedAt: receivedAt,
            upgradeURL: configuration.upgradeURL, apiKeyID: identity.keyID)
        for attempt in 1...GatewayForwarding.settleAttemptsMax {
            do {
                switch try await store.settleHold(hold.id, batch) {
                case .settled(let reservation, let response):
                    return Settled(
                        cost: reservation.cost ?? .zero, balance: Self.balance(response.body),
                        eventID: reservation.eventID?.rawValue)
                case .replayed(let stored):
                    return Settled(cost: .zero, balance: Self.balance(stored.body), eventID: nil)
                }
            } catch let error as StoreError {
                if case .busy = error, attempt < GatewayForwarding.settleAttemptsMax {
                    try? await Task.sleep(nanoseconds: GatewayForwarding.settleRetryPauseMilliseconds * 1_000_000)
                    continue
                }
                logger.error("gateway settle failed", metadata: ["error": "\(error)", "hold": "\(hold.id.rawValue)"])
                return nil
            } catch {
                logger.error("gateway settle failed", metadata: ["error": "\(error)", "hold": "\(hold.id.rawValue)"])
                return nil
            }
        }
        return nil
    }

    /// Gives the whole hold back: nothing is billed.
    func release() async {
        do {
            _ = try await store.releaseHold(identity.organizationID, hold.id, at: Timestamp.now())
        } catch {
            logger.error("gateway release failed", metadata: ["error": "\(error)", "hold": "\(hold.id.rawValue)"])
        }
    }

    private func event(_ reader: GatewayUsageReader, ended: Bool, at time: Timestamp) async throws -> UsageEventInput {
        let provider = call.route.provider.catalogName
        var model = call.model
        if let answered = reader.model, answered != model,
            try await store.priceCatalog().resolve(provider: provider, model: answered).exact
        {
            model = answered
        }
        var members: [(String, JSONValue)] = [("provider", .string(provider)), ("model", .string(model))]
        if let workspace = attribution.workspace { members.append(("workspace", .string(workspace))) }
        if let task = attribution.taskType { members.append(("task_type", .string(task))) }
        if let run = attribution.runID { members.append(("run_id", .string(run))) }
        if let id = attribution.eventID { members.append(("event_id", .string(id))) }
        var warnings: [UsageWarning] = []
        if let usage = reader.usage {
            let reported = members + [("usage", .object(usage)), ("source", .string("gateway"))]
            if let event = try? UsageValidation.validate(.object(reported), index: 0, now: time, warnings: &warnings) {
                return event
            }
            logger.warning("gateway usage unreadable; billing the estimate", metadata: ["hold": "\(hold.id.rawValue)"])
        }
        let output = call.stream ? min(reader.deltas, call.outputTokensBound) : call.outputTokensBound
        let estimate =
            members + [
                ("input_tokens", .number(String(call.inputTokensBound))),
                ("output_tokens", .number(String(call.route == .embeddings ? 0 : output))),
                ("source", .string("gateway-estimated")),
            ]
        return try UsageValidation.validate(.object(estimate), index: 0, now: time, warnings: &warnings)
    }

    /// `balance_after` of a single-event usage answer.
    private static func balance(_ body: String) -> MicroDollars? {
        guard case .number(let text)? = (try? JSONValue.parse(body))?["balance_after"],
            case .success(let amount) = MicroDollars.parse(text)
        else { return nil }
        return amount
    }
}
