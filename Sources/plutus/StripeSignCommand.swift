import ArgumentParser
import Foundation
import PlutusCore

struct StripeSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stripe-sign",
        abstract: "Print the Stripe-Signature header Stripe would send for a payload (to test a webhook endpoint).",
        discussion:
            "Reads the payload from --file (or standard input) and signs it with --secret (default $STRIPE_WEBHOOK_SECRET).")

    @Option(help: "The endpoint's signing secret (whsec_…).") var secret: String?
    @Option(help: "File holding the raw event body.") var file: String?
    @Option(help: "Unix seconds to sign at (default now).") var timestamp: Int64?

    func run() throws {
        guard let secret = secret ?? Config.current.list("billing.stripe_webhook_secret").first, !secret.isEmpty else {
            throw CLIFailure.usage("--secret (or STRIPE_WEBHOOK_SECRET) is required")
        }
        let data: Data
        if let file {
            guard let contents = FileManager.default.contents(atPath: file) else { throw CLIFailure.usage("cannot read \(file)") }
            data = contents
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        guard data.count <= Limits.bodyBytesMax else { throw CLIFailure.usage("the payload is over 1 MiB") }
        let time = timestamp ?? Int64(Date().timeIntervalSince1970)
        print(StripeSignature.header(payload: Array(data), secret: secret, timestamp: time))
    }
}
