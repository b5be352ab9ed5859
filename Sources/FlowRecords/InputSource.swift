import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A stream of bytes: a file, standard input, or a gzip stream over either.
protocol ByteSource: AnyObject {
    /// Fills `buffer` from the start; returns the number of bytes written, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int
    /// Whether a last line without a line ending is a line (it is, unless a followed input stopped
    /// before its newline arrived).
    var keepsUnterminatedLastLine: Bool { get }
}

extension ByteSource {
    var keepsUnterminatedLastLine: Bool { true }
}

/// Reads a file descriptor with read(2); closes it on deinit unless it is standard input.
final class FileDescriptorSource: ByteSource {
    let fd: Int32
    let name: String
    private let ownsDescriptor: Bool

    init(path: String) throws(FlowReadError) {
        name = path
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            return
        }
        let opened = open(path, O_RDONLY)
        guard opened >= 0 else {
            throw FlowReadError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if fstat(opened, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(opened)
            throw FlowReadError(file: path, reason: "is a directory, not a flow log")
        }
        fd = opened
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FlowReadError(file: name, reason: "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Bytes already in memory (a request body, say), read as if from a file.
final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Inflates gzip (and zlib) data from another source, including files of several gzip members
/// concatenated (as `cat a.gz b.gz` or log rotation produce). A stream that ends before its
/// trailer is an error, not a quiet end of input.
final class GzipSource: ByteSource {
    private let upstream: any ByteSource
    private let name: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var inputEnded = false
    private var finished = false
    private var compressedBytes = 0

    /// `prefix` holds bytes already read from `upstream` (the sniffed start of the file).
    init(upstream: any ByteSource, name: String, prefix: UnsafeRawBufferPointer) throws(FlowReadError) {
        self.upstream = upstream
        self.name = name
        input = .allocate(byteCount: max(1 << 18, prefix.count), alignment: 16)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input.copyMemory(from: prefix)
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = UInt32(prefix.count)
        compressedBytes = prefix.count
        guard flowhound_inflate_init(stream) == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw FlowReadError(file: name, reason: "cannot initialise zlib")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private func refill() throws(FlowReadError) {
        let n = try upstream.read(into: input)
        if n == 0 { inputEnded = true }
        compressedBytes += n
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = UInt32(n)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FlowReadError) -> Int {
        guard !finished else { return 0 }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(buffer.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
            let status = inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_STREAM_END:
                // Another gzip member may follow; anything else after the trailer is ignored, as gzip does.
                if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
                if stream.pointee.avail_in >= 2,
                    stream.pointee.next_in[0] == 0x1F, stream.pointee.next_in[1] == 0x8B
                {
                    inflateReset(stream)
                } else {
                    finished = true
                    return buffer.count - Int(stream.pointee.avail_out)
                }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                if inputEnded && stream.pointee.avail_in == 0 {
                    throw FlowReadError(
                        file: name,
                        reason: "truncated gzip stream: compressed data ends after \(compressedBytes) bytes without its trailer")
                }
                if stream.pointee.avail_out == 0 { break }
                continue
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw FlowReadError(file: name, reason: "corrupt gzip data: \(message)")
            }
        }
        return buffer.count - Int(stream.pointee.avail_out)
    }
}

/// Splits a byte source into lines with 1-based numbers, reusing one buffer: memory stays flat
/// whatever the size of the input. Accepts `\n` and `\r\n` endings and a last line without one.
final class LineReader {
    private let source: any ByteSource
    private let name: String
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0  // first unconsumed byte
    private var filled = 0  // bytes valid in buffer
    private var atEnd = false
    private(set) var lineNumber = 0
    /// A longer line is an error: a flow log has no such lines, and binary input might have no newline at all.
    static let maximumLineLength = 1 << 20

    init(source: any ByteSource, name: String, initial: UnsafeRawBufferPointer, capacity: Int = 1 << 20) {
        self.source = source
        self.name = name
        buffer = .allocate(byteCount: max(capacity, initial.count), alignment: 16)
        buffer.copyMemory(from: initial)
        filled = initial.count
    }

    deinit { buffer.deallocate() }

    /// The next line, without its line ending, or nil at the end of the input; `lineNumber` is then
    /// its 1-based number. The bytes stay valid until the next call.
    ///
    /// An iterator rather than a loop taking a closure, so that the read loop's own state (the record
    /// it reuses for every line) is a plain local that the compiler can pass on without copying; and
    /// inlined into that loop, with refilling the buffer out of line.
    @inline(__always)
    func nextLine() throws -> UnsafeBufferPointer<UInt8>? {
        while true {
            let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if start < filled, let nl = memchr(base + start, 0x0A, filled - start) {
                let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                var lineEnd = end
                if lineEnd > start, base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                lineNumber += 1
                let line = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
                start = end + 1
                return line
            }
            if atEnd { return lastLine() }
            try refill()
        }
    }

    /// At the end of the input: the last line if it has no line ending, else nil.
    private func lastLine() -> UnsafeBufferPointer<UInt8>? {
        guard start < filled, source.keepsUnterminatedLastLine else { return nil }
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var lineEnd = filled
        if base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        lineNumber += 1
        let line = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
        start = filled
        return line
    }

    /// Moves the partial line to the front of the buffer (growing it if the line fills it) and reads more.
    private func refill() throws {
        let partial = filled - start
        if partial > 0 && start > 0 {
            memmove(buffer.baseAddress!, buffer.baseAddress! + start, partial)
        }
        start = 0
        filled = partial
        if filled == buffer.count {
            guard buffer.count < LineReader.maximumLineLength * 2 else {
                throw FlowReadError(
                    file: name, line: lineNumber + 1,
                    reason: "line longer than \(LineReader.maximumLineLength >> 20) MiB: not a flow log")
            }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
            bigger.copyMemory(from: UnsafeRawBufferPointer(buffer))
            buffer.deallocate()
            buffer = bigger
        }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
        if n == 0 { atEnd = true } else { filled += n }
    }
}

/// Opens a path (or `-` for standard input), sniffs its first bytes, and unwraps gzip.
/// Returns the byte source to read from and the first decoded bytes for format detection.
struct OpenedInput {
    let source: any ByteSource
    let head: [UInt8]

    static let sniffLength = 64 * 1024

    init(path: String) throws {
        try self.init(source: try FileDescriptorSource(path: path), name: path)
    }

    /// Sniffs `file`, a plain or gzip byte stream called `path` in messages.
    init(source file: any ByteSource, name path: String) throws {
        var raw = [UInt8](repeating: 0, count: OpenedInput.sniffLength)
        let rawCount = try raw.withUnsafeMutableBytes { b in
            try OpenedInput.fill(b, from: file)
        }
        raw.removeSubrange(rawCount...)
        guard !raw.isEmpty else { throw FlowReadError(file: path, reason: "empty input: no bytes to read") }
        if raw.count >= 2, raw[0] == 0x1F, raw[1] == 0x8B {
            let gz = try raw.withUnsafeBytes { b in
                try GzipSource(upstream: file, name: path, prefix: b)
            }
            var decoded = [UInt8](repeating: 0, count: OpenedInput.sniffLength)
            let n = try decoded.withUnsafeMutableBytes { b in
                try OpenedInput.fill(b, from: gz)
            }
            decoded.removeSubrange(n...)
            guard !decoded.isEmpty else {
                throw FlowReadError(file: path, reason: "empty input: the gzip stream holds no data")
            }
            source = gz
            head = decoded
        } else {
            if let kind = OpenedInput.foreignKind(raw) {
                throw FlowReadError(file: path, reason: kind)
            }
            source = file
            head = raw
        }
        if let problem = OpenedInput.binaryProblem(head) {
            throw FlowReadError(file: path, reason: problem)
        }
    }

    private static func fill(_ buffer: UnsafeMutableRawBufferPointer, from source: any ByteSource) throws(FlowReadError) -> Int {
        var total = 0
        while total < buffer.count {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Recognises files that are not text flow logs but are often mistaken for them.
    static func foreignKind(_ b: [UInt8]) -> String? {
        func starts(_ magic: [UInt8]) -> Bool { b.count >= magic.count && Array(b.prefix(magic.count)) == magic }
        if starts([0xD4, 0xC3, 0xB2, 0xA1]) || starts([0xA1, 0xB2, 0xC3, 0xD4]) || starts([0x4D, 0x3C, 0xB2, 0xA1])
            || starts([0xA1, 0xB2, 0x3C, 0x4D]) || starts([0x0A, 0x0D, 0x0D, 0x0A])
        {
            return "a packet capture (pcap), not a flow log: turn it into flows first (zeek -r, argus -r, or nfpcapd -r)"
        }
        if starts([0x0C, 0xA5]) || starts([0xA5, 0x0C]) {
            return "an nfcapd binary file: export it with `nfdump -r FILE -o csv`"
        }
        if starts(Array("BZh".utf8)) { return "bzip2-compressed: decompress it first (bzcat FILE | flowhound ... -)" }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz-compressed: decompress it first (xzcat FILE | flowhound ... -)" }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "zstd-compressed: decompress it first (zstdcat FILE | flowhound ... -)" }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return "a zip archive: extract the log from it first" }
        return nil
    }

    /// Text flow logs have no NUL bytes and few control characters.
    static func binaryProblem(_ head: [UInt8]) -> String? {
        var control = 0
        let sample = head.prefix(8192)
        for (offset, b) in sample.enumerated() {
            if b == 0 { return "binary data (a NUL byte at offset \(offset)), not a text flow log" }
            if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D { control += 1 }
        }
        if control * 20 > sample.count {
            return "binary data (\(control) control bytes in the first \(sample.count)), not a text flow log"
        }
        return nil
    }
}
