/// An amount of US dollars in millionths (1 USD = 1,000,000 micros).
///
/// All money in Plutus is this type: storage, arithmetic and comparisons. Binary floating
/// point never touches it; decimal text is parsed straight to micros, rounding half to
/// even past the sixth decimal (`0.0000005` → 0, `0.0000015` → 2).
public struct MicroDollars: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let perDollar: Int64 = 1_000_000
    public static let zero = MicroDollars(rawValue: 0)

    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Whole dollars, checked: `nil` when the result would overflow.
    public static func dollars(_ whole: Int64) -> MicroDollars? {
        let (value, overflow) = whole.multipliedReportingOverflow(by: perDollar)
        return overflow ? nil : MicroDollars(rawValue: value)
    }

    /// Whole cents (Stripe's unit for USD), checked.
    public static func cents(_ cents: Int64) -> MicroDollars? {
        let (value, overflow) = cents.multipliedReportingOverflow(by: perDollar / 100)
        return overflow ? nil : MicroDollars(rawValue: value)
    }

    /// Parses a decimal dollar amount such as `"0.0156"` or `"1e-3"`.
    public static func parse(_ text: some StringProtocol) -> Result<MicroDollars, DecimalText.Failure> {
        DecimalText.scaled(text, scale: 6).map(MicroDollars.init(rawValue:))
    }

    public static func < (lhs: MicroDollars, rhs: MicroDollars) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `self + other`, or `nil` on overflow.
    public func adding(_ other: MicroDollars) -> MicroDollars? {
        let (value, overflow) = rawValue.addingReportingOverflow(other.rawValue)
        return overflow ? nil : MicroDollars(rawValue: value)
    }

    /// `self - other`, or `nil` on overflow.
    public func subtracting(_ other: MicroDollars) -> MicroDollars? {
        let (value, overflow) = rawValue.subtractingReportingOverflow(other.rawValue)
        return overflow ? nil : MicroDollars(rawValue: value)
    }

    public var negated: MicroDollars? {
        rawValue == .min ? nil : MicroDollars(rawValue: -rawValue)
    }

    public var isNegative: Bool { rawValue < 0 }
    public var isPositive: Bool { rawValue > 0 }

    /// Exact decimal dollars for the JSON edge: `15600` → `"0.0156"`, `-2500000` → `"-2.5"`.
    public var decimalString: String { DecimalText.render(rawValue, scale: 6) }

    /// Dollars for people: `$1,234.56`, `-$3.00`. Rounded half to even to the cent.
    public var formatted: String { formatted(decimals: 2) }

    /// Dollars with a chosen number of decimals (0…6), rounded half to even.
    public func formatted(decimals: Int) -> String {
        precondition(decimals >= 0 && decimals <= 6, "decimals out of range")
        var unit: Int64 = 1
        for _ in 0..<(6 - decimals) { unit *= 10 }
        let magnitude = rawValue.magnitude
        var units = magnitude / UInt64(unit)
        let remainder = magnitude % UInt64(unit)
        let half = UInt64(unit) / 2
        if unit > 1, remainder > half || (remainder == half && units % 2 == 1) { units += 1 }
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let whole = units / scale
        let fraction = units % scale
        var text = groupThousands(String(whole))
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        let isNegative = rawValue < 0 && units > 0
        return (isNegative ? "-$" : "$") + text
    }

    private func groupThousands(_ digits: String) -> String {
        var out: [Character] = []
        for (offset, character) in digits.reversed().enumerated() {
            if offset > 0 && offset % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }

    /// Dollars for people at any size: cents from $1 up, and below $1 at least four
    /// significant digits (up to the micro-dollar): `$57.44`, `$0.06300`, `$0.006150`,
    /// `$0.000015`. A sub-cent price or call never reads as `$0.00` or `$0.01`.
    public var readable: String {
        let magnitude = rawValue.magnitude
        guard magnitude < 1_000_000, magnitude > 0 else { return formatted }
        let digits = String(magnitude).count
        return formatted(decimals: min(6, 6 - digits + 4))
    }

    /// Dollars exactly, with cents at least and no trailing zeros beyond them: `$15.00`,
    /// `$0.075`, `$0.0275`, `$0.000001` (prices per million tokens, which are often sub-cent).
    public var exact: String {
        var decimals = 6
        var micros = rawValue.magnitude
        while decimals > 2 && micros % 10 == 0 {
            micros /= 10
            decimals -= 1
        }
        return formatted(decimals: decimals)
    }

    public var description: String { formatted(decimals: 6) }
}
