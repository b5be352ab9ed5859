import FlowRecords
import Support

/// An accumulator in the wire encoding, for checkpoints: every field, sets and tables in ascending
/// order so that equal accumulators give equal bytes.
///
/// Layout: hosts (count, then each address in rank order, so ranks are implicit), ports and failed
/// targets (`WireWriter.ascending`), cells (count, then each index as a gap from the previous one,
/// failed, answered, first contact), flows, failed flows, first and last seen.
extension ActivityAccumulator {
    public func encode(to w: inout WireWriter) {
        var byRank = [IPAddress](repeating: IPAddress(ipv4: 0), count: hosts.count)
        for (host, rank) in hosts { byRank[rank] = host }
        w.count(byRank.count)
        for host in byRank { w.address(host) }
        w.ascending(ports.sorted().lazy.map { UInt64($0) })
        w.ascending(failedTargets.sorted())
        w.count(cells.count)
        var previous: Int32 = -1
        for (index, cell) in cells.sorted(by: { $0.key < $1.key }) {
            w.varint(UInt64(index - previous - 1))
            previous = index
            w.varint(UInt64(cell.failed))
            w.varint(UInt64(cell.answered))
            w.f64(cell.first)
        }
        w.int(flows)
        w.int(failedFlows)
        w.f64(firstSeen)
        w.f64(lastSeen)
        w.ascending(answeredPorts.sorted().lazy.map { UInt64($0) })
        w.varint(UInt64(soleTransport))
        w.flowKey(firstFlow)
        w.flowKey(lastFlow)
    }

    /// Reads what `encode` wrote, refusing what no stream of flows could have gathered: a host twice,
    /// a failed target on a host rank that is not there, a cell outside the image, more failures than
    /// flows, or contents without flows. `withFlowDetail` is false for what an earlier Flowhound wrote,
    /// without the answered ports, the transport and the first and last flows.
    public init(from r: inout WireReader, withFlowDetail: Bool = true) throws {
        self.init()
        let hostCount = try r.count("count of hosts", minimumItemSize: 5)
        var hosts: [IPAddress: Int] = [:]
        hosts.reserveCapacity(hostCount)
        for rank in 0..<hostCount {
            let host = try r.address("host")
            if let earlier = hosts.updateValue(rank, forKey: host) {
                throw WireError("hosts: \(host) appears twice, at ranks \(earlier) and \(rank)")
            }
        }
        let ports = try r.ascending("ports", maximum: UInt64(UInt16.max))
        let targets = try r.ascending("failed targets")
        if let last = targets.last, last >> 16 >= UInt64(hostCount) {
            throw WireError("failed targets: host rank \(last >> 16) is not below the \(hostCount) hosts")
        }
        let cellCount = try r.count("count of cells", minimumItemSize: 11)
        var cells: [Int32: Cell] = [:]
        cells.reserveCapacity(cellCount)
        var index = -1
        for _ in 0..<cellCount {
            let gap = try r.varint("cell index")
            guard gap < UInt64(ActivityImage.rows * ActivityImage.columns), index + 1 + Int(gap) < ActivityImage.rows * ActivityImage.columns else {
                throw WireError("cells: index \(UInt64(index + 1) &+ gap) is outside the \(ActivityImage.rows)×\(ActivityImage.columns) image")
            }
            index += 1 + Int(gap)
            let failed = try r.varint("failed targets of a cell"), answered = try r.varint("answered attempts of a cell")
            guard failed <= UInt64(UInt32.max), answered <= UInt64(UInt32.max) else {
                throw WireError("cells: cell \(index) counts \(max(failed, answered)) attempts, more than 32 bits hold")
            }
            cells[Int32(index)] = Cell(failed: UInt32(failed), answered: UInt32(answered), first: try r.f64("first contact of a cell"))
        }
        let flows = try r.int("flows"), failedFlows = try r.int("failed flows")
        let firstSeen = try r.f64("first seen"), lastSeen = try r.f64("last seen")
        guard failedFlows <= flows else { throw WireError("failed flows: \(failedFlows) of \(flows) flows") }
        guard targets.count <= failedFlows else {
            throw WireError("failed targets: \(targets.count), more than the \(failedFlows) failed flows")
        }
        // Each new failed target counts in one cell, each answered attempt too (cells count modulo 2^32).
        let failedInCells = cells.values.reduce(UInt32(0)) { $0 &+ $1.failed }
        let answeredInCells = cells.values.reduce(UInt32(0)) { $0 &+ $1.answered }
        guard failedInCells == UInt32(truncatingIfNeeded: targets.count),
            answeredInCells == UInt32(truncatingIfNeeded: flows - failedFlows)
        else {
            throw WireError(
                "cells: they count \(failedInCells) failed targets and \(answeredInCells) answered attempts, not \(targets.count) and \(flows - failedFlows)")
        }
        if flows == 0 {
            guard hostCount == 0, ports.isEmpty, cellCount == 0, firstSeen == .infinity, lastSeen == -.infinity else {
                throw WireError("flows: 0, yet hosts, ports, cells or times are set")
            }
        } else {
            guard hostCount > 0, !ports.isEmpty, cellCount > 0, firstSeen.isFinite, lastSeen.isFinite, firstSeen <= lastSeen else {
                throw WireError("flows: \(flows), yet no hosts, ports or cells, or first and last seen are not in order (\(firstSeen), \(lastSeen))")
            }
        }
        if withFlowDetail {
            let answered = try r.ascending("answered ports", maximum: UInt64(UInt16.max))
            let transport = try r.varint("transport")
            let first = try r.flowKey("first flow"), last = try r.flowKey("last flow")
            guard Set(answered).isSubset(of: ports), answered.isEmpty == (flows == failedFlows) else {
                throw WireError("answered ports: \(answered.count), not among the \(ports.count) ports or not matching \(flows - failedFlows) answered flows")
            }
            guard transport <= UInt64(Self.mixedTransports), (transport == UInt64(Self.noTransport)) == (flows == 0) else {
                throw WireError("transport: \(transport) is not a transport's number for \(flows) flows")
            }
            // Either may be missing with flows: gathered partly before a checkpoint of an earlier Flowhound.
            guard flows > 0 || (first == nil && last == nil), first.map({ $0.start == firstSeen }) ?? true,
                last.map({ $0.start == lastSeen }) ?? true, first.map({ hosts[$0.destination] != nil }) ?? true,
                last.map({ hosts[$0.destination] != nil }) ?? true
            else {
                throw WireError("first and last flows: present without flows, or not at the first and last seen times and hosts")
            }
            answeredPorts = Set(answered.lazy.map { UInt16($0) })
            soleTransport = UInt16(transport)
            firstFlow = first
            lastFlow = last
        } else if flows > 0 {
            // What an earlier Flowhound did not keep: the transport is unknown (as if mixed).
            soleTransport = Self.mixedTransports
        }
        self.hosts = hosts
        self.ports = Set(ports.lazy.map { UInt16($0) })
        self.failedTargets = Set(targets)
        self.cells = cells
        self.flows = flows
        self.failedFlows = failedFlows
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}
