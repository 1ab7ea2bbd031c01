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
        let render = try folder.prepare(plan, range: t.first...t.last)
        let saved = try checkpoints(folder.taskFolder(k), "task \(k)")
        reporter.note("task \(k): frames \(t.first)-\(t.last)" + (saved.available > 0 ? ", \(saved.available) already saved" : ""))
        let done = try render.stylize(into: saved, observer: reporter, writing: false, keepInputs: false, toContinue: TaskRenderer.toContinue)
        reporter.finish()
        guard done.frames == t.count else {
            throw CLIError("task \(k): the input gave \(done.frames) frame(s) for frames \(t.first)-\(t.last); has \(plan.input) changed since the plan?")
        }
        try "\(done.frames) frames\n".write(toFile: folder.doneFile(k), atomically: true, encoding: .utf8)
        // the task's part of OUTPUT, encoded here so the join only copies packets (a task
        // with a seam pass is encoded by it)
        if plan.seamPassLength(task: k) == 0 { try encodeSegment(k, render: render, frame: try frames(k, source: render.frames.source != nil)) }
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
