import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO

/// The `stylevid` command: its subcommands, and the one-line error format.
public struct StyleVid: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "stylevid",
        abstract: "Restyle photos and videos with neural style transfer.",
        discussion: """
        The main form, stylevid INPUT STYLE [STYLE...] OUTPUT [options], stylizes INPUT \
        (a photo or a video) with the STYLE image(s) and writes OUTPUT. It is the `run` \
        subcommand, so its options, each with its default, are listed by:
          stylevid run --help
        Examples:
          stylevid photo.jpg painting.jpg out.png
          stylevid clip.mp4 painting.jpg out.mp4
          stylevid photo street.jpg sunset.jpg relit.jpg
          stylevid clip.mp4 out.mp4 -vf "scale=640:-2,style=painting.jpg:weight=200"
          stylevid stability out.mp4 clip.mp4
        Models and sample data live in $STYLEVID_HOME (default ~/.cache/stylevid); \
        `make setup` installs them.
        """,
        version: "0.1.0",
        subcommands: [Run.self, ImageCommand.self, PhotoCommand.self, PhotoMetrics.self, StyleMetrics.self, FiltersCommand.self, Probe.self, FlowCommand.self, Stability.self, Bench.self, PlanCommand.self, RenderCommand.self, JoinCommand.self, StatusCommand.self, SlurmCommand.self],
        defaultSubcommand: Run.self)

    public static func main() {
        configureAllocator()
        // a full disk or a file-size limit must be an error we can clean up after, not
        // a kill by SIGXFSZ that leaves the temporary file behind
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // --help, --version: the library prints them
            if exitCode(for: error) == .success { exit(withError: error) }
            // a -vf chain error: its line, then the chain with a caret under the problem
            if let e = error as? FilterChainError {
                FileHandle.standardError.write("stylevid: error: \(e.description)\n\(e.caret)\n".data(using: .utf8)!)
                Foundation.exit(1)
            }
            // everything else: one line naming the problem, and a non-zero exit
            var message = self.message(for: error).replacingOccurrences(of: "\n", with: " ")
            if message.hasPrefix("Error: ") { message.removeFirst(7) }
            FileHandle.standardError.write("stylevid: error: \(message)\n".data(using: .utf8)!)
            let code = exitCode(for: error)
            Foundation.exit(code == .success ? 1 : code.rawValue)
        }
    }
}

/// One line on stderr and a non-zero exit, for every error the user can cause.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
