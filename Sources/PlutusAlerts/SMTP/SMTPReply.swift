import NIOCore
import PlutusCore

/// One reply of an SMTP server: a three-digit code and its text lines (several for a
/// multi-line reply, `250-…` lines closed by a `250 …` line).
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        precondition((200...599).contains(code), "SMTP reply codes are 2xx to 5xx")
        self.code = code
        self.lines = lines
    }

    /// `250 OK`, the lines joined with ` | ` for one-line logs.
    public var text: String { "\(code) " + lines.joined(separator: " | ") }

    /// The EHLO reply's keywords after the greeting line, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`, …).
    var extensions: [[String]] {
        lines.dropFirst().map { $0.uppercased().split(separator: " ").map(String.init) }
    }

    func offers(_ keyword: String) -> Bool { extensions.contains { $0.first == keyword } }

    /// The AUTH mechanisms an EHLO reply offers.
    var authMechanisms: Set<String> { Set(extensions.first { $0.first == "AUTH" }?.dropFirst() ?? []) }
}

/// Splits the byte stream from an SMTP server into replies. Lines end in CRLF (a bare LF is
/// tolerated); a line longer than `Limits.smtpReplyLineBytesMax` or a reply of more than
/// `Limits.smtpReplyLinesMax` lines is an error, as is a line that does not start with a code.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    private var pendingCode: Int?
    private var pendingLines: [String] = []

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let reply = try Self.nextReply(&buffer, code: &pendingCode, lines: &pendingLines) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(reply))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }

    /// Consumes whole lines from `buffer` until a reply is complete; `nil` when more bytes are needed.
    static func nextReply(_ buffer: inout ByteBuffer, code pendingCode: inout Int?, lines: inout [String]) throws
        -> SMTPReply?
    {
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            guard length <= Limits.smtpReplyLineBytesMax else { throw SMTPError(.malformedReply, "reply line too long") }
            var line = buffer.readBytes(length: length + 1)!.dropLast()
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let (code, isLast, text) = try parseLine(Array(line))
            if let pendingCode, pendingCode != code { throw SMTPError(.malformedReply, "reply codes differ within one reply") }
            pendingCode = code
            lines.append(text)
            guard lines.count <= Limits.smtpReplyLinesMax else { throw SMTPError(.malformedReply, "reply has too many lines") }
            if isLast {
                defer {
                    pendingCode = nil
                    lines = []
                }
                return SMTPReply(code: code, lines: lines)
            }
        }
        guard buffer.readableBytes <= Limits.smtpReplyLineBytesMax else {
            throw SMTPError(.malformedReply, "reply line too long")
        }
        return nil
    }

    private static func parseLine(_ line: [UInt8]) throws -> (code: Int, isLast: Bool, text: String) {
        guard line.count >= 3, line.prefix(3).allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let code = Int(String(decoding: line.prefix(3), as: UTF8.self)), (200...599).contains(code)
        else { throw SMTPError(.malformedReply, "reply line without a valid code") }
        if line.count == 3 { return (code, true, "") }
        switch line[3] {
        case UInt8(ascii: " "): return (code, true, String(decoding: line.dropFirst(4), as: UTF8.self))
        case UInt8(ascii: "-"): return (code, false, String(decoding: line.dropFirst(4), as: UTF8.self))
        default: throw SMTPError(.malformedReply, "reply line without a separator after its code")
        }
    }
}
