import Foundation

/// Scratch space for tests: every file and directory made here is inside one directory per test
/// process (flowhound-tests-<pid>-<random> in the system's temporary directory), which is removed
/// when the process exits. Tests may remove what they made earlier; they need not.
public enum Scratch {
    private final class Root: @unchecked Sendable {
        // @unchecked: `url` is only read and written behind `lock`.
        let lock = NSLock()
        var url: URL?
    }

    private static let root = Root()

    /// The process's scratch directory, made (and its removal at exit arranged) on first use.
    public static func directory() throws -> URL {
        try root.lock.withLock {
            if let url = root.url { return url }
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("flowhound-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            root.url = url
            atexit { Scratch.removeAll() }
            return url
        }
    }

    /// Removes the process's scratch directory (registered with atexit).
    static func removeAll() {
        let url = root.lock.withLock { root.url }
        if let url { try? FileManager.default.removeItem(at: url) }
    }
}

/// A fresh, empty directory under the process's scratch directory; its path.
public func temporaryDirectory(_ label: String = "dir") throws -> String {
    let url = try Scratch.directory().appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// Writes `data` to a file called `name` in a fresh temporary directory; its path.
public func temporaryFile(_ data: Data, name: String = "file") throws -> String {
    let path = try temporaryDirectory("file") + "/" + name
    try data.write(to: URL(fileURLWithPath: path))
    return path
}

public func temporaryFile(_ text: String, name: String = "file") throws -> String {
    try temporaryFile(Data(text.utf8), name: name)
}

/// Runs `body` with a fresh temporary directory and removes the directory afterwards.
public func withTemporaryDirectory<T>(_ label: String = "dir", _ body: (String) throws -> T) throws -> T {
    let path = try temporaryDirectory(label)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
