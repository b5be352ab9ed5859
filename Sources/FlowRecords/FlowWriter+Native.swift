import Support

/// Writers for the exporters' own formats, so that normalised (or synthetic) records can be fed to
/// any tool that reads Zeek, nfdump, Argus or VPC Flow Logs, and read back by Flowhound.
///
/// A `FlowRecord` keeps the union of TCP flags, not each side's; where a format needs more (Zeek's
/// `history`, Argus's `SRC_DST` flags, one record per direction in nfdump and VPC logs), it is derived
/// from the outcome as the real exporter would have seen it, so that reading the output back gives the
/// same outcome. UDP refused by the target is written as real exporters write it: the UDP flow without
/// a reply, plus an ICMP port-unreachable record from the target (VPC: `REJECT`).
extension FlowWriter {
    /// Each side's TCP flags, derived from the union and the outcome.
    static func directionalFlags(_ r: FlowRecord) -> (originator: TCPFlags, responder: TCPFlags) {
        guard r.transport == .tcp else { return ([], []) }
        let u = r.tcpFlags
        switch r.outcome {
        case .established:
            if isHalfOpen(u) {
                return (u.intersection([.syn, .rst]), [.syn, .ack])  // SYN, SYN-ACK, then the prober's RST
            }
            return (u.subtracting([.rst]).union(u.contains(.syn) ? [.ack] : []), u.intersection([.syn, .ack, .psh, .fin]).union([.ack]))
        case .rejected:
            var probe = u.subtracting([.rst, .ack])
            if probe.isEmpty && u.contains(.ack) && !u.contains(.rst) { probe = [.ack] }
            return (probe, [.rst, .ack])
        case .unanswered:
            return (u, [])
        case .partial, .other:
            return (u, r.destinationPackets > 0 ? u.intersection([.ack, .psh, .fin]) : [])
        }
    }

    /// A probe answered with SYN-ACK and closed with RST before any data: SYN and RST (or SYN
    /// without ACK, as a one-direction record shows it), no PSH or FIN.
    static func isHalfOpen(_ u: TCPFlags) -> Bool {
        u.contains(.syn) && u.isDisjoint(with: [.psh, .fin]) && (u.contains(.rst) || !u.contains(.ack))
    }

    /// Whether this record stands for a UDP (or other non-TCP) probe refused with ICMP unreachable.
    static func refusedByICMP(_ r: FlowRecord) -> Bool {
        r.outcome == .rejected && r.transport != .tcp && r.transport != .icmp && r.transport != .icmpv6
    }

    /// The ICMP port-unreachable record a refused non-TCP probe draws from its target.
    static func unreachable(for r: FlowRecord) -> FlowRecord {
        let v6 = !r.destination.isIPv4
        return FlowRecord(
            start: r.start + min(0.0005, r.duration), end: r.start + min(0.0005, r.duration),
            source: r.destination, destination: r.source,
            sourcePort: v6 ? 1 : 3, destinationPort: v6 ? 4 : 3, transport: v6 ? .icmpv6 : .icmp,
            sourcePackets: 1, sourceBytes: 28 + min(r.sourceBytes, 548), outcome: .rejected)
    }

    /// The records Zeek or Argus write for `r`: itself, or for a UDP probe refused with ICMP, the probe
    /// without a reply and the port-unreachable message from the target.
    static func asBidirectionalExporterSeesIt(_ r: FlowRecord) -> [FlowRecord] {
        guard refusedByICMP(r) else { return [r] }
        var probe = r
        probe.outcome = .unanswered
        return [probe, unreachable(for: r)]
    }

    /// The other direction of a record, for formats that log each direction on its own line.
    static func reply(to r: FlowRecord) -> FlowRecord {
        var reply = r
        reply.source = r.destination
        reply.destination = r.source
        reply.sourcePort = r.destinationPort
        reply.destinationPort = r.sourcePort
        return reply
    }

    static func appendString(_ s: String, to out: inout [UInt8]) { out.append(contentsOf: s.utf8) }

    /// `YYYY-MM-DD HH:MM:SS` (separator `-` or `/`), UTC, optionally with six decimals.
    static func appendDate(_ t: Double, separator: UInt8, micros: Bool, to out: inout [UInt8]) {
        let whole = t.rounded(.down)
        let c = CivilTime(unixSeconds: Int64(whole))
        appendDecimal(UInt64(c.year), minimumDigits: 4, to: &out); out.append(separator)
        appendDecimal(UInt64(c.month), minimumDigits: 2, to: &out); out.append(separator)
        appendDecimal(UInt64(c.day), minimumDigits: 2, to: &out); out.append(0x20)
        appendDecimal(UInt64(c.hour), minimumDigits: 2, to: &out); out.append(0x3A)
        appendDecimal(UInt64(c.minute), minimumDigits: 2, to: &out); out.append(0x3A)
        appendDecimal(UInt64(c.second), minimumDigits: 2, to: &out)
        if micros {
            out.append(0x2E)
            appendDecimal(UInt64(((t - whole) * 1e6).rounded()) % 1_000_000, minimumDigits: 6, to: &out)
        }
    }

    /// Seconds with exactly `decimals` (3) digits.
    static func appendFixed3(_ value: Double, to out: inout [UInt8]) {
        let millis = UInt64((max(0, value) * 1000).rounded())
        appendDecimal(millis / 1000, to: &out)
        out.append(0x2E)
        appendDecimal(millis % 1000, minimumDigits: 3, to: &out)
    }

    // MARK: Zeek

    static let zeekHeader = """
        #separator \\x09
        #set_separator\t,
        #empty_field\t(empty)
        #unset_field\t-
        #path\tconn
        #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tlabel\tdetailedlabel
        #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\tstring

        """

    /// Zeek's `conn_state` and `history` for a record.
    static func zeekState(_ r: FlowRecord) -> (state: String, history: String) {
        guard r.transport == .tcp else {
            switch r.outcome {
            case .established: return ("SF", "Dd")
            case .rejected, .unanswered: return ("S0", "D")
            case .partial, .other: return ("OTH", r.destinationPackets > 0 ? "Dd" : "D")
            }
        }
        let (originator, _) = directionalFlags(r)
        let syn = originator.contains(.syn)
        var probe = ""  // Zeek history letters for a probe without SYN
        if originator.contains(.fin) { probe += "F" }
        if originator.contains(.ack) { probe += "A" }
        switch r.outcome {
        case .established:
            if isHalfOpen(r.tcpFlags) { return ("RSTO", "ShR") }
            return r.tcpFlags.contains(.fin) ? ("SF", "ShADadFf") : ("S1", "ShADad")
        case .rejected:
            return syn ? ("REJ", "Sr") : ("OTH", probe + "r")
        case .unanswered:
            return syn ? ("S0", "S") : ("OTH", probe)
        case .partial:
            return ("OTH", r.destinationPackets > 0 ? "ADad" : "AD")
        case .other:
            return ("OTH", r.destinationPackets > 0 ? "Dd" : "D")
        }
    }

    /// A deterministic Zeek-style connection uid from the record's fields, for a record without its own.
    static func zeekUID(_ r: FlowRecord) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for v in [
            r.source.high, r.source.low, r.destination.high, r.destination.low, r.start.bitPattern,
            UInt64(r.sourcePort) << 16 | UInt64(r.destinationPort),
        ] {
            h = (h ^ v) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
        }
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var uid = "C"
        for _ in 0..<17 {
            uid.append(alphabet[Int(h % 62)])
            h = h / 62 ^ (h &* 0x9E37_79B9_7F4A_7C15) >> 7
        }
        return uid
    }

    static func appendZeek(_ r: FlowRecord, to out: inout [UInt8]) {
        for line in asBidirectionalExporterSeesIt(r) { appendZeekLine(line, to: &out) }
    }

    static func appendZeekLine(_ r: FlowRecord, to out: inout [UInt8]) {
        let (state, history) = zeekState(r)
        let header = r.transport == .udp ? 28 : 40
        // A refused or unanswered probe carries no payload, whatever its options added to the packet.
        let carried = r.outcome != .rejected && r.outcome != .unanswered
        let payloadOut = carried && r.sourceBytes > UInt64(header) * r.sourcePackets ? r.sourceBytes - UInt64(header) * r.sourcePackets : 0
        let payloadIn = r.destinationBytes > UInt64(header) * r.destinationPackets ? r.destinationBytes - UInt64(header) * r.destinationPackets : 0
        appendFixed6(r.start, to: &out); out.append(0x09)
        appendString(r.uid.isEmpty ? zeekUID(r) : r.uid.description, to: &out); out.append(0x09)
        appendString(r.source.description, to: &out); out.append(0x09)
        appendDecimal(UInt64(r.sourcePort), to: &out); out.append(0x09)
        appendString(r.destination.description, to: &out); out.append(0x09)
        appendDecimal(UInt64(r.destinationPort), to: &out); out.append(0x09)
        appendString(r.transport.description, to: &out); out.append(0x09)
        out.append(UInt8(ascii: "-")); out.append(0x09)
        appendFixed6(r.duration, to: &out); out.append(0x09)
        appendDecimal(payloadOut, to: &out); out.append(0x09)
        appendDecimal(payloadIn, to: &out); out.append(0x09)
        appendString(state, to: &out); out.append(0x09)
        appendString("-\t-\t0\t", to: &out)
        appendString(history.isEmpty ? "-" : history, to: &out); out.append(0x09)
        appendDecimal(r.sourcePackets, to: &out); out.append(0x09)
        appendDecimal(r.sourceBytes, to: &out); out.append(0x09)
        appendDecimal(r.destinationPackets, to: &out); out.append(0x09)
        appendDecimal(r.destinationBytes, to: &out); out.append(0x09)
        appendString("(empty)\t", to: &out)
        appendZeekText(r.label, to: &out); out.append(0x09)
        appendZeekText(r.detailedLabel, to: &out)
        out.append(0x0A)
    }

    static func appendZeekText(_ text: String?, to out: inout [UInt8]) {
        guard let text, !text.isEmpty else { out.append(UInt8(ascii: "-")); return }
        for b in text.utf8 { out.append(b == 0x09 || b == 0x0A || b == 0x0D ? 0x20 : b) }
    }

    // MARK: nfdump

    static let nfdumpHeader =
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr\n"

    /// nfdump's 8-character flag string, `CEUAPRSF` with dots for absent flags.
    static func appendNfdumpFlags(_ flags: TCPFlags, to out: inout [UInt8]) {
        for (flag, letter) in TCPFlags.letters {
            out.append(flags.contains(flag) ? letter.asciiValue! : UInt8(ascii: "."))
        }
    }

    static func appendNfdump(_ r: FlowRecord, to out: inout [UInt8]) {
        let (originator, responder) = directionalFlags(r)
        appendNfdumpLine(r, flags: originator, packets: r.sourcePackets, bytes: r.sourceBytes, to: &out)
        if refusedByICMP(r) {
            let icmp = unreachable(for: r)
            appendNfdumpLine(icmp, flags: [], packets: icmp.sourcePackets, bytes: icmp.sourceBytes, to: &out)
        } else if r.destinationPackets > 0 {
            appendNfdumpLine(reply(to: r), flags: responder, packets: r.destinationPackets, bytes: r.destinationBytes, to: &out)
        }
    }

    static func appendNfdumpLine(_ r: FlowRecord, flags: TCPFlags, packets: UInt64, bytes: UInt64, to out: inout [UInt8]) {
        appendDate(r.start, separator: UInt8(ascii: "-"), micros: false, to: &out); out.append(0x2C)
        appendDate(r.end, separator: UInt8(ascii: "-"), micros: false, to: &out); out.append(0x2C)
        appendFixed3(r.duration, to: &out); out.append(0x2C)
        appendString(r.source.description, to: &out); out.append(0x2C)
        appendString(r.destination.description, to: &out); out.append(0x2C)
        let icmp = r.transport == .icmp || r.transport == .icmpv6
        appendDecimal(icmp ? 0 : UInt64(r.sourcePort), to: &out); out.append(0x2C)
        appendDecimal(icmp ? UInt64(r.sourcePort) << 8 | UInt64(r.destinationPort & 0xFF) : UInt64(r.destinationPort), to: &out); out.append(0x2C)
        appendString(r.transport.description.uppercased(), to: &out); out.append(0x2C)
        appendNfdumpFlags(flags, to: &out); out.append(0x2C)
        appendString("0,0,", to: &out)
        appendDecimal(packets, to: &out); out.append(0x2C)
        appendDecimal(bytes, to: &out)
        appendString(
            ",0,0,0,0,0,0,0,0,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,    0.000,    0.000,    0.000,0.0.0.0,0/0,0,",
            to: &out)
        appendDate(r.end, separator: UInt8(ascii: "-"), micros: false, to: &out)
        appendString(".000\n", to: &out)
    }

    // MARK: Argus

    static let argusHeader = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label\n"

    /// Flags in Argus's order (`FSRPAUEC`), as in `S_RA`, `FSPA_FSPA`, `FPU_`.
    static func argusLetters(_ flags: TCPFlags) -> String {
        var s = ""
        for (flag, letter) in [(TCPFlags.fin, "F"), (.syn, "S"), (.rst, "R"), (.psh, "P"), (.ack, "A"), (.urg, "U"), (.ece, "E"), (.cwr, "C")]
        where flags.contains(flag) { s += letter }
        return s
    }

    static func argusState(_ r: FlowRecord) -> String {
        if r.transport == .tcp {
            let (originator, responder) = directionalFlags(r)
            return argusLetters(originator) + "_" + argusLetters(responder)
        }
        if r.transport == .icmp || r.transport == .icmpv6 {
            let unreachable = (r.transport == .icmp && r.sourcePort == 3) || (r.transport == .icmpv6 && r.sourcePort == 1)
            if unreachable { return "URP" }
            return r.destinationPackets > 0 ? "ECR" : "ECO"
        }
        return r.outcome == .established || r.destinationPackets > 0 ? "CON" : "INT"
    }

    static func appendArgus(_ r: FlowRecord, to out: inout [UInt8]) {
        for line in asBidirectionalExporterSeesIt(r) { appendArgusLine(line, to: &out) }
    }

    static func appendArgusLine(_ r: FlowRecord, to out: inout [UInt8]) {
        let icmp = r.transport == .icmp || r.transport == .icmpv6
        appendDate(r.start, separator: UInt8(ascii: "/"), micros: true, to: &out); out.append(0x2C)
        appendFixed6(r.duration, to: &out); out.append(0x2C)
        appendString(r.transport.description, to: &out); out.append(0x2C)
        appendString(r.source.description, to: &out); out.append(0x2C)
        if icmp {
            appendString("0x" + String(r.sourcePort, radix: 16).leftPadded(4, with: "0"), to: &out)
        } else {
            appendDecimal(UInt64(r.sourcePort), to: &out)
        }
        appendString(r.destinationPackets > 0 ? ",  <->," : ",   ->,", to: &out)
        appendString(r.destination.description, to: &out); out.append(0x2C)
        if icmp {
            appendString("0x" + String(r.destinationPort, radix: 16).leftPadded(4, with: "0"), to: &out)
        } else {
            appendDecimal(UInt64(r.destinationPort), to: &out)
        }
        out.append(0x2C)
        appendString(argusState(r), to: &out)
        appendString(",0,0,", to: &out)
        appendDecimal(r.sourcePackets + r.destinationPackets, to: &out); out.append(0x2C)
        appendDecimal(r.sourceBytes + r.destinationBytes, to: &out); out.append(0x2C)
        appendDecimal(r.sourceBytes, to: &out); out.append(0x2C)
        appendDecimal(r.sourcePackets, to: &out); out.append(0x2C)
        if let label = r.label {
            for b in label.utf8 where b != 0x2C && b != 0x0A && b != 0x0D { out.append(b) }
        }
        out.append(0x0A)
    }

    // MARK: VPC Flow Logs

    static func appendVPC(_ r: FlowRecord, to out: inout [UInt8]) {
        appendVPCLine(r, packets: r.sourcePackets, bytes: r.sourceBytes, action: r.outcome == .rejected ? "REJECT" : "ACCEPT", to: &out)
        if r.destinationPackets > 0 && r.outcome != .rejected {
            appendVPCLine(reply(to: r), packets: r.destinationPackets, bytes: r.destinationBytes, action: "ACCEPT", to: &out)
        }
    }

    static func appendVPCLine(_ r: FlowRecord, packets: UInt64, bytes: UInt64, action: String, to out: inout [UInt8]) {
        appendString("2 123456789010 eni-0f1e2d3c4b5a69788 ", to: &out)
        appendString(r.source.description, to: &out); out.append(0x20)
        appendString(r.destination.description, to: &out); out.append(0x20)
        appendDecimal(UInt64(r.sourcePort), to: &out); out.append(0x20)
        appendDecimal(UInt64(r.destinationPort), to: &out); out.append(0x20)
        appendDecimal(UInt64(r.transport.rawValue), to: &out); out.append(0x20)
        appendDecimal(max(1, packets), to: &out); out.append(0x20)
        appendDecimal(bytes, to: &out); out.append(0x20)
        appendDecimal(UInt64(max(0, r.start.rounded(.down))), to: &out); out.append(0x20)
        appendDecimal(UInt64(max(0, r.end.rounded(.up))), to: &out); out.append(0x20)
        appendString(action, to: &out)
        appendString(" OK\n", to: &out)
    }
}

extension String {
    /// Padded on the left to `width` characters (spaces for tables, zeros for hex fields).
    public func leftPadded(_ width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
