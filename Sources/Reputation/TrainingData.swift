import Enrichment
import FlowRecords
import Foundation
import Neural
import Randomness
import Support

/// Which end of each flow in a flow log is the remote one whose reputation is learnt.
public enum RemoteEnd: String, Codable, Sendable, CaseIterable {
    /// The side that opened the connection (`id.orig_h`, the source): scanners, attackers, visitors.
    case originator
    /// The side that answered (`id.resp_h`, the destination): servers your hosts connected to.
    case responder
}

/// How labelled inputs become rows.
public struct LoadingOptions: Codable, Sendable, Equatable {
    /// Entries of a list that carries a count (IPsum's number of blocklists) below this are skipped.
    public var minimumCount = 1
    /// Addresses drawn from each list of address blocks, spread evenly over its blocks.
    public var samplesPerList = 10_000
    public var remoteEnd = RemoteEnd.originator
    /// Benign rows without an hour get a random one (uniform over the day), so that the hour can be
    /// a feature although the benign data carries none. Off by default: the spread is invented.
    public var spreadBenignHours = false
    public var seed: UInt64 = 1

    public init() {}
}

/// One labelled observation and the input it came from.
public struct LabelledRow: Sendable, Hashable {
    public var observation: Observation
    public var malicious: Bool
    /// Index of the input in `LabelledData.inputs`.
    public var input: Int
}

/// A labelled input that cannot be used.
public struct ReputationDataError: Error, Sendable, CustomStringConvertible, SettingHinted {
    public var description: String
    /// The setting that would resolve the error, when one would.
    public var setting: Setting?
    public init(_ description: String, setting: Setting? = nil) {
        self.description = description
        self.setting = setting
    }
}

/// Labelled observations that come from a rule applied to flow logs rather than from a file of their
/// own (`train ip --logs`: the sources the scan detectors flagged, the servers home clients used).
public struct DerivedInput: Sendable {
    /// What the model card names the input: the rule and the logs it was applied to.
    public var name: String
    public var malicious: Bool
    /// The rule, in the card's `kind` column.
    public var kind: String
    /// A checksum of the logs the rule read.
    public var sha256: String
    public var observations: [Observation]

    public init(name: String, malicious: Bool, kind: String, sha256: String, observations: [Observation]) {
        self.name = name
        self.malicious = malicious
        self.kind = kind
        self.sha256 = sha256
        self.observations = observations
    }
}

/// Rows read from `--malicious` and `--benign` inputs, de-duplicated and made consistent, with
/// notes on everything that was dropped or decided on the way.
public struct LabelledData: Sendable {
    public var rows: [LabelledRow]
    public var inputs: [IPModelCard.Input]
    /// Whether every row has an hour (after `spreadBenignHours`), so the hour can be a feature.
    public var hasHour: Bool
    public var hourNote: String
    public var hasPort: Bool
    public var portNote: String
    /// What was dropped and why, one sentence each.
    public var notes: [String]

    /// Reads every input. An input is a flow log when its first line is one Flowhound reads
    /// (or it is gzip-compressed), otherwise an `AddressList`: lines of single addresses are taken
    /// as they are, blocks are sampled (`samplesPerList` per file).
    public static func load(
        malicious: [String], benign: [String], derived: [DerivedInput] = [], options: LoadingOptions,
        flowOptions: ReadOptions = ReadOptions()
    ) throws -> LabelledData {
        var rows: [LabelledRow] = []
        var inputs: [IPModelCard.Input] = []
        var notes: [String] = []
        struct Seen: Hashable { var observation: Observation; var malicious: Bool }
        var seen = Set<Seen>()
        enum Source {
            case file(String)
            case derived(DerivedInput)
        }
        let sources =
            malicious.map { (true, Source.file($0)) } + derived.filter(\.malicious).map { (true, Source.derived($0)) }
            + benign.map { (false, Source.file($0)) } + derived.filter { !$0.malicious }.map { (false, Source.derived($0)) }
        for (isMalicious, source) in sources {
            let index = inputs.count
            let role = isMalicious ? "malicious" : "benign"
            final class Tally { var added = 0, duplicates = 0, notGlobal = 0 }
            let tally = Tally()
            func add(_ observation: Observation) {
                guard observation.address.isGlobal else { tally.notGlobal += 1; return }
                // The same observation in both classes is resolved below; within a class it counts once.
                guard seen.insert(Seen(observation: observation, malicious: isMalicious)).inserted else { tally.duplicates += 1; return }
                rows.append(LabelledRow(observation: observation, malicious: isMalicious, input: index))
                tally.added += 1
            }
            let name: String, kind: String
            switch source {
            case .file(let path):
                name = path
                kind = try readInput(path, options: options, flowOptions: flowOptions, seed: options.seed &+ UInt64(index), notes: &notes, add)
            case .derived(let input):
                name = input.name
                kind = input.kind
                input.observations.forEach(add)
            }
            var detail: [String] = []
            if tally.duplicates > 0 { detail.append("\(tally.duplicates) repeated") }
            if tally.notGlobal > 0 { detail.append("\(tally.notGlobal) not public Internet addresses") }
            if !detail.isEmpty { notes.append("\(name): skipped \(detail.joined(separator: " and "))") }
            switch source {
            case .file(let path):
                guard tally.added > 0 else { throw ReputationDataError("\(path): no usable \(role) address in it") }
                inputs.append(IPModelCard.Input(path: path, role: role, kind: kind, rows: tally.added, sha256: try fileChecksum(path)))
            case .derived(let input):
                // A rule that labelled nothing is no error: the other rules or files may label enough.
                guard tally.added > 0 else { notes.append("\(input.name): no \(role) rows"); continue }
                inputs.append(IPModelCard.Input(path: input.name, role: role, kind: kind, rows: tally.added, sha256: input.sha256))
            }
        }
        // An address on both sides is malicious: a known-good range can host a bad tenant.
        let maliciousAddresses = Set(rows.lazy.filter(\.malicious).map(\.observation.address))
        let before = rows.count
        rows.removeAll { !$0.malicious && maliciousAddresses.contains($0.observation.address) }
        if rows.count < before { notes.append("dropped \(before - rows.count) benign rows whose address is also malicious") }
        // A family present in one class only would teach the model the family, not the reputation.
        for (family, isV4) in [("IPv6", false), ("IPv4", true)] {
            let inMalicious = rows.contains { $0.malicious && $0.observation.address.isIPv4 == isV4 }
            let inBenign = rows.contains { !$0.malicious && $0.observation.address.isIPv4 == isV4 }
            if inMalicious != inBenign {
                let n = rows.count
                rows.removeAll { $0.observation.address.isIPv4 == isV4 }
                notes.append(
                    "dropped \(n - rows.count) \(family) rows: only the \(inMalicious ? "malicious" : "benign") inputs have \(family) addresses, so the model would learn the address family"
                )
            }
        }
        guard rows.contains(where: \.malicious) else { throw ReputationDataError("no malicious rows left to learn from") }
        guard rows.contains(where: { !$0.malicious }) else { throw ReputationDataError("no benign rows left to learn from") }

        /// "no input carries an hour …" or "a.txt, b.txt carry no hour".
        func lacking(_ paths: [String], _ what: String) -> String {
            paths.count == inputs.count
                ? "no input carries \(what) (only flow logs do)" : "\(paths.joined(separator: ", ")) carry no \(what.dropFirst(what.hasPrefix("an ") ? 3 : 2))"
        }
        var hasHour = rows.allSatisfy { $0.observation.hour != nil }
        var hourNote = hasHour ? "used: every row has the hour of its connection" : ""
        if !hasHour {
            let withoutHour = Set(rows.filter { $0.observation.hour == nil }.map(\.input)).sorted().map { inputs[$0].path }
            if options.spreadBenignHours {
                guard rows.allSatisfy({ !$0.malicious || $0.observation.hour != nil }) else {
                    throw ReputationDataError(
                        "spreading the benign rows' hours needs malicious inputs with hours (flow logs), but \(withoutHour.joined(separator: ", ")) carry none",
                        setting: .spreadBenignHours)
                }
                var rng = SplitMix64.stream(seed: options.seed, index: 24)
                for i in rows.indices where rows[i].observation.hour == nil { rows[i].observation.hour = rng.int(0...23) }
                hasHour = true
                hourNote = "used, but the benign rows' hours are invented: spread uniformly over the day (--spread-benign-hours)"
            } else {
                hourNote = "left out: " + lacking(withoutHour, "an hour")
            }
        }
        let hasPort = rows.allSatisfy { $0.observation.port != nil }
        let portNote =
            hasPort
            ? "used: every row has its connection's port"
            : "left out: " + lacking(Set(rows.filter { $0.observation.port == nil }.map(\.input)).sorted().map { inputs[$0].path }, "a port")
        return LabelledData(rows: rows, inputs: inputs, hasHour: hasHour, hourNote: hourNote, hasPort: hasPort, portNote: portNote, notes: notes)
    }

    /// Feeds the observations of one input to `add`; returns its kind.
    static func readInput(
        _ path: String, options: LoadingOptions, flowOptions: ReadOptions, seed: UInt64,
        notes: inout [String], _ add: (Observation) -> Void
    ) throws -> String {
        if try isFlowLog(path) {
            let summary = try FlowReader(options: flowOptions).read(path: path) { record in
                if record.isICMPError { return }
                add(Observation(options.remoteEnd == .originator ? record.source : record.destination, in: record))
            }
            if summary.malformed > 0 { notes.append("\(path): \(summary.malformed) malformed records skipped") }
            return "flows"
        }
        let list: AddressList
        do { list = try AddressList.read(path: path, strict: flowOptions.strict) } catch {
            throw ReputationDataError("\(error.description) (neither a flow log Flowhound reads nor an address list)")
        }
        if let note = list.malformedNote { notes.append(note) }
        var belowCount = 0
        var blocks: [AddressBlock] = []
        for entry in list.entries {
            if let count = entry.count, count < options.minimumCount { belowCount += 1; continue }
            if entry.block.hostBits == 0 {
                add(Observation(address: entry.block.address))
            } else {
                blocks.append(entry.block)
            }
        }
        if belowCount > 0 { notes.append("\(path): skipped \(belowCount) entries on fewer than \(options.minimumCount) lists") }
        guard !blocks.isEmpty else { return "addresses" }
        var rng = SplitMix64(seed: seed ^ 0xB10C_5A3B)
        for address in sample(blocks, count: options.samplesPerList, rng: &rng) { add(Observation(address: address)) }
        return blocks.count == list.entries.count ? "blocks" : "addresses and blocks"
    }

    /// `count` distinct addresses drawn uniformly from all the addresses of `blocks`, so a block twice
    /// the size gives twice the rows and a list of many small networks is not over-represented by
    /// them; every address when the blocks hold no more than `count`.
    static func sample(_ blocks: [AddressBlock], count: Int, rng: inout SplitMix64) -> [IPAddress] {
        let sizes = blocks.map { exp2(Double($0.hostBits)) }
        let total = sizes.reduce(0, +)
        if total <= Double(count) {
            return blocks.flatMap { sample($0, count: count, rng: &rng) }
        }
        var ends: [Double] = []
        var sum = 0.0
        for size in sizes { sum += size; ends.append(sum) }
        var drawn = Set<IPAddress>()
        var order: [IPAddress] = []
        while drawn.count < count {
            let point = Double(rng.next() >> 11) * 0x1p-53 * total
            var low = 0, high = ends.count - 1
            while low < high {
                let mid = (low + high) / 2
                if ends[mid] > point { high = mid } else { low = mid + 1 }
            }
            let address = sample(blocks[low], count: 1, rng: &rng)[0]
            if drawn.insert(address).inserted { order.append(address) }
        }
        return order
    }

    /// Up to `count` distinct addresses drawn uniformly from `block` (all of them when it is smaller).
    static func sample(_ block: AddressBlock, count: Int, rng: inout SplitMix64) -> [IPAddress] {
        let hostBits = block.hostBits
        if hostBits < 20, 1 << hostBits <= count {
            return (0..<(1 << hostBits)).map { offset(block, UInt64($0)) }
        }
        var drawn = Set<IPAddress>()
        while drawn.count < count {
            let random = hostBits >= 64 ? (rng.next(), rng.next()) : (0, rng.next() & ((1 << UInt64(hostBits)) - 1))
            if hostBits >= 64 {
                let highMask: UInt64 = hostBits >= 128 ? ~0 : (1 << UInt64(hostBits - 64)) - 1
                drawn.insert(IPAddress(high: block.address.high | (random.0 & highMask), low: block.address.low | random.1))
            } else {
                drawn.insert(offset(block, random.1))
            }
        }
        return drawn.sorted()
    }

    static func offset(_ block: AddressBlock, _ value: UInt64) -> IPAddress {
        IPAddress(high: block.address.high, low: block.address.low | value)
    }

    static func isFlowLog(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReputationDataError(FileManager.default.fileExists(atPath: path) ? "\(path): cannot be read" : "\(path): no such file")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 65_536)) ?? Data())
        if head.starts(with: [0x1F, 0x8B]) { return true }
        return head.withUnsafeBufferPointer { FlowFormat.detect(head: $0) } != nil
    }

    /// SHA-256 of one file; of several, the SHA-256 of their checksums in hex, one a line, in order.
    public static func checksum(files: [String]) throws -> String {
        let sums = try files.map(fileChecksum)
        if sums.count == 1 { return sums[0] }
        let text = Array(sums.map { $0 + "\n" }.joined().utf8)
        return hex(text.withUnsafeBytes { sha256($0) })
    }

    /// SHA-256 of a file, read a megabyte at a time (flow logs can be larger than memory).
    static func fileChecksum(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ReputationDataError("\(path): cannot be read") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch { throw ReputationDataError("\(path): \(error.localizedDescription)") }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return hex(hasher.finish())
    }
}

/// How rows are divided between training and testing: by network (no /24, or /48 for IPv6, on both
/// sides) or by autonomous system (no ASN on both sides; rows without an ASN fall back to their network).
public struct SplitOptions: Codable, Sendable, Equatable {
    public enum Grouping: String, Codable, Sendable, CaseIterable { case network, asn }
    public var by = Grouping.network
    public var testFraction = 0.2
    /// Share of the training groups set aside to stop the network's training and choose the threshold.
    public var validationFraction = 0.15
    public var seed: UInt64 = 1

    public init() {}

    public enum Part: String, Sendable, CaseIterable { case train, validation, test }

    /// The part of every row.
    public func parts(_ rows: [LabelledRow], facts: [IPAddress: AddressFacts]) -> [Part] {
        let keys = rows.map { group($0.observation.address, facts[$0.observation.address]) }
        let distinct = Array(Set(keys))
        let test = heldOut(["all": distinct], fraction: testFraction, rank: { SplitOptions.rank($0, seed) })
        let rest = distinct.filter { !test.contains($0) }
        let validation = heldOut(["all": rest], fraction: validationFraction, rank: { SplitOptions.rank($0, seed &+ 1) })
        return keys.map { test.contains($0) ? .test : validation.contains($0) ? .validation : .train }
    }

    func group(_ address: IPAddress, _ facts: AddressFacts?) -> UInt64 {
        if by == .asn, let asn = facts?.asn { return 1 << 63 | UInt64(asn) }
        let net = address.masked(toLength: address.isIPv4 ? 120 : 48)
        return SplitMix64.mix(net.high ^ SplitMix64.mix(net.low)) & ~(1 << 63)
    }

    static func rank(_ key: UInt64, _ seed: UInt64) -> UInt64 {
        SplitMix64.mix(key ^ (seed &* 0xBF58_476D_1CE4_E5B9))
    }
}
