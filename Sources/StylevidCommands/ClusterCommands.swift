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
            both are done, continuing the task before's last frame, so the seam does not jump.
            """)

    /// At the video defaults (384 px, 20 later evaluations) a frame costs 8.8 s on 2 cores
    /// (BENCHMARKS.md), so 300 frames are about 44 minutes of work per task.
    static let defaultChunkFrames = 300

    @OptionGroup var main: MainForm
    @Option(help: "The job folder: plan.json and every task's frames go there.")
    var job: String
    @Option(help: "Most frames per task (at the video defaults a frame takes 8.8 s on 2 cores, BENCHMARKS.md \"Max-blur pooling as the video default\").")
    var chunkFrames: Int = PlanCommand.defaultChunkFrames
    @Option(help: "A keyframe ramp besides the seam pass: the next task's first frame is rendered before the tasks, and this many frames before the seam travel toward it (0: none; measured worse than the seam pass alone, BENCHMARKS.md).")
    var seamFrames: Int = RenderPlan.defaultSeamFrames
    @Option(help: "First frames of such a task that its seam pass renders again, continuing the task before's last frame and handing over to the task's own frames (0: none).")
    var seamPassFrames: Int = RenderPlan.defaultSeamPassFrames

    func validate() throws {
        let video = main.video
        guard chunkFrames >= 1 else { throw ValidationError("--chunk-frames must be at least 1") }
        guard seamFrames >= 0, seamPassFrames >= 0 else { throw ValidationError("--seam-frames and --seam-pass-frames must be 0 (none) or more") }
        guard video.start == nil, video.duration == nil, video.frames == nil else {
            throw ValidationError("a plan renders the whole input: --start, --duration and --frames are not for plan (cut the input first)")
        }
        guard !video.resume else { throw ValidationError("--resume is not for plan: a task run again continues by itself") }
        guard video.passes == 1 else { throw ValidationError("--passes needs the whole video in one run; it is not for plan") }
    }

    /// The main form's arguments: this command line without plan's own options.
    func mainArguments() -> [String] {
        var out: [String] = [], args = Array(CommandLine.arguments.dropFirst())
        if args.first == "plan" { args.removeFirst() }
        var i = 0
        while i < args.count {
            let a = args[i]
            let own = ["--job", "--chunk-frames", "--seam-frames", "--seam-pass-frames"]
            if own.contains(a) { i += 2; continue }
            if own.contains(where: { a.hasPrefix($0 + "=") }) { i += 1; continue }
            out.append(a); i += 1
        }
        return out
    }

    func run() throws {
        let fm = FileManager.default
        let plan = JobFolder(job)
        if fm.fileExists(atPath: plan.planPath) {
            throw CLIError("\(job) already holds a plan; remove the folder or choose another --job")
        }
        let arguments = mainArguments()
        let prepared = try main.videoJob.prepare(arguments: arguments)
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
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        var value = RenderPlan(stylevidVersion: StyleVid.configuration.version, input: absolute(prepared.input), output: absolute(prepared.output),
                               workingDirectory: fm.currentDirectoryPath, arguments: arguments,
                               fingerprint: JobFolder.fingerprint(prepared), frameCount: frames,
                               frameRate: prepared.reader.info.frameRate.value,
                               width: prepared.processing.width, height: prepared.processing.height,
                               shotStarts: detector.starts, seamFrames: seamFrames, seamPassFrames: seamPassFrames, tasks: tasks)
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
        let main = try folder.mainForm(plan)
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
                                             rotation: info.rotation, audioFrom: main.video.noAudio ? nil : plan.input,
                                             startTime: segments[0].start, expectedFrames: plan.frameCount)
        for warning in written.warnings { reporter.note("warning: " + warning) }
        reporter.note("wrote \(plan.output) (\(written.frames) frames, joined from \(plan.tasks.count) task segment(s))")
    }

    /// OUTPUT encoded from every task's lossless frames (the seam passes' where they ran).
    func encode(_ plan: RenderPlan, folder: JobFolder, reporter: ProgressReporter) throws {
        let renderer = TaskRenderer(plan: plan, folder: folder, reporter: reporter)
        let (job, prepared) = try folder.prepare(plan, range: nil)
        let sources = try plan.tasks.indices.map { try renderer.frames($0, source: prepared.source != nil) }
        let (w, h) = prepared.resultSize
        let started = Date()
        let written = try job.encode(prepared, reporter: reporter) { i in
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

/// `stylevid status DIR`: per-task progress, from the job folder alone.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a plan's progress: frames done per task, and the work left (reads only the job folder).")
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let fm = FileManager.default
        var done = 0, finished = 0, busySeconds = 0.0, timedFrames = 0
        for (k, t) in plan.tasks.enumerated() {
            let names = ((try? fm.contentsOfDirectory(atPath: folder.taskFolder(k))) ?? []).filter(Checkpoints.isFrameName).sorted()
            let isDone = folder.finishedFrames(k) == t.count
            // seconds per frame, from the saved frames' times
            let times = names.compactMap { (try? fm.attributesOfItem(atPath: folder.taskFolder(k) + "/" + $0))?[.modificationDate] as? Date }
            if let a = times.min(), let b = times.max(), times.count >= 2 {
                busySeconds += b.timeIntervalSince(a); timedFrames += times.count - 1
            }
            done += names.count
            if isDone { finished += 1 }
            let state = isDone ? "done" : names.isEmpty ? "not started" : "running or stopped"
            print(String(format: "task %3d  frames %6d-%-6d  %5d/%-5d  %@", k, t.first, t.last, names.count, t.count, state))
        }
        let left = plan.frameCount - done
        var line = "\(finished) of \(plan.tasks.count) task(s) done, \(done) of \(plan.frameCount) frames"
        if timedFrames > 0 && left > 0 {
            let perFrame = busySeconds / Double(timedFrames)
            line += String(format: "; %.1f s per frame, about %.1f h of work left (divide by the tasks running at once)", perFrame, perFrame * Double(left) / 3600)
        }
        print(line)
        let seams = plan.tasks.indices.filter { plan.seamPassLength(task: $0) > 0 }
        let seamsDone = seams.filter { folder.segmentInfo($0) != nil }.count
        if !seams.isEmpty { print("\(seamsDone) of \(seams.count) seam pass(es) done") }
        if finished == plan.tasks.count && seamsDone == seams.count { print("every task is done: stylevid join \(dir)") }
    }
}
