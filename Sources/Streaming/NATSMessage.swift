import CNATS
import Foundation

/// A received JetStream message; acknowledging is the owner's business.
public final class Message: @unchecked Sendable {
    let msg: OpaquePointer
    init(_ msg: OpaquePointer) { self.msg = msg }
    deinit { natsMsg_Destroy(msg) }

    public var data: [UInt8] {
        let n = Int(natsMsg_GetDataLength(msg))
        guard n > 0, let p = natsMsg_GetData(msg) else { return [] }
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }

    public var subject: String { String(cString: natsMsg_GetSubject(msg)) }

    public func header(_ key: String) -> String? {
        var v: UnsafePointer<CChar>?
        guard natsMsgHeader_Get(msg, key, &v) == NATS_OK, let v else { return nil }
        return String(cString: v)
    }

    /// Stream sequence and delivery count of a message delivered by a consumer.
    public func metadata() throws -> (streamSequence: UInt64, delivered: UInt64) {
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        try check(natsMsg_GetMetaData(&meta, msg), "message metadata")
        defer { jsMsgMetaData_Destroy(meta) }
        return (meta!.pointee.Sequence.Stream, meta!.pointee.NumDelivered)
    }

    /// Acknowledges without waiting: an acknowledgement lost on the way only brings the message back
    /// later, where its sequence shows it was applied already.
    public func acknowledge() throws { try check(natsMsg_Ack(msg, nil), "acknowledgement") }
}

public final class PullSubscription: @unchecked Sendable {
    let sub: OpaquePointer
    init(_ sub: OpaquePointer) { self.sub = sub }
    deinit {
        natsSubscription_Unsubscribe(sub)
        natsSubscription_Destroy(sub)
    }

    /// Up to `batch` messages, waiting at most `timeoutMilliseconds` for the first; empty on timeout.
    public func fetch(batch: Int, timeoutMilliseconds: Int64) throws -> [Message] {
        var list = natsMsgList()
        var code = jsErrCode(0)
        let s = natsSubscription_Fetch(&list, sub, Int32(batch), timeoutMilliseconds, &code)
        if s == NATS_TIMEOUT { return [] }
        try check(s, "fetch", code)
        var out: [Message] = []
        out.reserveCapacity(Int(list.Count))
        for i in 0..<Int(list.Count) {
            out.append(Message(list.Msgs[i]!))
            list.Msgs[i] = nil
        }
        natsMsgList_Destroy(&list)
        return out
    }
}
