import ArgumentParser
import Engine
import Foundation
import VideoIO

/// The work of `stylevid render` on one job folder: tasks, seam passes, and
/// each task's segment of OUTPUT.
struct TaskRenderer {
    let plan: RenderPlan
    let folder: JobFolder
    let reporter: ProgressReporter
    var dir: String { folder.path }
    static let toContinue = "run the same stylevid render command again to continue"

    func checkpoints(_ path: String, _ what: String) throws -> Checkpoints {
        try Checkpoints(folder: path, output: what, fingerprint: plan.fingerprint,
                        resume: FileManager.default.fileExists(atPath: path + "/settings"))
    }

    func task(_ k: Int) throws {
        let t = plan.tasks[k]
        if folder.finishedFrames(k) == t.count { reporter.note("task \(k) (frames \(t.first)-\(t.last)) is already done"); return }
        // fast mode decodes the next task's first frame too, where their keyframe closes this task's last gap
        let closing = plan.settings.mode == .fast && plan.continuesShot(k + 1) ? t.last + 1 : nil
        let render = try folder.prepare(plan, range: t.first...(closing ?? t.last))
        let saved = try checkpoints(folder.taskFolder(k), "task \(k)")
        reporter.note("task \(k): frames \(t.first)-\(t.last)" + (saved.available > 0 ? ", \(saved.available) already saved" : ""))
        let boundary = try fastBoundary(k, closing: closing)
        let done = try render.stylize(into: saved, observer: reporter, writing: false, keepInputs: false, toContinue: TaskRenderer.toContinue,
                                      boundary: boundary)
        reporter.finish()
        guard done.frames == t.count + (closing == nil ? 0 : 1) else {
            throw CLIError("task \(k): the input gave \(done.frames) frame(s) for frames \(t.first)-\(closing ?? t.last); has \(plan.input) changed since the plan?")
        }
        try "\(t.count) frames\n".write(toFile: folder.doneFile(k), atomically: true, encoding: .utf8)
        // the task's part of OUTPUT, encoded here so the join only copies packets (a task
        // with a seam pass is encoded by it)
        if plan.seamPassLength(task: k) == 0 {
            let own = closing == nil ? render : try folder.prepare(plan, range: t.first...t.last)
            try encodeSegment(k, render: own, frame: try frames(k, source: render.frames.source != nil))
        }
        reporter.note(String(format: "task %d done: %d frames, %.1f s per frame", k, t.count, done.secondsPerFrame))
    }

    /// Fast mode's keyframes that task k shares with the tasks beside it in its shot: its
    /// first frame (made now) where it continues the shot of the task before, and input
    /// frame `closing`, the next task's first (made when the task reaches it, unless that
    /// task has made it by then), where the next task continues this one's shot.
    func fastBoundary(_ k: Int, closing: Int?) throws -> KeyframePropagation.Boundary {
        guard plan.settings.mode == .fast else { return .init() }
        let t = plan.tasks[k]
        let opening = plan.continuesShot(k) ? try sharedKeyframe(t.first, task: k) : nil
        return .init(opening: opening.map { image in { image } }, closing: closing.map { f in (f - t.first, { try sharedKeyframe(f, task: k) }) })
    }

    /// The keyframe of input frame `f` that two tasks of a shot share in fast mode
    /// (DIR/keyframes): optimised from scratch, as a shot's first frame is, by whichever
    /// task needs it first. It is published without replacing one another task published
    /// meanwhile, and read back from there, so both tasks start and end on the same image.
    func sharedKeyframe(_ f: Int, task k: Int) throws -> RGBImage {
        let file = folder.keyframeFile(f)
        func published() -> RGBImage? { (try? ImageIO.read(file)).flatMap { $0.width == plan.width && $0.height == plan.height ? $0 : nil } }
        if let img = published() { return img }
        reporter.finish()
        reporter.note("frame \(f): the keyframe task \(k) shares with task \(plan.continuesShot(k) && plan.tasks[k].first == f ? k - 1 : k + 1)")
        let making = try checkpoints(folder.keyframeFolder + "/making-\(f)-\(ProcessInfo.processInfo.hostName)-\(getpid())", "the keyframe of frame \(f)")
        defer { making.removeAll() }
        _ = try folder.prepare(plan, range: f...f).stylize(into: making, observer: reporter, writing: false, keepInputs: false,
                                                           toContinue: TaskRenderer.toContinue)
        reporter.finish()
        // link, unlike rename, never replaces: the first published keyframe stays
        if link(making.path(0), file) != 0 && errno != EEXIST {
            throw CLIError("cannot write \(file): \(String(cString: strerror(errno)))")
        }
        guard let img = published() else { throw CLIError("\(file) is damaged: remove it and run the task again") }
        return img
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
        let tail = seamTail(k)
        let render = try folder.prepare(plan, range: (t.first - tail)...(t.first + p - 1))
        let saved = try checkpoints(seams, "the seam pass of task \(k)")
        let (w, h) = render.frames.processing, source = render.frames.source
        if !saved.has(tail - 1) {
            let from = try checkpoints(folder.taskFolder(k - 1), "task \(k - 1)")
            try saved.saveCurvature(from.loadCurvature(after: before.count - 1), after: tail - 1)
            for i in 0..<tail {
                guard let frame = from.load(before.count - tail + i, width: w, height: h) else {
                    throw CLIError("task \(k - 1): frame \(t.first - tail + i) is missing or damaged; render the task again")
                }
                try saved.save(frame, i)
                if let s = source {
                    guard let full = from.loadSource(before.count - tail + i, width: s.width, height: s.height) else {
                        throw CLIError("task \(k - 1): frame \(t.first - tail + i) at source size is missing or damaged; render the task again")
                    }
                    try saved.saveSource(full, i)
                }
            }
        }
        let own = try checkpoints(folder.taskFolder(k), "task \(k)")
        let ramp = SeamRamp(file: seams + "/seam-distance", temporal: render.frames.temporal)
        reporter.note("seam pass of task \(k): frames \(t.first)-\(t.first + p - 1) again, continuing frame \(t.first - 1)")
        _ = try render.stylize(into: saved, observer: reporter, writing: false, keepInputs: false, toContinue: TaskRenderer.toContinue, hooks: .init(beforeFrame: { i in
            let remaining = plan.seamPassRemaining(task: k, frame: i - tail)
            ramp.guide(remaining.flatMap { r in own.load(i - tail, width: w, height: h).map { ($0, r) } })
            // the full-size level hands over too: it continues the frame before, which was
            // the fraction r₋ of the way from the task's own frame, so taking 1 − r/r₋ of
            // the own frame leaves r, in equal steps
            if let s = source {
                let rBefore = plan.seamPassRemaining(task: k, frame: i - tail - 1) ?? 1
                s.guide = remaining.flatMap { r in own.loadSource(i - tail, width: s.width, height: s.height).map { ($0, 1 - r / rBefore) } }
            }
        }, beforeSaving: { _ in try ramp.keepStartDistance() }))
        reporter.finish()
        try encodeSegment(k, render: try folder.prepare(plan, range: t.first...t.last), frame: try frames(k, source: source != nil))
        reporter.note("seam pass of task \(k) done")
    }

    /// How many of task k−1's last frames its seam pass restores before its own: as far
    /// back as the temporal term looks.
    func seamTail(_ k: Int) -> Int {
        min(plan.tasks[k - 1].count, plan.settings.temporal.frames.max() ?? 1)
    }

    /// Task k's finished frames (`frame(i, width, height)`, i from the task's first): its
    /// seam pass's where it has one, its own after them. The frames its segment holds:
    /// at the source size with `source` (`--output-size source`).
    func frames(_ k: Int, source: Bool) throws -> (Int, Int, Int) -> RGBImage? {
        let own = try checkpoints(folder.taskFolder(k), "task \(k)")
        let p = plan.seamPassLength(task: k)
        guard p > 0 else { return { i, w, h in own.loadResult(i, width: w, height: h, source: source) } }
        let passed = try checkpoints(folder.seamFolder(k), "the seam pass of task \(k)"), tail = seamTail(k)
        return { i, w, h in
            i < p ? passed.loadResult(i + tail, width: w, height: h, source: source) : own.loadResult(i, width: w, height: h, source: source)
        }
    }

    /// Task k's frames (`frame(i, width, height)`, i from the task's first) encoded as
    /// OUTPUT is, into the task's segment (`render`: the task's), then its place in the output.
    func encodeSegment(_ k: Int, render: VideoRender, frame: @escaping (Int, Int, Int) -> RGBImage?) throws {
        let t = plan.tasks[k]
        let (w, h) = render.frames.resultSize
        let segment = try render.encode(observer: reporter, segment: folder.segmentFile(k, plan: plan)) { i in
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

    /// Sets the next frame's guide: (a result of the frame rendered apart; the share
    /// still to go), or none.
    func guide(_ g: (output: RGBImage, remaining: Float)?) {
        temporal.guide = g.map { .init(output: $0.output, remaining: $0.remaining, startDistance: startDistance) }
    }

    func keepStartDistance() throws {
        guard startDistance == nil, temporal.guide != nil, let d = temporal.lastGuideStartDistance else { return }
        try "\(d)\n".write(toFile: file, atomically: true, encoding: .utf8)
        startDistance = d
    }
}
