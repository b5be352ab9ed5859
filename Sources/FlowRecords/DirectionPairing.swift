/// Rebuilds bidirectional flows from exporters that write one record per direction.
///
/// Zeek, Argus and CICFlowMeter write one record per connection, with the replies counted in
/// `destinationPackets` and an `Outcome` that says whether the attempt was answered. NetFlow/IPFIX
/// (nfdump, from nfpcapd, softflowd, routers) and AWS VPC Flow Logs write one record per
/// *direction*: a SYN probe A:40000→B:80 is one record and B's RST-ACK B:80→A:40000 another, and
/// each record's outcome describes that record alone. A port-scan detector needs to know whether
/// each attempt was answered, so this type pairs the two halves back into one record:
///
/// - **TCP, UDP and other transports**: the reverse of a record is the record with swapped
///   addresses and ports and the same transport, starting within `horizon` seconds of it.
/// - **ICMP echo** (and timestamp, address mask) requests pair with their replies (type 8 with 0,
///   13 with 14, 17 with 18; ICMPv6 128 with 129) between the same two addresses.
/// - **ICMP destination unreachable** (ICMPv4 type 3, ICMPv6 type 1) answers a probe (UDP, any
///   other non-ICMP transport, or a TCP request) from the ICMP's destination to its source. The ICMP
///   record does not say which probe it answers (NetFlow keeps type and code, not the quoted
///   ports), so it is held as *credit*: one answer per packet of the ICMP record (softflowd
///   aggregates all of a host's port-unreachables into one record, nfpcapd writes one per packet).
///   A probe claims a credit only when its own horizon has passed without a reply of its own
///   transport, from the ICMP record starting closest to it (within `horizon`). Claiming at the
///   probe's expiry rather than at the ICMP's arrival keeps an open port's probe, answered a moment
///   later by a real reply, from being taken by the unreachable of another (or a retried) probe.
///   ICMP unreachable records therefore wait up to twice the horizon.
///
/// A pair becomes one record whose `source` is the initiator: the record that looks like a request
/// (TCP without ACK and with SYN or without RST: S, SYN-scanner RS, FIN/NULL/XMAS; an ICMP request
/// type; the probe of an unreachable), else the one that started first, else the one with the higher
/// source port (the client's ephemeral port), else the one that arrived first. The request test
/// comes before the start time because whole-second exporter timestamps can put a reply a second
/// before its request. The merged record has the initiator's source counters, ports, labels and
/// transport; the reverse record's packets and bytes as `destinationPackets`/`destinationBytes`; the
/// union of both sides' TCP flags; the earlier start and later end; an outcome with the meaning of
/// Flowhound's bidirectional formats (see `OutcomeRules.tcpConversation`: SYN-ACK → established,
/// RST without SYN-ACK → rejected; any same-transport reply to UDP or ICMP → established; an ICMP
/// unreachable → rejected; a firewall `REJECT` on either VPC record → rejected); and a `state` that
/// shows the pairing: `paired:S/RA` (initiator's / responder's TCP flags, `-` for none),
/// `paired:reply` (non-TCP reply), `paired:icmp-3.3` or `paired:icmpv6-1.4` (the unreachable's type
/// and code).
///
/// **Horizon.** Input must come roughly in time order (by `start`; exporters reorder by a few
/// seconds: sort files that are not, e.g. `nfdump -O tstart`). A record waits until the largest
/// `start` seen so far is more than `horizon` seconds past its own start, then it is emitted
/// *unpaired*: alone, with the reader's state and its outcome adjusted as a one-sided attempt.
/// A TCP request (SYN, FIN, PSH or URG without ACK or RST), an ICMP request, a UDP or
/// other-transport record, and a flagless TCP record without payload (NULL probe, or VPC without
/// `tcp-flags`) with no reply become `unanswered`. Records that are themselves replies keep the
/// reader's outcome, so that no attempt is invented from them: TCP with ACK or RST (SA, RA, R,
/// A...; also a SYN scanner's RS, which the reader already judged), and flagless records from a
/// port below 1024 to one at or above it (a service answering a request that was not seen). So do
/// records the reader already called `rejected` (VPC `REJECT`). Expiry follows arrival order, so
/// with reordered input a record can wait a little longer, until those that arrived before it
/// expire.
///
/// Records that are already bidirectional (`destinationPackets > 0`) and ICMP messages with no
/// partner type (time exceeded, redirect...) are passed through unchanged at once. Output is not
/// in time order: pairs are emitted when their second half arrives, unpaired records at expiry.
/// Packets and bytes are conserved: every input packet appears in exactly one output record (an
/// ICMP record's unclaimed credit is emitted alone with the remaining counters).
///
/// **Memory** is bounded: at most `maximumPending` records wait. Beyond that the oldest is emitted
/// unpaired at once (as if its horizon had passed, but without claiming ICMP credit) and counted in
/// `evicted`.
///
/// ```swift
/// var pairer = DirectionPairer()
/// try FlowReader().read(path: "flows.nfdump.csv") { record in
///     pairer.add(record) { detector.add($0) }
/// }
/// pairer.finish { detector.add($0) }
/// ```
///
/// - Complexity: `add` is amortised O(1) per record: a hash lookup of the reverse key and an insert
///   or removal, plus the records it expires (each expires once); a chain of pending records with
///   the same key is scanned, which is one or two records in practice. No strings are built per
///   record (the `paired:` states are cached). Memory is O(`maximumPending`).
public struct DirectionPairer: Sendable {
    /// Seconds of input time a record waits for its reverse.
    public let horizon: Double
    /// Seconds a record waits for its reverse unless told otherwise. nfdump writes records up to half
    /// a minute out of order, so a minute pairs them all; longer holds more records in memory.
    public static let defaultHorizon: Double = 60
    /// Most records waiting at once.
    public let maximumPending: Int
    /// Merged records emitted (each from two input records, or a probe and one ICMP credit).
    public private(set) var paired = 0
    /// Records emitted alone: expired, evicted or flushed by `finish` without a reverse (including
    /// the leftover of a partly claimed ICMP unreachable).
    public private(set) var unpaired = 0
    /// Unpaired records emitted early because `maximumPending` were waiting (also in `unpaired`).
    public private(set) var evicted = 0
    /// Records emitted unchanged at once: already bidirectional, or ICMP with nothing to pair with.
    public private(set) var passedThrough = 0

    /// Records waiting now.
    public var pending: Int { slots.count - freeSlots.count }

    // MARK: Storage

    /// What a pending record waits under. `kind` 0: a one-direction flow (looked up by its reverse);
    /// 1: an ICMP unreachable's credit, under (ICMP source, ICMP destination) with ports 0.
    struct Key: Hashable {
        var a: IPAddress
        var b: IPAddress
        var aPort: UInt16
        var bPort: UInt16
        var transport: UInt8
        var kind: UInt8

        @inline(__always) static func == (x: Key, y: Key) -> Bool {
            x.a == y.a && x.b == y.b && x.aPort == y.aPort && x.bPort == y.bPort
                && x.transport == y.transport && x.kind == y.kind
        }

        /// Every bit goes into the seeded hasher, so that addresses and ports an attacker chooses
        /// (a scanner controls its source address and ports) cannot be made to collide. Two IPv4
        /// addresses are packed into one word: 16 bytes instead of 40 (a different length, so the
        /// two forms never feed the hasher the same stream).
        @inline(__always) func hash(into hasher: inout Hasher) {
            let ports = UInt64(aPort) | UInt64(bPort) << 16 | UInt64(transport) << 32 | UInt64(kind) << 40
            if a.isIPv4 && b.isIPv4 {
                hasher.combine(a.low << 32 | (b.low & 0xFFFF_FFFF))
            } else {
                hasher.combine(a.high)
                hasher.combine(a.low)
                hasher.combine(b.high)
                hasher.combine(b.low)
            }
            hasher.combine(ports)
        }
    }

    struct Slot {
        var record: FlowRecord
        var key: Key
        /// Next older pending slot with the same key, or -1.
        var older: Int32
        /// Bumped when the slot is freed, so queue entries that name a freed slot are recognised.
        var generation: UInt32
        /// ICMP unreachable: packets and bytes not yet handed to a probe.
        var creditPackets: UInt64
        var creditBytes: UInt64
    }

    struct QueueEntry {
        var slot: Int32
        var generation: UInt32
    }

    /// Arrival-ordered slots; entries whose slot was freed (paired) are skipped when reached.
    struct ArrivalQueue {
        var entries: [QueueEntry] = []
        var head = 0
        /// Live entries (slots still pending).
        var live = 0

        var isEmpty: Bool { head == entries.count }

        mutating func dropFront() {
            head += 1
            if head == entries.count {
                entries.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096 && head * 2 >= entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    var slots: [Slot] = []
    var freeSlots: [Int32] = []
    /// Newest pending slot for each key; older ones are chained through `Slot.older`.
    var index: [Key: Int32] = [:]
    var flows = ArrivalQueue()
    var unreachables = ArrivalQueue()
    /// Largest `start` seen: the input clock.
    var clock = -Double.infinity
    /// `paired:` state strings by kind and the two flag/type/code bytes.
    var states: [UInt32: String] = [:]

    /// - Parameters:
    ///   - horizon: seconds of input time (by `start`) a record waits for its reverse; an ICMP
    ///     unreachable waits twice as long for the probes it may answer.
    ///   - maximumPending: most records waiting at once; the oldest beyond it are emitted unpaired.
    public init(horizon: Double = DirectionPairer.defaultHorizon, maximumPending: Int = 1_000_000) {
        precondition(horizon >= 0 && !horizon.isNaN, "horizon must be a non-negative number of seconds")
        precondition(maximumPending >= 0, "maximumPending must not be negative")
        self.horizon = horizon
        self.maximumPending = maximumPending
    }

    // MARK: Public interface

    /// Takes the next record; calls `emit` for every record this completes or expires (zero, one or
    /// several).
    /// - Complexity: amortised O(1).
    public mutating func add(_ record: FlowRecord, emit: (FlowRecord) throws -> Void) rethrows {
        if record.start > clock {
            clock = record.start
            try expire(emit: emit, all: false)
        }
        if record.destinationPackets > 0 {
            passedThrough += 1
            try emit(record)
            return
        }
        let transport = record.transport
        var reverse: Key
        var own: Key
        if transport == .icmp || transport == .icmpv6 {
            let type = record.sourcePort
            if type == (transport == .icmp ? 3 : 1) {
                try addUnreachable(record, emit: emit)
                return
            }
            guard let partner = Self.icmpPartner(type: type, transport: transport) else {
                passedThrough += 1
                try emit(record)
                return
            }
            own = Key(
                a: record.source, b: record.destination, aPort: type, bPort: record.destinationPort,
                transport: transport.rawValue, kind: 0)
            reverse = Key(
                a: record.destination, b: record.source, aPort: partner, bPort: record.destinationPort,
                transport: transport.rawValue, kind: 0)
        } else {
            own = Key(
                a: record.source, b: record.destination, aPort: record.sourcePort,
                bPort: record.destinationPort, transport: transport.rawValue, kind: 0)
            reverse = Key(
                a: record.destination, b: record.source, aPort: record.destinationPort,
                bPort: record.sourcePort, transport: transport.rawValue, kind: 0)
        }
        if let head = index[reverse], let match = closest(from: head, to: record.start) {
            let other = slots[Int(match)].record
            unlink(match, head: head)
            free(match)
            flows.live -= 1
            paired += 1
            if Self.firstIsInitiator(other, record) {
                try emit(merge(initiator: other, responder: record))
            } else {
                try emit(merge(initiator: record, responder: other))
            }
            return
        }
        let slot = insert(record, key: own)
        flows.entries.append(QueueEntry(slot: slot, generation: slots[Int(slot)].generation))
        flows.live += 1
        try enforceCapacity(emit: emit)
    }

    /// Emits everything still pending, in arrival order, as if every horizon had passed: unpaired
    /// records (probes first claim any ICMP unreachable credit), then unclaimed ICMP credit.
    /// The pairer is empty afterwards and can take more input; the counters keep counting.
    /// - Complexity: O(n) in the records pending.
    public mutating func finish(emit: (FlowRecord) throws -> Void) rethrows {
        try expire(emit: emit, all: true)
        slots.removeAll(keepingCapacity: true)
        freeSlots.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        flows = ArrivalQueue()
        unreachables = ArrivalQueue()
    }

    // MARK: Pending records

    mutating func insert(_ record: FlowRecord, key: Key) -> Int32 {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
            let i = Int(slot)
            slots[i].record = record
            slots[i].key = key
            slots[i].creditPackets = 0
            slots[i].creditBytes = 0
        } else {
            slot = Int32(slots.count)
            slots.append(Slot(record: record, key: key, older: -1, generation: 0, creditPackets: 0, creditBytes: 0))
        }
        slots[Int(slot)].older = index.updateValue(slot, forKey: key) ?? -1
        return slot
    }

    /// Removes a pending slot from its key's chain (whose newest slot is `head`, when the caller
    /// has just looked it up).
    mutating func unlink(_ slot: Int32, head known: Int32? = nil) {
        let key = slots[Int(slot)].key
        let older = slots[Int(slot)].older
        guard let head = known ?? index[key] else { return }
        if head == slot {
            if older >= 0 { index[key] = older } else { index.removeValue(forKey: key) }
            return
        }
        var p = head
        while p >= 0 {
            let next = slots[Int(p)].older
            if next == slot {
                slots[Int(p)].older = older
                return
            }
            p = next
        }
    }

    mutating func free(_ slot: Int32) {
        slots[Int(slot)].generation &+= 1
        slots[Int(slot)].older = -1
        freeSlots.append(slot)
    }

    /// The pending slot in a chain whose start is closest to `start`, within the horizon; on ties
    /// the one that arrived first.
    func closest(from head: Int32, to start: Double) -> Int32? {
        var best: Int32 = -1
        var bestGap = Double.infinity
        var i = head
        while i >= 0 {
            let gap = abs(slots[Int(i)].record.start - start)
            if gap <= horizon && gap <= bestGap {
                best = i
                bestGap = gap
            }
            i = slots[Int(i)].older
        }
        return best >= 0 ? best : nil
    }

    // MARK: ICMP unreachables

    mutating func addUnreachable(_ record: FlowRecord, emit: (FlowRecord) throws -> Void) rethrows {
        let key = Key(
            a: record.source, b: record.destination, aPort: 0, bPort: 0,
            transport: record.transport.rawValue, kind: 1)
        let slot = insert(record, key: key)
        slots[Int(slot)].creditPackets = max(1, record.sourcePackets)
        slots[Int(slot)].creditBytes = record.sourceBytes
        unreachables.entries.append(QueueEntry(slot: slot, generation: slots[Int(slot)].generation))
        unreachables.live += 1
        try enforceCapacity(emit: emit)
    }

    /// Hands one packet of the closest ICMP unreachable credit to `probe`: the merged, rejected
    /// record, or nil when no unreachable from the probe's destination waits within the horizon.
    mutating func claimUnreachable(for probe: FlowRecord) -> FlowRecord? {
        if probe.transport == .tcp && !Self.isTCPRequest(probe.tcpFlags) { return nil }
        let icmp: Transport = probe.source.isIPv4 ? .icmp : .icmpv6
        let key = Key(a: probe.destination, b: probe.source, aPort: 0, bPort: 0, transport: icmp.rawValue, kind: 1)
        guard let head = index[key], let slot = closest(from: head, to: probe.start) else { return nil }
        let i = Int(slot)
        let share = slots[i].creditBytes / slots[i].creditPackets
        slots[i].creditPackets -= 1
        slots[i].creditBytes -= share
        let answer = slots[i].record
        if slots[i].creditPackets == 0 {
            unlink(slot, head: head)
            free(slot)
            unreachables.live -= 1
        }
        var merged = probe
        merged.destinationPackets = answer.sourcePackets > 0 ? 1 : 0
        merged.destinationBytes = share
        merged.start = min(probe.start, answer.start)
        merged.end = max(probe.end, answer.end)
        merged.outcome = .rejected
        merged.state = state(
            kind: icmp == .icmp ? 2 : 3, UInt8(truncatingIfNeeded: answer.sourcePort),
            UInt8(truncatingIfNeeded: answer.destinationPort))
        return merged
    }

    // MARK: Expiry

    /// Emits the records whose horizon has passed (or all of them), flows before ICMP credit so
    /// that probes can claim it first.
    mutating func expire(emit: (FlowRecord) throws -> Void, all: Bool) rethrows {
        while !flows.isEmpty {
            let entry = flows.entries[flows.head]
            let i = Int(entry.slot)
            if slots[i].generation == entry.generation {
                if !all && !(clock - slots[i].record.start > horizon) { break }
                let record = slots[i].record
                unlink(entry.slot)
                free(entry.slot)
                flows.live -= 1
                if let merged = claimUnreachable(for: record) {
                    paired += 1
                    try emit(merged)
                } else {
                    unpaired += 1
                    try emit(Self.alone(record))
                }
            }
            flows.dropFront()
        }
        while !unreachables.isEmpty {
            let entry = unreachables.entries[unreachables.head]
            let i = Int(entry.slot)
            if slots[i].generation == entry.generation {
                if !all && !(clock - slots[i].record.start > 2 * horizon) { break }
                try emitLeftover(entry.slot, emit: emit)
            }
            unreachables.dropFront()
        }
        Self.compact(&flows, slots)
        Self.compact(&unreachables, slots)
    }

    /// An ICMP unreachable nobody (or not everybody) claimed: emitted alone with what is left.
    mutating func emitLeftover(_ slot: Int32, emit: (FlowRecord) throws -> Void) rethrows {
        var record = slots[Int(slot)].record
        record.sourcePackets = min(record.sourcePackets, slots[Int(slot)].creditPackets)
        record.sourceBytes = slots[Int(slot)].creditBytes
        unlink(slot)
        free(slot)
        unreachables.live -= 1
        unpaired += 1
        try emit(record)
    }

    /// Keeps the arrival queues at most about twice their live entries: paired records leave
    /// dead entries behind until the front reaches them.
    static func compact(_ queue: inout ArrivalQueue, _ slots: [Slot]) {
        let count = queue.entries.count - queue.head
        guard count > 2 * queue.live + 4096 else { return }
        var kept: [QueueEntry] = []
        kept.reserveCapacity(queue.live)
        for e in queue.entries[queue.head...] where slots[Int(e.slot)].generation == e.generation {
            kept.append(e)
        }
        queue.entries = kept
        queue.head = 0
    }

    /// Emits the oldest pending records unpaired while more than `maximumPending` wait: flows
    /// first (as one-sided attempts, without claiming ICMP credit), then ICMP credit.
    mutating func enforceCapacity(emit: (FlowRecord) throws -> Void) rethrows {
        while pending > maximumPending {
            evicted += 1
            if flows.live > 0 {
                let slot = Self.popLive(&flows, slots)
                let record = slots[Int(slot)].record
                unlink(slot)
                free(slot)
                flows.live -= 1
                unpaired += 1
                try emit(Self.alone(record))
            } else {
                try emitLeftover(Self.popLive(&unreachables, slots), emit: emit)
            }
        }
    }

    /// Removes and returns the oldest live entry of a queue that has one.
    static func popLive(_ queue: inout ArrivalQueue, _ slots: [Slot]) -> Int32 {
        while true {
            let entry = queue.entries[queue.head]
            queue.dropFront()
            if slots[Int(entry.slot)].generation == entry.generation { return entry.slot }
        }
    }

    // MARK: Rules

    /// TCP flags of a record that opens or probes: no ACK, and SYN or no RST (S; RS from a SYN
    /// scanner that reset the half-open connection it got a SYN-ACK for; F, FPU and NULL probes).
    @inline(__always) static func isTCPRequest(_ flags: TCPFlags) -> Bool {
        !flags.contains(.ack) && (flags.contains(.syn) || !flags.contains(.rst))
    }

    /// The reply type of an ICMP request type and the reverse; nil for messages without a partner.
    static func icmpPartner(type: UInt16, transport: Transport) -> UInt16? {
        if transport == .icmp {
            switch type {
            case 8: return 0
            case 0: return 8
            case 13: return 14
            case 14: return 13
            case 17: return 18
            case 18: return 17
            default: return nil
            }
        }
        switch type {
        case 128: return 129
        case 129: return 128
        default: return nil
        }
    }

    /// +1 for a record that looks like a request, -1 for one that looks like a reply, 0 unknown.
    @inline(__always) static func requestEvidence(_ r: FlowRecord) -> Int {
        switch r.transport {
        case .tcp:
            return isTCPRequest(r.tcpFlags) ? 1 : 0
        case .icmp:
            return r.sourcePort == 8 || r.sourcePort == 13 || r.sourcePort == 17 ? 1 : -1
        case .icmpv6:
            return r.sourcePort == 128 ? 1 : -1
        default:
            return 0
        }
    }

    /// Whether `first` (which arrived earlier) initiated the conversation rather than `second`.
    static func firstIsInitiator(_ first: FlowRecord, _ second: FlowRecord) -> Bool {
        let e1 = requestEvidence(first), e2 = requestEvidence(second)
        if e1 != e2 { return e1 > e2 }
        if first.start != second.start { return first.start < second.start }
        if first.sourcePort != second.sourcePort { return first.sourcePort > second.sourcePort }
        return true
    }

    /// One merged record from a request and its reverse.
    mutating func merge(initiator: FlowRecord, responder: FlowRecord) -> FlowRecord {
        var merged = initiator
        merged.destinationPackets = responder.sourcePackets
        merged.destinationBytes = responder.sourceBytes
        merged.start = min(initiator.start, responder.start)
        merged.end = max(initiator.end, responder.end)
        if initiator.transport == .tcp {
            let i = initiator.tcpFlags, r = responder.tcpFlags
            merged.tcpFlags = i.union(r)
            merged.outcome = Self.pairedTCPOutcome(initiator: initiator, responder: responder)
            merged.state = state(kind: 0, i.rawValue, r.rawValue)
        } else {
            merged.outcome = initiator.outcome == .rejected || responder.outcome == .rejected ? .rejected : .established
            merged.state = state(kind: 1, 0, 0)
        }
        return merged
    }

    /// `OutcomeRules.tcpConversation` on the two sides' flags, with what the readers know beyond
    /// flags: a VPC `REJECT` (a rejected record without RST) on either side is a refusal, and a
    /// reply whose flags were not logged (VPC without `tcp-flags`) is an answer.
    static func pairedTCPOutcome(initiator: FlowRecord, responder: FlowRecord) -> Outcome {
        if initiator.outcome == .rejected && !initiator.tcpFlags.contains(.rst) { return .rejected }
        if responder.outcome == .rejected && !responder.tcpFlags.contains(.rst) { return .rejected }
        if responder.tcpFlags.isEmpty { return .established }
        return OutcomeRules.tcpConversation(source: initiator.tcpFlags, destination: responder.tcpFlags)
    }

    /// A record whose horizon passed without a reverse, as a one-sided attempt.
    static func alone(_ record: FlowRecord) -> FlowRecord {
        var record = record
        if record.outcome == .rejected { return record }
        switch record.transport {
        case .tcp:
            let f = record.tcpFlags
            if f.isEmpty {
                // A NULL probe, or a VPC record without `tcp-flags`: an attempt if it carried no
                // payload (at most 60 header bytes a packet) and does not come from a service port.
                let headersOnly = record.sourceBytes <= 60 &* max(1, record.sourcePackets)
                if headersOnly && !looksLikeServerReply(record) { record.outcome = .unanswered }
            } else if isTCPRequest(f) && !f.contains(.rst) {
                record.outcome = .unanswered
            }
        case .icmp, .icmpv6:
            if requestEvidence(record) > 0 { record.outcome = .unanswered }
        default:
            if !looksLikeServerReply(record) { record.outcome = .unanswered }
        }
        return record
    }

    /// From a well-known port (below 1024) to an ephemeral one: a service's reply whose request
    /// was not seen, not an attempt of its own.
    @inline(__always) static func looksLikeServerReply(_ r: FlowRecord) -> Bool {
        r.sourcePort < 1024 && r.destinationPort >= 1024
    }

    /// `paired:` state text, built once per distinct value.
    mutating func state(kind: UInt32, _ x: UInt8, _ y: UInt8) -> String {
        let key = kind << 16 | UInt32(x) << 8 | UInt32(y)
        if let s = states[key] { return s }
        let s: String
        switch kind {
        case 0:
            func letters(_ raw: UInt8) -> String { raw == 0 ? "-" : TCPFlags(rawValue: raw).description }
            s = "paired:\(letters(x))/\(letters(y))"
        case 1: s = "paired:reply"
        case 2: s = "paired:icmp-\(x).\(y)"
        default: s = "paired:icmpv6-\(x).\(y)"
        }
        states[key] = s
        return s
    }
}
