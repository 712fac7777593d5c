import Hummingbird
import PlutusCore

/// Per-request facts: Hummingbird's core storage plus the body cap every route obeys.
public struct PlutusRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address as the socket sees it (a proxy's, behind one).
    public let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { Limits.bodyBytesMax }
}
