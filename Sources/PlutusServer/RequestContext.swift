import Hummingbird
import PlutusCore

/// Per-request facts: Hummingbird's core storage plus the body cap every route obeys.
public struct PlutusRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { Limits.bodyBytesMax }
}
