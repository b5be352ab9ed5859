import Detection
import Enrichment
import FlowRecords
import Foundation
import Reputation
import Synchronization

/// One loaded set of models: the IP scorers, the scan CNN, the allowlist and lists, and what they
/// were loaded from. Never changed once made: a reload makes a new generation and swaps it in,
/// and a request keeps the generation it started with until it ends.
public final class ModelGeneration: @unchecked Sendable {
    // @unchecked: the scorers are used only under their pool's locks; `scanModel` is never run
    // itself, only copied (`replica()`) for each request, and copying reads it without changing it.
    /// 1 for the models loaded at start, one more at each reload.
    public let number: Int
    public let loadedAt: Date
    let ipScorers: ScorerPool?
    /// Why IP scoring is off, when it is.
    let ipScoringOff: String?
    let ipModelPath: String?
    let ipModel: IPModel?
    let databases: [DatabaseRequirement]
    let warnings: [String]
    let scanModel: ScanModel?
    let scanModelPath: String?
    let recipe: DetectionRecipe

    /// Loads every file `sources` names. Throws the first problem (a model file that does not
    /// load, a database that does not open, a list the IP model needs and was not given).
    init(_ sources: ModelSources, number: Int, scorers: Int, drivers: Int) throws {
        self.number = number
        loadedAt = Date()
        var allowlist = CIDRSet()
        if let path = sources.allowlist { allowlist = try CIDRSet.load(path: path) }
        if sources.ipScoring {
            let path = sources.ipModel ?? IPModel.defaultPath()
            let model = try IPModel.load(pathOrDefault: sources.ipModel)
            let intelligence = try IntelligenceSetup(mmdb: sources.mmdb, libloc: sources.libloc, asProfiles: model.spec.asProfile)
            let lists = try sources.lists.map(NamedList.load)
            let pool = try ScorerPool(count: max(1, scorers)) { index in
                // Each scorer runs its own copy of the network: it keeps buffers between calls.
                var own = model
                own.mlp = model.mlp?.replica(index)
                let scorer = try IPScorer(model: own, intelligence: intelligence, lists: lists, allowlist: allowlist)
                scorer.driverCount = drivers
                return scorer
            }
            ipScorers = pool
            ipScoringOff = nil
            ipModelPath = path
            ipModel = model
            databases = intelligence.databases
            warnings = pool.warnings
        } else {
            ipScorers = nil
            ipScoringOff = "IP scoring is off on this server (started with --no-ip-scoring)"
            ipModelPath = nil
            ipModel = nil
            databases = []
            warnings = []
        }
        var recipe = sources.detection
        recipe.allowlist = allowlist
        // Requests run side by side: one thread each is the fairest use of the cores.
        recipe.cnnThreads = 1
        self.recipe = recipe
        if recipe.usesCNN {
            scanModelPath = sources.scanModel ?? ScanModel.defaultPath()
            scanModel = try ScanModel.load(pathOrDefault: sources.scanModel)
        } else {
            scanModelPath = nil
            scanModel = nil
        }
    }

    /// A fresh detection pipeline for one request, with its own copy of the CNN.
    func makePipeline() -> DetectionPipeline {
        DetectionPipeline(recipe: recipe, model: scanModel?.replica())
    }
}

/// IP scorers for concurrent requests. A scorer is not thread-safe (it caches scores and its
/// network keeps buffers), so each sits behind its own lock; a request takes a free one, or waits
/// for the one its turn points at when all are busy.
final class ScorerPool: Sendable {
    private final class Slot: @unchecked Sendable {
        // @unchecked: `scorer` is used only while `lock` is held.
        let lock = NSLock()
        let scorer: IPScorer
        init(_ scorer: IPScorer) { self.scorer = scorer }
    }

    private let slots: [Slot]
    private let turn = Atomic<Int>(0)
    /// Warnings the first scorer gave when made (a list that changed since training).
    let warnings: [String]

    init(count: Int, make: (Int) throws -> IPScorer) throws {
        var slots: [Slot] = []
        var warnings: [String] = []
        for index in 0..<count {
            let scorer = try make(index)
            if index == 0 { warnings = scorer.warnings }
            slots.append(Slot(scorer))
        }
        self.slots = slots
        self.warnings = warnings
    }

    var count: Int { slots.count }

    /// Runs `body` with a scorer no one else is using: the first free one from this request's
    /// turn on, or when all are busy, the one at its turn once it is free.
    func withScorer<Result>(_ body: (IPScorer) throws -> Result) rethrows -> Result {
        let start = turn.add(1, ordering: .relaxed).newValue
        var chosen = slots[start % slots.count]
        if !chosen.lock.try() {
            let free = (1..<slots.count).lazy.map { self.slots[(start &+ $0) % self.slots.count] }.first { $0.lock.try() }
            if let free { chosen = free } else { chosen.lock.lock() }
        }
        defer { chosen.lock.unlock() }
        return try body(chosen.scorer)
    }
}

/// The models in service and how they are replaced: `current` is read by every request, `reload`
/// loads a new generation beside it and swaps it in at once. Requests in flight keep the
/// generation they took; a reload that fails leaves the old one serving.
public final class ModelStore: Sendable {
    private let state: Mutex<ModelGeneration>
    /// Reloads one at a time: two at once would both load and race to be last.
    private let reloading = Mutex<Bool>(false)
    let sources: ModelSources
    let scorers: Int
    let drivers: Int

    public init(sources: ModelSources, scorers: Int, drivers: Int = 3) throws {
        self.sources = sources
        self.scorers = scorers
        self.drivers = drivers
        state = Mutex(try ModelGeneration(sources, number: 1, scorers: scorers, drivers: drivers))
    }

    public var current: ModelGeneration { state.withLock { $0 } }

    public enum ReloadError: Error, CustomStringConvertible {
        case busy
        case failed(String)
        public var description: String {
            switch self {
            case .busy: "a reload is already running"
            case .failed(let reason): reason
            }
        }
    }

    /// Loads every model file again and swaps the new generation in.
    @discardableResult
    public func reload() throws(ReloadError) -> ModelGeneration {
        guard
            reloading.withLock({ busy in
                if busy { return false }
                busy = true
                return true
            })
        else { throw .busy }
        defer { reloading.withLock { $0 = false } }
        let next: ModelGeneration
        do {
            next = try ModelGeneration(sources, number: current.number + 1, scorers: scorers, drivers: drivers)
        } catch {
            throw .failed("\(error)")
        }
        state.withLock { $0 = next }
        return next
    }
}
