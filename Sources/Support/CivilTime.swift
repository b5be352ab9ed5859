/// A UTC calendar time from Unix seconds, for every place Flowhound prints dates (the inverse of
/// `ByteParsing.daysFromCivil`; H. Hinnant's civil_from_days).
public struct CivilTime: Sendable, Equatable {
    public var year: Int, month: Int, day: Int
    public var hour: Int, minute: Int, second: Int

    public init(unixSeconds: Int64) {
        var days = unixSeconds / 86400
        var rest = unixSeconds % 86400
        if rest < 0 {
            rest += 86400
            days -= 1
        }
        let z = Int(days) + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        hour = Int(rest / 3600)
        minute = Int(rest / 60 % 60)
        second = Int(rest % 60)
    }

    /// Times before year 1 or after year 9999 (or not numbers) are shown as those bounds (NaN as
    /// 1970): every time prints, whatever a damaged checkpoint or a hostile file holds.
    public init(_ seconds: Double) {
        let bounded = seconds.isNaN ? 0 : min(max(seconds, Self.earliest), Self.latest)
        self.init(unixSeconds: Int64(bounded.rounded(.down)))
    }

    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let earliest = -62_135_596_800.0
    static let latest = 253_402_300_799.0

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// `2022-06-12T22:39:58Z`.
    public var iso8601: String {
        "\(year)-\(Self.two(month))-\(Self.two(day))T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z"
    }

    /// `2022-06-12T22:39:58.250Z`: to the millisecond (rounded down), as alerts write their times.
    public static func iso8601Milliseconds(_ seconds: Double) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendISO8601Milliseconds(seconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `iso8601Milliseconds` appended to `out` as UTF-8, without a string of its own (alerts write
    /// several times each, thousands of alerts a second).
    public static func appendISO8601Milliseconds(_ seconds: Double, to out: inout [UInt8]) {
        let bounded = seconds.isNaN ? 0 : min(max(seconds, earliest), latest)
        let whole = bounded.rounded(.down)
        let ms = min(999, Int(((bounded - whole) * 1000).rounded(.down)))
        let t = CivilTime(unixSeconds: Int64(whole))
        appendDecimal(Int64(t.year), to: &out)
        out.append(UInt8(ascii: "-"))
        appendDecimal(Int64(t.month), minimumDigits: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDecimal(Int64(t.day), minimumDigits: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDecimal(Int64(t.hour), minimumDigits: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDecimal(Int64(t.minute), minimumDigits: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDecimal(Int64(t.second), minimumDigits: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendDecimal(Int64(ms), minimumDigits: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// `2022-06-12 22:39:00Z`: always with seconds, so that a column of times lines up.
    public var tableTime: String {
        "\(year)-\(Self.two(month))-\(Self.two(day)) \(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z"
    }

    /// `2022-06-12 22:39Z`, with seconds when they are not zero.
    public var short: String {
        "\(year)-\(Self.two(month))-\(Self.two(day)) \(Self.two(hour)):\(Self.two(minute))" + (second != 0 ? ":\(Self.two(second))" : "") + "Z"
    }

    /// A length of time as people write it: `1h`, `30m`, `90s`, `2d`, `1.5s`.
    public static func durationText(_ seconds: Double) -> String {
        if seconds >= 1, seconds == seconds.rounded(), seconds < 1e15 {
            let s = Int(seconds)
            if s % 86400 == 0 { return "\(s / 86400)d" }
            if s % 3600 == 0 { return "\(s / 3600)h" }
            if s % 60 == 0 { return "\(s / 60)m" }
            return "\(s)s"
        }
        return "\(seconds)s"
    }
}
