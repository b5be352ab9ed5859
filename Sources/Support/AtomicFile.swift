import Foundation

/// A file that could not be read, used or written: a model, an array, a picture, a list. Its
/// description is one line, `path: reason`.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
    public var errorDescription: String? { description }

    /// `what: <the C library's message for errno>`.
    static func system(_ path: String, _ what: String) -> FileError {
        FileError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
}

/// Every file Flowhound writes (models, datasets, images, logs, arrays) is written the same way, so
/// that a reader or a crash never leaves half a file where a whole one was: the bytes go to a hidden
/// temporary file beside the target (`.NAME.tmp-PID`), are flushed to disk (`fsync`), and the file is
/// renamed over the target; the directory is then flushed too, so the rename survives a power cut.
/// A failure removes the temporary file and leaves the old target as it was.
public enum AtomicFile {
    /// Writes `bytes` to `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileError) {
        let file = try Pending(path: path)
        try file.write(bytes)
        try file.commit()
    }

    /// Writes what `body` writes to the file descriptor it is given; `-` is standard output, written
    /// directly. An error of `body` removes the temporary file and is rethrown.
    public static func write(to path: String, _ body: (Int32) throws -> Void) throws {
        if path == "-" {
            try body(STDOUT_FILENO)
            return
        }
        let file = try Pending(path: path)
        try body(file.descriptor)
        try file.commit()
    }

    /// A file being written: created under its temporary name, moved into place by `commit()`, and
    /// removed if it is dropped uncommitted.
    public final class Pending {
        public let path: String
        public let temporary: String
        public let descriptor: Int32
        private var done = false

        public init(path: String) throws(FileError) {
            self.path = path
            let directory = (path as NSString).deletingLastPathComponent
            temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw FileError.system(path, "cannot create") }
        }

        deinit { abandon() }

        /// Appends `bytes`, retrying short and interrupted writes.
        public func write(_ bytes: [UInt8]) throws(FileError) {
            var failure: FileError? = nil
            bytes.withUnsafeBytes { buffer in
                do throws(FileError) { try write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
        }

        public func write(_ buffer: UnsafeRawBufferPointer) throws(FileError) {
            var offset = 0
            while offset < buffer.count {
                let n = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FileError.system(path, "cannot write") }
                offset += n
            }
        }

        /// Flushes the file, renames it over `path` and flushes the directory.
        public func commit() throws(FileError) {
            precondition(!done, "a pending file is committed once")
            // EINVAL: the descriptor does not support syncing (a pipe or a special file); nothing to flush.
            guard fsync(descriptor) == 0 || errno == EINVAL else {
                let error = FileError.system(path, "cannot write")
                abandon()
                throw error
            }
            done = true
            guard close(descriptor) == 0 else {
                let error = FileError.system(path, "cannot write")
                unlink(temporary)
                throw error
            }
            guard rename(temporary, path) == 0 else {
                let error = FileError.system(path, "cannot write")
                unlink(temporary)
                throw error
            }
            let directory = (path as NSString).deletingLastPathComponent
            let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 {
                // Best effort: some file systems cannot sync a directory; the file itself is on disk.
                _ = fsync(fd)
                close(fd)
            }
        }

        /// Removes the temporary file (nothing after a commit).
        public func abandon() {
            guard !done else { return }
            done = true
            close(descriptor)
            unlink(temporary)
        }
    }
}
