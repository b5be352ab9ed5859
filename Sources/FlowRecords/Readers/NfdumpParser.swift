import Support

/// `nfdump -o csv`: a header line (`ts,te,td,sa,da,sp,dp,pr,flg,...` up to 1.7.4;
/// `firstSeen,duration,proto,srcAddr,srcPort,...` from 1.7.5, comma or tab separated), one line per
/// flow, then in the older versions a `Summary` block which is skipped and counted. Columns are found by name, so extra or
/// reordered columns are fine. Without a header (`nfdump -q -o csv`) the first line's column count
/// names one of nfdump's fixed layouts (`NfdumpLayout`), and that line is the first record.
/// Times are read as UTC (nfdump prints local time: run it with TZ=UTC).
///
/// NetFlow/IPFIX records are usually one direction of a conversation: `ipkt`/`ibyt` are the
/// record's own packets and bytes, `opkt`/`obyt` the reverse direction where the exporter measured it.
struct NfdumpParser: LineParser {
    private var splitter = FieldSplitter()
    private var columnCount = 0
    private var ts = -1, te = -1, td = -1, sa = -1, da = -1, sp = -1, dp = -1, pr = -1, flg = -1
    private var ipkt = -1, ibyt = -1, opkt = -1, obyt = -1
    private var inSummary = false
    private var delimiter = UInt8(ascii: ",")
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if inSummary { return .skipped(.summary) }
        if columnCount == 0, try header(line) {
            return .metadata
        }
        if line[0] < UInt8(ascii: "0") || line[0] > UInt8(ascii: "9") {
            // The trailing block: "Summary", "flows,bytes,...", and in older versions "Time window:",
            // "Total flows processed:", "Sys:". A data line always starts with a date.
            if ByteParsing.hasPrefix(line, "Summary") || ByteParsing.hasPrefix(line, "No matching flows") {
                inSummary = true
                return .skipped(.summary)
            }
            if ByteParsing.hasPrefix(line, "Time window") || ByteParsing.hasPrefix(line, "Total flows")
                || ByteParsing.hasPrefix(line, "Sys:")
            {
                return .skipped(.summary)
            }
        }
        let fields = splitter.split(line, on: delimiter, limit: columnCount)
        guard fields.count >= columnCount else {
            throw .malformed("expected \(columnCount) fields, found \(fields.count)")
        }
        @inline(__always) func f(_ i: Int) -> UnsafeBufferPointer<UInt8> {
            ByteParsing.trimmed(fields[i])
        }
        guard let start = ByteParsing.calendarTimestamp(f(ts), cache: &dates) else {
            throw .malformed("bad time '\(ByteParsing.excerpt(f(ts)))' in ts")
        }
        var end = start
        if te >= 0 {
            guard let e = ByteParsing.calendarTimestamp(f(te), cache: &dates) else { throw .malformed("bad time '\(ByteParsing.excerpt(f(te)))' in te") }
            end = try validatedEnd(start: start, end: e)
        }
        if td >= 0, let d = ByteParsing.duration(f(td)), start + d > end {
            end = start + d  // te has whole seconds in 1.7; td keeps the milliseconds
        }
        guard let source = IPAddress(bytes: f(sa)) else { throw .malformed("bad address '\(ByteParsing.excerpt(f(sa)))' in sa") }
        guard let destination = IPAddress(bytes: f(da)) else { throw .malformed("bad address '\(ByteParsing.excerpt(f(da)))' in da") }
        guard let transport = Transport(bytes: f(pr)) else { throw .malformed("unknown protocol '\(ByteParsing.excerpt(f(pr)))' in pr") }
        // ICMP ports: nfdump puts type*256+code in dp (or "type.code" in some versions) and 0 in sp.
        var sourcePort: UInt16 = 0, destinationPort: UInt16 = 0
        let dpText = f(dp)
        if transport == .icmp || transport == .icmpv6, let dot = dpText.firstIndex(of: UInt8(ascii: ".")) {
            guard let t = ByteParsing.unsigned(UnsafeBufferPointer(rebasing: dpText[..<dot])),
                let c = ByteParsing.unsigned(UnsafeBufferPointer(rebasing: dpText[(dot + 1)...])), t < 256, c < 256
            else { throw .malformed("bad ICMP type.code '\(ByteParsing.excerpt(dpText))' in dp") }
            sourcePort = UInt16(t)
            destinationPort = UInt16(c)
        } else {
            guard let s = ByteParsing.port(f(sp)) else { throw .malformed("bad port '\(ByteParsing.excerpt(f(sp)))' in sp") }
            guard let d = ByteParsing.port(dpText) else { throw .malformed("bad port '\(ByteParsing.excerpt(dpText))' in dp") }
            if transport == .icmp || transport == .icmpv6 {
                sourcePort = d >> 8
                destinationPort = d & 0xFF
            } else {
                sourcePort = s
                destinationPort = d
            }
        }
        @inline(__always) func count(_ i: Int, _ name: StaticString) throws(LineError) -> UInt64 {
            guard i >= 0 else { return 0 }
            let text = f(i)
            if let v = ByteParsing.unsigned(text) { return v }
            // nfdump scales large counters: "1.2 M", "3.4 G".
            if let v = NfdumpParser.scaled(text) { return v }
            throw .malformed("bad \(name) '\(ByteParsing.excerpt(text))'")
        }
        let inPackets = try count(ipkt, "ipkt")
        let inBytes = try count(ibyt, "ibyt")
        let outPackets = try count(opkt, "opkt")
        let outBytes = try count(obyt, "obyt")
        let flagText = flg >= 0 ? f(flg) : UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        let flags = transport == .tcp ? TCPFlags(letters: flagText) : []
        let outcome: Outcome
        if transport == .tcp {
            outcome =
                outPackets > 0 && flags.contains(.syn) && !flags.contains(.rst)
                ? .established
                : OutcomeRules.unidirectionalTCP(flags)
        } else if transport == .icmp || transport == .icmpv6 {
            outcome = OutcomeRules.icmp(type: sourcePort, transport: transport)
        } else {
            outcome = outPackets > 0 ? .established : .other
        }
        record.assign(
            start: start, end: end, source: source, destination: destination,
            sourcePort: sourcePort, destinationPort: destinationPort, transport: transport,
            sourcePackets: inPackets, sourceBytes: inBytes,
            destinationPackets: outPackets, destinationBytes: outBytes,
            tcpFlags: flags, outcome: outcome,
            state: interner.string(flagText))
        return .record
    }

    /// Learns the columns from the first line: true for a header line; false for a line without a
    /// header whose column count names a header-less layout, which is then read as the first record.
    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) -> Bool {
        delimiter = line.contains(UInt8(ascii: ",")) ? UInt8(ascii: ",") : 0x09
        let fields = splitter.split(line, on: delimiter)
        if assignColumns(fields.strings().map(ColumnNames.normalise)) { return true }
        let first = ByteParsing.trimmed(fields[0])
        guard let digit = first.first, digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else {
            throw .fatal(
                "expected an nfdump CSV header (ts,te,td,sa,da,sp,dp,pr,... or firstSeen,duration,proto,srcAddr,...) or header-less `nfdump -q -o csv` records, found '\(ByteParsing.excerpt(line))'"
            )
        }
        guard delimiter == UInt8(ascii: ","), let layout = NfdumpLayout.forColumnCount(fields.count) else {
            throw .fatal(
                "no nfdump CSV header, and \(fields.count) fields match no header-less `nfdump -q -o csv` layout (\(NfdumpLayout.countsDescription))"
            )
        }
        let assigned = assignColumns(layout.columns)
        assert(assigned, "every header-less layout has the columns a record needs")
        return false
    }

    /// Finds the columns a record needs among normalised column names; false when one is missing.
    private mutating func assignColumns(_ names: [String]) -> Bool {
        func find(_ aliases: String...) -> Int { ColumnNames.index(of: aliases, in: names) ?? -1 }
        // 1.6 to 1.7.4 name columns by format tokens (ts, sa, ...); 1.7.5 and later by words
        // (firstSeen, srcAddr, ...), also for `-o csv:%fmt` layouts.
        ts = find("ts", "firstseen"); te = find("te", "lastseen"); td = find("td", "duration")
        sa = find("sa", "srcaddr"); da = find("da", "dstaddr"); sp = find("sp", "srcport"); dp = find("dp", "dstport")
        pr = find("pr", "proto"); flg = find("flg", "flags", "tcpflags")
        ipkt = find("ipkt", "packets", "inpackets", "pkt"); ibyt = find("ibyt", "bytes", "inbytes", "byt")
        opkt = find("opkt", "outpackets"); obyt = find("obyt", "outbytes")
        guard ts >= 0, sa >= 0, da >= 0, sp >= 0, dp >= 0, pr >= 0 else { return false }
        columnCount = [ts, te, td, sa, da, sp, dp, pr, flg, ipkt, ibyt, opkt, obyt].max()! + 1
        return true
    }

    /// "1.2 M" style counters from nfdump's human-readable scaling.
    static func scaled(_ text: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard let last = text.last else { return nil }
        let multiplier: Double
        switch last {
        case UInt8(ascii: "K"): multiplier = 1e3
        case UInt8(ascii: "M"): multiplier = 1e6
        case UInt8(ascii: "G"): multiplier = 1e9
        case UInt8(ascii: "T"): multiplier = 1e12
        default: return nil
        }
        let number = ByteParsing.trimmed(UnsafeBufferPointer(rebasing: text.dropLast()))
        guard let v = ByteParsing.decimal(number), v >= 0, v * multiplier < 1.8e19 else { return nil }
        return UInt64(v * multiplier)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingCharacters() -> String {
        String(Substring(self).trimmingSpaces)
    }
}
