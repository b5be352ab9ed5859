import Support

/// AWS VPC Flow Logs: space-separated records, either in the default version-2 layout
/// (`version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status`)
/// or in a custom layout named by a header line (as S3 delivery writes it), with any of the v3-v5
/// fields (`tcp-flags`, `pkt-srcaddr`, `flow-direction`, ...). Hyphens and underscores in names are equivalent.
///
/// `NODATA` and `SKIPDATA` records are skipped and counted; SKIPDATA means the exporter lost records.
/// Each record is one direction; `REJECT` is a rejection; `ACCEPT` with `tcp-flags` is judged by
/// the flags; `ACCEPT` without them says only that the filter let it through (outcome `other`).
struct VPCParser: LineParser {
    private var splitter = FieldSplitter()
    private var columnCount = 0
    private var srcaddr = 3, dstaddr = 4, srcport = 5, dstport = 6, proto = 7, packets = 8, bytes = 9
    private var start = 10, end = 11, action = 12, logStatus = 13
    private var tcpFlags = -1, pktSrcaddr = -1, pktDstaddr = -1

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if columnCount == 0 {
            let first = ByteParsing.trimmed(line)
            if let c = first.first, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                columnCount = 14  // no header: the default version-2 layout
            } else {
                try header(line)
                return .metadata
            }
        }
        let fields = splitter.split(line, on: UInt8(ascii: " "), collapsing: true)
        guard fields.count == columnCount else {
            throw .malformed("expected \(columnCount) space-separated fields, found \(fields.count)")
        }
        @inline(__always) func f(_ i: Int) -> UnsafeBufferPointer<UInt8> { fields[i] }
        if logStatus >= 0 {
            let status = f(logStatus)
            if ByteParsing.equals(status, "NODATA") { return .skipped(.noData) }
            if ByteParsing.equals(status, "SKIPDATA") { return .skipped(.skipData) }
            guard ByteParsing.equals(status, "OK") else {
                throw .malformed("unknown log-status '\(ByteParsing.excerpt(status))'")
            }
        }
        @inline(__always) func address(_ i: Int, _ packetLevel: Int, _ name: StaticString) throws(LineError) -> IPAddress {
            if packetLevel >= 0, let a = IPAddress(bytes: f(packetLevel)) { return a }
            guard let a = IPAddress(bytes: f(i)) else { throw .malformed("bad address '\(ByteParsing.excerpt(f(i)))' in \(name)") }
            return a
        }
        // pkt-srcaddr/pkt-dstaddr are the packet's own addresses where NAT or a middlebox rewrote them.
        let source = try address(srcaddr, pktSrcaddr, "srcaddr")
        let destination = try address(dstaddr, pktDstaddr, "dstaddr")
        @inline(__always) func number(_ i: Int, _ name: StaticString) throws(LineError) -> UInt64 {
            guard i >= 0 else { return 0 }
            let text = f(i)
            if ByteParsing.equals(text, "-") { return 0 }
            guard let v = ByteParsing.unsigned(text) else { throw .malformed("bad \(name) '\(ByteParsing.excerpt(text))'") }
            return v
        }
        let protocolNumber = try number(proto, "protocol")
        guard protocolNumber <= 255 else { throw .malformed("bad protocol '\(protocolNumber)'") }
        let transport = Transport(rawValue: UInt8(protocolNumber))
        let sourcePort = try number(srcport, "srcport"), destinationPort = try number(dstport, "dstport")
        guard sourcePort <= 65535, destinationPort <= 65535 else { throw .malformed("port out of range") }
        let startTime = try number(start, "start"), endTime = try number(end, "end")
        guard ByteParsing.timeRange.contains(Double(startTime)), ByteParsing.timeRange.contains(Double(endTime)) else {
            throw .malformed("time out of range (start \(startTime), end \(endTime))")
        }
        let flagBits = tcpFlags >= 0 ? try number(tcpFlags, "tcp-flags") : nil
        let flags = transport == .tcp ? TCPFlags(rawValue: UInt8(truncatingIfNeeded: flagBits ?? 0)) : []
        let actionText = action >= 0 ? f(action) : UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        let outcome: Outcome
        if ByteParsing.equals(actionText, "REJECT") {
            outcome = .rejected
        } else if transport == .tcp, flagBits != nil {
            outcome = OutcomeRules.unidirectionalTCP(flags)
        } else if transport == .icmp || transport == .icmpv6 {
            outcome = OutcomeRules.icmp(type: UInt16(sourcePort), transport: transport)
        } else {
            outcome = .other
        }
        let end = try validatedEnd(start: Double(startTime), end: Double(endTime))
        let sourcePackets = try number(packets, "packets"), sourceBytes = try number(bytes, "bytes")
        let state =
            actionText.isEmpty
            ? ""
            : (ByteParsing.equals(actionText, "ACCEPT")
                ? "ACCEPT"
                : ByteParsing.equals(actionText, "REJECT") ? "REJECT" : String(decoding: actionText, as: UTF8.self))
        record.assign(
            start: Double(startTime), end: end,
            source: source, destination: destination,
            sourcePort: UInt16(sourcePort), destinationPort: UInt16(destinationPort), transport: transport,
            sourcePackets: sourcePackets, sourceBytes: sourceBytes,
            tcpFlags: flags, outcome: outcome, state: state)
        return .record
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) {
        let names = splitter.split(line, on: UInt8(ascii: " "), collapsing: true).strings()
            .map { $0.lowercased().replacingUnderscores() }
        func find(_ name: String) -> Int { names.firstIndex(of: name) ?? -1 }
        srcaddr = find("srcaddr"); dstaddr = find("dstaddr"); srcport = find("srcport"); dstport = find("dstport")
        proto = find("protocol"); packets = find("packets"); bytes = find("bytes")
        start = find("start"); end = find("end"); action = find("action"); logStatus = find("log-status")
        tcpFlags = find("tcp-flags"); pktSrcaddr = find("pkt-srcaddr"); pktDstaddr = find("pkt-dstaddr")
        guard srcaddr >= 0, dstaddr >= 0, start >= 0 else {
            throw .fatal("expected a VPC Flow Logs header naming srcaddr, dstaddr and start, found '\(ByteParsing.excerpt(line))'")
        }
        columnCount = names.count
    }
}

extension String {
    func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
