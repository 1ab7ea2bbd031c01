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
        useVectorBLAS()
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

extension StyleVid {
    /// OpenBLAS picks its kernels from the CPU once, when it loads. Debian 12's OpenBLAS
    /// (0.3.21) does not know CPUs newer than it and falls back to its SSE3 kernels
    /// ("Prescott") on them: on an Intel Xeon with AVX-512 the VGG bench took 1000 ms
    /// instead of 530 ms with the Haswell kernels (BENCHMARKS.md "OpenBLAS's kernels on a
    /// CPU it does not know"). Where it fell back so and the CPU runs AVX2 and FMA, the
    /// process runs itself again with `OPENBLAS_CORETYPE=Haswell`; a user's own
    /// `OPENBLAS_CORETYPE` is left alone.
    static func useVectorBLAS() {
        let preAVX2 = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "sandybridge",
                       "katmai", "coppermine", "northwood", "banias", "opteron", "barcelona", "bobcat", "bulldozer",
                       "piledriver", "steamroller", "excavator"]
        guard getenv("OPENBLAS_CORETYPE") == nil, cpuHasAVX2FMA, preAVX2.contains(blasCoreName.lowercased()) else { return }
        setenv("OPENBLAS_CORETYPE", "Haswell", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")    // exec failed: go on with the kernels there are
    }
}
