import FlowRecords
import Foundation
import Support
import Synthesis

/// Writes syntactically faithful logs of each format with plausible values: a mix of web, DNS and
/// scan-like traffic over a few hundred hosts, as each exporter would print it.
struct LogGenerator {
    let format: FlowFormat
    var rng: SplitMix64

    init(format: FlowFormat, seed: UInt64) {
        self.format = format
        rng = SplitMix64(seed: seed)
    }

    struct Flow {
        var ts: Double, duration: Double
        var src: String, sport: Int, dst: String, dport: Int
        var tcp: Bool
        var outPkts: Int, outBytes: Int, inPkts: Int, inBytes: Int
        var kind: Int  // 0 established, 1 rejected, 2 unanswered
    }

    mutating func flow(_ i: Int, _ t: inout Double) -> Flow {
        t += Double(rng.next() % 1000) / 100_000
        let kind = Int(rng.next() % 3)
        let tcp = rng.next() % 5 != 0
        let src = "10.\(rng.next() % 4).\(rng.next() % 256).\(1 + rng.next() % 254)"
        let dst = "192.168.\(rng.next() % 16).\(1 + rng.next() % 254)"
        let ports = [22, 23, 53, 80, 123, 443, 445, 3389, 8080]
        let dport = rng.next() % 4 == 0 ? Int(1 + rng.next() % 65535) : ports[Int(rng.next() % UInt64(ports.count))]
        let outPkts = kind == 0 ? Int(2 + rng.next() % 40) : 1
        let inPkts = kind == 0 ? Int(2 + rng.next() % 60) : (kind == 1 ? 1 : 0)
        return Flow(
            ts: t, duration: kind == 0 ? Double(rng.next() % 5_000_000) / 1e6 : Double(rng.next() % 1000) / 1e6,
            src: src, sport: Int(1024 + rng.next() % 64000), dst: dst, dport: dport, tcp: tcp,
            outPkts: outPkts, outBytes: outPkts * Int(40 + rng.next() % 1400),
            inPkts: inPkts, inBytes: inPkts * Int(40 + rng.next() % 1400), kind: kind)
    }

    static func date(_ t: Double, separator: String = "-", fraction: Int) -> String {
        let seconds = Int(t)
        let c = CivilTime(unixSeconds: Int64(seconds))
        var text = String(format: "%04d\(separator)%02d\(separator)%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute, c.second)
        if fraction > 0 {
            let scale = fraction == 3 ? 1000.0 : 1_000_000.0
            text += String(format: fraction == 3 ? ".%03d" : ".%06d", Int((t - Double(seconds)) * scale))
        }
        return text
    }

    func header() -> String {
        switch format {
        case .zeek:
            return """
                #separator \\x09
                #set_separator\t,
                #empty_field\t(empty)
                #unset_field\t-
                #path\tconn
                #open\t2024-01-01-00-00-00
                #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents
                #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]

                """
        case .nfdump:
            return
                "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr\n"
        case .argus:
            return "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label\n"
        case .cicflowmeter:
            return CICColumns.header + "\n"
        case .csv:
            return FlowhoundColumns.header + "\n"
        default:
            return ""
        }
    }

    mutating func line(_ f: Flow, _ i: Int) -> String {
        let proto = f.tcp ? "tcp" : "udp"
        switch format {
        case .zeek, .zeekJSON:
            let state = f.tcp ? ["SF", "REJ", "S0"][f.kind] : (f.kind == 0 ? "SF" : "S0")
            let history = f.tcp ? ["ShADadFf", "Sr", "S"][f.kind] : (f.kind == 0 ? "Dd" : "D")
            let payloadOut = f.kind == 0 ? max(0, f.outBytes - 40 * f.outPkts) : 0
            let payloadIn = f.kind == 0 ? max(0, f.inBytes - 40 * f.inPkts) : 0
            if format == .zeekJSON {
                return "{\"ts\":\(String(format: "%.6f", f.ts)),\"uid\":\"C\(i)abcdefgh\",\"id.orig_h\":\"\(f.src)\",\"id.orig_p\":\(f.sport),"
                    + "\"id.resp_h\":\"\(f.dst)\",\"id.resp_p\":\(f.dport),\"proto\":\"\(proto)\",\"duration\":\(String(format: "%.6f", f.duration)),"
                    + "\"orig_bytes\":\(payloadOut),\"resp_bytes\":\(payloadIn),\"conn_state\":\"\(state)\",\"local_orig\":true,\"local_resp\":false,"
                    + "\"missed_bytes\":0,\"history\":\"\(history)\",\"orig_pkts\":\(f.outPkts),\"orig_ip_bytes\":\(f.outBytes),"
                    + "\"resp_pkts\":\(f.inPkts),\"resp_ip_bytes\":\(f.inBytes)}\n"
            }
            return "\(String(format: "%.6f", f.ts))\tC\(i)abcdefgh\t\(f.src)\t\(f.sport)\t\(f.dst)\t\(f.dport)\t\(proto)\t-\t"
                + "\(String(format: "%.6f", f.duration))\t\(payloadOut)\t\(payloadIn)\t\(state)\tT\tF\t0\t\(history)\t"
                + "\(f.outPkts)\t\(f.outBytes)\t\(f.inPkts)\t\(f.inBytes)\t(empty)\n"
        case .nfdump:
            let flags = f.tcp ? ["...AP.SF", ".....RS.", "......S."][f.kind] : "........"
            return "\(Self.date(f.ts, fraction: 0)),\(Self.date(f.ts + f.duration, fraction: 0)),\(String(format: "%.3f", f.duration)),"
                + "\(f.src),\(f.dst),\(f.sport),\(f.dport),\(f.tcp ? "TCP" : "UDP"),\(flags),0,0,\(f.outPkts),\(f.outBytes),0,0,0,0,0,0,0,0,0,0,"
                + "0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,"
                + "0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,    0.000,    0.000,    0.000,0.0.0.0,0/0,0,1970-01-01 00:00:00.000\n"
        case .argus:
            let state = f.tcp ? ["SPA_SPA", "S_RA", "S_"][f.kind] : ["CON", "URP", "INT"][f.kind]
            return "\(Self.date(f.ts, separator: "/", fraction: 6)),\(String(format: "%.6f", f.duration)),\(proto),\(f.src),\(f.sport),   ->,"
                + "\(f.dst),\(f.dport),\(state),0,0,\(f.outPkts + f.inPkts),\(f.outBytes + f.inBytes),\(f.outBytes),\(f.outPkts),\n"
        case .vpc:
            let action = f.kind == 1 ? "REJECT" : "ACCEPT"
            return "2 123456789010 eni-1235b8ca123456789 \(f.src) \(f.dst) \(f.sport) \(f.dport) \(f.tcp ? 6 : 17) \(f.outPkts) \(f.outBytes) "
                + "\(Int(f.ts)) \(Int(f.ts + f.duration) + 60) \(action) OK\n"
        case .cicflowmeter:
            return CICColumns.row(f, i)
        case .jsonl, .csv:
            let record = FlowRecord(
                start: f.ts, end: f.ts + f.duration, source: IPAddress(f.src)!, destination: IPAddress(f.dst)!,
                sourcePort: UInt16(f.sport), destinationPort: UInt16(f.dport), transport: f.tcp ? .tcp : .udp,
                sourcePackets: UInt64(f.outPkts), sourceBytes: UInt64(f.outBytes),
                destinationPackets: UInt64(f.inPkts), destinationBytes: UInt64(f.inBytes),
                outcome: [.established, .rejected, .unanswered][f.kind], state: f.tcp ? ["SF", "REJ", "S0"][f.kind] : "")
            var bytes: [UInt8] = []
            FlowWriter.encode(record, as: format == .csv ? .csv : .jsonl, into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    mutating func write(records count: Int, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw FlowReadError(file: path, reason: "cannot create")
        }
        defer { try? handle.close() }
        var buffer = header()
        var t = 1_700_000_000.0
        for i in 0..<count {
            let f = flow(i, &t)
            buffer += line(f, i)
            if buffer.utf8.count > 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer = ""
            }
        }
        handle.write(Data(buffer.utf8))
    }
}

/// The 91 columns of the re-extracted CIC-IDS2017 CSV.
enum CICColumns {
    static let header =
        "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Fwd Packet Length Max,Fwd Packet Length Min,Fwd Packet Length Mean,Fwd Packet Length Std,Bwd Packet Length Max,Bwd Packet Length Min,Bwd Packet Length Mean,Bwd Packet Length Std,Flow Bytes/s,Flow Packets/s,Flow IAT Mean,Flow IAT Std,Flow IAT Max,Flow IAT Min,Fwd IAT Total,Fwd IAT Mean,Fwd IAT Std,Fwd IAT Max,Fwd IAT Min,Bwd IAT Total,Bwd IAT Mean,Bwd IAT Std,Bwd IAT Max,Bwd IAT Min,Fwd PSH Flags,Bwd PSH Flags,Fwd URG Flags,Bwd URG Flags,Fwd RST Flags,Bwd RST Flags,Fwd Header Length,Bwd Header Length,Fwd Packets/s,Bwd Packets/s,Packet Length Min,Packet Length Max,Packet Length Mean,Packet Length Std,Packet Length Variance,FIN Flag Count,SYN Flag Count,RST Flag Count,PSH Flag Count,ACK Flag Count,URG Flag Count,CWR Flag Count,ECE Flag Count,Down/Up Ratio,Average Packet Size,Fwd Segment Size Avg,Bwd Segment Size Avg,Fwd Bytes/Bulk Avg,Fwd Packet/Bulk Avg,Fwd Bulk Rate Avg,Bwd Bytes/Bulk Avg,Bwd Packet/Bulk Avg,Bwd Bulk Rate Avg,Subflow Fwd Packets,Subflow Fwd Bytes,Subflow Bwd Packets,Subflow Bwd Bytes,FWD Init Win Bytes,Bwd Init Win Bytes,Fwd Act Data Pkts,Fwd Seg Size Min,Active Mean,Active Std,Active Max,Active Min,Idle Mean,Idle Std,Idle Max,Idle Min,ICMP Code,ICMP Type,Total TCP Flow Time,Label,Attempted Category"

    static func row(_ f: LogGenerator.Flow, _ i: Int) -> String {
        let proto = f.tcp ? 6 : 17
        let micros = Int(f.duration * 1e6)
        let syn = f.tcp ? (f.kind == 0 ? 2 : 1) : 0
        let rst = f.tcp && f.kind == 1 ? 1 : 0
        let rate = micros > 0 ? Double(f.outBytes + f.inBytes) / (Double(micros) / 1e6) : 0
        var fields: [String] = [
            "\(i)", "\(f.src)-\(f.dst)-\(f.sport)-\(f.dport)-\(proto)", f.src, "\(f.sport)", f.dst, "\(f.dport)", "\(proto)",
            LogGenerator.date(f.ts, fraction: 6), "\(micros)", "\(f.outPkts)", "\(f.inPkts)", "\(f.outBytes)", "\(f.inBytes)",
        ]
        // Length, rate and inter-arrival statistics: plausible numbers, not read by Flowhound.
        for k in 0..<39 { fields.append(k % 3 == 0 ? String(format: "%.6f", rate / Double(k + 1)) : "\(k * 7 % 97)") }
        fields += ["0", "\(syn)", "\(rst)", "0", f.kind == 0 ? "1" : "0", "0", "0", "0"]
        for k in 0..<29 { fields.append(k % 4 == 0 ? String(format: "%.3f", Double(f.outBytes) / Double(k + 1)) : "0") }
        fields += [f.kind == 0 ? "BENIGN" : "Portscan", "-1"]
        return fields.joined(separator: ",") + "\n"
    }
}
