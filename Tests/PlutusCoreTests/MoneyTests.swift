import PlutusCore
import Testing

@Suite("Money: exact decimal parsing, rounding and formatting")
struct MoneyTests {
    @Test(
        arguments: [
            ("0.0156", 15_600), ("0", 0), ("-0", 0), ("1", 1_000_000), ("0.000001", 1), ("12345.678901", 12_345_678_901),
            ("3.14159", 3_141_590), ("0.142", 142_000), ("1.2345678", 1_234_568),
            // Past six decimals: half to even.
            ("0.0000004", 0), ("0.0000006", 1), ("0.0000005", 0), ("0.0000015", 2), ("0.0000025", 2),
            ("0.00000250000001", 3), ("-0.0000015", -2),
            // Exponents (LiteLLM writes per-token prices like 3e-06).
            ("3e-06", 3), ("1E3", 1_000_000_000), ("1.5e+2", 150_000_000), ("2e-7", 0), ("6e-7", 1),
            ("9223372036854.775807", Int64.max), ("-9223372036854.775807", -Int64.max),
            ("0000.50", 500_000),
        ] as [(String, Int64)])
    func parsesExactly(text: String, micros: Int64) {
        #expect(MicroDollars.parse(text) == .success(MicroDollars(rawValue: micros)))
    }

    @Test(arguments: [
        "", "abc", "NaN", "Infinity", "-Infinity", "+1", ".5", "5.", "1e", "--1", "1.2.3", "0x10", " 1", "1 ",
        "1,000", String(repeating: "1", count: 65),
    ])
    func refusesWhatIsNotADecimal(text: String) {
        #expect(MicroDollars.parse(text) == .failure(.notANumber))
    }

    @Test(arguments: ["9223372036854.775808", "1e13", "99999999999999999999", "-9223372036854.775809"])
    func refusesWhatDoesNotFit(text: String) {
        #expect(MicroDollars.parse(text) == .failure(.outOfRange))
    }

    @Test(arguments: [0, 1, 10_000, 1_000_000, 3_141_590, 12_345_678_901, 142_000, -2_500_000] as [Int64])
    func roundTripsThroughDecimalText(micros: Int64) {
        let value = MicroDollars(rawValue: micros)
        #expect(MicroDollars.parse(value.decimalString) == .success(value))
    }

    @Test func rendersShortestExactDecimal() {
        #expect(MicroDollars(rawValue: 15_600).decimalString == "0.0156")
        #expect(MicroDollars(rawValue: -2_500_000).decimalString == "-2.5")
        #expect(MicroDollars(rawValue: 63_000).decimalString == "0.063")
        #expect(MicroDollars.zero.decimalString == "0")
    }

    @Test(
        arguments: [
            (123_456_789_000, "$123,456.79"), (-3_000_000, "-$3.00"), (0, "$0.00"), (4_999, "$0.00"), (5_000, "$0.00"),
            (15_000, "$0.02"), (25_000, "$0.02"), (25_001, "$0.03"), (-4_000, "$0.00"), (999_999_999, "$1,000.00"),
        ] as [(Int64, String)])
    func formatsForPeople(micros: Int64, text: String) {
        #expect(MicroDollars(rawValue: micros).formatted == text)
    }

    @Test func arithmeticIsCheckedNotTrapping() {
        let max = MicroDollars(rawValue: .max)
        #expect(max.adding(MicroDollars(rawValue: 1)) == nil)
        #expect(MicroDollars(rawValue: .min).subtracting(MicroDollars(rawValue: 1)) == nil)
        #expect(MicroDollars(rawValue: .min).negated == nil)
        #expect(MicroDollars.dollars(9_223_372_036_855) == nil)
        #expect(MicroDollars.cents(1_999) == MicroDollars(rawValue: 19_990_000))
        #expect(MicroDollars(rawValue: 5).subtracting(MicroDollars(rawValue: 7)) == MicroDollars(rawValue: -2))
    }

    @Test func tenThousandSmallDebitsDoNotDrift() {
        var balance = MicroDollars.dollars(100)!
        let debit = try! MicroDollars.parse("0.001").get()
        for _ in 0..<10_000 { balance = balance.subtracting(debit)! }
        #expect(balance == MicroDollars.dollars(90))
    }
}

@Suite("Runway: days of credit left at the trailing burn")
struct RunwayTests {
    static let cases: [(balance: Int64, spent: Int64, days: Int64?)] = [
        (70_000_000, 7_000_000, 70), (70_000_000, 0, nil), (0, 1, 0), (-5_000_000, 7_000_000, 0),
        (10_000_000, 21_000_000, 3), (Int64.max, 1, Int64.max), (Int64.max, 7, Int64.max / 7 * 7),
    ]

    @Test(arguments: cases)
    func runway(balance: Int64, spent: Int64, days: Int64?) {
        #expect(
            Runway.days(balance: MicroDollars(rawValue: balance), spent: MicroDollars(rawValue: spent), windowDays: 7)
                == days)
    }
}
