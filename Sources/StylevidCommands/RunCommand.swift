import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// The main form's arguments: INPUT STYLE [STYLE...] OUTPUT, the -vf chain and every
/// option (`stylevid plan` takes the same, and its tasks read them back from the plan).
struct MainForm: ParsableArguments {
    @Argument(help: "INPUT STYLE [STYLE...] OUTPUT (or INPUT OUTPUT with style= in -vf)")
    var paths: [String] = []
    @Option(name: [.customLong("vf", withSingleDash: true), .customLong("filter")],
            help: "An FFmpeg-style filter chain, e.g. \"scale=640:-2,style=painting.jpg:weight=200,temporal=200\" (`stylevid filters` lists the filters). It is applied on top of the other options.")
    var filter: String?
    @OptionGroup var options: StyleOptions
    @OptionGroup(title: "Video options") var video: VideoOptions

    func validate() throws {
        guard paths.count >= 3 || (paths.count == 2 && filter != nil) else {
            throw ValidationError("expected INPUT STYLE [STYLE...] OUTPUT (or INPUT OUTPUT -vf \"style=...\"), got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    var videoJob: VideoJob { VideoJob(paths: paths, options: options, video: video, chain: filter) }
}

/// `stylevid INPUT STYLE [STYLE...] OUTPUT`: the main form.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Stylize INPUT with STYLE image(s) into OUTPUT (the default command).",
        shouldDisplay: false)

    @OptionGroup var main: MainForm

    func run() throws {
        // anything that is not a still image by its extension goes the video way
        // (FFmpeg probes the content; a non-media file fails there with a clear line)
        if ImageIO.isStillImagePath(main.paths[0]) {
            try ImageJob(paths: main.paths, options: main.options, chain: main.filter).run()
        } else {
            try main.videoJob.run()
        }
    }
}
