// An agent's billing, with PlutusClient: run `plutus serve`, create a key
// (`plutus keys create --org acme`), then
//
//     PLUTUS_REMOTE_URL=http://127.0.0.1:8420 PLUTUS_API_KEY=plutus_sk_… swift run agent-meter-example
//
// It meters three calls in the background, one call it waits for, and one call under a hold.
import Foundation
import PlutusClient
import PlutusCore

@main
enum AgentMeterExample {
    static func main() async {
        guard let meter = Meter.fromEnvironment() else {
            FileHandle.standardError.write(Data("set PLUTUS_REMOTE_URL and PLUTUS_API_KEY\n".utf8))
            exit(2)
        }
        do {
            // Background: queued, sent in batches, retried with the same Idempotency-Key.
            for turn in 1...3 {
                try await meter.track(
                    Call(
                        provider: "anthropic", model: "claude-sonnet-4-5",
                        usage: .tokens(input: 1_000 * Int64(turn), output: 200),
                        workspace: "research", taskType: "example"))
            }
            // The provider's own usage object, as the OpenAI API returned it.
            let usage = try Usage.native(
                json: #"{"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 200}}"#)
            let recorded = try await meter.record(
                Call(provider: "openai", model: "gpt-5-mini", usage: usage, workspace: "research"))
            print(
                "recorded \(recorded.eventID): \(recorded.cost.formatted(decimals: 6)), balance \(recorded.balanceAfter.formatted)"
            )

            // Credit set aside before the call, settled with what it used.
            let answer = try await meter.withHold(
                .worstCase(provider: "anthropic", model: "claude-sonnet-4-5", inputTokens: 2_000, maxOutputTokens: 1_024),
                workspace: "research"
            ) { hold in
                print("held \(hold.amount.formatted(decimals: 6)) as \(hold.id)")
                hold.record(usage: .tokens(input: 2_000, output: 512))
                return "the agent's answer"
            }
            print("settled: \(answer)")

            try await meter.shutdown()
            let totals = await meter.totals
            print(
                "sent: \(totals.recorded) recorded, \(totals.duplicates) duplicates, \(totals.refused) refused, \(totals.cost.formatted(decimals: 6))"
            )
        } catch let error as PlutusClientError {
            FileHandle.standardError.write(Data("plutus: \(error)\n".utf8))
            try? await meter.shutdown()
            exit(1)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
    }
}
