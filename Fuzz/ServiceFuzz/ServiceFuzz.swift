// libFuzzer entry point for the service's request bodies: `POST /v1/ip/score`'s JSON, decoded as
// the handler decodes it (`/v1/detect` bodies go through FlowReader: the flow-reader target).
// A bad body must give a 400 error, never a crash.

import Foundation
import Service

/// With FLOWHOUND_FUZZ_SKIP_KNOWN=1, bodies that would only hit a crash already reported (see
/// Fuzz/RESULTS.md) are skipped, so that a long run goes on looking for others.
let skipKnown = ProcessInfo.processInfo.environment["FLOWHOUND_FUZZ_SKIP_KNOWN"] == "1"

/// Known: an address entry whose port part is "/" alone (`"1.2.3.4,,/"`) traps in
/// `Observation.parse` (Fuzz/crashes/ip-score-request/observation-port-slash.json). The strings are
/// read with the same JSONDecoder the service uses, as far as it gets: a body that is invalid further
/// on still reaches the entries before the fault.
func hitsKnownCrash(_ bytes: [UInt8]) -> Bool {
    StringCollector.seen = []
    _ = try? JSONDecoder().decode(StringCollector.self, from: Data(bytes))
    return StringCollector.seen.contains { text in
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[2].trimmingCharacters(in: .whitespaces) == "/"
    }
}

/// Decodes any JSON, noting every string in it until the first error.
struct StringCollector: Decodable {
    nonisolated(unsafe) static var seen: [String] = []

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            StringCollector.seen.append(text)
        } else if var array = try? decoder.unkeyedContainer() {
            while !array.isAtEnd { _ = try array.decode(StringCollector.self) }
        } else if let object = try? decoder.container(keyedBy: Key.self) {
            for key in object.allKeys { _ = try object.decode(StringCollector.self, forKey: key) }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if skipKnown, hitsKnownCrash(bytes) { return -1 }  // -1: libFuzzer keeps it out of the corpus
    if case .failure(let error) = FuzzEntryPoints.decodeIPScoreRequest(bytes) {
        // Describing the error is part of answering the request.
        _ = String(describing: error)
    }
    return 0
}
