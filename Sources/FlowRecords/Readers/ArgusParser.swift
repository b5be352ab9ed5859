import Support

/// Argus client output (`ra -c , -s ...`, with its header line) and CTU-13 `.binetflow` files.
/// The delimiter (comma, tab, `|`, `;`) is taken from the header line; columns are found by the names
/// `ra` prints (`StartTime`, `SrcAddr`, `Sport`, `State`, `TotPkts`, `SrcBytes`, ...), so any
/// field selection with a source and destination address works.
///
/// Management (`man`) records are skipped as status records; ARP, LLC and other non-IP flows are
/// skipped as `not-ip`. Times must carry a date: epoch (`ra -u`) or `YYYY/MM/DD HH:MM:SS.ffffff`.
struct ArgusParser: LineParser {
    private var splitter = FieldSplitter()
    private var delimiter: UInt8 = UInt8(ascii: ",")
    private var columnCount = 0
    private var start = -1, last = -1, dur = -1, proto = -1, saddr = -1, sport = -1, daddr = -1, dport = -1
    private var state = -1, totPkts = -1, totBytes = -1, srcPkts = -1, dstPkts = -1, srcBytes = -1, dstBytes = -1
    private var label = -1
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if columnCount == 0 {
            try header(line)
            return .metadata
        }
        let fields = splitter.split(line, on: delimiter, limit: max(columnCount, label + 1))
        guard fields.count >= columnCount else {
            throw .malformed("expected \(columnCount) fields, found \(fields.count)")
        }
        @inline(__always) func f(_ i: Int) -> UnsafeBufferPointer<UInt8> {
            ByteParsing.trimmed(fields[i])
        }
        // Numbers and addresses are read from the field as it is first, and trimmed only if that
        // fails: few fields are padded, and no padded text is a number or an address (an IPv6 zone
        // may end in spaces, but it is dropped either way), so the result is the same.
        let protoText = f(proto)
        // "man" is no transport keyword, so management records are found among the failures.
        guard let transport = Transport(bytes: protoText) else {
            if ByteParsing.equalsLowercase(protoText, "man") { return .skipped(.statusRecord) }
            if ArgusParser.isNonIP(protoText) { return .skipped(.notIP) }
            throw .malformed("unknown protocol '\(ByteParsing.excerpt(protoText))' in Proto")
        }
        let startText = f(start)
        guard let startTime = ByteParsing.timestamp(startText, cache: &dates) else {
            if startText.contains(UInt8(ascii: ":")) && !startText.contains(UInt8(ascii: "/"))
                && !startText.contains(UInt8(ascii: "-"))
            {
                throw .malformed("time '\(ByteParsing.excerpt(startText))' has no date: run ra with -u (epoch times)")
            }
            throw .malformed("bad time '\(ByteParsing.excerpt(startText))' in StartTime")
        }
        var endTime = startTime
        if last >= 0, !f(last).isEmpty {
            guard let e = ByteParsing.timestamp(f(last), cache: &dates) else {
                throw .malformed("bad time '\(ByteParsing.excerpt(f(last)))' in LastTime")
            }
            endTime = try validatedEnd(start: startTime, end: e)
        } else if dur >= 0 {
            let d = f(dur)
            guard let v = ByteParsing.duration(d) else { throw .malformed("bad duration '\(ByteParsing.excerpt(d))' in Dur") }
            endTime = startTime + v
        }
        guard let source = IPAddress(bytes: fields[saddr]) ?? IPAddress(bytes: f(saddr)) else {
            throw .malformed("bad address '\(ByteParsing.excerpt(f(saddr)))' in SrcAddr")
        }
        guard let destination = IPAddress(bytes: fields[daddr]) ?? IPAddress(bytes: f(daddr)) else {
            throw .malformed("bad address '\(ByteParsing.excerpt(f(daddr)))' in DstAddr")
        }
        @inline(__always) func port(_ i: Int, _ name: StaticString) throws(LineError) -> UInt16 {
            guard i >= 0 else { return 0 }
            if let p = ByteParsing.port(fields[i]) { return p }
            let text = f(i)
            if text.isEmpty { return 0 }
            guard let p = ByteParsing.port(text) else { throw .malformed("bad port '\(ByteParsing.excerpt(text))' in \(name)") }
            return p
        }
        let sourcePort = try port(sport, "Sport")
        let destinationPort = try port(dport, "Dport")
        @inline(__always) func count(_ i: Int, _ name: StaticString) throws(LineError) -> UInt64? {
            guard i >= 0 else { return nil }
            if let v = ByteParsing.unsigned(fields[i]) { return v }
            let text = f(i)
            if text.isEmpty { return nil }
            guard let v = ByteParsing.unsigned(text) else { throw .malformed("bad \(name) '\(ByteParsing.excerpt(text))'") }
            return v
        }
        let total = try count(totPkts, "TotPkts"), totalBytes = try count(totBytes, "TotBytes")
        let sp = try count(srcPkts, "SrcPkts"), dp = try count(dstPkts, "DstPkts")
        let sb = try count(srcBytes, "SrcBytes"), db = try count(dstBytes, "DstBytes")
        let sourcePackets = sp ?? total.map { $0 &- min($0, dp ?? 0) } ?? 0
        let destinationPackets = dp ?? total.map { $0 - min($0, sourcePackets) } ?? 0
        let sourceBytes = sb ?? totalBytes.map { $0 &- min($0, db ?? 0) } ?? 0
        let destinationBytes = db ?? totalBytes.map { $0 - min($0, sourceBytes) } ?? 0
        let stateText = state >= 0 ? f(state) : UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var (outcome, flags) = OutcomeRules.argus(
            state: stateText, transport: transport, destinationPackets: dp ?? (total != nil ? destinationPackets : nil))
        if transport != .tcp { flags = [] }
        var labelValue: String? = nil
        // The Label column is last and often empty: rows may end before it.
        if label >= 0, label < fields.count {
            let text = f(label)
            if !text.isEmpty { labelValue = interner.string(text) }
        }
        record.assign(
            start: startTime, end: endTime, source: source, destination: destination,
            sourcePort: sourcePort, destinationPort: destinationPort, transport: transport,
            sourcePackets: sourcePackets, sourceBytes: sourceBytes,
            destinationPackets: destinationPackets, destinationBytes: destinationBytes,
            tcpFlags: flags, outcome: outcome,
            state: interner.string(stateText), label: labelValue)
        return .record
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) {
        // The delimiter is whichever of these the header line uses.
        for candidate in [UInt8(ascii: ","), 0x09, UInt8(ascii: "|"), UInt8(ascii: ";")] where line.contains(candidate) {
            delimiter = candidate
            break
        }
        let names = splitter.split(line, on: delimiter).strings().map(ColumnNames.normalise)
        func find(_ aliases: String...) -> Int { ColumnNames.index(of: aliases, in: names) ?? -1 }
        start = find("starttime", "stime")
        last = find("lasttime", "ltime")
        dur = find("dur")
        proto = find("proto")
        saddr = find("srcaddr", "saddr")
        sport = find("sport")
        daddr = find("dstaddr", "daddr")
        dport = find("dport")
        state = find("state")
        totPkts = find("totpkts", "pkts")
        totBytes = find("totbytes", "bytes")
        srcPkts = find("srcpkts", "spkts")
        dstPkts = find("dstpkts", "dpkts")
        srcBytes = find("srcbytes", "sbytes")
        dstBytes = find("dstbytes", "dbytes")
        label = find("label")
        guard start >= 0, proto >= 0, saddr >= 0, daddr >= 0 else {
            throw .fatal("expected an Argus header line naming StartTime, Proto, SrcAddr and DstAddr, found '\(ByteParsing.excerpt(line))'")
        }
        columnCount =
            [
                start, last, dur, proto, saddr, sport, daddr, dport, state, totPkts, totBytes,
                srcPkts, dstPkts, srcBytes, dstBytes,
            ].max()! + 1
    }

    /// Link-layer protocols Argus also records.
    static func isNonIP(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for name: StaticString in ["arp", "rarp", "llc", "lldp", "stp", "ipx", "ipx/spx", "cdp", "lacp", "loop", "802.1q"]
        where ByteParsing.equalsLowercase(text, name) {
            return true
        }
        // Argus prints unnamed EtherTypes as hexadecimal numbers ("0x88cc").
        return text.count > 2 && text[0] == UInt8(ascii: "0") && text[1] | 0x20 == UInt8(ascii: "x")
    }
}
