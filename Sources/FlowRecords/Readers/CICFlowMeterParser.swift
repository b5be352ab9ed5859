import Support

/// CICFlowMeter CSV: the CIC-IDS2017 `GeneratedLabelledFlows` columns (` Source IP`,
/// ` Total Fwd Packets`, ...), CICFlowMeter-V3/V4 output (`Src IP`, `Tot Fwd Pkts`, ...), and the
/// re-extracted "improved" CIC-IDS2017 (`Src IP`, `Total Fwd Packet`, ...). Columns are found by
/// name whatever their spacing and case.
///
/// Flows are bidirectional (forward = from `Src IP`). Byte counts are payload bytes, as CICFlowMeter
/// measures them. `Flow Duration` is in microseconds. Timestamps are read as UTC; CIC-IDS2017's own
/// files were written in the lab's local time (UTC-3), and some use a 12-hour clock without AM/PM.
struct CICFlowMeterParser: LineParser {
    private var splitter = FieldSplitter()
    private var columnCount = 0
    private var srcIP = -1, srcPort = -1, dstIP = -1, dstPort = -1, proto = -1, timestamp = -1, duration = -1
    private var fwdPkts = -1, bwdPkts = -1, fwdBytes = -1, bwdBytes = -1
    private var fin = -1, syn = -1, rst = -1, psh = -1, ack = -1, urg = -1, cwr = -1, ece = -1
    private var label = -1, category = -1
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if columnCount == 0 {
            try header(line)
            return .metadata
        }
        let fields = splitter.split(line, on: UInt8(ascii: ","), limit: max(columnCount, label + 1, category + 1))
        guard fields.count >= columnCount else {
            throw .malformed("expected \(columnCount) comma-separated fields, found \(fields.count)")
        }
        @inline(__always) func f(_ i: Int) -> UnsafeBufferPointer<UInt8> { ByteParsing.trimmed(fields[i]) }
        guard let source = IPAddress(bytes: f(srcIP)) else { throw .malformed("bad address '\(ByteParsing.excerpt(f(srcIP)))' in Src IP") }
        guard let destination = IPAddress(bytes: f(dstIP)) else { throw .malformed("bad address '\(ByteParsing.excerpt(f(dstIP)))' in Dst IP") }
        guard let sourcePort = ByteParsing.port(f(srcPort)) else { throw .malformed("bad port '\(ByteParsing.excerpt(f(srcPort)))' in Src Port") }
        guard let destinationPort = ByteParsing.port(f(dstPort)) else { throw .malformed("bad port '\(ByteParsing.excerpt(f(dstPort)))' in Dst Port") }
        guard let protocolNumber = ByteParsing.unsigned(f(proto)), protocolNumber <= 255 else {
            throw .malformed("bad protocol '\(ByteParsing.excerpt(f(proto)))'")
        }
        let transport = Transport(rawValue: UInt8(protocolNumber))
        guard let start = ByteParsing.calendarTimestamp(f(timestamp), cache: &dates) else {
            throw .malformed("bad time '\(ByteParsing.excerpt(f(timestamp)))' in Timestamp")
        }
        var end = start
        if duration >= 0 {
            // Some CIC-IDS2017 rows have a negative duration: clamp, the record is otherwise sound.
            guard let micro = ByteParsing.decimal(f(duration)), micro < ByteParsing.durationRange.upperBound * 1e6 else {
                throw .malformed("bad Flow Duration '\(ByteParsing.excerpt(f(duration)))'")
            }
            end = start + max(0, micro) / 1e6
        }
        @inline(__always) func count(_ i: Int, _ name: StaticString) throws(LineError) -> UInt64 {
            guard i >= 0 else { return 0 }
            let text = f(i)
            if let v = ByteParsing.unsigned(text) { return v }
            // Some exports write counts as floats ("12.0").
            if let d = ByteParsing.decimal(text), d >= 0, d < 1.8e19, d == d.rounded() { return UInt64(d) }
            throw .malformed("bad \(name) '\(ByteParsing.excerpt(text))'")
        }
        let forwardPackets = try count(fwdPkts, "Total Fwd Packets"), backwardPackets = try count(bwdPkts, "Total Bwd Packets")
        let forwardBytes = try count(fwdBytes, "Total Length of Fwd Packets"), backwardBytes = try count(bwdBytes, "Total Length of Bwd Packets")
        var flags: TCPFlags = []
        var synCount: UInt64 = 0, rstCount: UInt64 = 0
        if transport == .tcp {
            synCount = try count(syn, "SYN Flag Count")
            rstCount = try count(rst, "RST Flag Count")
            if synCount > 0 { flags.insert(.syn) }
            if rstCount > 0 { flags.insert(.rst) }
            if try count(fin, "FIN Flag Count") > 0 { flags.insert(.fin) }
            if try count(psh, "PSH Flag Count") > 0 { flags.insert(.psh) }
            if try count(ack, "ACK Flag Count") > 0 { flags.insert(.ack) }
            if try count(urg, "URG Flag Count") > 0 { flags.insert(.urg) }
            if try count(cwr, "CWR Flag Count") > 0 { flags.insert(.cwr) }
            if try count(ece, "ECE Flag Count") > 0 { flags.insert(.ece) }
        }
        // Flag counts cover both directions: two SYNs mean the responder's SYN-ACK was seen.
        let outcome: Outcome
        if backwardPackets == 0 {
            outcome = .unanswered
        } else if transport != .tcp {
            outcome = .established
        } else if synCount >= 2 {
            outcome = .established
        } else if rstCount > 0 && backwardBytes == 0 {
            outcome = .rejected
        } else {
            outcome = synCount > 0 ? .established : .partial
        }
        var labelValue: String?, detail: String?
        if label >= 0, label < fields.count { let t = f(label); if !t.isEmpty { labelValue = interner.string(t) } }
        if category >= 0, category < fields.count { let t = f(category); if !t.isEmpty { detail = interner.string(t) } }
        record.assign(
            start: start, end: end, source: source, destination: destination,
            sourcePort: sourcePort, destinationPort: destinationPort, transport: transport,
            sourcePackets: forwardPackets, sourceBytes: forwardBytes,
            destinationPackets: backwardPackets, destinationBytes: backwardBytes,
            tcpFlags: flags, outcome: outcome, label: labelValue, detailedLabel: detail)
        return .record
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) {
        let names = splitter.split(line, on: UInt8(ascii: ",")).strings().map(ColumnNames.normalise)
        func find(_ aliases: String...) -> Int { ColumnNames.index(of: aliases, in: names) ?? -1 }
        srcIP = find("srcip", "sourceip")
        srcPort = find("srcport", "sourceport")
        dstIP = find("dstip", "destinationip")
        dstPort = find("dstport", "destinationport")
        proto = find("protocol")
        timestamp = find("timestamp")
        duration = find("flowduration")
        fwdPkts = find("totalfwdpacket", "totalfwdpackets", "totfwdpkts")
        bwdPkts = find("totalbwdpackets", "totalbwdpacket", "totalbackwardpackets", "totbwdpkts")
        fwdBytes = find("totallengthoffwdpacket", "totallengthoffwdpackets", "totlenfwdpkts")
        bwdBytes = find("totallengthofbwdpacket", "totallengthofbwdpackets", "totlenbwdpkts")
        fin = find("finflagcount", "finflagcnt")
        syn = find("synflagcount", "synflagcnt")
        rst = find("rstflagcount", "rstflagcnt")
        psh = find("pshflagcount", "pshflagcnt")
        ack = find("ackflagcount", "ackflagcnt")
        urg = find("urgflagcount", "urgflagcnt")
        cwr = find("cwrflagcount", "cweflagcount", "cweflagcnt")
        ece = find("eceflagcount", "eceflagcnt")
        label = find("label")
        category = find("attemptedcategory")
        guard srcIP >= 0, dstIP >= 0, srcPort >= 0, dstPort >= 0, proto >= 0, timestamp >= 0 else {
            throw .fatal(
                "expected a CICFlowMeter header naming Src IP, Src Port, Dst IP, Dst Port, Protocol and Timestamp, found '\(ByteParsing.excerpt(line))'")
        }
        columnCount =
            [
                srcIP, srcPort, dstIP, dstPort, proto, timestamp, duration, fwdPkts, bwdPkts, fwdBytes, bwdBytes,
                fin, syn, rst, psh, ack, urg, cwr, ece,
            ].max()! + 1
    }
}
