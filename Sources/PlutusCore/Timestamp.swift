/// A point in time as milliseconds since the Unix epoch, UTC. Plutus stores and compares
/// times as this integer; calendar maths (UTC months and days) is done here without
/// Foundation so it is exact and identical on every machine.
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }

    public static func seconds(_ seconds: Int64) -> Timestamp { Timestamp(rawValue: seconds * 1000) }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    public var millis: Int64 { rawValue }
    public var seconds: Int64 { rawValue >= 0 ? rawValue / 1000 : (rawValue - 999) / 1000 }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(rawValue: rawValue + seconds * 1000) }

    /// Epoch seconds as exact decimal text for the JSON edge (`1732530000.25`).
    public var epochSecondsText: String { DecimalText.render(rawValue, scale: 3) }

    /// The UTC calendar day this instant falls on.
    public var day: CivilDay { CivilDay(daysSinceEpoch: epochDay) }

    /// Days since 1970-01-01 of the UTC day this instant falls on (`day.daysSinceEpoch`,
    /// without the round trip through the calendar).
    public var epochDay: Int64 { floorDiv(rawValue, 86_400_000) }

    /// The UTC calendar month this instant falls on.
    public var month: CivilMonth {
        let day = self.day
        return CivilMonth(year: day.year, month: day.month)
    }

    /// ISO 8601 in UTC with millisecond precision: `2026-11-25T10:00:00.000Z`.
    public var iso8601: String {
        let day = self.day
        let millisOfDay = rawValue - day.daysSinceEpoch * 86_400_000
        let hour = millisOfDay / 3_600_000
        let minute = millisOfDay / 60_000 % 60
        let second = millisOfDay / 1000 % 60
        let milli = millisOfDay % 1000
        return "\(day.text)T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(milli, 3))Z"
    }

    /// ISO 8601 in UTC, to the second when it falls on one: `2027-01-01T00:00:00Z`.
    public var iso8601Seconds: String {
        let text = iso8601
        return text.hasSuffix(".000Z") ? String(text.dropLast(5)) + "Z" : text
    }

    /// Parses an ISO 8601 / RFC 3339 instant: `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`.
    public static func parseISO8601(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19, bytes.count <= 40 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                value = value * 10 + Int64(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"),
            let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
            let dayOfMonth = number(8..<10),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
            let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"),
            let minute = number(14..<16), bytes[16] == UInt8(ascii: ":"),
            let second = number(17..<19)
        else { return nil }
        guard (1...12).contains(month), hour < 24, minute < 60, second < 60,
            (1...CivilMonth(year: Int(year), month: Int(month)).dayCount).contains(Int(dayOfMonth))
        else { return nil }
        var index = 19
        var millis: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            var scale: Int64 = 100
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                millis += Int64(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start, index - start <= 9 else { return nil }
        }
        var offsetMinutes: Int64 = 0
        guard index < bytes.count else { return nil }  // an offset or Z is required
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard let offsetHour = number(index + 1..<index + 3), index + 3 < bytes.count,
                bytes[index + 3] == UInt8(ascii: ":"), let offsetMinute = number(index + 4..<index + 6),
                offsetHour < 24, offsetMinute < 60
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = CivilDay(year: Int(year), month: Int(month), day: Int(dayOfMonth)).daysSinceEpoch
        let local = days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis
        return Timestamp(rawValue: local - offsetMinutes * 60_000)
    }
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }
private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// A UTC calendar day (proleptic Gregorian).
public struct CivilDay: Hashable, Comparable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Howard Hinnant's days-from-civil.
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public init(daysSinceEpoch: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let d = dayOfYear - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: Int(yearOfEra + era * 400 + (m <= 2 ? 1 : 0)), month: Int(m), day: Int(d))
    }

    public static func < (lhs: CivilDay, rhs: CivilDay) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

    public var start: Timestamp { Timestamp(rawValue: daysSinceEpoch * 86_400_000) }
    public func adding(days: Int64) -> CivilDay { CivilDay(daysSinceEpoch: daysSinceEpoch + days) }

    /// Parses `YYYY-MM-DD`.
    public init?(text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), year >= 1970,
            (1...12).contains(month), (1...CivilMonth(year: year, month: month).dayCount).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }
    public var text: String { "\(pad(Int64(year), 4))-\(pad(Int64(month), 2))-\(pad(Int64(day), 2))" }
}

/// A UTC calendar month, the period for quotas, budgets and statements.
public struct CivilMonth: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int

    public init(year: Int, month: Int) {
        precondition((1...12).contains(month), "month out of range")
        self.year = year
        self.month = month
    }

    /// Parses `YYYY-MM`.
    public init?(text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month), year >= 1970
        else { return nil }
        self.init(year: year, month: month)
    }

    public static func < (lhs: CivilMonth, rhs: CivilMonth) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }

    public var next: CivilMonth { month == 12 ? CivilMonth(year: year + 1, month: 1) : CivilMonth(year: year, month: month + 1) }
    public var start: Timestamp { CivilDay(year: year, month: month, day: 1).start }
    /// Exclusive end: the first instant of the next month.
    public var end: Timestamp { next.start }
    public var dayCount: Int {
        Int(next.start.rawValue - start.rawValue) / 86_400_000
    }
    public var text: String { "\(pad(Int64(year), 4))-\(pad(Int64(month), 2))" }
    public var description: String { text }
}
