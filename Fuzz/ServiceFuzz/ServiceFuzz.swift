// libFuzzer entry point for the service's request bodies: `POST /v1/ip/score`'s JSON, decoded as
// the handler decodes it (`/v1/detect` bodies go through FlowReader: the flow-reader target).
// A bad body must give a 400 error, never a crash.

import Foundation
import Service

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .failure(let error) = FuzzEntryPoints.decodeIPScoreRequest(bytes) {
        // Describing the error is part of answering the request.
        _ = String(describing: error)
    }
    return 0
}
