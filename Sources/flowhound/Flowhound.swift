import ArgumentParser
import Support

@main
struct Flowhound: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowhound",
        abstract: "Find port scans and suspicious connections in network flow logs.",
        discussion: """
            Reads Zeek conn.log (TSV or JSON), nfdump CSV, Argus/binetflow CSV, AWS VPC Flow Logs and \
            CICFlowMeter CSV, plain or gzip, from files or standard input ('-'). The format is detected \
            from the first lines unless --format names it.

            Exit status: 0 on success, 1 when an input cannot be read (or, with --strict, holds a \
            malformed record), 64 for a usage error.
            """,
        version: flowhoundVersion,
        subcommands: [
            Flows.self, Synth.self, Render.self, Dataset.self, Train.self, Eval.self, Detect.self, Score.self, Serve.self, Publish.self,
            Worker.self, Config.self,
        ])

    /// Parses the command line with the config file's settings for detect, serve, worker and publish
    /// put before it (ConfigInjection), then runs the command.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try ConfigInjection.apply(to: Array(CommandLine.arguments.dropFirst()))
        } catch {
            Diagnostics.error("\(error)")
            Self.exit(withError: ExitCode.failure)
        }
        await main(arguments)
    }
}
