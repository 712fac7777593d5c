import PlutusCore

/// Seeds a realistic month for one organization ("Acme Agents" on Pro): four workspaces,
/// 1,400 agent calls over 30 days weighted toward recent days, reported in six-hour batches
/// at their own times, and two Stripe-style top-ups sized so the month ends with a low
/// balance and its alert. Deterministic: the same seed gives the same events, amounts and
/// times relative to `now`.
public struct DemoSeeder: Sendable {
    public static let eventCount = 1_400
    public static let daysCovered: Int64 = 30

    public var seed: UInt64
    public var now: Timestamp

    public init(seed: UInt64 = 1337, now: Timestamp) {
        self.seed = seed
        self.now = now
    }

    public struct Summary: Sendable, Equatable {
        public var organization: Organization
        public var eventsRecorded: Int
        public var balance: MicroDollars
    }

    private struct Workload {
        var provider: String
        var model: String
        var task: String
        var weight: Double
        var input: ClosedRange<Int64>
        var output: ClosedRange<Int64>
    }

    private static let workloads: [Workload] = [
        Workload(
            provider: "anthropic", model: "claude-opus-4-8", task: "code_review", weight: 0.10, input: 4_000...18_000,
            output: 800...4_000),
        Workload(
            provider: "anthropic", model: "claude-sonnet-4-5-20250929", task: "chat", weight: 0.30, input: 600...4_000,
            output: 200...1_200),
        Workload(
            provider: "anthropic", model: "claude-sonnet-4-5-20250929", task: "summarize", weight: 0.12, input: 3_000...20_000,
            output: 200...900),
        Workload(
            provider: "anthropic", model: "claude-haiku-4-5-20251001", task: "classify", weight: 0.10, input: 300...1_500,
            output: 20...120),
        Workload(
            provider: "google", model: "gemini-3.1-pro-preview", task: "research", weight: 0.14, input: 5_000...40_000,
            output: 1_000...6_000),
        Workload(
            provider: "google", model: "gemini-2.5-flash", task: "summarize", weight: 0.10, input: 2_000...16_000,
            output: 150...700),
        Workload(
            provider: "google", model: "gemini-2.5-flash", task: "chat", weight: 0.06, input: 500...3_000, output: 150...900),
        Workload(
            provider: "deepseek", model: "deepseek-v4-pro", task: "code_review", weight: 0.04, input: 3_000...15_000,
            output: 600...3_000),
        Workload(
            provider: "deepseek", model: "deepseek-v4-flash", task: "classify", weight: 0.03, input: 200...1_200, output: 20...100
        ),
        Workload(provider: "openai", model: "gpt-5-mini", task: "embedding", weight: 0.01, input: 500...4_000, output: 0...0),
    ]

    private static let workspaces: [(name: String, budgetDollars: Int64?, weight: Double)] = [
        ("prod-support-bot", nil, 0.34), ("code-review-ci", 150, 0.30), ("research-crew", nil, 0.22),
        ("data-pipeline", 400, 0.14),
    ]

    public func seed(into store: some BillingStore) async throws -> Summary {
        let organization = try await store.createOrganization(name: "Acme Agents", plan: .pro, ownerEmail: "founder@acme.example")
        for workspace in Self.workspaces {
            _ = try await store.createWorkspace(
                organization.id, name: workspace.name, monthlyBudget: workspace.budgetDollars.flatMap(MicroDollars.dollars))
        }
        var random = SplitMix64(seed: seed)
        let start = now.adding(seconds: -Self.daysCovered * 86_400)
        // The last of the calls is made now and raises the low-balance alert.
        var events = (0..<(Self.eventCount - 1)).map { _ in makeEvent(&random, start: start) }
        events.sort { $0.timestamp! < $1.timestamp! }
        let last = UsageEventInput(
            provider: "anthropic", model: "claude-haiku-4-5-20251001", taskType: "classify", workspace: "prod-support-bot",
            source: "demo", tokens: TokenCounts(input: 800, output: 60), timestamp: now)
        events.append(last)
        // Two Stripe top-ups in whole tens of dollars, sized from what the month will cost at
        // the catalog's prices, so the books need no balancing entry: the first before any
        // call, covering the calls until the second on day 18, which leaves the month a little
        // above zero.
        let catalog = try await store.priceCatalog()
        let secondAt = start.adding(seconds: 18 * 86_400)
        func spend(_ chosen: some Sequence<UsageEventInput>) -> Int64 {
            chosen.reduce(0) { total, event in
                total
                    + (catalog.price(provider: event.provider, model: event.model, tokens: event.tokens, exactCost: nil)?.cost
                        .rawValue ?? 0)
            }
        }
        /// Whole tens of dollars, at least ten, covering `micros`.
        func tens(_ micros: Int64) -> Int64 { max(10, (micros + 9_999_999) / 10_000_000 * 10) }
        let first = tens(spend(events.filter { $0.timestamp! < secondAt }) + MicroDollars.dollars(40)!.rawValue)
        let second = tens(spend(events) + Self.closingBalance.rawValue - first * 1_000_000)
        let topUps: [(time: Timestamp, dollars: Int64, reference: String)] = [
            (start.adding(seconds: -3_600), first, "cs_demo_1"), (secondAt, second, "cs_demo_2"),
        ]
        let policy = MeteringPolicy(blockOverBalance: false, lowBalanceThreshold: MicroDollars.dollars(25)!)
        var recorded = 0
        var pendingTopUps = topUps[...]
        var index = 0
        while index < events.count {
            if let topUp = pendingTopUps.first, topUp.time <= events[index].timestamp! {
                try await postTopUp(store, organization.id, dollars: topUp.dollars, reference: topUp.reference, at: topUp.time)
                pendingTopUps = pendingTopUps.dropFirst()
                continue
            }
            // The calls of each six-hour stretch are reported together when the stretch's last
            // one is made, as an agent's batching exporter would: ledger entries land at their
            // calls' times.
            let window = events[index].timestamp!.adding(seconds: 6 * 3_600)
            var end = index + 1
            while end < events.count, end - index < 100, events[end].timestamp! < window,
                pendingTopUps.first.map({ events[end].timestamp! < $0.time }) ?? true
            {
                end += 1
            }
            let result = try await store.recordUsage(
                UsageBatch(
                    organizationID: organization.id, events: Array(events[index..<end]), policy: policy,
                    receivedAt: events[end - 1].timestamp!))
            if case .committed(let outcome, _) = result { recorded += outcome.recordedCount }
            index = end
        }
        let balance = try await store.balance(organization.id, at: now).balance
        return Summary(organization: organization, eventsRecorded: recorded, balance: balance)
    }

    /// About where the demo month ends: under the $25 low-balance threshold it uses.
    static let closingBalance = MicroDollars.dollars(12)!

    private func postTopUp(
        _ store: some BillingStore, _ organizationID: OrganizationID, dollars: Int64, reference: String, at time: Timestamp
    ) async throws {
        let movement = try CreditMovement(
            kind: .topUp, amount: MicroDollars.dollars(dollars)!, reference: reference, memo: "Stripe checkout")
        _ = try await store.postCredit(organizationID, movement, at: time)
    }

    private func makeEvent(_ random: inout SplitMix64, start: Timestamp) -> UsageEventInput {
        let workload = pick(Self.workloads, weight: \.weight, &random)
        let workspace = pick(Self.workspaces, weight: \.weight, &random)
        let input = random.next(in: workload.input)
        let output = random.next(in: workload.output)
        let cacheRead = random.unit() < 0.4 ? Int64(Double(input) * random.unit() * 0.6) : 0
        let reasoning =
            workload.task == "code_review" || workload.task == "research"
            ? Int64(Double(output) * random.unit() * 0.5) : 0
        // Biased toward recent days, ± 30 minutes of jitter, never in the future.
        let spanMillis = Double(Self.daysCovered * 86_400_000)
        var offset = Int64(spanMillis * pow07(random.unit())) + Int64((random.unit() - 0.5) * 3_600_000)
        offset = min(max(offset, 0), Self.daysCovered * 86_400_000 - 60_000)
        return UsageEventInput(
            provider: workload.provider, model: workload.model, taskType: workload.task, workspace: workspace.name,
            source: "demo",
            tokens: TokenCounts(input: input, output: output, cacheRead: cacheRead, reasoning: reasoning),
            timestamp: Timestamp(rawValue: start.rawValue + offset))
    }

    private func pick<T>(_ items: [T], weight: KeyPath<T, Double>, _ random: inout SplitMix64) -> T {
        let total = items.reduce(0) { $0 + $1[keyPath: weight] }
        var roll = random.unit() * total
        for item in items {
            roll -= item[keyPath: weight]
            if roll < 0 { return item }
        }
        return items[items.count - 1]
    }

    /// x^0.7 without Foundation, by bisection on y^10 = x^7; precise enough to spread demo
    /// timestamps.
    private func pow07(_ x: Double) -> Double {
        guard x > 0 else { return 0 }
        var low = 0.0
        var high = 1.0
        for _ in 0..<40 {
            let mid = (low + high) / 2
            if power(mid, 10) < power(x, 7) { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    private func power(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent { result *= base }
        return result
    }
}

/// A small seeded generator: the same seed gives the same sequence on every machine, so a
/// seeded schedule (the demo, a randomised test) can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func next(in range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}
