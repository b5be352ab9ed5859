import CNATS
import FlowRecords
import Foundation

/// C strings that live as long as this object, for configuration structs that hold `const char *`.
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []
    func callAsFunction(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        owned.append(p)
        return UnsafePointer(p)
    }
    deinit { for p in owned { free(p) } }
}

/// One connection to a NATS server (or cluster: every URL is a seed, the client fails over between
/// them), with its JetStream context. The C client is thread-safe: every method may be called from
/// any thread.
public final class NATSConnection: @unchecked Sendable {
    let connection: OpaquePointer
    let js: OpaquePointer
    /// Asynchronous publishes that failed for good, with the first reason.
    private let failures = PublishFailures()

    /// - Parameters:
    ///   - urls: comma-separated `nats://host:port` seeds.
    ///   - maxPendingPublishes: asynchronous publishes in flight before `publishAsync` waits (back-pressure).
    public init(urls: String, name: String, maxPendingPublishes: Int = 4096, requestTimeoutMilliseconds: Int64 = 10_000) throws {
        var opts: OpaquePointer?
        try check(natsOptions_Create(&opts), "NATS options")
        defer { natsOptions_Destroy(opts) }
        let servers = urls.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
        guard !servers.isEmpty else { throw NATSError("no NATS server URL given", setting: .natsServers) }
        let strings = CStrings()
        var pointers: [UnsafePointer<CChar>?] = servers.map { strings($0) }
        try check(natsOptions_SetServers(opts, &pointers, Int32(pointers.count)), "NATS server list \(urls)")
        try check(natsOptions_SetName(opts, name), "NATS client name")
        try check(natsOptions_SetTimeout(opts, 5_000), "NATS connect timeout")
        // Keep trying for a minute through a server restart or a cluster fail-over; publishes made
        // meanwhile wait in an 8 MiB buffer.
        try check(natsOptions_SetMaxReconnect(opts, 120), "NATS reconnect attempts")
        try check(natsOptions_SetReconnectWait(opts, 500), "NATS reconnect wait")
        try check(natsOptions_SetReconnectBufSize(opts, 8 << 20), "NATS reconnect buffer")
        var nc: OpaquePointer?
        try check(natsConnection_Connect(&nc, opts), "cannot connect to NATS at \(urls)")
        connection = nc!
        var jo = jsOptions()
        jsOptions_Init(&jo)
        jo.Wait = requestTimeoutMilliseconds
        jo.PublishAsync.MaxPending = Int64(maxPendingPublishes)
        jo.PublishAsync.StallWait = 1_000
        jo.PublishAsync.ErrHandler = { _, pae, closure in
            guard let pae, let closure else { return }
            let failures = Unmanaged<PublishFailures>.fromOpaque(closure).takeUnretainedValue()
            var subject = "?"
            if let msg = pae.pointee.Msg, let s = natsMsg_GetSubject(msg) { subject = String(cString: s) }
            let text = pae.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(pae.pointee.Err))
            failures.record("publish to \(subject) failed: \(text)")
        }
        jo.PublishAsync.ErrHandlerClosure = Unmanaged.passUnretained(failures).toOpaque()
        var ctx: OpaquePointer?
        let s = natsConnection_JetStream(&ctx, connection, &jo)
        guard s == NATS_OK, let ctx else {
            natsConnection_Destroy(connection)
            throw NATSError("JetStream context", s)
        }
        js = ctx
    }

    deinit {
        jsCtx_Destroy(js)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    /// Largest message the server accepts.
    public var maxPayload: Int { Int(natsConnection_GetMaxPayload(connection)) }

    public func flush(timeoutMilliseconds: Int64 = 10_000) throws {
        try check(natsConnection_FlushTimeout(connection, timeoutMilliseconds), "NATS flush")
    }

    // MARK: Streams

    public enum Retention { case limits, workQueue }

    /// Creates the stream, or checks that the existing one has the subjects and retention asked for.
    public func ensureStream(
        _ name: String, subjects: [String], retention: Retention, replicas: Int,
        maxAge: Double? = nil, duplicateWindow: Double = 120
    ) throws {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        let s = js_GetStreamInfo(&info, js, name, nil, &code)
        if s == NATS_OK, let info {
            defer { jsStreamInfo_Destroy(info) }
            let c = info.pointee.Config!.pointee
            let have = (0..<Int(c.SubjectsLen)).map { String(cString: c.Subjects[$0]!) }
            let wanted: jsRetentionPolicy = retention == .workQueue ? js_WorkQueuePolicy : js_LimitsPolicy
            guard Set(have) == Set(subjects), c.Retention == wanted else {
                throw NATSError(
                    "stream \(name) exists with subjects \(have.joined(separator: ",")) and a different retention; Flowhound needs subjects \(subjects.joined(separator: ",")), \(retention == .workQueue ? "work-queue" : "limits") retention (delete it or pick another stream name)",
                    setting: .flowStream)
            }
            return
        }
        guard s == NATS_NOT_FOUND || code == JSStreamNotFoundErr else { throw NATSError("stream \(name)", s, code) }
        let strings = CStrings()
        var cfg = jsStreamConfig()
        jsStreamConfig_Init(&cfg)
        cfg.Name = strings(name)
        var subjectPointers: [UnsafePointer<CChar>?] = subjects.map { strings($0) }
        cfg.Retention = retention == .workQueue ? js_WorkQueuePolicy : js_LimitsPolicy
        cfg.Storage = js_FileStorage
        cfg.Replicas = Int64(replicas)
        cfg.Duplicates = Int64(duplicateWindow * 1e9)
        if let maxAge { cfg.MaxAge = Int64(maxAge * 1e9) }
        var created: UnsafeMutablePointer<jsStreamInfo>?
        try subjectPointers.withUnsafeMutableBufferPointer { buffer in
            cfg.Subjects = buffer.baseAddress
            cfg.SubjectsLen = Int32(buffer.count)
            var code = jsErrCode(0)
            let s = js_AddStream(&created, js, &cfg, nil, &code)
            // Another process may have created it between the two calls.
            if s != NATS_OK && code != JSStreamNameExistErr { throw NATSError("cannot create stream \(name)", s, code) }
        }
        if let created { jsStreamInfo_Destroy(created) }
    }

    /// Messages held in a stream (for a work queue: not yet acknowledged), and its first and last
    /// sequence numbers.
    public func state(stream: String) throws -> (messages: UInt64, first: UInt64, last: UInt64) {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        try check(js_GetStreamInfo(&info, js, stream, nil, &code), "stream \(stream)", code)
        defer { jsStreamInfo_Destroy(info) }
        let st = info!.pointee.State
        return (st.Msgs, st.FirstSeq, st.LastSeq)
    }

    // MARK: Publishing

    /// Publishes without waiting for the acknowledgement; waits (back-pressure) while the most
    /// publishes allowed are in flight. `finishPublishing` waits for every acknowledgement.
    /// - Returns: how many times it had to wait for acknowledgements.
    @discardableResult
    public func publishAsync(subject: String, data: [UInt8], messageID: String? = nil) throws -> Int {
        var stalls = 0
        while true {
            var msg: OpaquePointer? = try makeMessage(subject: subject, data: data, headers: messageID.map { [("Nats-Msg-Id", $0)] } ?? [])
            let s = js_PublishMsgAsync(js, &msg, nil)
            if s == NATS_OK { return stalls }
            if msg != nil { natsMsg_Destroy(msg) }
            guard s == NATS_TIMEOUT else { throw NATSError("publish to \(subject)", s) }
            // Too many in flight for StallWait: the server is behind; wait and offer it again.
            stalls += 1
            if let failure = failures.first { throw NATSError(failure) }
        }
    }

    /// A message the caller owns (destroyed by it, or by a successful asynchronous publish).
    private func makeMessage(subject: String, data: [UInt8], headers: [(String, String)]) throws -> OpaquePointer {
        var msg: OpaquePointer?
        try data.withUnsafeBufferPointer { b in
            try b.withMemoryRebound(to: CChar.self) {
                try check(natsMsg_Create(&msg, subject, nil, $0.baseAddress, Int32($0.count)), "message for \(subject)")
            }
        }
        do {
            for (k, v) in headers { try check(natsMsgHeader_Set(msg, k, v), "header \(k)") }
        } catch {
            natsMsg_Destroy(msg)
            throw error
        }
        return msg!
    }

    /// Waits for every asynchronous publish to be acknowledged; throws if any failed.
    public func finishPublishing(timeoutMilliseconds: Int64 = 60_000) throws {
        var o = jsPubOptions()
        jsPubOptions_Init(&o)
        o.MaxWait = timeoutMilliseconds
        try check(js_PublishAsyncComplete(js, &o), "waiting for JetStream to acknowledge the publishes")
        if let failure = failures.first {
            throw NATSError("\(failures.count) publish\(failures.count == 1 ? "" : "es") failed; the first: \(failure)")
        }
    }

    /// Publishes and waits for the acknowledgement. - Returns: the message's stream sequence.
    @discardableResult
    public func publish(subject: String, data: [UInt8], headers: [(String, String)] = []) throws -> UInt64 {
        let msg = try makeMessage(subject: subject, data: data, headers: headers)
        defer { natsMsg_Destroy(msg) }
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(0)
        try check(js_PublishMsg(&ack, js, msg, nil, &code), "publish to \(subject)", code)
        defer { jsPubAck_Destroy(ack) }
        return ack!.pointee.Sequence
    }

    /// The last message on `subject` in `stream`, or nil when there is none.
    public func lastMessage(stream: String, subject: String) throws -> Message? {
        var msg: OpaquePointer?
        var code = jsErrCode(0)
        let s = js_GetLastMsg(&msg, js, stream, subject, nil, &code)
        if s == NATS_NOT_FOUND || code == JSNoMessageFoundErr { return nil }
        try check(s, "last message on \(subject) in \(stream)", code)
        return Message(msg!)
    }

    // MARK: Consumers

    public func deleteConsumer(stream: String, name: String) throws {
        var code = jsErrCode(0)
        let s = js_DeleteConsumer(js, stream, name, nil, &code)
        if s == NATS_OK || s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr { return }
        throw NATSError("cannot delete consumer \(name) of \(stream)", s, code)
    }

    /// A durable pull consumer delivering `subject` from the stream's first message on, acknowledged
    /// message by message.
    public func addPullConsumer(stream: String, name: String, subject: String, ackWait: Double, maxAckPending: Int) throws {
        let strings = CStrings()
        var cc = jsConsumerConfig()
        jsConsumerConfig_Init(&cc)
        cc.Durable = strings(name)
        cc.Name = strings(name)
        cc.FilterSubject = strings(subject)
        cc.DeliverPolicy = js_DeliverAll
        cc.AckPolicy = js_AckExplicit
        cc.AckWait = Int64(ackWait * 1e9)
        cc.MaxAckPending = Int64(maxAckPending)
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(0)
        try check(js_AddConsumer(&info, js, stream, &cc, nil, &code), "cannot create consumer \(name) on \(stream)", code)
        jsConsumerInfo_Destroy(info)
    }

    public func pullSubscription(stream: String, consumer: String, subject: String) throws -> PullSubscription {
        let strings = CStrings()
        var so = jsSubOptions()
        jsSubOptions_Init(&so)
        so.Stream = strings(stream)
        so.Consumer = strings(consumer)
        so.ManualAck = true
        var sub: OpaquePointer?
        var code = jsErrCode(0)
        try check(js_PullSubscribe(&sub, js, subject, consumer, nil, &so, &code), "cannot bind to consumer \(consumer)", code)
        return PullSubscription(sub!)
    }

    // MARK: Key-value

    /// Creates the bucket, or opens it when it exists.
    public func keyValue(bucket: String, ttl: Double? = nil, replicas: Int) throws -> KeyValueBucket {
        var kv: OpaquePointer?
        if js_KeyValue(&kv, js, bucket) == NATS_OK, let kv { return KeyValueBucket(kv, name: bucket, connection: self) }
        let strings = CStrings()
        var cfg = kvConfig()
        kvConfig_Init(&cfg)
        cfg.Bucket = strings(bucket)
        cfg.History = 1
        cfg.Replicas = Int32(replicas)
        cfg.StorageType = js_FileStorage
        if let ttl { cfg.TTL = Int64(ttl * 1e9) }
        let s = js_CreateKeyValue(&kv, js, &cfg)
        if s != NATS_OK {
            // Created by another process meanwhile.
            if js_KeyValue(&kv, js, bucket) == NATS_OK, let kv { return KeyValueBucket(kv, name: bucket, connection: self) }
            throw NATSError("cannot create key-value bucket \(bucket)", s)
        }
        return KeyValueBucket(kv!, name: bucket, connection: self)
    }
}

final class PublishFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func record(_ m: String) { lock.withLock { messages.append(m) } }
    var first: String? { lock.withLock { messages.first } }
    var count: Int { lock.withLock { messages.count } }
}

extension NATSConnection {
    /// The message at `sequence`, or nil when it is gone.
    public func message(stream: String, sequence: UInt64) throws -> Message? {
        var msg: OpaquePointer?
        var code = jsErrCode(0)
        let s = js_GetMsg(&msg, js, stream, sequence, nil, &code)
        if s == NATS_NOT_FOUND || code == JSNoMessageFoundErr { return nil }
        try check(s, "message \(sequence) of \(stream)", code)
        return Message(msg!)
    }
}
