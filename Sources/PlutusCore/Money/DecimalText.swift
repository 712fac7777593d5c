/// Exact conversion of decimal text (`"0.0156"`, `"3e-06"`, `"-12.5"`) to an integer
/// scaled by a power of ten. No binary floating point is involved.
public enum DecimalText {
    public enum Failure: Error, Equatable, Sendable {
        /// Not a decimal number (includes `NaN`, `Infinity`, empty text).
        case notANumber
        /// The scaled value does not fit in an `Int64`.
        case outOfRange
    }

    /// Parses `text` and returns `value × 10^scale`, rounded half-to-even when the text
    /// carries more digits than the scale keeps.
    ///
    /// Grammar: `-?digits(.digits)?([eE][+-]?digits)?`, at most
    /// `Limits.decimalTextBytesMax` bytes. A leading `+` or a bare `.5` is refused.
    public static func scaled(_ text: some StringProtocol, scale: Int) -> Result<Int64, Failure> {
        precondition(scale >= 0 && scale <= 18, "scale out of supported range")
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= Limits.decimalTextBytesMax else { return .failure(.notANumber) }
        guard let parsed = parse(bytes) else { return .failure(.notANumber) }
        return shift(parsed, by: scale)
    }

    /// Significant digits and a power-of-ten exponent: value = digits × 10^exponent.
    private struct Parsed {
        var negative: Bool
        var digits: [UInt8]
        var exponent: Int
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func parse(_ bytes: [UInt8]) -> Parsed? {
        var index = 0
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var digits: [UInt8] = []
        var exponent = 0
        let integerStart = index
        while index < bytes.count, isDigit(bytes[index]) {
            digits.append(bytes[index] - 48)
            index += 1
        }
        guard index > integerStart else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, isDigit(bytes[index]) {
                digits.append(bytes[index] - 48)
                exponent -= 1
                index += 1
            }
            guard index > fractionStart else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let exponentStart = index
            var written = 0
            while index < bytes.count, isDigit(bytes[index]) {
                // The literal is at most 64 bytes long, so this cannot overflow meaningfully;
                // still clamp to keep the arithmetic below bounded.
                written = min(written * 10 + Int(bytes[index] - 48), 100_000)
                index += 1
            }
            guard index > exponentStart else { return nil }
            exponent += exponentNegative ? -written : written
        }
        guard index == bytes.count else { return nil }
        // Drop leading zeros; keep at least nothing (zero is the empty digit list).
        let firstNonZero = digits.firstIndex(where: { $0 != 0 }) ?? digits.count
        digits.removeFirst(firstNonZero)
        return Parsed(negative: negative, digits: digits, exponent: exponent)
    }

    private static func shift(_ parsed: Parsed, by scale: Int) -> Result<Int64, Failure> {
        if parsed.digits.isEmpty { return .success(0) }
        let power = parsed.exponent + scale
        var kept: [UInt8]
        var roundUp = false
        if power >= 0 {
            guard parsed.digits.count + power <= 19 else { return .failure(.outOfRange) }
            kept = parsed.digits + Array(repeating: 0, count: power)
        } else {
            let keepCount = parsed.digits.count + power
            if keepCount < 0 {
                return .success(0)  // below half a unit of the last place
            }
            kept = Array(parsed.digits[..<keepCount])
            let dropped = parsed.digits[keepCount...]
            let first = dropped.first ?? 0
            let restNonZero = dropped.dropFirst().contains(where: { $0 != 0 })
            if first > 5 || (first == 5 && restNonZero) {
                roundUp = true
            } else if first == 5 {
                roundUp = (kept.last ?? 0) % 2 == 1  // half to even
            }
        }
        guard kept.count <= 19 else { return .failure(.outOfRange) }
        var magnitude: UInt64 = 0
        for digit in kept {
            let (times, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
            let (plus, overflowB) = times.addingReportingOverflow(UInt64(digit))
            guard !overflowA, !overflowB else { return .failure(.outOfRange) }
            magnitude = plus
        }
        if roundUp {
            let (plus, overflow) = magnitude.addingReportingOverflow(1)
            guard !overflow else { return .failure(.outOfRange) }
            magnitude = plus
        }
        guard magnitude <= UInt64(Int64.max) else { return .failure(.outOfRange) }
        let value = Int64(magnitude)
        return .success(parsed.negative ? -value : value)
    }

    /// Renders `value / 10^scale` as the shortest exact decimal text (`15600, 6` → `"0.0156"`).
    public static func render(_ value: Int64, scale: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        write(value, scale: scale, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the text `render` returns, as UTF-8, without building a `String`.
    static func write(_ value: Int64, scale: Int, into out: inout [UInt8]) {
        precondition(scale >= 0 && scale <= 18, "scale out of supported range")
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor *= 10 }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        writeDigits(magnitude / divisor, width: 1, into: &out)
        var fraction = magnitude % divisor
        guard fraction != 0 else { return }
        var width = scale
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        out.append(UInt8(ascii: "."))
        writeDigits(fraction, width: width, into: &out)
    }

    /// Appends `value` in decimal, left-padded with zeros to at least `width` digits.
    static func writeDigits(_ value: UInt64, width: Int, into out: inout [UInt8]) {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        count = max(count, width)
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        var remaining = value
        var index = start + count - 1
        while remaining > 0 {
            out[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
    }
}
