import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import PlutusCore
import PlutusStore
import Synchronization

/// A streamed answer on its way from the upstream to the agent. Reading the upstream runs in
/// a task of its own, so it goes on when the agent goes: the events reach the agent as they
/// arrive, whole (the usage chunk the gateway asked for on the agent's behalf is taken out),
/// and the event that ends the answer is passed on only once the hold is settled, so the
/// call is on the ledger when the agent's SDK returns. If the agent disconnects, the rest
/// of the answer is still read for the usage, up to `Limits.gatewayDrainBytesMax` and within
/// the call's time (`GatewayConfiguration.upstreamSeconds` from its start).
final class GatewayRelay<Store: BillingStore>: Sendable {
    private let answer: HTTPClientResponse
    private let call: GatewayCall
    private let settler: GatewaySettler<Store>
    private let logger: Logger
    private let agentGone = Atomic<Bool>(false)
    private let stream: AsyncStream<ByteBuffer>
    private let continuation: AsyncStream<ByteBuffer>.Continuation

    private let deadline: ContinuousClock.Instant

    init(
        answer: HTTPClientResponse, call: GatewayCall, settler: GatewaySettler<Store>, deadline: ContinuousClock.Instant,
        logger: Logger
    ) {
        self.answer = answer
        self.deadline = deadline
        self.call = call
        self.settler = settler
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
    }

    func start() {
        continuation.onTermination = { [self] termination in
            if case .cancelled = termination { agentGone.store(true, ordering: .relaxed) }
        }
        Task { await self.pump() }
    }

    /// Writes the answer to the agent as it comes.
    func deliver(to writer: inout any ResponseBodyWriter) async throws {
        for await buffer in stream {
            do {
                try await writer.write(buffer)
            } catch {
                agentGone.store(true, ordering: .relaxed)
                throw error
            }
        }
        try await writer.finish(nil)
    }

    private func pump() async {
        var splitter = ServerSentEventSplitter()
        var reader = GatewayUsageReader(route: call.route)
        // The event that ends the answer, and anything after it, wait for the settle.
        var last: [UInt8] = []
        var ended = false
        var drained = 0
        do {
            for try await buffer in answer.body {
                if agentGone.load(ordering: .relaxed) {
                    drained += buffer.readableBytes
                    if drained > Limits.gatewayDrainBytesMax || ContinuousClock.now > deadline { break }
                }
                for event in splitter.append(buffer.readableBytesView) {
                    let handling = reader.read(event, dropUsageChunk: call.forcesStreamUsage)
                    guard handling.forward else { continue }
                    let raw = call.forcesStreamUsage ? GatewayCalls.withoutNullUsage(event.raw) : event.raw
                    if handling.terminal || !last.isEmpty {
                        last += raw
                    } else {
                        send(raw)
                    }
                }
            }
            ended = drained <= Limits.gatewayDrainBytesMax && ContinuousClock.now <= deadline
        } catch {
            logger.warning("gateway stream broke off", metadata: ["error": "\(error)"])
        }
        if let rest = splitter.finish(), reader.read(rest, dropUsageChunk: call.forcesStreamUsage).forward {
            last += rest.raw
        }
        _ = await settler.settle(reader, ended: ended)
        if !last.isEmpty { send(last) }
        continuation.finish()
    }

    private func send(_ bytes: [UInt8]) {
        guard !agentGone.load(ordering: .relaxed) else { return }
        continuation.yield(ByteBuffer(bytes: bytes))
    }
}
