import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Flowhound's normalised record layout, shared by the CSV and JSON-lines writers and readers.
///
/// | column | meaning |
/// |---|---|
/// | ts, end | first and last packet, Unix seconds (UTC) with microseconds |
/// | src, sport, dst, dport | addresses and ports (ICMP: type and code) |
/// | proto | transport keyword or protocol number |
/// | src_pkts, src_bytes, dst_pkts, dst_bytes | counts each way |
/// | flags | union of TCP flags, nfdump letters (`CEUAPRSF`) |
/// | outcome | established, rejected, unanswered, partial, other |
/// | state | the exporter's own state text |
/// | label, detailed_label | dataset labels, empty when none |
public enum FlowhoundColumns {
    public static let names = [
        "ts", "end", "src", "sport", "dst", "dport", "proto", "src_pkts", "src_bytes", "dst_pkts", "dst_bytes",
        "flags", "outcome", "state", "label", "detailed_label", "uid",
    ]
    public static let header = names.joined(separator: ",")
    /// The header up to `detailed_label`: files written before `uid` was added start with it too.
    public static let headerPrefix = names.prefix(16).joined(separator: ",")
}

/// The output encodings of `flowhound flows convert` and `flowhound synth`: Flowhound's own
/// normalised records, or an exporter's format (see `FlowWriter+Native.swift`).
public enum RecordEncoding: String, CaseIterable, Sendable {
    case jsonl, csv, zeek, nfdump, argus, vpc

    /// The lines a file of this encoding starts with.
    public var header: String {
        switch self {
        case .jsonl, .vpc: ""
        case .csv: FlowhoundColumns.header + "\n"
        case .zeek: FlowWriter.zeekHeader
        case .nfdump: FlowWriter.nfdumpHeader
        case .argus: FlowWriter.argusHeader
        }
    }

    /// The format Flowhound reads this encoding back as.
    public var format: FlowFormat {
        switch self {
        case .jsonl: .jsonl
        case .csv: .csv
        case .zeek: .zeek
        case .nfdump: .nfdump
        case .argus: .argus
        case .vpc: .vpc
        }
    }
}

/// Writes records as Flowhound CSV or JSON lines to a file descriptor, through a buffer.
public final class FlowWriter {
    private let fd: Int32
    private let encoding: RecordEncoding
    private var buffer: [UInt8] = []
    private var wroteHeader = false
    private static let flushThreshold = 1 << 16

    /// Writes to standard output by default.
    public init(encoding: RecordEncoding, fileDescriptor: Int32 = 1) {
        self.fd = fileDescriptor
        self.encoding = encoding
        buffer.reserveCapacity(FlowWriter.flushThreshold + 4096)
    }

    deinit { try? flush() }

    public func write(_ r: FlowRecord) throws {
        if !wroteHeader {
            buffer.append(contentsOf: encoding.header.utf8)
            wroteHeader = true
        }
        FlowWriter.encode(r, as: encoding, into: &buffer)
        if buffer.count >= FlowWriter.flushThreshold { try flush() }
    }

    /// Appends one record, with its line ending, in `encoding` (without the file's header lines).
    /// nfdump and VPC logs hold one direction per line, so a record with a reply becomes two lines.
    public static func encode(_ record: FlowRecord, as encoding: RecordEncoding, into out: inout [UInt8]) {
        switch encoding {
        case .csv: appendCSV(record, to: &out)
        case .jsonl: appendJSON(record, to: &out)
        case .zeek: appendZeek(record, to: &out)
        case .nfdump: appendNfdump(record, to: &out)
        case .argus: appendArgus(record, to: &out)
        case .vpc: appendVPC(record, to: &out)
        }
    }

    /// Writes the file's header lines now, even if no record follows.
    public func writeHeader() throws {
        guard !wroteHeader else { return }
        buffer.append(contentsOf: encoding.header.utf8)
        wroteHeader = true
    }

    public func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.removeAll(keepingCapacity: true)
                throw FlowReadError(file: fd == 1 ? "<stdout>" : "<output>", reason: "write failed: \(reason)")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    static func appendCSV(_ r: FlowRecord, to out: inout [UInt8]) {
        appendFixed6(r.start, to: &out); out.append(0x2C)
        appendFixed6(r.end, to: &out); out.append(0x2C)
        out.append(contentsOf: r.source.description.utf8); out.append(0x2C)
        appendDecimal(UInt64(r.sourcePort), to: &out); out.append(0x2C)
        out.append(contentsOf: r.destination.description.utf8); out.append(0x2C)
        appendDecimal(UInt64(r.destinationPort), to: &out); out.append(0x2C)
        out.append(contentsOf: r.transport.description.utf8); out.append(0x2C)
        appendDecimal(r.sourcePackets, to: &out); out.append(0x2C)
        appendDecimal(r.sourceBytes, to: &out); out.append(0x2C)
        appendDecimal(r.destinationPackets, to: &out); out.append(0x2C)
        appendDecimal(r.destinationBytes, to: &out); out.append(0x2C)
        out.append(contentsOf: r.tcpFlags.description.utf8); out.append(0x2C)
        out.append(contentsOf: r.outcome.description.utf8); out.append(0x2C)
        appendCSVField(r.state, to: &out); out.append(0x2C)
        appendCSVField(r.label ?? "", to: &out); out.append(0x2C)
        appendCSVField(r.detailedLabel ?? "", to: &out); out.append(0x2C)
        if !r.uid.isEmpty { out.append(contentsOf: r.uid.description.utf8) }
        out.append(0x0A)
    }

    static func appendJSON(_ r: FlowRecord, to out: inout [UInt8]) {
        func key(_ k: StaticString) {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        out.append(UInt8(ascii: "{"))
        key("ts"); appendFixed6(r.start, to: &out); out.append(0x2C)
        key("end"); appendFixed6(r.end, to: &out); out.append(0x2C)
        key("src"); appendJSONString(r.source.description, to: &out); out.append(0x2C)
        key("sport"); appendDecimal(UInt64(r.sourcePort), to: &out); out.append(0x2C)
        key("dst"); appendJSONString(r.destination.description, to: &out); out.append(0x2C)
        key("dport"); appendDecimal(UInt64(r.destinationPort), to: &out); out.append(0x2C)
        key("proto"); appendJSONString(r.transport.description, to: &out); out.append(0x2C)
        key("src_pkts"); appendDecimal(r.sourcePackets, to: &out); out.append(0x2C)
        key("src_bytes"); appendDecimal(r.sourceBytes, to: &out); out.append(0x2C)
        key("dst_pkts"); appendDecimal(r.destinationPackets, to: &out); out.append(0x2C)
        key("dst_bytes"); appendDecimal(r.destinationBytes, to: &out); out.append(0x2C)
        key("flags"); appendJSONString(r.tcpFlags.description, to: &out); out.append(0x2C)
        key("outcome"); appendJSONString(r.outcome.description, to: &out); out.append(0x2C)
        key("state"); appendJSONString(r.state, to: &out)
        if let label = r.label { out.append(0x2C); key("label"); appendJSONString(label, to: &out) }
        if let detail = r.detailedLabel { out.append(0x2C); key("detailed_label"); appendJSONString(detail, to: &out) }
        if !r.uid.isEmpty { out.append(0x2C); key("uid"); appendJSONString(r.uid.description, to: &out) }
        out.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
    }

    /// Seconds with exactly six decimals (microseconds), as Zeek writes times.
    static func appendFixed6(_ value: Double, to out: inout [UInt8]) {
        var v = value
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            v = -v
        }
        let micros = UInt64((v * 1e6).rounded())
        appendDecimal(micros / 1_000_000, to: &out)
        out.append(UInt8(ascii: "."))
        appendDecimal(micros % 1_000_000, minimumDigits: 6, to: &out)
    }

    /// RFC 4180: quote a field holding a comma or quote and double inner quotes. Line breaks are
    /// written as spaces so that every record stays on one line for line-oriented tools.
    static func appendCSVField(_ text: String, to out: inout [UInt8]) {
        let needsQuotes = text.utf8.contains { $0 == 0x2C || $0 == 0x22 }
        if needsQuotes { out.append(0x22) }
        for b in text.utf8 {
            if b == 0x22 { out.append(0x22) }
            out.append(b == 0x0A || b == 0x0D ? 0x20 : b)
        }
        if needsQuotes { out.append(0x22) }
    }
}
