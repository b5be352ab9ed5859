/// One network flow, normalised from whatever exporter wrote it.
///
/// "Source" is the side that initiated the flow as the exporter saw it (Zeek's originator, Argus's
/// source, NetFlow's source of a unidirectional record); "destination" is the other side. Counts
/// named `source…` travelled from source to destination, `destination…` the other way; formats that
/// log each direction separately (nfdump, VPC Flow Logs) leave the `destination…` counts at zero.
public struct FlowRecord: Sendable, Equatable {
    /// First packet, seconds since the Unix epoch (UTC).
    public var start: Double = 0
    /// Last packet, seconds since the Unix epoch (UTC); equal to `start` when the exporter gave no duration.
    public var end: Double = 0
    public var source = IPAddress(ipv4: 0)
    public var destination = IPAddress(ipv4: 0)
    /// Transport port, or for ICMP the type (source) and code (destination) where the exporter gives them.
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var transport = Transport(rawValue: 0)
    public var sourcePackets: UInt64 = 0
    public var sourceBytes: UInt64 = 0
    public var destinationPackets: UInt64 = 0
    public var destinationBytes: UInt64 = 0
    /// Union of the TCP flags seen in either direction (empty for other transports or when unknown).
    public var tcpFlags: TCPFlags = []
    /// What became of the connection attempt, normalised across formats.
    public var outcome = Outcome.other
    /// The exporter's own state text, unchanged: Zeek `conn_state`, Argus `State`, VPC `action`,
    /// nfdump's flag string. Empty when the format has none.
    public var state = ""
    /// Label carried by labelled datasets (Zeek `label`, Argus `Label`, CICFlowMeter `Label`).
    public var label: String?
    /// Finer label where the dataset has one (Zeek `detailedlabel`, CICFlowMeter `Attempted Category`).
    public var detailedLabel: String?
    /// The record's identifier in its log (Zeek's `uid`); empty for formats without one.
    public var uid = RecordUID()

    public init(
        start: Double, end: Double,
        source: IPAddress, destination: IPAddress,
        sourcePort: UInt16, destinationPort: UInt16,
        transport: Transport,
        sourcePackets: UInt64 = 0, sourceBytes: UInt64 = 0,
        destinationPackets: UInt64 = 0, destinationBytes: UInt64 = 0,
        tcpFlags: TCPFlags = [], outcome: Outcome = .other, state: String = "",
        label: String? = nil, detailedLabel: String? = nil
    ) {
        assign(
            start: start, end: end, source: source, destination: destination, sourcePort: sourcePort,
            destinationPort: destinationPort, transport: transport, sourcePackets: sourcePackets,
            sourceBytes: sourceBytes, destinationPackets: destinationPackets, destinationBytes: destinationBytes,
            tcpFlags: tcpFlags, outcome: outcome, state: state, label: label, detailedLabel: detailedLabel)
    }

    /// Overwrites every field in place, with the same parameters and defaults as `init` (which calls it).
    ///
    /// The readers parse each line into one record that they reuse; `record = FlowRecord(...)` compiles
    /// to building the value twice on the stack, an outlined copy and destroy, and a memcpy, while
    /// plain field stores cost one release per string field.
    @inline(__always)
    mutating func assign(
        start: Double, end: Double,
        source: IPAddress, destination: IPAddress,
        sourcePort: UInt16, destinationPort: UInt16,
        transport: Transport,
        sourcePackets: UInt64 = 0, sourceBytes: UInt64 = 0,
        destinationPackets: UInt64 = 0, destinationBytes: UInt64 = 0,
        tcpFlags: TCPFlags = [], outcome: Outcome = .other, state: String = "",
        label: String? = nil, detailedLabel: String? = nil
    ) {
        self.start = start
        self.end = end
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.transport = transport
        self.sourcePackets = sourcePackets
        self.sourceBytes = sourceBytes
        self.destinationPackets = destinationPackets
        self.destinationBytes = destinationBytes
        self.tcpFlags = tcpFlags
        self.outcome = outcome
        self.state = state
        self.label = label
        self.detailedLabel = detailedLabel
        self.uid = RecordUID()
    }

    /// `end - start`, never negative.
    @inlinable public var duration: Double { max(0, end - start) }
}

/// The IP protocol number of a flow's transport.
public struct Transport: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let icmp = Transport(rawValue: 1)
    public static let igmp = Transport(rawValue: 2)
    public static let tcp = Transport(rawValue: 6)
    public static let udp = Transport(rawValue: 17)
    public static let gre = Transport(rawValue: 47)
    public static let esp = Transport(rawValue: 50)
    public static let icmpv6 = Transport(rawValue: 58)
    public static let sctp = Transport(rawValue: 132)

    /// Lower-case IANA keyword where Flowhound knows one ("tcp", "udp", "icmp", "ipv6-icmp"), else the number.
    public var description: String {
        switch rawValue {
        case 1: "icmp"
        case 2: "igmp"
        case 41: "ipv6"
        case 51: "ah"
        case 89: "ospf"
        case 103: "pim"
        case 112: "vrrp"
        case 6: "tcp"
        case 17: "udp"
        case 47: "gre"
        case 50: "esp"
        case 58: "ipv6-icmp"
        case 132: "sctp"
        default: String(rawValue)
        }
    }

    /// Parses a protocol keyword as exporters write it (case-insensitive: tcp, UDP, icmp, ipv6-icmp,
    /// icmp6, ICMP6...) or a decimal protocol number.
    @inlinable
    public init?(bytes: UnsafeBufferPointer<UInt8>) {
        guard let first = bytes.first else { return nil }
        if first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
            guard let n = ByteParsing.unsigned(bytes), n <= 255 else { return nil }
            self.init(rawValue: UInt8(n))
            return
        }
        if ByteParsing.equalsLowercase(bytes, "ipv6-icmp") {
            self = .icmpv6
            return
        }
        // Compare lower-cased against the keywords, packed into one integer (at most 8 bytes, the
        // first one highest): read as one word, lower-cased all at once, then byte-swapped.
        let n = bytes.count
        guard n <= 8, let base = bytes.baseAddress else { return nil }
        let word = ByteParsing.loadWord(base, at: 0, end: n)
        let key = (word | ByteParsing.upperCaseLetters(word) &>> 2).byteSwapped &>> (8 &* UInt64(8 &- n))
        switch key {
        case 0x74_63_70: self = .tcp  // tcp
        case 0x75_64_70: self = .udp  // udp
        case 0x69_63_6D_70: self = .icmp  // icmp
        case 0x69_63_6D_70_36: self = .icmpv6  // icmp6
        case 0x69_63_6D_70_76_36: self = .icmpv6  // icmpv6
        case 0x67_72_65: self = .gre  // gre
        case 0x65_73_70: self = .esp  // esp
        case 0x73_63_74_70: self = .sctp  // sctp
        case 0x69_67_6D_70: self = .igmp  // igmp
        case 0x69_70_76_36: self = Transport(rawValue: 41)  // ipv6
        case 0x61_68: self = Transport(rawValue: 51)  // ah
        case 0x6F_73_70_66: self = Transport(rawValue: 89)  // ospf
        case 0x6F_73_70_66_69_67_70: self = Transport(rawValue: 89)  // ospfigp
        case 0x70_69_6D: self = Transport(rawValue: 103)  // pim
        case 0x76_72_72_70: self = Transport(rawValue: 112)  // vrrp
        default: return nil
        }
    }

    public init?(_ text: String) {
        var text = text
        guard let t = text.withUTF8({ Transport(bytes: $0) }) else { return nil }
        self = t
    }
}

/// TCP header flags, with the bit values of the TCP header (FIN = 1 ... CWR = 128).
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// Letters in nfdump's order, without the dots: "CEUAPRSF" filtered to the flags present
    /// ("S" for a bare SYN, "AS" for SYN-ACK, "" for none).
    public var description: String {
        var text = ""
        for (flag, letter) in TCPFlags.letters where contains(flag) { text.append(letter) }
        return text
    }

    static let letters: [(TCPFlags, Character)] = [
        (.cwr, "C"), (.ece, "E"), (.urg, "U"), (.ack, "A"), (.psh, "P"), (.rst, "R"), (.syn, "S"), (.fin, "F"),
    ]

    /// Flags from letters as nfdump and Argus write them (`.AP.SF`, `S_RA` halves, `FSPA`): F S R P A U E C
    /// in any order, other characters ignored.
    @inlinable
    public init(letters bytes: UnsafeBufferPointer<UInt8>) {
        var raw: UInt8 = 0
        for b in bytes {
            switch b {
            case UInt8(ascii: "F"): raw |= 0x01
            case UInt8(ascii: "S"): raw |= 0x02
            case UInt8(ascii: "R"): raw |= 0x04
            case UInt8(ascii: "P"): raw |= 0x08
            case UInt8(ascii: "A"): raw |= 0x10
            case UInt8(ascii: "U"): raw |= 0x20
            case UInt8(ascii: "E"): raw |= 0x40
            case UInt8(ascii: "C"): raw |= 0x80
            default: break
            }
        }
        self.init(rawValue: raw)
    }

    public init(letters text: String) {
        var text = text
        self = text.withUTF8 { TCPFlags(letters: $0) }
    }
}

/// What became of a flow, normalised across exporters.
public enum Outcome: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// The responder answered: handshake completed (or a half-open SYN-ACK), UDP/ICMP reply seen.
    case established
    /// The responder refused: TCP RST instead of SYN-ACK, ICMP unreachable, a firewall REJECT.
    case rejected
    /// An attempt with no reply at all: SYN with nothing back, UDP with no response.
    case unanswered
    /// Midstream or half-seen traffic: no handshake observed (Zeek OTH, Argus flows without SYN).
    case partial
    /// Anything else, or the exporter said too little to tell.
    case other

    public var description: String {
        switch self {
        case .established: "established"
        case .rejected: "rejected"
        case .unanswered: "unanswered"
        case .partial: "partial"
        case .other: "other"
        }
    }

    public init?(_ text: String) {
        guard let match = Outcome.allCases.first(where: { $0.description == text }) else { return nil }
        self = match
    }

    /// A failed attempt from the point of view of scan detection: rejected or unanswered.
    @inlinable public var isFailure: Bool { self == .rejected || self == .unanswered }
}
