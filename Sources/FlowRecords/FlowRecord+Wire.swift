import Support

extension WireWriter {
    /// 4 + 1 bytes for IPv4, 16 + 1 for IPv6.
    public mutating func address(_ a: IPAddress) {
        if let v4 = a.ipv4 {
            u8(4)
            u32(v4)
        } else {
            u8(6)
            u64(a.high)
            u64(a.low)
        }
    }

    /// A presence byte, then the uid's two words when it is not empty.
    public mutating func uid(_ uid: RecordUID) {
        bool(!uid.isEmpty)
        if !uid.isEmpty {
            u64(uid.high)
            u64(uid.low)
        }
    }

    /// A presence byte, then the key (`FlowKey.encode(to:)`) when there is one.
    public mutating func flowKey(_ key: FlowKey?) {
        bool(key != nil)
        if let key { key.encode(to: &self) }
    }
}

extension WireReader {
    public mutating func address(_ what: @autoclosure () -> String = "an address") throws -> IPAddress {
        switch try u8("family of \(what())") {
        case 4: return IPAddress(ipv4: try u32(what()))
        case 6: return IPAddress(high: try u64(what()), low: try u64(what()))
        case let f: throw WireError("family of \(what()) is \(f), not 4 or 6, at byte \(offset - 1)")
        }
    }

    /// What `WireWriter.uid` wrote; a uid no log could hold is refused.
    public mutating func uid(_ what: @autoclosure () -> String) throws -> RecordUID {
        guard try bool("presence of \(what())") else { return RecordUID() }
        let uid = RecordUID(high: try u64(what()), low: try u64(what()))
        guard uid.isValid, !uid.isEmpty else { throw WireError("\(what()) \(uid.high) \(uid.low) is not one a log could hold") }
        return uid
    }

    /// What `WireWriter.flowKey` wrote.
    public mutating func flowKey(_ what: @autoclosure () -> String) throws -> FlowKey? {
        try bool("presence of the \(what())") ? try FlowKey(from: &self, what()) : nil
    }
}

extension FlowKey {
    public func encode(to w: inout WireWriter) {
        w.f64(start)
        w.address(source)
        w.u16(sourcePort)
        w.address(destination)
        w.u16(destinationPort)
        w.u8(transport.rawValue)
        w.uid(uid)
    }

    public init(from r: inout WireReader, _ what: String) throws {
        let start = try r.f64("\(what): start")
        guard start.isFinite else { throw WireError("\(what): start \(start) is not a time") }
        self.init(
            start: start, source: try r.address("\(what): source"), sourcePort: try r.u16("\(what): source port"),
            destination: try r.address("\(what): destination"), destinationPort: try r.u16("\(what): destination port"),
            transport: Transport(rawValue: try r.u8("\(what): transport")), uid: try r.uid("\(what): uid"))
    }
}

extension FlowRecord {
    /// Appends the record in the wire form every field survives (version 2 of the flow batch format:
    /// version 1 had no uid).
    public func encode(to w: inout WireWriter) {
        w.f64(start)
        w.f64(end)
        w.address(source)
        w.address(destination)
        w.u16(sourcePort)
        w.u16(destinationPort)
        w.u8(transport.rawValue)
        w.varint(sourcePackets)
        w.varint(sourceBytes)
        w.varint(destinationPackets)
        w.varint(destinationBytes)
        w.u8(tcpFlags.rawValue)
        w.u8(outcome.rawValue)
        w.string(state)
        w.optionalString(label)
        w.optionalString(detailedLabel)
        w.uid(uid)
    }

    /// Reads what `encode` wrote; `withUID` is false for version 1, which had no uid. Times are held
    /// to the readers' rules (`ByteParsing.timeRange`; an end at most a second before the start, and
    /// `durationRange` after it): a NaN or infinite time from a hostile message would trap detection's
    /// window arithmetic.
    public init(from r: inout WireReader, withUID: Bool = true) throws {
        let start = try r.f64("start"), end = try r.f64("end")
        guard ByteParsing.timeRange.contains(start) else { throw WireError("start \(start) is not a time Flowhound accepts") }
        guard end >= start - 1, end - start <= ByteParsing.durationRange.upperBound else {
            throw WireError("end \(end) is not a time within a flow's span of its start \(start)")
        }
        let source = try r.address("source"), destination = try r.address("destination")
        let sourcePort = try r.u16("source port"), destinationPort = try r.u16("destination port")
        let transport = Transport(rawValue: try r.u8("transport"))
        let sp = try r.varint("source packets"), sb = try r.varint("source bytes")
        let dp = try r.varint("destination packets"), db = try r.varint("destination bytes")
        let flags = TCPFlags(rawValue: try r.u8("TCP flags"))
        let code = try r.u8("outcome")
        guard let outcome = Outcome(rawValue: code) else { throw WireError("outcome \(code) is not one Flowhound knows") }
        self.init(
            start: start, end: max(start, end), source: source, destination: destination, sourcePort: sourcePort,
            destinationPort: destinationPort, transport: transport, sourcePackets: sp, sourceBytes: sb,
            destinationPackets: dp, destinationBytes: db, tcpFlags: flags, outcome: outcome,
            state: try r.string("state"), label: try r.optionalString("label"),
            detailedLabel: try r.optionalString("detailed label"))
        if withUID { uid = try r.uid("uid") }
    }
}
