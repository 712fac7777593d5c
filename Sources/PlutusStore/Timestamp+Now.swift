import Foundation
import PlutusCore

extension Timestamp {
    /// The current time from the system clock, to the millisecond (rounded down).
    public static func now() -> Timestamp {
        Timestamp(rawValue: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
