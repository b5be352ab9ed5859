/// How each exporter's state vocabulary maps onto `Outcome`. The raw state is always kept in
/// `FlowRecord.state`; these rules only decide the normalised value.
enum OutcomeRules {
    /// Zeek `conn_state` plus `history` (upper case = originator, lower case = responder).
    ///
    /// - S0, RSTOS0, SH: the originator's SYN got nothing back → unanswered.
    /// - REJ: SYN answered by RST → rejected. RSTR without a SYN-ACK (`h`) in the history is the same.
    /// - S1, SF, S2, S3, RSTO, and RSTR after a SYN-ACK → established.
    /// - RSTRH, SHR: only the responder's half was seen (backscatter) → other.
    /// - OTH (no SYN): a bare probe reset by the responder (FIN/NULL/XMAS scans of a closed port)
    ///   → rejected; a bare probe with no reply and no payload → unanswered; else midstream → partial.
    /// - UDP and others: a reply packet → established, REJ → rejected, none → unanswered.
    /// - ICMP (Zeek puts the type in `id.orig_p`): echo answered or not; an unreachable is itself a
    ///   refusal (rejected); other messages → other.
    static func zeek(
        state: UnsafeBufferPointer<UInt8>, history: UnsafeBufferPointer<UInt8>, transport: Transport,
        sourcePort: UInt16, sourceBytes: UInt64, destinationPackets: UInt64
    ) -> Outcome {
        if transport == .icmp || transport == .icmpv6 {
            let isEcho = (transport == .icmp && sourcePort == 8) || (transport == .icmpv6 && sourcePort == 128)
            guard isEcho else { return icmp(type: sourcePort, transport: transport) }
            return destinationPackets > 0 ? .established : .unanswered
        }
        if ByteParsing.equals(state, "REJ") { return .rejected }
        guard transport == .tcp else {
            return destinationPackets > 0 || ByteParsing.equals(state, "SF") ? .established : .unanswered
        }
        var responderSynAck = false, responderReset = false, responderOther = false, originatorSyn = false
        for b in history {
            switch b {
            case UInt8(ascii: "h"): responderSynAck = true
            case UInt8(ascii: "r"): responderReset = true
            case UInt8(ascii: "S"): originatorSyn = true
            case UInt8(ascii: "a"), UInt8(ascii: "d"), UInt8(ascii: "f"): responderOther = true
            default: break
            }
        }
        switch state.count {
        case 2:
            if ByteParsing.equals(state, "S0") || ByteParsing.equals(state, "SH") { return .unanswered }
            if ByteParsing.equals(state, "SF") || ByteParsing.equals(state, "S1")
                || ByteParsing.equals(state, "S2") || ByteParsing.equals(state, "S3")
            {
                return .established
            }
        case 3:
            if ByteParsing.equals(state, "OTH") {
                if !originatorSyn && !responderSynAck {
                    if responderReset && !responderOther { return .rejected }
                    if destinationPackets == 0, sourceBytes == 0, !responderReset, !responderOther { return .unanswered }
                }
                return .partial
            }
            if ByteParsing.equals(state, "SHR") { return .other }
        case 4:
            if ByteParsing.equals(state, "RSTO") { return .established }
            if ByteParsing.equals(state, "RSTR") { return responderSynAck ? .established : .rejected }
        case 5:
            if ByteParsing.equals(state, "RSTRH") { return .other }
        case 6:
            if ByteParsing.equals(state, "RSTOS0") { return .unanswered }
        default:
            break
        }
        return .other
    }

    /// TCP flags seen in a Zeek history string.
    static func zeekFlags(history: UnsafeBufferPointer<UInt8>) -> TCPFlags {
        var flags: TCPFlags = []
        for b in history {
            switch b | 0x20 {
            case UInt8(ascii: "s"): flags.insert(.syn)
            case UInt8(ascii: "h"): flags.formUnion([.syn, .ack])
            case UInt8(ascii: "a"): flags.insert(.ack)
            case UInt8(ascii: "f"): flags.insert(.fin)
            case UInt8(ascii: "r"): flags.insert(.rst)
            case UInt8(ascii: "d"): flags.insert(.psh)
            default: break
            }
        }
        return flags
    }

    /// One direction of a TCP conversation, as NetFlow/IPFIX (nfdump) and VPC Flow Logs record it.
    /// The outcome describes this record alone: the reply, if any, is a separate record.
    ///
    /// - SYN without ACK or RST → unanswered (no reply in this record);
    /// - SYN with ACK (a SYN-ACK, or a handshake that went on) or SYN then RST (a scanner closing a
    ///   half-open connection it got a SYN-ACK for) → established;
    /// - RST without SYN → rejected (this record is a refusal sent by its source);
    /// - FIN/PSH/URG probes without SYN or ACK → unanswered (stealth probes);
    /// - ACK without SYN → partial (midstream); no flags → other.
    static func unidirectionalTCP(_ flags: TCPFlags) -> Outcome {
        if flags.contains(.syn) {
            if flags.contains(.ack) || flags.contains(.rst) { return .established }
            return .unanswered
        }
        if flags.contains(.rst) { return .rejected }
        if flags.contains(.ack) { return .partial }
        if !flags.isDisjoint(with: [.fin, .psh, .urg]) { return .unanswered }
        return .other
    }

    /// ICMP messages as one-direction records: an unreachable is a refusal sent by its source,
    /// an echo reply is an answer; everything else says nothing about an attempt.
    static func icmp(type: UInt16, transport: Transport) -> Outcome {
        if transport == .icmp {
            if type == 3 { return .rejected }
            if type == 0 { return .established }
        } else {
            if type == 1 { return .rejected }
            if type == 129 { return .established }
        }
        return .other
    }

    /// A TCP conversation judged from the flags each side sent, as Argus writes them (`SRC_DST`)
    /// and as `DirectionPairer` rebuilds them from two one-direction records.
    ///
    /// - nothing from the destination: unanswered, or partial if the source acknowledged something
    ///   (it saw replies the capture missed);
    /// - a SYN from the destination (SYN-ACK: the handshake was answered, even if the source then
    ///   reset it, as SYN scanners do) → established;
    /// - a RST from the destination without SYN → rejected (closed port, or a stealth probe reset);
    /// - other replies: established after a SYN from the source, else partial (midstream).
    static func tcpConversation(source src: TCPFlags, destination dst: TCPFlags) -> Outcome {
        if dst.isEmpty { return src.contains(.ack) ? .partial : .unanswered }
        if dst.contains(.syn) { return .established }
        if dst.contains(.rst) { return .rejected }
        return src.contains(.syn) ? .established : .partial
    }

    /// Argus `State`: a flag pair `SRC_DST` (CTU-13 binetflow, `ra -z`/`-Z`) or a state name
    /// (REQ, ACC, EST, CON, CLO, FIN, RST, TIM, INT, ECO, ECR, UR*).
    static func argus(state: UnsafeBufferPointer<UInt8>, transport: Transport, destinationPackets: UInt64?)
        -> (Outcome, TCPFlags)
    {
        if let underscore = state.firstIndex(of: UInt8(ascii: "_")) {
            let src = TCPFlags(letters: UnsafeBufferPointer(rebasing: state[..<underscore]))
            let dst = TCPFlags(letters: UnsafeBufferPointer(rebasing: state[(underscore + 1)...]))
            let flags = src.union(dst)
            guard transport == .tcp else { return (dst.isEmpty ? .unanswered : .established, flags) }
            return (tcpConversation(source: src, destination: dst), flags)
        }
        let replied = (destinationPackets ?? 0) > 0
        var key: UInt32 = 0
        for b in state.prefix(4) { key = key << 8 | UInt32(b | 0x20) }
        switch key {
        case 0x72_65_71:  // req: a request with no reply
            return (.unanswered, [])
        case 0x61_63_63, 0x65_73_74, 0x63_6F_6E, 0x63_6C_6F, 0x66_69_6E:  // acc est con clo fin
            return (.established, [])
        case 0x72_73_74:  // rst
            return ((destinationPackets ?? 0) > 1 ? .established : .rejected, [.rst])
        case 0x74_69_6D, 0x69_6E_74:  // tim int
            return (replied ? .established : .unanswered, [])
        case 0x65_63_6F:  // eco: echo request without reply
            return (replied ? .established : .unanswered, [])
        case 0x65_63_72:  // ecr: echo reply seen
            return (.established, [])
        default:
            if state.count >= 2, state[0] | 0x20 == UInt8(ascii: "u"), state[1] | 0x20 == UInt8(ascii: "r") {
                return (.rejected, [])  // URP, URH, URN, URF, URO, URS...: ICMP unreachable came back
            }
            return (.other, [])
        }
    }
}

extension FlowRecord {
    /// Whether this is an ICMP error message (IPv4 types 3, 4, 5, 11, 12; ICMPv6 types 1-4): the answer
    /// to someone else's packet. Exporters put the ICMP type and code in the ports: Argus and nfdump as
    /// `type << 8 | code` (in the source or the destination port), Zeek the type in the source port.
    public var isICMPError: Bool {
        guard transport == .icmp || transport == .icmpv6 else { return false }
        let value = Int(sourcePort != 0 ? sourcePort : destinationPort)
        let type = value > 255 ? value >> 8 : value
        return transport == .icmp ? [3, 4, 5, 11, 12].contains(type) : (1...4).contains(type)
    }
}
