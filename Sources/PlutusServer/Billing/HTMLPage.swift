import Hummingbird
import PlutusCore

/// Small server-rendered pages. Every value from outside goes through `escape`; the only
/// inline style carries a per-response nonce, so the CSP needs no `unsafe-inline`.
enum HTMLPage {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Digest.hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// `bodyHTML` must already be escaped by the caller.
    static func response(_ status: HTTPResponse.Status, title: String, bodyHTML: String) -> Response {
        let nonce = nonce()
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Plutus</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style nonce="\(nonce)">body{background:#0c0814;color:#e8e4f0;font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
            h1{color:#f5b942}a{color:#7fd1b9}input,button{font:inherit;padding:.4rem .7rem;margin:.2rem 0}
            form{margin:1rem 0;padding:1rem;border:1px solid #2c2440;border-radius:8px}.note{color:#a59cb8}</style>
            </head><body><h1>◆ \(escape(title))</h1>\(bodyHTML)</body></html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy:
                    "default-src 'none'; style-src 'nonce-\(nonce)'; img-src 'self' data:; "
                    + "form-action 'self' https://checkout.stripe.com https://billing.stripe.com; "
                    + "frame-ancestors 'none'; base-uri 'none'",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}
