/// SHA-256 (FIPS 180-4) of `bytes`, used to check that a model file's weights are the ones its
/// header describes.
/// - Complexity: O(n).
public func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.finish()
}

/// SHA-256 fed in pieces, for files too large to hold in memory at once. Its state is held inline,
/// so that hashing a few bytes (an alert's episode) allocates nothing but the digest.
public struct SHA256 {
    private var h: InlineArray<8, UInt32> = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
    /// Bytes not yet compressed: the first `pendingCount` (fewer than 64).
    private var pending = InlineArray<64, UInt8>(repeating: 0)
    private var pendingCount = 0
    private var length: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var offset = 0
        if pendingCount > 0 {
            let take = min(64 - pendingCount, bytes.count)
            for i in 0..<take { pending[pendingCount + i] = bytes[i] }
            pendingCount += take
            offset = take
            if pendingCount == 64 { compressPending() }
        }
        while bytes.count - offset >= 64 {
            compress(bytes.baseAddress! + offset)
            offset += 64
        }
        for i in offset..<bytes.count {
            pending[pendingCount] = bytes[i]
            pendingCount += 1
        }
    }

    /// The digest; the hasher is spent.
    public mutating func finish() -> [UInt8] {
        let bits = length &* 8
        pending[pendingCount] = 0x80
        pendingCount += 1
        if pendingCount > 56 {
            for i in pendingCount..<64 { pending[i] = 0 }
            compressPending()
        }
        for i in pendingCount..<56 { pending[i] = 0 }
        for i in 0..<8 { pending[56 + i] = UInt8(truncatingIfNeeded: bits >> UInt64(56 - 8 * i)) }
        compressPending()
        return [UInt8](unsafeUninitializedCapacity: 32) { digest, count in
            for i in 0..<8 { UnsafeMutableRawPointer(digest.baseAddress! + 4 * i).storeBytes(of: h[i].bigEndian, as: UInt32.self) }
            count = 32
        }
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    private mutating func compressPending() {
        let block = pending
        withUnsafeBytes(of: block) { compress($0.baseAddress!) }
        pendingCount = 0
    }

    private mutating func compress(_ block: UnsafeRawPointer) {
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for i in 0..<16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            for i in 16..<64 {
                let s0 = Self.rotr(w[i - 15], 7) ^ Self.rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = Self.rotr(w[i - 2], 17) ^ Self.rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            Self.k.withUnsafeBufferPointer { k in
                for i in 0..<64 {
                    let t1 = hh &+ (Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                    let t2 = (Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                    (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
                }
            }
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }
}

/// 16 hexadecimal digits of SHA-256 over `text`'s UTF-8 and then `time`'s bit pattern (little-endian):
/// the identifiers alerts give an episode or an event, the same whenever the same flows are read again.
public func shortID(_ text: String, time: Double) -> String {
    var hasher = SHA256()
    var text = text
    text.withUTF8 { hasher.update(UnsafeRawBufferPointer($0)) }
    withUnsafeBytes(of: time.bitPattern.littleEndian) { hasher.update($0) }
    return hex(hasher.finish().prefix(8))
}

/// Lower-case hexadecimal.
public func hex(_ bytes: some Collection<UInt8>) -> String {
    String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
        let digits: StaticString = "0123456789abcdef"
        var at = 0
        for b in bytes {
            out[at] = digits.utf8Start[Int(b >> 4)]
            out[at + 1] = digits.utf8Start[Int(b & 15)]
            at += 2
        }
        return at
    }
}
