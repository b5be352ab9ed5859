import FlowRecords
import Foundation
import Hummingbird
import Reputation
import Support

/// `POST /v1/ip/score`'s body: `{"addresses": [...]}`, each entry `"ADDR[,HOUR[,PORT/PROTO]]"`
/// (as `flowhound score ip` takes them) or `{"address": ..., "hour": ..., "port": ..., "transport": ...}`.
struct IPScoreRequest: Decodable {
    var addresses: [AddressEntry]

    enum CodingKeys: String, CodingKey { case addresses }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(["addresses"])
        addresses = try decoder.container(keyedBy: CodingKeys.self).decode([AddressEntry].self, forKey: .addresses)
    }
}

/// One address to score, with the hour and port of the connection when the model uses them.
struct AddressEntry: Decodable {
    var observation: Observation

    enum CodingKeys: String, CodingKey { case address, hour, port, transport }

    init(from decoder: any Decoder) throws {
        let text: String
        if let single = try? decoder.singleValueContainer(), let string = try? single.decode(String.self) {
            text = string
        } else if (try? decoder.container(keyedBy: AnyCodingKey.self)) != nil {
            try decoder.rejectUnknownKeys(["address", "hour", "port", "transport"])
            let object = try decoder.container(keyedBy: CodingKeys.self)
            // An optional field is left out or given, never null.
            for key in [CodingKeys.hour, .port, .transport] where object.contains(key) {
                if try object.decodeNil(forKey: key) {
                    throw DecodingError.valueNotFound(
                        key == .transport ? String.self : Int.self,
                        .init(codingPath: decoder.codingPath + [key], debugDescription: "null"))
                }
            }
            let address = try object.decode(String.self, forKey: .address)
            let hour = try object.decodeIfPresent(Int.self, forKey: .hour)
            let port = try object.decodeIfPresent(Int.self, forKey: .port)
            let transport = try object.decodeIfPresent(String.self, forKey: .transport)
            if let transport {
                guard port != nil else {
                    throw DecodingError.dataCorrupted(
                        .init(codingPath: decoder.codingPath + [CodingKeys.transport], debugDescription: "a transport needs a port"))
                }
                guard ["tcp", "udp", "icmp"].contains(transport) || (UInt8(transport).map { String($0) == transport } ?? false) else {
                    throw DecodingError.dataCorrupted(
                        .init(
                            codingPath: decoder.codingPath + [CodingKeys.transport],
                            debugDescription: "'\(transport)' is not tcp, udp, icmp or a protocol number 0–255"))
                }
            }
            // The same syntax `score ip` reads, so both check addresses, hours and ports alike.
            text = [address, hour.map(String.init) ?? "", port.map { "\($0)/\(transport ?? "tcp")" } ?? ""]
                .joined(separator: ",").trimmingCharacters(in: CharacterSet(charactersIn: ","))
        } else {
            throw DecodingError.typeMismatch(AddressEntry.self, .init(codingPath: decoder.codingPath, debugDescription: ""))
        }
        switch Observation.parse(text) {
        case .success(let observation): self.observation = observation
        case .failure(let error):
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}

/// `POST /v1/ip/score`'s answer.
struct IPScoreResponse: Encodable {
    var generation: Int
    var scores: [IPScore]
}

extension FlowhoundService {
    func scoreAddresses(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let body = try await request.collectBody(limit: configuration.bodyLimit)
        let parsed = try JSONCoding.decode(IPScoreRequest.self, from: body)
        guard !parsed.addresses.isEmpty else { throw ServiceError.badRequest("addresses: empty; give at least one", field: "addresses") }
        guard parsed.addresses.count <= configuration.maxAddressesPerRequest else {
            throw ServiceError(
                .contentTooLarge, "addresses: \(parsed.addresses.count) given, at most \(configuration.maxAddressesPerRequest) a request",
                field: "addresses")
        }
        let generation = store.current
        guard let pool = generation.ipScorers else {
            throw ServiceError(.serviceUnavailable, generation.ipScoringOff ?? "IP scoring is off")
        }
        let scores = try pool.withScorer { scorer in
            try parsed.addresses.enumerated().map { index, entry in
                if index & 255 == 255 { try context.checkDeadline() }
                do {
                    return try scorer.score(entry.observation)
                } catch let error as ReputationDataError {
                    throw ServiceError(.unprocessableContent, "addresses[\(index)]: \(error.description)", field: "addresses[\(index)]")
                }
            }
        }
        metrics.addressesScored.increment(by: Int64(scores.count))
        // As alerts are written: a probability of 1 is `1.0`, so every number field keeps one JSON type.
        return Self.jsonResponse(Data(jsonLine(IPScoreResponse(generation: generation.number, scores: scores)).utf8))
    }
}
