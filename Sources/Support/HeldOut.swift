/// About `fraction` of every group's members, the first in order of `rank` (ties by the members
/// themselves); a group of two or more always keeps at least one member on each side. The split
/// every dataset uses: a member (a source, an address) and all its examples fall on one side.
public func heldOut<Member: Hashable & Comparable>(
    _ groups: [String: [Member]], fraction: Double, rank: (Member) -> UInt64
) -> Set<Member> {
    var held = Set<Member>()
    for members in groups.values {
        let ordered = members.map { (rank($0), $0) }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var n = Int((Double(members.count) * fraction).rounded())
        if members.count >= 2 && fraction > 0 { n = min(max(n, 1), members.count - 1) }  // both sides keep the kind
        held.formUnion(ordered.prefix(n).map(\.1))
    }
    return held
}
