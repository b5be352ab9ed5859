import CNATS
import FlowRecords
import Foundation

/// A failed NATS or JetStream call, in one line: what Flowhound was doing and what the server or the
/// client library said.
public struct NATSError: Error, CustomStringConvertible, SettingHinted {
    public var description: String
    public var status: natsStatus
    public var code: jsErrCode
    /// The setting that would resolve the error, when one would.
    public var setting: Setting?

    init(_ what: String, _ status: natsStatus, _ code: jsErrCode = jsErrCode(0)) {
        var detail = String(cString: natsStatus_GetText(status))
        var s = NATS_OK
        if let last = nats_GetLastError(&s), last.pointee != 0 {
            let text = String(cString: last)
            if !text.isEmpty && text != detail { detail += ": " + text }
        }
        if code.rawValue != 0 { detail += " (JetStream error \(code.rawValue))" }
        description = "\(what): \(detail)"
        self.status = status
        self.code = code
    }

    public init(_ description: String, setting: Setting? = nil) {
        self.description = description
        status = NATS_ERR
        code = jsErrCode(0)
        self.setting = setting
    }

    /// A timeout, a lost connection, no responder (a stream or bucket without a leader yet): worth
    /// trying again.
    public var isTransient: Bool {
        [NATS_TIMEOUT, NATS_NO_RESPONDERS, NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED, NATS_STALE_CONNECTION, NATS_NO_SERVER].contains(status)
            || code == JSClusterNotAvailErr || code == JSStreamOfflineErr || code == JSClusterNoPeersErr
    }
}

/// Runs `body` again every half second while it fails with a transient error, for up to `seconds`.
public func retryingTransientErrors<T>(for seconds: Double = 30, _ body: () throws -> T) throws -> T {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do { return try body() } catch let error as NATSError where error.isTransient && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

@inline(__always)
func check(_ status: natsStatus, _ what: @autoclosure () -> String, _ code: jsErrCode = jsErrCode(0)) throws {
    guard status == NATS_OK else { throw NATSError(what(), status, code) }
}
