import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// `stylevid image CONTENT STYLE [STYLE...] OUTPUT`.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Stylize one image: CONTENT STYLE [STYLE...] OUTPUT.",
        discussion: "Several style images are blended (see --style-blend). OUTPUT may be .png, .jpg, .webp, .bmp or .tif; it is written only when the run succeeds.")

    @Argument(help: "CONTENT STYLE [STYLE...] OUTPUT")
    var paths: [String] = []
    @OptionGroup var options: StyleOptions

    func validate() throws {
        guard paths.count >= 3 else {
            throw ValidationError("expected CONTENT STYLE [STYLE...] OUTPUT, got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    func run() throws { try ImageJob(paths: paths, options: options).run() }
}
