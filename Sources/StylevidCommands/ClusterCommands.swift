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
            them with `stylevid status DIR`, and encode OUTPUT with `stylevid join DIR`. DIR \
            and OUTPUT must be on a filesystem every node sees. Where a task continues the \
            shot of the task before it, its first frame (its keyframe) is rendered first and \
            the task before is drawn toward it over its last frames, so the seam does not jump.
            """)

    /// At the video defaults (384 px, 20 later evaluations) a frame costs about 9 s on 2
    /// cores (BENCHMARKS.md), so 300 frames are about 45 minutes of work per task.
    static let defaultChunkFrames = 300

    @OptionGroup var main: MainForm
    @Option(help: "The job folder: plan.json and every task's frames go there.")
    var job: String
    @Option(help: "Most frames per task (the default is about 45 minutes of work at the video defaults on 2 cores, at ~9 s per frame).")
    var chunkFrames: Int = PlanCommand.defaultChunkFrames
    @Option(help: "Frames before a seam inside a shot that travel, in equal steps, toward the next task's keyframe, so the two meet without a jump (longer: smaller steps; measured in BENCHMARKS.md).")
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

/// A job folder: plan.json, and tasks/K/ with task K's frames (`Checkpoints` files,
/// numbered from the task's first frame) and, once finished, its `done` file.
struct JobFolder {
    let path: String
    init(_ path: String) { self.path = path }
    var planPath: String { path + "/plan.json" }
    func taskFolder(_ k: Int) -> String { path + "/tasks/\(k)" }
    func doneFile(_ k: Int) -> String { taskFolder(k) + "/done" }
    /// Task k's frames encoded as OUTPUT is (video only, timestamps from 0), in a container
    /// that keeps decode timestamps (`SegmentJoiner`).
    func segmentFile(_ k: Int, plan: RenderPlan) -> String {
        taskFolder(k) + (URL(fileURLWithPath: plan.output).pathExtension.lowercased() == "webm" ? "/segment.webm" : "/segment.mp4")
    }
    func segmentInfoFile(_ k: Int) -> String { taskFolder(k) + "/segment.json" }
    /// Task k's seam pass: its first frames rendered again (`RenderPlan.seamPassLength`).
    func seamFolder(_ k: Int) -> String { path + "/seams/\(k)" }

    /// Where a task's segment goes in the output: its first frame's pts after the video's
    /// first frame (input time base), and where the video starts (seconds of the input).
    struct SegmentInfo: Codable {
        var offset: Int64
        var videoStartTime: Double
    }
    func writeSegmentInfo(_ info: SegmentInfo, task k: Int) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        try e.encode(info).write(to: URL(fileURLWithPath: segmentInfoFile(k)), options: .atomic)
    }
    func segmentInfo(_ k: Int) -> SegmentInfo? {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return FileManager.default.contents(atPath: segmentInfoFile(k)).flatMap { try? d.decode(SegmentInfo.self, from: $0) }
    }

    /// The main form the plan recorded, parsed (nothing loaded).
    func mainForm(_ plan: RenderPlan) throws -> MainForm {
        do { return try MainForm.parse(plan.arguments) } catch {
            throw CLIError("\(planPath): its arguments no longer parse (\(MainForm.message(for: error))): plan again")
        }
    }

    /// What a task must reproduce: the settings, the model, and the stylevid version.
    static func fingerprint(_ prepared: PreparedVideo) -> String {
        "stylevid \(StyleVid.configuration.version)\n" + prepared.fingerprint
    }

    /// The plan, or one line saying why there is none.
    func load() throws -> RenderPlan {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("\(path): no such job folder (make one with stylevid plan … --job \(path))")
        }
        guard let data = FileManager.default.contents(atPath: planPath) else {
            throw CLIError("\(path) is not a job folder: it has no plan.json (make one with stylevid plan … --job \(path))")
        }
        let plan: RenderPlan
        do { plan = try RenderPlan.decode(data) } catch RenderPlan.FormatError.format(let n) {
            throw CLIError("\(planPath) has plan format \(n); this stylevid reads format \(RenderPlan.currentFormat): plan again")
        } catch {
            throw CLIError("\(planPath) is not a stylevid plan (\(error.localizedDescription))")
        }
        guard plan.stylevidVersion == StyleVid.configuration.version else {
            throw CLIError("\(planPath) was made by stylevid \(plan.stylevidVersion); this is stylevid \(StyleVid.configuration.version): use the same build on every node, or plan again")
        }
        guard FileManager.default.changeCurrentDirectoryPath(plan.workingDirectory) else {
            throw CLIError("the plan's working folder \(plan.workingDirectory) is not here: DIR, the input and the output must be on a filesystem every node sees")
        }
        guard FileManager.default.fileExists(atPath: plan.input) else {
            throw CLIError("the plan's input \(plan.input) no longer exists")
        }
        return plan
    }

    /// The main form's job as the plan recorded it, prepared for `range`; refused when
    /// this build resolves the settings or the model otherwise than the planning one did.
    func prepare(_ plan: RenderPlan, range: ClosedRange<Int>) throws -> (VideoJob, PreparedVideo) {
        let job = try mainForm(plan).videoJob
        let prepared = try job.prepare(range: FrameRange(frames: range), arguments: plan.arguments)
        prepared.seek = plan.seekPoint(frame: range.lowerBound)
        guard JobFolder.fingerprint(prepared) == plan.fingerprint else {
            throw CLIError("\(planPath) was made with other settings or another model than this stylevid resolves them to (\(prepared.summary.components(separatedBy: "; ").last ?? "")): plan again with this build")
        }
        return (job, prepared)
    }

    /// Task k's keyframe: its first frame's input and result, once rendered.
    func keyframe(_ k: Int) -> (input: RGBImage, output: RGBImage)? {
        guard let i = try? ImageIO.read(taskFolder(k) + "/" + Checkpoints.inputName(0)),
              let o = try? ImageIO.read(taskFolder(k) + "/" + Checkpoints.frameName(0)), i.width == o.width, i.height == o.height else { return nil }
        return (i, o)
    }

    /// Task k's finished frames: its `done` file says how many (nil: not finished).
    func finishedFrames(_ k: Int) -> Int? {
        (try? String(contentsOfFile: doneFile(k), encoding: .utf8)).flatMap { Int($0.split(separator: " ").first ?? "") }
    }
}

/// `stylevid render DIR [--keyframe | --seam] [--task K | --all]`.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render task(s) of a plan into its job folder (lossless, resumable).",
        discussion: """
            Seams inside a shot take three phases. A task that continues a shot the task \
            before it started needs its keyframe (its first frame) first: the task before \
            is drawn toward it over its last frames (the plan's --seam-frames). Then the \
            tasks. Then each such task's seam pass renders its first frames again (the \
            plan's --seam-pass-frames), continuing the task before's last frame and handing \
            over to the task's own frames, and encodes the task. So: `--keyframe`, then the \
            tasks, then `--seam` (`--all` does all three, in order). Without --task or \
            --all, the task is $SLURM_ARRAY_TASK_ID (a Slurm array job) or \
            $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), so one command line serves \
            every task. A task run again continues from its saved frames and gives the \
            frames an uninterrupted run gives; finished work is left as it is.
            """)
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String
    @Option(help: "The task to render (0-based).") var task: Int?
    @Flag(help: "Render every unfinished task, in order, on this machine (keyframes first, seam passes last).") var all = false
    @Flag(help: "Render only the keyframe (first frame) of the task(s).") var keyframe = false
    @Flag(help: "Run only the seam pass of the task(s), once the task and the one before it are rendered.") var seam = false
    @Flag(help: "No progress output.") var quiet = false

    func validate() throws {
        guard !(keyframe && seam) else { throw ValidationError("--keyframe and --seam exclude each other") }
    }

    func tasks(_ plan: RenderPlan) throws -> [Int] {
        if all {
            guard task == nil else { throw CLIError("--task and --all exclude each other") }
            return Array(plan.tasks.indices)
        }
        let env = ProcessInfo.processInfo.environment
        guard let k = task ?? env["SLURM_ARRAY_TASK_ID"].flatMap({ Int($0) }) ?? env["JOB_COMPLETION_INDEX"].flatMap({ Int($0) }) else {
            throw CLIError("which task? give --task K or --all (or run it as an array job: $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX)")
        }
        guard plan.tasks.indices.contains(k) else {
            throw CLIError("task \(k) is out of range: the plan in \(dir) has tasks 0-\(plan.tasks.count - 1)")
        }
        return [k]
    }

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let renderer = TaskRenderer(plan: plan, folder: folder, reporter: ProgressReporter(quiet: quiet))
        let chosen = try tasks(plan)
        if keyframe || all {
            for k in chosen where plan.needsKeyframe(k) { try renderer.keyframe(k) }
        }
        if !keyframe && !seam || all {
            for k in chosen { try renderer.task(k) }
        }
        if seam || all {
            for k in chosen where plan.seamPassLength(task: k) > 0 { try renderer.seamPass(k) }
        }
    }
}

/// The work of `stylevid render` on one job folder: keyframes, tasks, seam passes, and
/// each task's segment of OUTPUT.
struct TaskRenderer {
    let plan: RenderPlan
    let folder: JobFolder
    let reporter: ProgressReporter
    var dir: String { folder.path }

    func checkpoints(_ path: String, _ what: String) throws -> Checkpoints {
        try Checkpoints(folder: path, output: what, fingerprint: plan.fingerprint,
                        resume: FileManager.default.fileExists(atPath: path + "/settings"))
    }

    /// Task k's first frame, stylized as the task itself would (with its input kept for
    /// the task before, which is drawn toward it).
    func keyframe(_ k: Int) throws {
        if folder.keyframe(k) != nil { reporter.note("keyframe of task \(k) is already done"); return }
        let first = plan.tasks[k].first
        let (job, prepared) = try folder.prepare(plan, range: first...first)
        _ = try job.stylizeFrames(prepared, into: try checkpoints(folder.taskFolder(k), "task \(k)"), reporter: reporter,
                                  writing: false, keepInputs: true)
        reporter.finish()
        reporter.note("keyframe of task \(k) (frame \(first)) done")
    }

    func task(_ k: Int) throws {
        let t = plan.tasks[k]
        if folder.finishedFrames(k) == t.count { reporter.note("task \(k) (frames \(t.first)-\(t.last)) is already done"); return }
        // the seam: drawn toward the next task's keyframe when it continues this shot
        var next: (input: RGBImage, output: RGBImage)?
        if k + 1 < plan.tasks.count, plan.needsKeyframe(k + 1) {
            guard let key = folder.keyframe(k + 1) else {
                throw CLIError("task \(k) needs the keyframe of task \(k + 1), which is not rendered: stylevid render \(dir) --keyframe --task \(k + 1) first (stylevid slurm and --all do it)")
            }
            next = key
        }
        let (job, prepared) = try folder.prepare(plan, range: t.first...t.last)
        let saved = try checkpoints(folder.taskFolder(k), "task \(k)")
        reporter.note("task \(k): frames \(t.first)-\(t.last)" + (saved.available > 0 ? ", \(saved.available) already saved" : ""))
        let ramp = SeamRamp(file: folder.taskFolder(k) + "/seam-distance", temporal: prepared.temporal)
        let done = try job.stylizeFrames(prepared, into: saved, reporter: reporter, writing: false, keepInputs: false, beforeFrame: { i in
            ramp.guide(next.flatMap { key in plan.seamRemaining(task: k, frame: i).map { (key.input, key.output, $0) } })
        }, beforeSaving: { _ in try ramp.keepStartDistance() })
        reporter.finish()
        guard done.frames == t.count else {
            throw CLIError("task \(k): the input gave \(done.frames) frame(s) for frames \(t.first)-\(t.last); has \(plan.input) changed since the plan?")
        }
        try "\(done.frames) frames\n".write(toFile: folder.doneFile(k), atomically: true, encoding: .utf8)
        // the task's part of OUTPUT, encoded here so the join only copies packets (a task
        // with a seam pass is encoded by it)
        if plan.seamPassLength(task: k) == 0 { try encodeSegment(k) { saved.load($0, width: $1, height: $2) } }
        reporter.note(String(format: "task %d done: %d frames, %.1f s per frame", k, done.frames, done.secondsPerFrame))
    }

    /// Task k's seam pass: its first frames again, continuing task k−1's last frames (its
    /// tail restored as the history a render carries, with the curvature that followed
    /// it, so the first frame passed sees the earlier frames task k−1's next frame would)
    /// and handing over to task k's own frames (`RenderPlan.seamPassRemaining`); then
    /// task k's segment.
    func seamPass(_ k: Int) throws {
        let t = plan.tasks[k], before = plan.tasks[k - 1], p = plan.seamPassLength(task: k)
        let seams = folder.seamFolder(k)
        if folder.segmentInfo(k) != nil { reporter.note("the seam pass of task \(k) is already done"); return }
        guard folder.finishedFrames(k - 1) == before.count, folder.finishedFrames(k) == t.count else {
            throw CLIError("the seam pass of task \(k) needs tasks \(k - 1) and \(k) rendered first (stylevid render \(dir) --task K)")
        }
        // task k−1's tail: as far back as the temporal term looks
        let tail = min(before.count, try folder.mainForm(plan).videoJob.resolvedSettings().temporal.frames.max() ?? 1)
        let (job, prepared) = try folder.prepare(plan, range: (t.first - tail)...(t.first + p - 1))
        let saved = try checkpoints(seams, "the seam pass of task \(k)")
        let (w, h) = prepared.processing
        if !saved.has(tail - 1) {
            let from = try checkpoints(folder.taskFolder(k - 1), "task \(k - 1)")
            try saved.saveCurvature(from.loadCurvature(after: before.count - 1), after: tail - 1)
            for i in 0..<tail {
                guard let frame = from.load(before.count - tail + i, width: w, height: h) else {
                    throw CLIError("task \(k - 1): frame \(t.first - tail + i) is missing or damaged; render the task again")
                }
                try saved.save(frame, i)
            }
        }
        let own = try checkpoints(folder.taskFolder(k), "task \(k)")
        let ramp = SeamRamp(file: seams + "/seam-distance", temporal: prepared.temporal)
        reporter.note("seam pass of task \(k): frames \(t.first)-\(t.first + p - 1) again, continuing frame \(t.first - 1)")
        _ = try job.stylizeFrames(prepared, into: saved, reporter: reporter, writing: false, keepInputs: false, beforeFrame: { i in
            ramp.guide(plan.seamPassRemaining(task: k, frame: i - tail).flatMap { r in own.load(i - tail, width: w, height: h).map { (nil, $0, r) } })
        }, beforeSaving: { _ in try ramp.keepStartDistance() })
        reporter.finish()
        try encodeSegment(k) { i, w, h in i < p ? saved.load(i + tail, width: w, height: h) : own.load(i, width: w, height: h) }
        reporter.note("seam pass of task \(k) done")
    }

    /// Task k's frames (`frame(i, width, height)`, i from the task's first) encoded as
    /// OUTPUT is, into the task's segment, then its place in the output.
    func encodeSegment(_ k: Int, frame: @escaping (Int, Int, Int) -> RGBImage?) throws {
        let t = plan.tasks[k]
        let (job, prepared) = try folder.prepare(plan, range: t.first...t.last)
        let (w, h) = prepared.processing
        let segment = try job.encode(prepared, reporter: reporter, segment: folder.segmentFile(k, plan: plan)) { i in
            guard let img = frame(i, w, h) else { throw CLIError("task \(k): frame \(t.first + i) is missing or damaged; render the task again") }
            return img
        }
        guard segment.frames == t.count, let start = segment.start else {
            throw CLIError("task \(k): the input gave \(segment.frames) frame(s) for frames \(t.first)-\(t.last); has \(plan.input) changed since the plan?")
        }
        try folder.writeSegmentInfo(.init(offset: start.pts, videoStartTime: start.videoStartTime), task: k)
    }
}

/// A seam ramp's guide, frame by frame, and the distance its shares are measured
/// against, kept in `file` before the first guided frame is saved so a resumed render
/// continues the same ramp.
final class SeamRamp {
    let file: String
    let temporal: TemporalStylizer
    private var startDistance: Float?

    init(file: String, temporal: TemporalStylizer) {
        self.file = file; self.temporal = temporal
        startDistance = (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Float($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Sets the next frame's guide: (its input, nil for the frame itself; its result;
    /// the share still to go), or none.
    func guide(_ g: (input: RGBImage?, output: RGBImage, remaining: Float)?) {
        temporal.guide = g.map { .init(input: $0.input, output: $0.output, remaining: $0.remaining, startDistance: startDistance) }
    }

    func keepStartDistance() throws {
        guard startDistance == nil, temporal.guide != nil, let d = temporal.lastGuideStartDistance else { return }
        try "\(d)\n".write(toFile: file, atomically: true, encoding: .utf8)
        startDistance = d
    }
}

/// `stylevid join DIR`: OUTPUT from every task's frames.
struct JoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Encode a plan's OUTPUT from its finished tasks, with the input's timestamps, rotation and audio.")
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String
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
        let info = try VideoReader(path: plan.input).info
        let written = try SegmentJoiner.join(segments.map(\.segment), into: plan.output, timeBase: info.timeBase, frameRate: info.frameRate,
                                             rotation: info.rotation, audioFrom: main.video.noAudio ? nil : plan.input,
                                             startTime: segments[0].start)
        for warning in written.warnings { reporter.note("warning: " + warning) }
        guard written.frames == plan.frameCount else {
            throw CLIError("the segments of \(dir) hold \(written.frames) frames, the plan \(plan.frameCount); render the tasks again")
        }
        reporter.note("wrote \(plan.output) (\(written.frames) frames, joined from \(plan.tasks.count) task segment(s))")
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
