/// SHA-1 (FIPS 180-4) of `bytes`. Not for security: Community ID flow hashes (`CommunityID`) are
/// defined over it, and tools that link records by them expect exactly its output.
/// - Complexity: O(n).
public func sha1(_ bytes: [UInt8]) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: 20) { digest, count in
        bytes.withUnsafeBytes { sha1($0, into: UnsafeMutableRawBufferPointer(digest)) }
        count = 20
    }
}

/// `sha1` of raw bytes, its 20 bytes written to the start of `digest`, without allocating: the input
/// is read where it lies and only its last one or two blocks, with the padding, are copied.
public func sha1(_ bytes: UnsafeRawBufferPointer, into digest: UnsafeMutableRawBufferPointer) {
    precondition(digest.count >= 20, "a SHA-1 digest is 20 bytes")
    var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
        func compress(_ block: UnsafeRawPointer) {
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            @inline(__always) func round(_ f: UInt32, _ k: UInt32, _ wi: UInt32) {
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ wi
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = t
            }
            for i in 0..<20 { round((b & c) | (~b & d), 0x5A82_7999, w[i]) }
            for i in 20..<40 { round(b ^ c ^ d, 0x6ED9_EBA1, w[i]) }
            for i in 40..<60 { round((b & c) | (b & d) | (c & d), 0x8F1B_BCDC, w[i]) }
            for i in 60..<80 { round(b ^ c ^ d, 0xCA62_C1D6, w[i]) }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        let whole = bytes.count / 64
        for block in 0..<whole { compress(bytes.baseAddress! + 64 * block) }
        // The rest, 0x80, zeros, and the length in bits: one block, or two when the rest leaves no
        // room for the length.
        let rest = bytes.count - 64 * whole
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
            let tail = UnsafeMutableRawBufferPointer(tail)
            if rest > 0 { tail.baseAddress!.copyMemory(from: bytes.baseAddress! + 64 * whole, byteCount: rest) }
            tail[rest] = 0x80
            let end = rest < 56 ? 64 : 128
            for i in (rest + 1)..<(end - 8) { tail[i] = 0 }
            tail.storeBytes(of: (UInt64(bytes.count) &* 8).bigEndian, toByteOffset: end - 8, as: UInt64.self)
            compress(tail.baseAddress!)
            if end == 128 { compress(tail.baseAddress! + 64) }
        }
    }
    digest.storeBytes(of: h.0.bigEndian, toByteOffset: 0, as: UInt32.self)
    digest.storeBytes(of: h.1.bigEndian, toByteOffset: 4, as: UInt32.self)
    digest.storeBytes(of: h.2.bigEndian, toByteOffset: 8, as: UInt32.self)
    digest.storeBytes(of: h.3.bigEndian, toByteOffset: 12, as: UInt32.self)
    digest.storeBytes(of: h.4.bigEndian, toByteOffset: 16, as: UInt32.self)
}
