import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO
import Temporal

/// `stylevid INPUT STYLE [STYLE...] OUTPUT`: frames stylized with temporal consistency
/// (`VideoRender`), checkpointed for --resume, written with the input's timestamps and
/// audio; optionally refined by later passes.
struct VideoJob {
    let paths: [String]
    let options: StyleOptions
    let video: VideoOptions
    var chain: String? = nil
    /// `stylevid photo` on a video: the photoreal defaults, frame by frame with the
    /// temporal term.
    var photo = false
    var input: String { paths[0] }
    var output: String { paths[paths.count - 1] }

    func run() throws {
        let render = try prepare()
        let reporter = ProgressReporter(quiet: options.quiet)
        reporter.verbose = video.verbose
        reporter.note(render.summary)
        let checkpoints = try Checkpoints(output: output, fingerprint: render.fingerprint, resume: video.resume)
        if checkpoints.available > 0 { reporter.note("resuming: \(checkpoints.available) finished frame(s) found") }
        let written: VideoRender.Stylized
        do {
            written = try render.run(checkpoints: checkpoints, observer: reporter)
        } catch {
            reporter.finish()
            // keep finished frames for --resume; an empty checkpoint folder is removed
            let saved = checkpoints.saved
            if saved == 0 { checkpoints.removeAll() }
            let message = "\(error)"
            throw CLIError(saved == 0 ? message : "\(message) (\(saved) finished frame(s) are saved; fix the problem and run the same command with --resume)")
        }
        reporter.finish()
        checkpoints.removeAll()
        if let d = render.flowDir, d.computedInstead > 0 {
            reporter.note("note: \(d.computedInstead) flow pair(s) were not in \(d.folder) and were computed")
        }
        if render.reader.corruptPackets > 0 {
            reporter.note("warning: \(render.reader.corruptPackets) damaged packet(s) in \(input) were skipped (\(render.reader.lastDecodeError ?? "decode error")); every decodable frame was processed")
        }
        reporter.note(String(format: "wrote %@ (%d frames, %d×%d, %.1f s per frame%@)", output, written.frames,
                             written.writer?.width ?? 0, written.writer?.height ?? 0, written.secondsPerFrame, render.frames.costSummary))
    }

    /// The options, the video preset and the chain resolved to one run (nothing loaded).
    func resolvedSettings() throws -> RunSettings {
        try RunSettings(options: options, positional: Array(paths[1..<(paths.count - 1)]), chain: chain, photo: photo, video: video)
    }

    /// Everything that decides the frames, resolved once (nothing loaded).
    func videoSettings() throws -> VideoSettings {
        let run = try resolvedSettings()
        var s = VideoSettings(style: run.config, temporal: run.temporal, stylePaths: run.stylePaths)
        s.geometry = run.geometry
        s.passes = run.passes
        (s.contentMask, s.referenceMask, s.maskMap) = (run.contentMask, run.referenceMask, run.maskMap)
        s.maxMemory = try options.maxMemory.map { _ in try options.memoryLimit() }
        s.model = options.model
        s.outputSize = video.outputSize
        s.flowDir = video.flowDir
        s.range = try video.range()
        s.noAudio = video.noAudio
        s.encoding.crf = video.crf
        s.encoding.preset = video.preset
        s.mode = run.mode ?? video.mode
        s.fast.maxGap = run.keyframeGap ?? video.keyframeGap
        return s
    }

    /// The render of this command line.
    func prepare() throws -> VideoRender {
        try VideoJob.render(input: input, output: output, settings: try videoSettings())
    }

    /// The render of `settings` (`range`: a cluster task's frames instead of the
    /// settings'): the output checked, the style images and masks read, the input opened
    /// and the stylizer built; everything that can fail is checked here, before minutes
    /// of work.
    static func render(input: String, output: String, settings: VideoSettings, range: FrameRange? = nil) throws -> VideoRender {
        try settings.validate()      // before any file is read: a bad combination is said first
        let setup = try JobSetup(stylePaths: settings.stylePaths, masks: (settings.contentMask, settings.referenceMask, settings.maskMap),
                                 content: input, output: output, checkOutput: checkVideoOutput)
        return try VideoRender(input: input, output: output, settings: settings, range: range,
                               styles: setup.styleImages, segmentation: setup.segmentation)
    }
}
