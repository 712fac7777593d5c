import Foundation
import PlutusCore

/// A plain-text email rendered for the DATA command: headers that cannot be injected into,
/// CRLF line ends, lines within RFC 5321's 1000-octet limit, dot-stuffed, and closed by the
/// `.` line.
public enum SMTPMessage {
    /// Longest line of the message body, in bytes, before the CRLF (RFC 5321 §4.5.3.1.6).
    static let lineBytesMax = 998
    /// Longest address accepted, in bytes (RFC 5321 path limit).
    static let addressBytesMax = 254
    /// Bytes of UTF-8 text in one RFC 2047 encoded word of the subject.
    static let encodedWordBytesMax = 45

    /// The bytes to send after `354`, ending with `CRLF.CRLF`.
    public static func render(
        from: String, to: [String], subject: String, body: String, date: Timestamp, messageID: String
    ) throws(SMTPError) -> [UInt8] {
        try checkAddress(from, field: "From")
        precondition(!to.isEmpty, "a message has recipients")
        for address in to { try checkAddress(address, field: "To") }
        try checkHeaderValue(subject, field: "Subject")
        try checkHeaderValue(messageID, field: "Message-ID")
        let headers = [
            "Date: \(rfc5322Date(date))", "From: <\(from)>", "To: " + to.map { "<\($0)>" }.joined(separator: ", "),
            "Subject: \(encodedSubject(subject))", "Message-ID: <\(messageID)>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
        ]
        var out = headers.joined(separator: "\r\n") + "\r\n\r\n"
        for line in bodyLines(body) { out += (line.hasPrefix(".") ? "." + line : line) + "\r\n" }
        return Array((out + ".\r\n").utf8)
    }

    /// An address fit for `MAIL FROM:<…>`, `RCPT TO:<…>` and a header: one `@`, nothing that
    /// could end a line or the angle brackets.
    public static func checkAddress(_ address: String, field: String) throws(SMTPError) {
        let forbidden: Set<Character> = ["<", ">", ",", " ", "\"", "(", ")", ";"]
        guard !address.isEmpty, address.utf8.count <= addressBytesMax,
            address.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control }),
            !address.contains(where: forbidden.contains), address.filter({ $0 == "@" }).count == 1,
            !address.hasPrefix("@"), !address.hasSuffix("@")
        else {
            throw SMTPError(.invalidHeader, "\(field) address is not a plain mailbox address")
        }
    }

    /// Refuses CR, LF and every other control character in a header value.
    static func checkHeaderValue(_ value: String, field: String) throws(SMTPError) {
        guard value.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control }) else {
            throw SMTPError(.invalidHeader, "\(field) contains a line break or control character")
        }
    }

    /// ASCII subjects as they are; others as RFC 2047 base64 encoded words, folded.
    static func encodedSubject(_ subject: String) -> String {
        guard !subject.unicodeScalars.allSatisfy(\.isASCII) else { return subject }
        var words: [String] = []
        var chunk = ""
        for character in subject {
            if chunk.utf8.count + character.utf8.count > encodedWordBytesMax {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    /// The body's lines, with any line end accepted and long lines cut at character boundaries.
    static func bodyLines(_ body: String) -> [String] {
        let normalized = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            var current = ""
            for character in line {
                if current.utf8.count + character.utf8.count > lineBytesMax {
                    lines.append(current)
                    current = ""
                }
                current.append(character)
            }
            lines.append(current)
        }
        return lines
    }

    /// `Thu, 01 Jan 1970 00:00:00 +0000`, always in UTC.
    static func rfc5322Date(_ time: Timestamp) -> String {
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = time.day
        let weekday = weekdays[Int(((day.daysSinceEpoch % 7) + 7) % 7)]
        let secondsOfDay = time.seconds - day.daysSinceEpoch * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(two(Int64(day.day))) \(months[day.month - 1]) \(day.year) "
            + "\(two(secondsOfDay / 3_600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) +0000"
    }
}
