/// The fixed column layouts `nfdump -o csv` prints, for input that has no header line:
/// `nfdump -q -o csv` (quiet) prints neither the header nor the trailing summary, and that is how
/// nfdump is usually piped. The column count tells the layouts apart:
///
/// | columns | nfdump | columns in order |
/// |---|---|---|
/// | 43 | early 1.6 | `ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,...,mpls10,ra,eng` |
/// | 48 | later 1.6 to 1.7.4 | the same with `cl,sl,al` before `ra,eng`, and `exid,tr` after them |
/// | 10 | 1.7.5 and later | `firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows` |
///
/// Where these come from: nfdump's own sources. 1.6 prints CSV in `flow_record_to_csv` and names its
/// columns in `set_record_header` (bin/nf_common.c): 43 columns ending `ra,eng` in the 1.6.2 sources,
/// 48 in the 1.6.12 sources (nfdump's ChangeLog adds the latency fields in 1.6.7 and the received
/// time to CSV for 1.6.9; the releases in between were not looked at). 1.7 up to 1.7.4 prints the
/// same 48 columns from `csv_prolog`/`flow_record_to_csv` (bin/output_csv.c), and the real exports
/// in Tests/Fixtures/realtools (nfdump 1.7.1, with and without `-q`) have them. From 1.7.5 `-o csv`
/// is the format `%ts,%td,%pr,%sa,%sp,%da,%dp,%pkt,%byt,%fl` (`FORMAT_CSV`, src/output/output.c)
/// with the header names of src/output/output_csv.c.
///
/// Field shapes, as those sources print them: times `YYYY-MM-DD hh:mm:ss` (with `.fff` in 1.7.5+ and
/// in `tr`), the duration `%.3f`, addresses as `inet_ntop` writes them, ports and counters as plain
/// numbers (1.7.5+ writes an ICMP `dp` as `type.code`), the protocol as a name (`TCP`) or a number,
/// TCP flags as letters and dots (`...A..S.`; six of them, `UAPRSF`, in older releases), MAC addresses
/// `00:00:00:00:00:00`, MPLS labels `0-0-0`, latencies `%9.3f` (space-padded), the engine `type/id`.
struct NfdumpLayout: Equatable, Sendable {
    /// The nfdump versions that print this layout, for messages.
    let versions: String
    /// The column names as the header would give them, normalised (`ColumnNames.normalise`).
    let columns: [String]

    static let mpls = (1...10).map { "mpls\($0)" }
    static let early16 = NfdumpLayout(
        versions: "early 1.6",
        columns: [
            "ts", "te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "ipkt", "ibyt", "opkt", "obyt", "in", "out",
            "sas", "das", "smk", "dmk", "dtos", "dir", "nh", "nhb", "svln", "dvln", "ismc", "odmc", "idmc", "osmc",
        ] + mpls + ["ra", "eng"])
    static let v16to174 = NfdumpLayout(
        versions: "later 1.6-1.7.4",
        columns: Array(early16.columns.dropLast(2)) + ["cl", "sl", "al", "ra", "eng", "exid", "tr"])
    static let v175 = NfdumpLayout(
        versions: "1.7.5+",
        columns: ["firstseen", "duration", "proto", "srcaddr", "srcport", "dstaddr", "dstport", "packets", "bytes", "flows"])

    static let all = [v175, early16, v16to174]

    /// The layout with this many columns, or nil.
    static func forColumnCount(_ count: Int) -> NfdumpLayout? {
        all.first { $0.columns.count == count }
    }

    /// "10 (1.7.5+), 43 (early 1.6) or 48 (later 1.6-1.7.4) columns", for messages.
    static var countsDescription: String {
        let each = all.map { "\($0.columns.count) (\($0.versions))" }
        return each.dropLast().joined(separator: ", ") + " or " + each.last! + " columns"
    }

    /// How many of a log's first lines must all have one layout's shape for it to be taken for
    /// header-less nfdump CSV (fewer when the log has fewer lines).
    static let probeLines = 5

    /// The layout that the first lines of `head` (a log's first bytes) all have, field for field, or
    /// nil. A header-less file is taken for nfdump only on this evidence, so that no other format
    /// (or a near miss: another column count, a first field that is not a date) is misread as it.
    static func headerless(in head: UnsafeBufferPointer<UInt8>) -> NfdumpLayout? {
        var layout: NfdumpLayout?
        var checked = 0, start = 0
        while start < head.count, checked < probeLines {
            let end: Int
            if let newline = head[start...].firstIndex(of: 0x0A) {
                end = newline
            } else {
                // Without its newline the last line may be cut short by the sniffing length: it
                // counts only when it is the one line there is.
                guard checked == 0 else { break }
                end = head.count
            }
            var line = ByteParsing.trimmed(UnsafeBufferPointer(rebasing: head[start..<end]))
            if let last = line.last, last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
            start = end + 1
            if line.isEmpty { continue }
            if checked > 0, ByteParsing.hasPrefix(line, "Summary") { break }  // a summary nfdump would not print with -q
            let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard let candidate = forColumnCount(fields.count), layout == nil || layout == candidate,
                candidate.matches(fields.map { UnsafeBufferPointer(rebasing: $0) })
            else { return nil }
            layout = candidate
            checked += 1
        }
        return layout
    }

    /// Whether every field has the shape nfdump prints in its column.
    func matches(_ fields: [UnsafeBufferPointer<UInt8>]) -> Bool {
        guard fields.count == columns.count else { return false }
        for (name, raw) in zip(columns, fields) {
            let field = ByteParsing.trimmed(raw)
            let ok: Bool
            switch name {
            case "ts", "te", "tr", "firstseen": ok = NfdumpLayout.isDateTime(field)
            case "td", "duration", "cl", "sl", "al": ok = NfdumpLayout.isDecimal(field)
            case "sa", "da", "srcaddr", "dstaddr", "nh", "nhb", "ra": ok = IPAddress(bytes: field) != nil
            case "sp", "srcport": ok = ByteParsing.port(field) != nil
            case "dp", "dstport": ok = ByteParsing.port(field) != nil || NfdumpLayout.isTypeCode(field)
            case "pr", "proto": ok = NfdumpLayout.isProtocol(field)
            case "flg": ok = NfdumpLayout.isFlags(field)
            case "ismc", "odmc", "idmc", "osmc": ok = NfdumpLayout.isMAC(field)
            case "eng": ok = NfdumpLayout.isNumbers(field, separator: UInt8(ascii: "/"), count: 2)
            default:
                if name.hasPrefix("mpls") {
                    ok = NfdumpLayout.isNumbers(field, separator: UInt8(ascii: "-"), count: 3)
                } else {
                    ok = NfdumpLayout.isDigits(field)  // counters, interfaces, AS numbers, masks, ToS, VLANs, ...
                }
            }
            if !ok { return false }
        }
        return true
    }

    static func isDigits(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        !field.isEmpty && field.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `YYYY-MM-DD hh:mm:ss`, optionally with a fraction of a second, that is a real date and time.
    static func isDateTime(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        guard field.count == 19 || (field.count >= 21 && field.count <= 29 && field[19] == UInt8(ascii: ".")) else { return false }
        for (i, b) in field.enumerated() {
            let expected: UInt8? =
                switch i {
                case 4, 7: UInt8(ascii: "-")
                case 10: UInt8(ascii: " ")
                case 13, 16: UInt8(ascii: ":")
                case 19: UInt8(ascii: ".")
                default: nil
                }
            if let expected {
                if b != expected { return false }
            } else if b < UInt8(ascii: "0") || b > UInt8(ascii: "9") {
                return false
            }
        }
        return ByteParsing.dateTime(field) != nil
    }

    /// A non-negative decimal: `0.028`, `12`.
    static func isDecimal(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let dot = field.firstIndex(of: UInt8(ascii: ".")) else { return isDigits(field) }
        return isDigits(UnsafeBufferPointer(rebasing: field[..<dot])) && isDigits(UnsafeBufferPointer(rebasing: field[(dot + 1)...]))
    }

    /// An ICMP type and code, `3.3`.
    static func isTypeCode(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        isNumbers(field, separator: UInt8(ascii: "."), count: 2)
    }

    /// `count` runs of digits joined by `separator`.
    static func isNumbers(_ field: UnsafeBufferPointer<UInt8>, separator: UInt8, count: Int) -> Bool {
        let parts = field.split(separator: separator, omittingEmptySubsequences: false)
        return parts.count == count && parts.allSatisfy { isDigits(UnsafeBufferPointer(rebasing: $0)) }
    }

    /// A protocol name as nfdump spells them (`TCP`, `ICMP6`, `IPIP`, `AX.25`, `A/N`, `TP++`) or a number.
    static func isProtocol(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = field.first, field.count <= 8, isAlphanumeric(first) else { return false }
        return field.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "+")
        }
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || ((b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z"))
    }

    /// TCP flags: `CEUAPRSF` (`UAPRSF` in older releases) letters or dots, or a hexadecimal `0x..`.
    static func isFlags(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        if ByteParsing.hasPrefix(field, "0x") { return field.count <= 5 }
        guard field.count == 8 || field.count == 6 else { return false }
        return field.allSatisfy { "CEUAPRSF.".utf8.contains($0) }
    }

    /// `00:1b:21:3c:4d:5e`.
    static func isMAC(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        guard field.count == 17 else { return false }
        for (i, b) in field.enumerated() {
            if i % 3 == 2 {
                if b != UInt8(ascii: ":") { return false }
            } else if !((b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || ((b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "f"))) {
                return false
            }
        }
        return true
    }
}
