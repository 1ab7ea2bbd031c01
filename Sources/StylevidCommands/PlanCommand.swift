import ArgumentParser
import Engine
import Foundation
import VideoIO

/// `stylevid plan INPUT STYLE [STYLE...] OUTPUT --job DIR [options]`: a render split into
/// tasks (`RenderPlan`), written to DIR/plan.json.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Split a video render into tasks that run independently: INPUT STYLE [STYLE...] OUTPUT --job DIR.",
        discussion: """
            Resolves every setting once (the options are those of the main form), finds the \
            shot changes and writes DIR/plan.json: tasks of at most --chunk-frames frames, \
            cut at shot changes where there are any. Then render the tasks, on this machine \
            (`stylevid render DIR --all`) or one per array task of a cluster (`stylevid \
            render DIR`, which reads $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX), follow \
            them with `stylevid status DIR`, and write OUTPUT with `stylevid join DIR`. DIR \
            and OUTPUT must be on a filesystem every node sees. Where a task continues the \
            shot of the task before it, a seam pass renders its first frames again once \
            both are done, continuing the task before's last frame, so the seam does not jump. \
            With --mode fast there is no seam pass: a task that continues a shot starts on a \
            keyframe that the task before ends on (DIR/keyframes), made by whichever of the \
            two needs it first.
            """)

    /// At the video defaults (384 px, 20 later evaluations) a frame costs 8.8 s on 2 cores
    /// (BENCHMARKS.md), so 300 frames are about 44 minutes of work per task.
    static let defaultChunkFrames = 300

    @OptionGroup var main: MainForm
    @Option(help: "The job folder: plan.json and every task's frames go there.")
    var job: String
    @Option(help: "Most frames per task (at the video defaults a frame takes 8.8 s on 2 cores, BENCHMARKS.md \"Max-blur pooling as the video default\").")
    var chunkFrames: Int = PlanCommand.defaultChunkFrames
    @Option(help: "First frames of such a task that its seam pass renders again, continuing the task before's last frame and handing over to the task's own frames (0: none; default \(RenderPlan.defaultSeamPassFrames); --mode fast has no seam pass).")
    var seamPassFrames: Int?

    func validate() throws {
        let video = main.video
        guard chunkFrames >= 1 else { throw ValidationError("--chunk-frames must be at least 1") }
        guard (seamPassFrames ?? 0) >= 0 else { throw ValidationError("--seam-pass-frames must be 0 (none) or more") }
        guard video.mode == .full || seamPassFrames == nil else {
            throw ValidationError("--seam-pass-frames is not for --mode fast: its tasks meet at a keyframe they share, with no seam pass")
        }
        guard video.start == nil, video.duration == nil, video.frames == nil else {
            throw ValidationError("a plan renders the whole input: --start, --duration and --frames are not for plan (cut the input first)")
        }
        guard !video.resume else { throw ValidationError("--resume is not for plan: a task run again continues by itself") }
        guard video.passes == 1 else { throw ValidationError("--passes needs the whole video in one run; it is not for plan") }
    }

    func run() throws {
        let fm = FileManager.default
        let plan = JobFolder(job)
        if fm.fileExists(atPath: plan.planPath) {
            throw CLIError("\(job) already holds a plan; remove the folder or choose another --job")
        }
        // the input and the output are absolute in the plan; the other paths in the
        // settings are relative to the working folder, where every task runs
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        let form = main.videoJob, settings = try form.videoSettings()
        let prepared = try VideoJob.render(input: absolute(form.input), output: absolute(form.output), settings: settings)
        let reporter = ProgressReporter(quiet: main.options.quiet)
        reporter.note(prepared.summary)
        // shot changes, on small frames: a pass over the input at decoding speed
        var detector = ShotDetector()
        let reader = try VideoReader(path: prepared.input, sizing: { min(64, $0) })
        var frames = 0, timestamps: [Int64] = []
        while let f = try reader.nextFrame() { detector.add(f.image); timestamps.append(f.pts); frames += 1 }
        guard frames > 0, let videoStart = reader.videoStart else { throw CLIError("\(prepared.input): no video frames") }
        var tasks = RenderPlan.tasks(frameCount: frames, shotStarts: detector.starts, chunkFrames: chunkFrames)
        for k in tasks.indices { tasks[k].firstPts = timestamps[tasks[k].first]; tasks[k].lastPts = timestamps[tasks[k].last] }
        var value = RenderPlan(stylevidVersion: StyleVid.configuration.version, input: prepared.input, output: prepared.output,
                               workingDirectory: fm.currentDirectoryPath, settings: settings,
                               fingerprint: JobFolder.fingerprint(prepared), frameCount: frames,
                               frameRate: prepared.reader.info.frameRate.value,
                               width: prepared.frames.processing.width, height: prepared.frames.processing.height,
                               shotStarts: detector.starts, seamPassFrames: settings.mode == .fast ? 0 : seamPassFrames ?? RenderPlan.defaultSeamPassFrames, tasks: tasks)
        value.videoStartPts = videoStart.pts
        value.videoStartTime = videoStart.time
        do {
            try fm.createDirectory(atPath: job, withIntermediateDirectories: true)
            try value.encoded().write(to: URL(fileURLWithPath: plan.planPath), options: .atomic)
        } catch {
            throw CLIError("cannot write \(plan.planPath): \(error.localizedDescription)")
        }
        reporter.note("wrote \(plan.planPath): \(frames) frames, \(detector.starts.count + 1) shot(s), \(tasks.count) task(s) of at most \(chunkFrames) frames")
        reporter.note("next: stylevid slurm \(job) (a Slurm cluster), or stylevid render \(job) --all then stylevid join \(job) (this machine)")
    }
}
