import CNATS
import Foundation

/// A JetStream key-value bucket with compare-and-set writes.
public final class KeyValueBucket: @unchecked Sendable {
    let kv: OpaquePointer
    public let name: String
    let connection: NATSConnection
    init(_ kv: OpaquePointer, name: String, connection: NATSConnection) {
        self.kv = kv
        self.name = name
        self.connection = connection
    }

    /// Keys under `prefix` that hold a value or a delete marker not yet expired, counted from the
    /// bucket stream's subjects in one request (listing keys through a watcher can stall for the
    /// request timeout while other clients write).
    public func subjectCount(prefix: String) throws -> Int {
        var o = jsOptions()
        jsOptions_Init(&o)
        return try "$KV.\(name).\(prefix)>".withCString { filter in
            o.Stream.Info.SubjectsFilter = filter
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            try check(js_GetStreamInfo(&info, connection.js, "KV_\(name)", &o, &code), "counting \(prefix)* in bucket \(name)", code)
            defer { jsStreamInfo_Destroy(info) }
            return Int(info!.pointee.State.Subjects?.pointee.Count ?? 0)
        }
    }

    /// Removes every key under `prefix` with its history, leaving no marker.
    public func purgeAll(prefix: String) throws {
        var o = jsOptions()
        jsOptions_Init(&o)
        try "$KV.\(name).\(prefix)>".withCString { filter in
            o.Stream.Purge.Subject = filter
            var code = jsErrCode(0)
            try check(js_PurgeStream(connection.js, "KV_\(name)", &o, &code), "purging \(prefix)* from bucket \(name)", code)
        }
    }
    deinit { kvStore_Destroy(kv) }

    /// The value and its revision, or nil when the key is absent (or deleted, or expired).
    public func get(_ key: String) throws -> (value: [UInt8], revision: UInt64)? {
        var e: OpaquePointer?
        let s = kvStore_Get(&e, kv, key)
        if s == NATS_NOT_FOUND { return nil }
        try check(s, "reading \(key) from bucket \(name)")
        defer { kvEntry_Destroy(e) }
        let n = Int(kvEntry_ValueLen(e))
        var value: [UInt8] = []
        if n > 0, let p = kvEntry_Value(e) {
            value = Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n))
        }
        return (value, kvEntry_Revision(e))
    }

    @discardableResult
    public func put(_ key: String, _ value: [UInt8]) throws -> UInt64 {
        var rev: UInt64 = 0
        try value.withUnsafeBytes { try check(kvStore_Put(&rev, kv, key, $0.baseAddress, Int32($0.count)), "writing \(key) to bucket \(name)") }
        return rev
    }

    /// Writes only when the key is absent; nil when it exists.
    public func create(_ key: String, _ value: [UInt8]) throws -> UInt64? {
        var rev: UInt64 = 0
        let s = value.withUnsafeBytes { kvStore_Create(&rev, kv, key, $0.baseAddress, Int32($0.count)) }
        if s == NATS_OK { return rev }
        if isWrongRevision(s) { return nil }
        throw NATSError("creating \(key) in bucket \(name)", s)
    }

    /// Writes only when the key's revision is still `last`; nil when it has changed.
    public func update(_ key: String, _ value: [UInt8], last: UInt64) throws -> UInt64? {
        var rev: UInt64 = 0
        let s = value.withUnsafeBytes { kvStore_Update(&rev, kv, key, $0.baseAddress, Int32($0.count), last) }
        if s == NATS_OK { return rev }
        if isWrongRevision(s) { return nil }
        throw NATSError("updating \(key) in bucket \(name)", s)
    }

    /// The C client reports a failed compare-and-set as an error status with the server's
    /// "wrong last sequence" text.
    private func isWrongRevision(_ s: natsStatus) -> Bool {
        var st = NATS_OK
        let text = nats_GetLastError(&st).map { String(cString: $0) } ?? ""
        return s == NATS_ERR && (text.contains("wrong last sequence") || text.contains("10071"))
    }

    public func delete(_ key: String) throws { try check(kvStore_Delete(kv, key), "deleting \(key) from bucket \(name)") }

    /// Removes the key and its history.
    public func purge(_ key: String) throws { try check(kvStore_Purge(kv, key, nil), "purging \(key) from bucket \(name)") }

    /// Keys that hold a value now.
    public func keys() throws -> [String] {
        var list = kvKeysList()
        let s = kvStore_Keys(&list, kv, nil)
        if s == NATS_NOT_FOUND { return [] }
        try check(s, "listing keys of bucket \(name)")
        defer { kvKeysList_Destroy(&list) }
        return (0..<Int(list.Count)).map { String(cString: list.Keys[$0]!) }
    }
}
