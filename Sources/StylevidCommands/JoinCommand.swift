import ArgumentParser
import Engine
import Foundation
import VideoIO

/// `stylevid join DIR`: OUTPUT from every task's segment.
struct JoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Write a plan's OUTPUT from its tasks' segments (packets copied), with the input's timestamps, rotation and audio.",
        discussion: """
            Each segment starts with a key frame, so OUTPUT has one where each task \
            starts: a key frame's coding noise differs from the frame's before it, which \
            lifts the warping error of the seam pair to 1.8–2.6× the median pair of the \
            two tasks at 192 px (BENCHMARKS.md, "Cluster rendering"). --reencode encodes \
            OUTPUT afresh from the tasks' lossless frames instead, as one machine's render \
            is encoded: no key frame at the seams, but one encoder for the whole video \
            (7.2 frames/s at 1080p on 2 cores).
            """)
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String
    @Flag(help: "Encode OUTPUT from the tasks' lossless frames instead of copying their segments.") var reencode = false
    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let unfinished = plan.tasks.indices.filter { folder.finishedFrames($0) != plan.tasks[$0].count }
        guard unfinished.isEmpty else {
            let list = unfinished.prefix(20).map(String.init).joined(separator: ", ") + (unfinished.count > 20 ? ", …" : "")
            throw CLIError("\(unfinished.count) of \(plan.tasks.count) task(s) are not finished (\(list)); render them (stylevid render \(dir) --task K), then join again")
        }
        let segments = try plan.tasks.indices.map { k in
            guard let info = folder.segmentInfo(k), FileManager.default.fileExists(atPath: folder.segmentFile(k, plan: plan)) else {
                throw CLIError(plan.seamPassLength(task: k) > 0
                    ? "the seam pass of task \(k) has not run: stylevid render \(dir) --seam --task \(k) (stylevid slurm and --all run it)"
                    : "task \(k)'s segment is missing or damaged; render the task again (rm \(folder.doneFile(k)); stylevid render \(dir) --task \(k))")
            }
            return (segment: SegmentJoiner.Segment(path: folder.segmentFile(k, plan: plan), offset: info.offset), start: info.videoStartTime)
        }
        let reporter = ProgressReporter(quiet: quiet)
        try checkVideoOutput(plan.output, inputs: [plan.input])
        if reencode { return try encode(plan, folder: folder, reporter: reporter) }
        let info = try VideoReader(path: plan.input).info
        let written = try SegmentJoiner.join(segments.map(\.segment), into: plan.output, timeBase: info.timeBase, frameRate: info.frameRate,
                                             rotation: info.rotation, audioFrom: plan.settings.noAudio ? nil : plan.input,
                                             startTime: segments[0].start, expectedFrames: plan.frameCount)
        for warning in written.warnings { reporter.note("warning: " + warning) }
        reporter.note("wrote \(plan.output) (\(written.frames) frames, joined from \(plan.tasks.count) task segment(s))")
    }

    /// OUTPUT encoded from every task's lossless frames (the seam passes' where they ran).
    func encode(_ plan: RenderPlan, folder: JobFolder, reporter: ProgressReporter) throws {
        let renderer = TaskRenderer(plan: plan, folder: folder, reporter: reporter)
        let render = try folder.prepare(plan, range: nil)
        let sources = try plan.tasks.indices.map { try renderer.frames($0, source: render.frames.source != nil) }
        let (w, h) = render.frames.resultSize
        let started = Date()
        let written = try render.encode(observer: reporter) { i in
            guard let k = plan.task(of: i), let img = sources[k](i - plan.tasks[k].first, w, h) else {
                throw CLIError("frame \(i) is missing or damaged in \(dir); render its task again")
            }
            let elapsed = Date().timeIntervalSince(started)
            reporter.updateVideo(VideoProgress(framesDone: i, framesExpected: plan.frameCount, elapsed: elapsed, secondsPerFrame: elapsed / Double(max(1, i))))
            return img
        }
        reporter.finish()
        guard written.frames == plan.frameCount else {
            throw CLIError("the input gave \(written.frames) frame(s) where the plan has \(plan.frameCount); has \(plan.input) changed since the plan?")
        }
        reporter.note("wrote \(plan.output) (\(written.frames) frames, encoded from \(plan.tasks.count) task(s)' frames)")
    }
}
