import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// `stylevid photo CONTENT REFERENCE OUTPUT`: photo-to-photo relighting.
struct PhotoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo",
        abstract: "Relight a photo with the colours and tone of a reference photo: CONTENT REFERENCE OUTPUT.",
        discussion: """
            Deep Photo Style Transfer (Luan et al.): style transfer from the content, with the \
            matting-Laplacian term (--photoreal) that keeps the result locally an affine \
            function of the content's colours, so edges stay in place and nothing is painted. \
            The colour mapping found at --size is applied to the photo at its own resolution \
            (guided upsampling). With --content-mask/--style-mask, each labelled region takes \
            its colours from the same region of the reference. --method reinhard is the \
            instant global alternative (Lab mean and spread matched). A video CONTENT is \
            relit frame by frame with the same defaults plus the temporal term.
            """)

    static let upsampleRadius = 2
    static let upsampleEpsilon: Float = 1e-4

    @Argument(help: "CONTENT REFERENCE OUTPUT")
    var paths: [String] = []
    enum Method: String, ExpressibleByArgument, CaseIterable { case optimize, reinhard }
    @Option(help: "optimize, or reinhard (global Lab colour transfer, no network).")
    var method: Method = .optimize
    @OptionGroup var options: StyleOptions
    @OptionGroup(title: "Video options (when CONTENT is a video)") var video: VideoOptions

    func validate() throws {
        guard paths.count == 3 else {
            throw ValidationError("expected CONTENT REFERENCE OUTPUT, got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    func run() throws {
        if method == .reinhard {
            guard ImageIO.isStillImagePath(paths[0]) else { throw CLIError("--method reinhard is for photos; relight a video with the default method") }
            try checkOutput(paths[2], inputs: [paths[0], paths[1]])
            let content = Tensor(image: try ImageIO.read(paths[0])), reference = Tensor(image: try ImageIO.read(paths[1]))
            try ImageIO.write(ColorMetrics.reinhard(content, reference: reference).rgbImage(), to: paths[2])
            return
        }
        if ImageIO.isStillImagePath(paths[0]) {
            try ImageJob(paths: paths, options: options, photo: true).run()
        } else {
            try VideoJob(paths: paths, options: options, video: video, photo: true).run()
        }
    }
}
