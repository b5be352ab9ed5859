#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that lines are appended to as they are made (alerts): the one kind of file Flowhound does
/// not write with `AtomicFile`, since readers (a log shipper, `tail -F`) follow it while it grows.
///
/// The file is opened with `O_APPEND` and created 0644 (less the umask) when missing. Each line is
/// one `write(2)` of the whole line with its newline, so lines from several writers never interleave
/// and a reader never sees half a line (short writes, on a full disk say, are finished or reported).
/// `reopen()` closes the file and opens its path again: after logrotate has moved it away, the next
/// lines go to a new file at the path.
public final class LineAppender {
    public let path: String
    private var fd: Int32

    public init(path: String) throws(FileError) {
        self.path = path
        fd = try LineAppender.open(path)
    }

    deinit { close(fd) }

    private static func open(_ path: String) throws(FileError) -> Int32 {
        #if canImport(Glibc) || canImport(Musl)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        #else
        let fd = Darwin.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        #endif
        guard fd >= 0 else { throw FileError.system(path, "cannot open for appending") }
        return fd
    }

    /// Appends `line` and a newline in one `write(2)`.
    public func append(_ line: String) throws(FileError) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.system(path, "cannot write")
            }
            done += n
        }
    }

    /// Opens the path again (after the file was moved away, by logrotate say).
    public func reopen() throws(FileError) {
        let new = try LineAppender.open(path)
        close(fd)
        fd = new
    }
}
