import Foundation
import Kernels
import VideoIO

/// A video render split into tasks that run independently (on a cluster, one per array
/// task): `stylevid plan` writes it to DIR/plan.json, `stylevid render DIR --task K` renders
/// task K's frames into DIR, `stylevid join DIR` encodes the output from them.
///
/// The JSON (snake_case keys): `format`, `stylevid_version`, `input`, `output` (absolute
/// paths), `working_directory` (where the plan was made: relative paths in the settings
/// are relative to it), `settings` (`VideoSettings`: everything that decides the frames,
/// resolved once by `plan`), `fingerprint` (the settings, the model they resolve to, the
/// version: a task refuses a plan whose fingerprint its own build does not reproduce), `frame_count`, `frame_rate`,
/// `width`/`height` (processing size), `shot_starts` (0-based frames where a shot begins),
/// `video_start_pts`/`video_start_time` (the input's first frame) and each task's
/// `first_pts`/`last_pts` (where its readers seek),
/// `seam_pass_frames` (how many first frames of such a task its seam pass renders again)
/// and `tasks`: `[{"first": A, "last": B}, ...]`, 0-based input frames, inclusive.
public struct RenderPlan: Codable, Equatable, Sendable {
    public struct Task: Codable, Equatable, Sendable {
        public var first: Int
        public var last: Int
        /// The input timestamps of the first and last frames, where a task's reader seeks.
        public var firstPts: Int64?
        public var lastPts: Int64?
        public init(first: Int, last: Int) { self.first = first; self.last = last }
        public var count: Int { last - first + 1 }
    }

    public static let currentFormat = 3
    /// The seam pass's default, measured (BENCHMARKS.md, "Cluster rendering"). A keyframe
    /// ramp toward the next task's first frame, tried beside it, made the frames before a
    /// seam step harder than they save at it, and was removed.
    public static let defaultSeamPassFrames = 32
    public var format = RenderPlan.currentFormat
    public var stylevidVersion: String
    public var input: String
    public var output: String
    /// Where `stylevid plan` ran: relative paths in the settings are relative to it.
    public var workingDirectory: String
    public var settings: VideoSettings
    public var fingerprint: String
    public var frameCount: Int
    public var frameRate: Double
    public var width: Int
    public var height: Int
    public var shotStarts: [Int]
    public var seamPassFrames: Int
    /// The input's first frame (timestamp, seconds): where every task's segment is placed from.
    public var videoStartPts: Int64?
    public var videoStartTime: Double?
    public var tasks: [Task]

    public init(stylevidVersion: String, input: String, output: String, workingDirectory: String, settings: VideoSettings, fingerprint: String,
                frameCount: Int, frameRate: Double, width: Int, height: Int, shotStarts: [Int],
                seamPassFrames: Int = RenderPlan.defaultSeamPassFrames, tasks: [Task]) {
        self.stylevidVersion = stylevidVersion; self.input = input; self.output = output; self.workingDirectory = workingDirectory; self.settings = settings
        self.fingerprint = fingerprint; self.frameCount = frameCount; self.frameRate = frameRate
        self.width = width; self.height = height; self.shotStarts = shotStarts
        self.seamPassFrames = seamPassFrames; self.tasks = tasks
    }

    /// Splits frames 0..<frameCount into tasks of at most `chunkFrames` frames. Task
    /// boundaries fall on shot starts: consecutive shots share a task while they fit, and a
    /// shot longer than `chunkFrames` is cut into equal parts.
    public static func tasks(frameCount: Int, shotStarts: [Int], chunkFrames: Int) -> [Task] {
        precondition(chunkFrames >= 1)
        guard frameCount > 0 else { return [] }
        let starts = Array(Set(shotStarts.filter { $0 > 0 && $0 < frameCount } + [0])).sorted()
        let shots = zip(starts, starts.dropFirst() + [frameCount]).map { Task(first: $0, last: $1 - 1) }
        var tasks: [Task] = []
        var lastIsWhole = false     // the last task holds whole shots: a short shot may join it
        for shot in shots {
            if shot.count <= chunkFrames {
                if lastIsWhole, tasks[tasks.count - 1].count + shot.count <= chunkFrames {
                    tasks[tasks.count - 1].last = shot.last
                } else {
                    tasks.append(shot)
                }
                lastIsWhole = true
                continue
            }
            let parts = (shot.count + chunkFrames - 1) / chunkFrames
            for p in 0..<parts {
                tasks.append(Task(first: shot.first + shot.count * p / parts, last: shot.first + shot.count * (p + 1) / parts - 1))
            }
            lastIsWhole = false
        }
        return tasks
    }

    public enum FormatError: Error, Equatable { case format(Int) }
    private struct Header: Decodable { var format: Int }

    /// The plan in `data`; `FormatError.format(n)` for a plan of another format.
    public static func decode(_ data: Data) throws -> RenderPlan {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let format = try d.decode(Header.self, from: data).format
        guard format == currentFormat else { throw FormatError.format(format) }
        return try d.decode(RenderPlan.self, from: data)
    }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }

    /// Whether task k continues the shot of the task before it: a seam, not a cut.
    public func continuesShot(_ k: Int) -> Bool { k > 0 && k < tasks.count && !shotStarts.contains(tasks[k].first) }

    /// Frames task k's seam pass renders again (0: it has none). A task that continues
    /// the shot of the task before it starts afresh at its first frame; its seam pass, once
    /// both tasks are rendered, renders its first frames again continuing the task
    /// before's last frame, handing over to the task's own frames in equal steps: the
    /// seam pair is then an ordinary pair of consecutive frames. Fast mode has none: the
    /// two tasks share the keyframe where one ends and the other starts.
    public func seamPassLength(task k: Int) -> Int {
        continuesShot(k) && settings.mode != .fast ? max(0, min(seamPassFrames, tasks[k].count - 1)) : 0
    }

    /// The seam pass's share still to go toward the task's own frame `offset` once that
    /// frame is made (`TemporalStylizer.Guide.remaining`): P/(P+1), …, 1/(P+1) over its P
    /// frames, the task's own next frame being the last step; nil off the pass.
    public func seamPassRemaining(task k: Int, frame offset: Int) -> Float? {
        let p = seamPassLength(task: k)
        guard offset >= 0, offset < p else { return nil }
        return Float(p - offset) / Float(p + 1)
    }

    /// Where a reader of frames from `frame` seeks (`VideoReader.seek`): the nearest
    /// frame at or before it whose timestamp the plan knows (tasks' first and last).
    public func seekPoint(frame: Int) -> (pts: Int64, index: Int, videoStart: (pts: Int64, time: Double))? {
        guard let start = videoStartPts, let time = videoStartTime else { return nil }
        let known = tasks.flatMap { [($0.first, $0.firstPts), ($0.last, $0.lastPts)] }
            .compactMap { i, pts in pts.map { (index: i, pts: $0) } }.filter { $0.index <= frame }
        return known.max { $0.index < $1.index }.map { ($0.pts, $0.index, (start, time)) }
    }

    /// The task that renders input frame `frame`.
    public func task(of frame: Int) -> Int? { tasks.firstIndex { $0.first <= frame && frame <= $0.last } }
}

/// Finds shot changes (hard cuts) from the frames' luma histograms: a frame whose
/// histogram differs from the one before by more than `threshold` (half the L1 distance of
/// the normalised 32-bin histograms, 0 = same, 1 = disjoint) starts a new shot. Motion
/// inside a shot moves pixels but barely changes the histogram.
public struct ShotDetector {
    public static let defaultThreshold = 0.35
    public let threshold: Double
    private var previous: [Double]?
    private var index = 0
    public private(set) var starts: [Int] = []

    public init(threshold: Double = ShotDetector.defaultThreshold) { self.threshold = threshold }

    static func histogram(_ image: RGBImage) -> [Double] {
        var h = [Double](repeating: 0, count: 32)
        let n = image.width * image.height
        for i in 0..<n {
            let p = image.pixels
            let y = Luma.rec601(Float(p[3 * i]), Float(p[3 * i + 1]), Float(p[3 * i + 2]))
            h[min(31, Int(y) / 8)] += 1
        }
        return h.map { $0 / Double(max(1, n)) }
    }

    /// Feeds the next frame; returns whether it starts a new shot.
    @discardableResult
    public mutating func add(_ image: RGBImage) -> Bool {
        let h = ShotDetector.histogram(image)
        defer { previous = h; index += 1 }
        guard let prev = previous else { return false }
        let distance = zip(h, prev).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
        if distance > threshold { starts.append(index); return true }
        return false
    }
}
