import Support

/// The checksum of a whole Flowhound model file (format 2 and later), the same for every kind of
/// model. The metadata key `sha256` holds the lower-case hexadecimal SHA-256 of this serialisation,
/// where a *string* is its UTF-8 length as a little-endian UInt64 followed by its UTF-8 bytes:
///
/// 1. every metadata key but `sha256`, in ascending order of its UTF-8 bytes: the key as a string,
///    then its value as a string (the strings the JSON header decodes to, not their escaped form);
/// 2. every tensor in file order (ascending data offset): its name as a string, its rank as a
///    little-endian UInt64, each dimension as a little-endian UInt64, then its raw data (the
///    little-endian float32 bytes, as stored) as a string of bytes.
///
/// So no metadata value (architecture, input specification, threshold, labels, card…), no tensor's
/// name or shape and no weight can change without the file being refused, and any language can
/// compute it (Python, with `meta` the `__metadata__` object and `entries` the other header entries
/// sorted by offset):
///
/// ```python
/// def s(b): return struct.pack('<Q', len(b)) + b
/// h = hashlib.sha256()
/// for k in sorted((k for k in meta if k != 'sha256'), key=lambda k: k.encode()):
///     h.update(s(k.encode()) + s(meta[k].encode()))
/// for name, e in entries:
///     h.update(s(name.encode()) + struct.pack('<%dQ' % (len(e['shape']) + 1), len(e['shape']), *e['shape'])
///              + s(data[e['data_offsets'][0]:e['data_offsets'][1]]))
/// ```
///
/// A checksum guards against damage and careless edits, not against someone who recomputes it:
/// readers still check every value against its bounds before using it.
extension SafeTensors {
    /// The metadata key of the file checksum.
    public static let checksumKey = "sha256"

    /// The file checksum of this file's metadata (all but `sha256`) and tensors.
    public func checksum() -> String {
        var hasher = SHA256()
        func add(_ number: Int) { withUnsafeBytes(of: UInt64(number).littleEndian) { hasher.update($0) } }
        func add(_ bytes: [UInt8]) {
            add(bytes.count)
            bytes.withUnsafeBytes { hasher.update($0) }
        }
        let entries = metadata.filter { $0.key != Self.checksumKey }.map { (key: Array($0.key.utf8), value: Array($0.value.utf8)) }
        for entry in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            add(entry.key)
            add(entry.value)
        }
        for (name, tensor) in tensors {
            add(Array(name.utf8))
            add(tensor.shape.rank)
            for d in tensor.shape.dimensions { add(d) }
            add(SafeTensors(metadata: [:], tensors: [(name, tensor)]).data)
        }
        return hex(hasher.finish())
    }

    /// This file with its checksum set: what every model kind writes.
    public func sealed() -> SafeTensors {
        var file = self
        file.metadata[Self.checksumKey] = checksum()
        return file
    }
}
