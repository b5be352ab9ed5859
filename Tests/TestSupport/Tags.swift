import Testing

// Swift 6.3's `swift test --filter/--skip` match test names (Module.Suite/test()), not tags, so the
// README's fast-test command names the `.slow` tests, and the XCTest cases that would be, in a
// `--skip` pattern: a test tagged `.slow` must be added there too.
extension Tag {
    /// Runs the `flowhound` executable, starts a server (HTTP, nats-server) or external capture
    /// tools, or trains a model through the command line. `swift test` runs these with the rest.
    @Tag public static var integration: Self

    /// Takes tens of seconds on its own (a live capture, a NATS cluster with workers killed and
    /// restarted): left out by the README's fast-test command.
    @Tag public static var slow: Self
}
