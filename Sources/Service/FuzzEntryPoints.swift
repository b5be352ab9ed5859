import Foundation
import NIOCore

/// Hooks for the fuzz targets in Fuzz/ServiceFuzz: request decoding exactly as the handlers do it,
/// without a server around it.
public enum FuzzEntryPoints {
    /// Decodes `bytes` as the body of `POST /v1/ip/score`: the addresses read, or the 400 the
    /// service would answer with.
    public static func decodeIPScoreRequest(_ bytes: [UInt8]) -> Result<Int, any Error> {
        do {
            let request = try JSONCoding.decode(IPScoreRequest.self, from: ByteBuffer(bytes: bytes))
            return .success(request.addresses.count)
        } catch {
            return .failure(error)
        }
    }
}
