import Service
import Testing

/// The ranges of the configuration's settings, written once in `ServiceConfiguration`.
@Suite struct ConfigurationTests {
    @Test func theDefaultsAreInRange() throws {
        try ServiceConfiguration().validate()
    }

    @Test func theFirstSettingOutOfRangeIsNamed() {
        var c = ServiceConfiguration()
        c.bodyLimit = 12
        c.scorers = 0
        #expect(throws: ServiceConfigurationError(setting: .bodyLimit, reason: "must be 1024–1073741824 bytes, not 12")) { try c.validate() }
        c.bodyLimit = 1024
        #expect(throws: ServiceConfigurationError(setting: .scorers, reason: "must be 1–1024, not 0")) { try c.validate() }
        c.scorers = 1
        c.requestTimeout = .nanoseconds(1)
        #expect(throws: ServiceConfigurationError(setting: .requestTimeout, reason: "must be from 0.001 to 3600 seconds, not 1e-09")) {
            try c.validate()
        }
        c.requestTimeout = .milliseconds(1)
        c.token = ""
        #expect(throws: ServiceConfigurationError(setting: .token, reason: "is empty")) { try c.validate() }
        c.token = "t"
        #expect(throws: Never.self) { try c.validate() }
    }

    @Test func errorsNameTheSettingInWords() {
        let error = ServiceConfigurationError(setting: .readTimeout, reason: "must be from 0.1 to 3600 seconds, not nan")
        #expect(error.description == "the read timeout must be from 0.1 to 3600 seconds, not nan")
        #expect(throws: error) { try ServiceConfiguration.check(.readTimeout, seconds: .nan) }
        #expect(throws: Never.self) { try ServiceConfiguration.check(.readTimeout, seconds: 3600) }
        #expect(throws: ServiceConfigurationError.self) { try ServiceConfiguration.check(.drivers, 51) }
    }

    @Test func everySettingButTheTokenHasARange() {
        for setting in ServiceConfiguration.Setting.allCases {
            #expect((ServiceConfiguration.limit(of: setting) == nil) == (setting == .token), "\(setting)")
        }
    }
}
