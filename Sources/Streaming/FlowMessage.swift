import Detection
import FlowRecords
import Support

extension Partitioning {
    /// `0-7`, `0,2,5-6`: partition numbers, each below `count`.
    public func parse(_ text: String) throws -> [Int] {
        var result: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(bounds.count), let lo = bounds.first!, let hi = bounds.last!, lo <= hi else {
                throw NATSError("'\(part)' in the partition list is not N or N-M")
            }
            guard hi < count else { throw NATSError("partition \(hi) does not exist: the stream has \(count) (0-\(count - 1))") }
            for p in lo...hi where !result.contains(p) { result.append(p) }
        }
        guard !result.isEmpty else { throw NATSError("the partition list is empty") }
        return result.sorted()
    }
}

/// What travels on `<stream>.<partition>`: a batch of flow records, or the publisher's clock.
///
/// Wire format, version 2: the bytes `F` `H`, the version (2), the kind, then
/// - flows (1): a varint count and the records (`FlowRecord.encode(to:)`);
/// - watermark (2): the publisher's clock, a float64 of Unix seconds: every flow published after it
///   starts at or after it, give or take the input's own disorder;
/// - end of input (3): the clock at the end; workers judge every open window and report every open
///   episode, as `detect` does at the end of its input, and start afresh.
///
/// Version 3 has version 2's layout; it says that the publisher also sends each failed attempt to
/// the partition of its destination, where that host's distributed-scan watch is. Version 2 (its
/// publishers did not) and version 1 (no uid in its records) are read still.
public enum FlowMessage: Equatable, Sendable {
    case flows([FlowRecord])
    case watermark(Double)
    case endOfInput(Double)

    public static let version: UInt8 = 3

    /// The version byte of an encoded message, nil when it is too short to have one.
    public static func version(of bytes: [UInt8]) -> UInt8? { bytes.count >= 3 ? bytes[2] : nil }

    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: 64)
        w.u8(0x46); w.u8(0x48); w.u8(FlowMessage.version)
        switch self {
        case .flows(let records):
            w.u8(1)
            w.count(records.count)
            for r in records { r.encode(to: &w) }
        case .watermark(let t):
            w.u8(2)
            w.f64(t)
        case .endOfInput(let t):
            w.u8(3)
            w.f64(t)
        }
        return w.bytes
    }

    /// Encodes a batch straight from the records' buffer, without building a message value.
    static func encodeFlows(_ records: ArraySlice<FlowRecord>, into w: inout WireWriter) {
        w.u8(0x46); w.u8(0x48); w.u8(FlowMessage.version); w.u8(1)
        w.count(records.count)
        for r in records { r.encode(to: &w) }
    }

    /// A clock from the wire, held to the times logs may hold (`ByteParsing.timeRange`): an infinite
    /// watermark would trap detection's window arithmetic.
    private static func time(_ r: inout WireReader, _ what: String) throws -> Double {
        let t = try r.f64(what)
        guard ByteParsing.timeRange.contains(t) else { throw WireError("\(what) \(t) is not a time Flowhound accepts") }
        return t
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        guard bytes.count >= 4, try r.u8() == 0x46, try r.u8() == 0x48 else {
            throw WireError("not a Flowhound flow message (no 'FH' at the start)")
        }
        let version = try r.u8("version")
        guard (1...FlowMessage.version).contains(version) else {
            throw WireError("flow message version \(version); this Flowhound reads versions 1 to \(FlowMessage.version)")
        }
        switch try r.u8("kind") {
        case 1:
            // A record takes at least 40 bytes (two IPv4 addresses, empty strings, small counters).
            let n = try r.count("record count", minimumItemSize: 40)
            var records: [FlowRecord] = []
            records.reserveCapacity(n)
            for i in 0..<n {
                do { records.append(try FlowRecord(from: &r, withUID: version >= 2)) } catch { throw WireError("record \(i + 1) of \(n): \(error)") }
            }
            self = .flows(records)
        case 2: self = .watermark(try FlowMessage.time(&r, "watermark"))
        case 3: self = .endOfInput(try FlowMessage.time(&r, "end time"))
        case let k: throw WireError("message kind \(k) is not one this Flowhound knows")
        }
        guard r.isAtEnd else { throw WireError("\(r.remaining) bytes left over after the message") }
    }
}
