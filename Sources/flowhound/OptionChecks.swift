import ArgumentParser

/// Range checks for numeric options. Every number a user gives is checked here before it is used:
/// finite (no `nan` or `inf`), and inside a range that keeps every computation made from it exact:
/// window indices and milliseconds as 64-bit integers, products of counts, allocations sized from it.
/// A value outside is a usage error (exit 64) naming the option and its range.
enum OptionCheck {
    /// A day in seconds, a bound of time options. Window lengths are bounded by
    /// `ScanModel.InputSpec.windowRange`, the range a model file may declare too.
    static let day = 86_400.0

    static func require(_ value: Double, _ option: String, in range: ClosedRange<Double>, unit: String = "") throws {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(option) must be \(describe(range, unit: unit)), not \(value)")
        }
    }

    /// A value that must be above `lowerBound` (exclusive) and at most `upperBound`.
    static func require(_ value: Double, _ option: String, above lowerBound: Double, atMost upperBound: Double, unit: String = "") throws {
        guard value.isFinite, value > lowerBound, value <= upperBound else {
            throw ValidationError(
                "\(option) must be more than \(number(lowerBound)) and at most \(number(upperBound))\(unit.isEmpty ? "" : " " + unit), not \(value)")
        }
    }

    static func require<T: BinaryInteger>(_ value: T, _ option: String, in range: ClosedRange<T>, unit: String = "") throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be \(range.lowerBound)–\(range.upperBound)\(unit.isEmpty ? "" : " " + unit), not \(value)")
        }
    }

    /// Threads: at least one, at most a number no machine exceeds.
    static func threads(_ value: Int, _ option: String = "--threads") throws {
        try require(value, option, in: 1...1024)
    }

    private static func describe(_ range: ClosedRange<Double>, unit: String) -> String {
        "from \(number(range.lowerBound)) to \(number(range.upperBound))" + (unit.isEmpty ? "" : " " + unit)
    }

    /// `600` rather than `600.0`; other values as Swift prints them.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
