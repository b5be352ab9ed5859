import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A request to stop reading, made from any thread (a signal source) and polled by a read loop.
public final class StopRequest: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func request() { flag.store(true, ordering: .releasing) }

    public var isRequested: Bool { flag.load(ordering: .acquiring) }
}

/// Wall time as a `LogFollower` sees it: what it reads and how it waits between polls. Tests give
/// their own, whose `sleep` moves time on at once (and may change the files being followed).
public protocol FollowClock: AnyObject {
    /// Seconds on a clock that only moves forward.
    func now() -> Double
    /// Waits about `seconds`.
    func sleep(_ seconds: Double)
}

/// The monotonic clock and `nanosleep`.
public final class SystemFollowClock: FollowClock {
    public init() {}

    public func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    public func sleep(_ seconds: Double) {
        var t = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var left = timespec()
        while nanosleep(&t, &left) != 0 && errno == EINTR { t = left }
    }
}

/// How a followed input's log time moves on while nothing arrives.
///
/// Detection closes windows and ends episodes only when flows with later times arrive; a followed
/// log that goes quiet would hold its last episodes open. The rule: once nothing has been read for
/// at least `idleAfter` seconds of wall time (the pipeline's lateness), the log's time is taken to be
/// the latest flow start time read plus the wall seconds since bytes last arrived. That is no more than
/// is known: the log had reached that start time when those bytes were read, and its time runs no
/// slower than the wall clock. Before the first record, and while records keep arriving, it says nothing.
public struct QuietClock: Sendable {
    /// Wall seconds without input before the log's time moves with the wall clock.
    public var idleAfter: Double
    /// The latest flow start time read.
    public private(set) var latestLogTime: Double?
    /// Wall time at which bytes last arrived.
    public private(set) var lastArrival: Double?

    public init(idleAfter: Double) {
        self.idleAfter = idleAfter
    }

    /// A record that starts at `start` has been read.
    @inline(__always)
    public mutating func noteRecord(start: Double) {
        if let t = latestLogTime, t >= start { return }
        latestLogTime = start
    }

    /// Bytes arrived at wall time `wall`.
    public mutating func noteArrival(wall: Double) {
        lastArrival = wall
    }

    /// The log time to advance to at wall time `wall`, or nil while the input is not yet idle for
    /// `idleAfter` seconds (or no record has been read).
    public func logTime(atWall wall: Double) -> Double? {
        guard let t = latestLogTime, let arrived = lastArrival else { return nil }
        let idle = wall - arrived
        guard idle >= idleAfter else { return nil }
        return t + idle
    }
}

/// A file's identity: its device and inode. A log rotated by renaming gets a new one at its path.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// Reads a log that grows, as `tail -F` does, through the same parsers as `FlowReader`: a file
/// (reopened when it is rotated or truncated), a directory (its files in name order, new ones as
/// they appear) or standard input (`-`), until `stop` is requested (or standard input ends).
///
/// - A **file** is read to its end, then polled every `pollInterval` seconds for more. A line is read
///   once its newline has arrived. When another file takes its path (rotation by renaming: a new
///   device or inode), the old file's remaining bytes are read first, then the new file from its
///   start. When the file shrinks below what was read (copytruncate), it is read again from its start.
///   (A file truncated and then written past the old size between two polls is not seen as truncated.)
/// - A **directory**: its files are read in name order, each from its start; the last is followed
///   until a file not yet read appears, then read to its end. Files that appear later are read in
///   name order among those not yet read. Names beginning with a dot, ending in `~`, `.tmp`, `.temp`,
///   `.part`, `.partial`, `.swp` or `.lock`, and nfcapd's open file (`nfcapd.current.*`) are not taken
///   (`takes(name:)`), nor anything but regular files. A file read is known by its device and inode
///   (so one renamed in the directory is not read again) while it is there: once the follower sees it
///   gone, a new file given its inode is read. (A file deleted and another made with its inode between
///   two looks, one `pollInterval` apart while waiting, is taken for the one read.)
/// - **Standard input** is read as it comes, until it ends.
///
/// Each file (and each reading of a truncated file) is its own log: its format is detected from its
/// first lines (a follower waits for a first non-blank line), `onFormat` is told it, and `afterEach`
/// gets its summary. Gzip files are read whole, not followed. When reading stops on request, a last
/// line without its newline is left unread.
///
/// While waiting, the follower moves the log's time with the wall clock by the rule of `QuietClock`
/// (when `idleAfter` is set), calling `advance`. Everything runs on the caller's thread.
public final class LogFollower {
    /// What is followed.
    public enum Kind: Sendable, Equatable {
        case file, directory, standardInput
    }

    public let path: String
    public let kind: Kind
    public var reader: FlowReader
    /// Seconds between two looks at an input that has no new bytes.
    public var pollInterval: Double
    /// Set: the log's time moves with the wall clock after this many idle seconds (`QuietClock`).
    public var idleAfter: Double?
    public let stop: StopRequest
    private let clock: any FollowClock
    private var quiet = QuietClock(idleAfter: 0)
    private var advance: ((Double) throws -> Void)?
    private var caughtUp: (() throws -> Void)?
    private var failure: (any Error)?

    /// - Throws: `FlowReadError` when `path` does not exist or is neither a file nor a directory.
    public init(
        path: String, reader: FlowReader = FlowReader(), pollInterval: Double = 0.05, idleAfter: Double? = nil,
        stop: StopRequest = StopRequest(), clock: any FollowClock = SystemFollowClock()
    ) throws(FlowReadError) {
        self.path = path
        self.reader = reader
        self.pollInterval = pollInterval
        self.idleAfter = idleAfter
        self.stop = stop
        self.clock = clock
        if path == "-" {
            kind = .standardInput
            return
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FlowReadError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFREG, S_IFIFO, S_IFCHR: kind = .file
        default: throw FlowReadError(file: path, reason: "neither a file nor a directory")
        }
    }

    /// Whether a directory follower reads a file of this name (see the type's documentation).
    public static func takes(name: String) -> Bool {
        if name.isEmpty || name.hasPrefix(".") || name.hasSuffix("~") { return false }
        for suffix in [".tmp", ".temp", ".part", ".partial", ".swp", ".lock"] where name.hasSuffix(suffix) { return false }
        if name.hasPrefix("nfcapd.current") { return false }
        return true
    }

    /// Reads until `stop` is requested (standard input: or ends), calling `body` for every record.
    /// - Parameters:
    ///   - onFormat: told each log's format before its first record.
    ///   - afterEach: each log's summary, when it has been read.
    ///   - advance: the log time to move to while the input is idle (see `QuietClock`).
    ///   - caughtUp: called whenever everything written so far has been read, before waiting for more:
    ///     what the records have made ready goes out then (alerts detection holds in batches).
    /// - Throws: `FlowReadError` for a log that cannot be read, or whatever the closures throw.
    public func run(
        onFormat: (FlowFormat) throws -> Void = { _ in }, afterEach: (ReadSummary) throws -> Void = { _ in },
        advance: @escaping (Double) throws -> Void = { _ in }, caughtUp: @escaping () throws -> Void = {},
        _ body: (FlowRecord) throws -> Void
    ) throws {
        quiet = QuietClock(idleAfter: idleAfter ?? 0)
        self.advance = advance
        self.caughtUp = caughtUp
        failure = nil
        defer {
            self.advance = nil
            self.caughtUp = nil
        }
        func each(_ record: FlowRecord) throws {
            quiet.noteRecord(start: record.start)
            try body(record)
        }
        switch kind {
        case .standardInput: try followStandardInput(onFormat, afterEach, each)
        case .file: try followFile(onFormat, afterEach, each)
        case .directory: try followDirectory(onFormat, afterEach, each)
        }
        if let failure { throw failure }
    }

    // MARK: waiting

    /// One wait while there is nothing to read: sleeps (unless the caller has already waited), moves
    /// the log's time when the input has been idle long enough. False when reading is to stop.
    func idle(sleeping: Bool) -> Bool {
        if stop.isRequested || failure != nil { return false }
        if let caughtUp {
            do { try caughtUp() } catch {
                failure = error
                return false
            }
        }
        if sleeping { clock.sleep(pollInterval) }
        if stop.isRequested { return false }
        if idleAfter != nil, let advance, let time = quiet.logTime(atWall: clock.now()) {
            do { try advance(time) } catch {
                failure = error
                return false
            }
        }
        return true
    }

    func arrived() {
        quiet.noteArrival(wall: clock.now())
    }

    // MARK: files

    private func followFile(
        _ onFormat: (FlowFormat) throws -> Void, _ afterEach: (ReadSummary) throws -> Void, _ body: (FlowRecord) throws -> Void
    ) throws {
        let path = self.path
        var fd = try Self.open(path)
        while true {
            let (end, old) = try readSegment(fd: fd, name: path, onFormat, afterEach, body) { source in
                var info = stat()
                guard stat(path, &info) == 0 else { return nil }  // renamed away, not yet replaced: keep reading the old file
                return FileIdentity(info) != source.identity ? .replaced : nil
            }
            switch end {
            case .stopped: return
            case .replaced, .truncated:
                // Open the file now at the path (waiting while there is none).
                while true {
                    if let next = try Self.openIfPresent(path) {
                        fd = next
                        break
                    }
                    guard idle(sleeping: true) else { return }
                }
            case .ended:
                // A gzip file read whole: wait for another file at the path, or for it to shrink.
                while true {
                    guard idle(sleeping: true) else { return }
                    var info = stat()
                    guard stat(path, &info) == 0 else { continue }
                    if FileIdentity(info) != old.identity || Int64(info.st_size) < old.size, let next = try Self.openIfPresent(path) {
                        fd = next
                        break
                    }
                }
            }
        }
    }

    private func followDirectory(
        _ onFormat: (FlowFormat) throws -> Void, _ afterEach: (ReadSummary) throws -> Void, _ body: (FlowRecord) throws -> Void
    ) throws {
        var read = Set<FileIdentity>()
        var current: (name: String, fd: Int32)? = nil
        while true {
            if current == nil {
                // The first file not read yet, in name order.
                while true {
                    let listing = try directoryListing()
                    read.formIntersection(listing.map(\.identity))
                    if let next = listing.first(where: { !read.contains($0.identity) }) {
                        read.insert(next.identity)  // read now, or gone already
                        if let fd = try Self.openIfPresent(path + "/" + next.name) {
                            current = (next.name, fd)
                            break
                        }
                        continue
                    }
                    guard idle(sleeping: true) else { return }
                }
            }
            let (name, fd) = current!
            let (end, _) = try readSegment(fd: fd, name: path + "/" + name, onFormat, afterEach, body) { [unowned self] source in
                guard let listing = try? directoryListing() else { return nil }
                // Files gone (deleted) are forgotten at every look, not only when the next file is
                // picked: a file made later may be given a deleted one's inode, and is a new file.
                read.formIntersection(listing.map(\.identity))
                return listing.contains(where: { $0.identity != source.identity && !read.contains($0.identity) }) ? .replaced : nil
            }
            switch end {
            case .stopped: return
            case .truncated:
                // Read again from its start.
                guard let again = try Self.openIfPresent(path + "/" + name) else {
                    current = nil
                    continue
                }
                current = (name, again)
            case .replaced, .ended:
                current = nil
            }
        }
    }

    /// The directory's regular files that a follower takes, in name order.
    private func directoryListing() throws(FlowReadError) -> [(name: String, identity: FileIdentity)] {
        guard let dir = opendir(path) else {
            throw FlowReadError(file: path, reason: "cannot list: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var device = stat()
        fstat(dirfd(dir), &device)
        var files: [(name: String, identity: FileIdentity)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard Self.takes(name: name) else { continue }
            let type = entry.pointee.d_type
            if type == UInt8(DT_REG) {
                files.append((name, FileIdentity(device: UInt64(device.st_dev), inode: UInt64(entry.pointee.d_ino))))
            } else if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
                var info = stat()
                if stat(path + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG { files.append((name, FileIdentity(info))) }
            }
        }
        return files.sorted { $0.name < $1.name }
    }

    /// Opens `path`, or nil when it is gone (renamed or removed since it was seen); other failures
    /// (no permission) are errors, not a wait that never ends.
    static func openIfPresent(_ path: String) throws(FlowReadError) -> Int32? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw FlowReadError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        return fd
    }

    static func open(_ path: String) throws(FlowReadError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FlowReadError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Reads one log from `fd` (which it takes and closes) until it ends: stopped, replaced
    /// (`replacement` says so), truncated, or (gzip) read whole. Returns how it ended, and the file's
    /// identity and size.
    private func readSegment(
        fd: Int32, name: String, _ onFormat: (FlowFormat) throws -> Void, _ afterEach: (ReadSummary) throws -> Void,
        _ body: (FlowRecord) throws -> Void, replacement: @escaping (FollowedFileSource) -> FollowedFileSource.End?
    ) throws -> (FollowedFileSource.End, (identity: FileIdentity, size: Int64)) {
        let source = FollowedFileSource(fd: fd, name: name, follower: self, replacement: replacement)
        let file = { (identity: source.identity, size: source.size) }
        // Wait for a first line to detect the format from.
        while !source.headReady() {
            if let end = source.endOfData() {
                // Replaced before its first line: read what there is, or nothing if it is empty.
                if source.size == 0 { return (end, file()) }
                break
            }
            guard idle(sleeping: true) else { return (.stopped, file()) }
        }
        let input = try OpenedInput(source: source, name: name)
        source.sniffing = false
        let summary = try reader.read(input, path: name, onFormat: onFormat, pace: { _ in }, body)
        if let failure { throw failure }
        try afterEach(summary)
        return (source.ending ?? .ended, file())
    }

    // MARK: standard input

    private func followStandardInput(
        _ onFormat: (FlowFormat) throws -> Void, _ afterEach: (ReadSummary) throws -> Void, _ body: (FlowRecord) throws -> Void
    ) throws {
        let source = FollowedStreamSource(fd: 0, follower: self)
        guard source.waitForHead() else { return }
        let input = try OpenedInput(source: source, name: "-")
        source.sniffing = false
        let summary = try reader.read(input, path: "-", onFormat: onFormat, pace: { _ in }, body)
        if let failure { throw failure }
        try afterEach(summary)
    }
}

/// True when `head` (the first bytes of a log) is enough to detect the format from: a non-blank
/// line with its newline, gzip's magic, binary data, or the whole sniffing length.
func headIsReady(_ head: UnsafeRawBufferPointer) -> Bool {
    if head.count >= OpenedInput.sniffLength { return true }
    if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return true }
    var blank = true
    for b in head {
        switch b {
        case 0x0A: if !blank { return true }
        case 0x00: return true
        case 0x20, 0x09, 0x0D: break
        default: blank = false
        }
    }
    return false
}

/// A followed file: read(2) until the end of the data, then waits (through its follower) for more,
/// until the follower stops, the file is replaced at its path (the rest is read first), or it shrinks.
final class FollowedFileSource: ByteSource {
    enum End: Equatable {
        case stopped, replaced, truncated, ended
    }

    let fd: Int32
    let name: String
    let identity: FileIdentity
    /// Bytes read so far.
    private(set) var offset: Int64 = 0
    /// While the format is detected: no waiting, the end of the data is the end.
    var sniffing = true
    private(set) var ending: End?
    private unowned let follower: LogFollower
    private let replacement: (FollowedFileSource) -> End?

    init(fd: Int32, name: String, follower: LogFollower, replacement: @escaping (FollowedFileSource) -> End?) {
        self.fd = fd
        self.name = name
        self.follower = follower
        self.replacement = replacement
        var info = stat()
        fstat(fd, &info)
        identity = FileIdentity(info)
    }

    deinit { close(fd) }

    var size: Int64 {
        var info = stat()
        fstat(fd, &info)
        return Int64(info.st_size)
    }

    /// Whether the file's first bytes are enough to detect its format.
    func headReady() -> Bool {
        var head = [UInt8](repeating: 0, count: OpenedInput.sniffLength)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        return head.withUnsafeBytes { headIsReady(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
    }

    /// At the end of the data: whether the file has shrunk or been replaced.
    func endOfData() -> End? {
        if size < offset { return .truncated }
        return replacement(self)
    }

    /// A last line without its newline is a line, unless reading stopped before it was finished.
    var keepsUnterminatedLastLine: Bool { ending != .stopped }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        if ending != nil { return 0 }
        while true {
            var n = try readOnce(buffer)
            if n > 0 { return n }
            if sniffing { return 0 }
            if let end = endOfData() {
                // A replaced file may have been written to since: read it to its end first.
                if end == .replaced {
                    n = try readOnce(buffer)
                    if n > 0 { return n }
                }
                ending = end
                return 0
            }
            guard follower.idle(sleeping: true) else {
                ending = .stopped
                return 0
            }
        }
    }

    private func readOnce(_ buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                offset += Int64(n)
                follower.arrived()
                return n
            }
            if n == 0 { return 0 }
            if errno == EINTR { continue }
            throw FlowReadError(file: name, reason: "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Standard input (or a pipe) read as it comes: poll(2) with the follower's interval, so that a quiet
/// input still lets time move and a stop request be seen.
final class FollowedStreamSource: ByteSource {
    let fd: Int32
    var sniffing = true
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var stopped = false
    private var ended = false
    private unowned let follower: LogFollower

    init(fd: Int32, follower: LogFollower) {
        self.fd = fd
        self.follower = follower
    }

    var keepsUnterminatedLastLine: Bool { !stopped }

    /// Reads until the first bytes are enough to detect the format from. False when reading stopped,
    /// or the input ended, before any byte.
    func waitForHead() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while !pending.withUnsafeBytes({ headIsReady($0) }) {
            switch poll(timeout: follower.pollInterval) {
            case .ready:
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    pending.append(contentsOf: chunk[..<n])
                    follower.arrived()
                } else if n == 0 || errno != EINTR {
                    ended = true
                    return !pending.isEmpty
                }
            case .timeout:
                guard follower.idle(sleeping: false) else {
                    stopped = true
                    return false
                }
            }
        }
        return true
    }

    private enum PollResult { case ready, timeout }

    private func poll(timeout: Double) -> PollResult {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = Glibc.poll(&p, 1, Int32(timeout * 1000))
        return r > 0 ? .ready : .timeout
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        if pendingOffset < pending.count {
            let n = min(buffer.count, pending.count - pendingOffset)
            pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pendingOffset, byteCount: n) }
            pendingOffset += n
            if pendingOffset == pending.count { pending = [] }
            return n
        }
        if ended || stopped { return 0 }
        while true {
            switch poll(timeout: sniffing ? 0 : follower.pollInterval) {
            case .ready:
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    follower.arrived()
                    return n
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FlowReadError(file: "-", reason: "read failed: \(String(cString: strerror(errno)))") }
                ended = true
                return 0
            case .timeout:
                if sniffing { return 0 }
                guard follower.idle(sleeping: false) else {
                    stopped = true
                    return 0
                }
            }
        }
    }
}
