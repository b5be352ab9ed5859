import Foundation

/// Why a file could not be read whole: the description is the reason, without the path.
public struct BoundedFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Files read whole (address lists, ground truth, dataset metadata) are read through this: never
/// more than `limit` bytes, so that a wrong path (a huge log, `/dev/zero`, a pipe that never ends)
/// is a clear error instead of unbounded memory or a hang.
public enum BoundedFile {
    /// Far above any list or ground truth Flowhound reads, far below what would exhaust memory.
    public static let defaultLimit = 512 << 20

    public static func read(_ path: String, limit: Int = defaultLimit) throws(BoundedFileError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BoundedFileError(description: "no such file")
        }
        guard !isDirectory.boolValue else { throw BoundedFileError(description: "is a directory") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BoundedFileError(description: "cannot be read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw BoundedFileError(description: "cannot be read: \(String(cString: strerror(errno)))") }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else {
                throw BoundedFileError(description: "is larger than \(limit >> 20) MiB: not a file of this kind")
            }
            bytes += chunk[0..<n]
        }
    }
}
