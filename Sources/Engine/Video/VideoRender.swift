import Foundation
import Photoreal
import VideoIO

/// Who watches a render: progress, notes, and what an interrupted render is told.
public protocol RenderObserver: AnyObject {
    func note(_ message: String)
    /// During a frame: the video so far and the frame's own progress.
    func updateFrame(video: VideoProgress, frame: StyleProgress)
    /// After each frame.
    func updateVideo(_ progress: VideoProgress)
    /// Ends a progress line.
    func finish()
    /// What an interrupt now leaves (frames saved, how to continue).
    func interruptible(_ message: String)
    /// Whether each frame's cost and losses are noted (`--verbose`).
    var verbose: Bool { get }
}

/// A video render from a file: the input opened at the processing size, the frames of a
/// range stylised in order by a `FrameRenderer` into a `FrameStore` (or encoded as they
/// come), later passes, and the output (or a cluster task's segment) encoded with the
/// input's timing, rotation and audio. The main form, `plan`, `render` and `join` drive it.
public final class VideoRender {
    public let input: String, output: String
    public let settings: VideoSettings
    public let range: FrameRange
    public let reader: VideoReader
    public let frames: FrameRenderer
    public let flowDir: FlowDirectory?
    /// The size frames are written at.
    public let outputSize: (width: Int, height: Int)
    /// Everything that decides the frames (`VideoSettings.fingerprint`).
    public let fingerprint: String
    /// One line: the input, the sizes, the model.
    public let summary: String
    /// Where the range starts in the input, when known (a cluster plan records it): every
    /// reader of the range seeks there instead of decoding from the start.
    public var seek: (pts: Int64, index: Int, videoStart: (pts: Int64, time: Double))? {
        didSet { if let s = seek { reader.seek(toPts: s.pts, index: s.index, videoStart: s.videoStart) } }
    }
    /// Encoder threads of a cluster task's segment: fixed, so every node makes the same bytes.
    public static let segmentEncoderThreads = 2

    /// Opens `input` and builds the stylizer: everything that can fail is checked here,
    /// before minutes of work. `range` replaces the settings' range (a cluster task's frames).
    public init(input: String, output: String, settings: VideoSettings, range override: FrameRange? = nil,
                styles: [RGBImage], segmentation: MaskPairing?) throws {
        self.input = input; self.output = output; self.settings = settings
        range = override ?? settings.range
        flowDir = try settings.flowDir.map { try FlowDirectory(folder: $0, fallback: settings.temporal.flow) }
        reader = try VideoReader(path: input, sizing: settings.decodingSize)
        let info = reader.info
        frames = try FrameRenderer(settings: settings, sourceWidth: info.width, sourceHeight: info.height, styles: styles,
                                   segmentation: segmentation, flowSource: flowDir) {
            try ModelLoader.load(path: try ModelLoader.resolve(settings.model), for: $0)
        }
        if let s = range.start, let d = info.duration, s >= d {
            throw EngineError.invalidOption(String(format: "--start %g s is past the end of %@ (%.2f s long)", s, input, d))
        }
        if let f = range.frames, let n = info.frameCount, f.lowerBound >= n {
            throw EngineError.invalidOption("--frames \(f.lowerBound)-\(f.upperBound) starts past the end of \(input) (\(n) frames)")
        }
        let (procW, procH) = frames.processing
        let network = frames.temporal.stylizer.network
        summary = String(format: "%@: %d×%d, %.3f fps, %@ → %d×%d; model %@, %@ pooling",
                         input, info.width, info.height, info.frameRate.value,
                         info.frameCount.map { "\($0) frames" } ?? "unknown length",
                         procW, procH, network.name, settings.style.pooling.rawValue)
            + (frames.source.map { ", then optimised again at \($0.width)×\($0.height) (--output-size source)" } ?? "")
        // H.264/VP9 in 4:2:0 need even sizes: an odd source is written one pixel smaller
        let toSource = settings.outputSize != .processing
        outputSize = (toSource ? info.width & ~1 : procW & ~1, toSource ? info.height & ~1 : procH & ~1)
        fingerprint = settings.fingerprint(input: input, network: network.name)
    }

    /// A writer for the output with the input's timing, rotation and audio; or, given a
    /// `segment` path, for a cluster task's part of it: video only, from time 0, encoded
    /// with a fixed thread count so every node makes the same bytes.
    func writerMaker(observer: RenderObserver, segment: String? = nil, made: @escaping (VideoWriter) -> Void) -> (Double) throws -> VideoWriter? {
        let info = reader.info
        var encoding = settings.encoding
        if segment != nil { encoding.threads = VideoRender.segmentEncoderThreads }
        return { [self] startTime in
            let w = try VideoWriter(path: segment ?? output, width: outputSize.width, height: outputSize.height,
                                    timeBase: info.timeBase, frameRate: info.frameRate, rotation: info.rotation,
                                    audioFrom: settings.noAudio || segment != nil ? nil : input, startTime: startTime,
                                    endTime: range.duration.map { startTime + $0 }, trimAudioToVideo: range.frames != nil,
                                    encoding: encoding)
            for warning in w.warnings { observer.note("warning: " + warning) }
            made(w)
            return w
        }
    }

    /// The frames a stylising run went through, the writer when it encoded them, and the
    /// mean seconds per frame.
    public typealias Stylized = (frames: Int, writer: VideoWriter?, secondsPerFrame: Double)

    /// Stylizes the frames of the range in order, each saved in `store` (a frame already
    /// there is restored instead); `writing`: encoded into the output as they come.
    /// `hooks`' progress is the observer's; `toContinue`: what an interrupted run is told;
    /// `boundary`: fast mode's keyframes shared with the cluster tasks beside this one.
    public func stylize(into store: FrameStore, observer: RenderObserver, writing: Bool, keepInputs: Bool,
                        toContinue: String = "run the same command with --resume to continue",
                        hooks: FrameRenderer.Hooks = FrameRenderer.Hooks(),
                        boundary: KeyframePropagation.Boundary = .init()) throws -> Stylized {
        let info = reader.info
        var frameNumber = 0
        var current = VideoProgress(framesDone: 0, framesExpected: range.expectedCount(total: info.frameCount, frameRate: info.frameRate.value),
                                    elapsed: 0, secondsPerFrame: 0)
        var writer: VideoWriter?
        var frameHooks = hooks
        frameHooks.progress = { observer.updateFrame(video: current, frame: $0) }
        frameHooks.saved = { n in hooks.saved(n); observer.interruptible("\(n + 1) frame(s) are saved; \(toContinue)") }
        if observer.verbose { frameHooks.rendered = { observer.note($0) } }
        let fast = settings.mode == .fast ? KeyframePropagation(frames: frames, config: settings.fast, store: store, hooks: frameHooks, boundary: boundary) : nil
        precondition(fast == nil || !writing, "fast mode's frames are finished a gap at a time: encode them from the store")
        let n = try FramePipeline(reader: reader, range: range).run(
            makeWriter: writing ? writerMaker(observer: observer) { writer = $0 } : { _ in nil },
            process: { [self] decoded, next in
                defer { frameNumber += 1 }
                if let fast {
                    try fast.push(number: frameNumber, decoded: decoded.image)
                    return decoded.image
                }
                let styled = try frames.render(number: frameNumber, decoded: decoded.image, upcoming: next?.image, store: store,
                                               keepInputs: keepInputs, hooks: frameHooks)
                return writing ? try ImageIO.scale(styled, width: outputSize.width, height: outputSize.height) : styled
            },
            progress: { p in
                current = p
                if let fast, let n = p.framesExpected { current.estimatedSecondsLeft = fast.secondsLeft(framesNotArrived: max(0, n - p.framesDone)) }
                observer.updateVideo(current)
            })
        if let fast {
            try fast.finish()
            observer.finish()
            observer.note("\(fast.keyframes) keyframe(s) optimised, \(fast.propagated) frame(s) propagated from them (--mode fast)")
        }
        return (n, writer, current.secondsPerFrame)
    }

    /// Encodes the output (or a cluster task's `segment`) from finished frames
    /// (`frame(k)`, k counted from the range's first frame), with the input's timestamps,
    /// rotation and audio; returns where the range starts in the video (for a segment).
    public func encode(observer: RenderObserver, segment: String? = nil, frame: @escaping (Int) throws -> RGBImage) throws
        -> (frames: Int, writer: VideoWriter?, start: (pts: Int64, videoStartTime: Double)?) {
        var writer: VideoWriter?
        var k = 0
        let again = try VideoReader(path: input, sizing: settings.decodingSize)
        if let s = seek { again.seek(toPts: s.pts, index: s.index, videoStart: s.videoStart) }
        let pipeline = FramePipeline(reader: again, range: range)
        let n = try pipeline.run(
            makeWriter: writerMaker(observer: observer, segment: segment) { writer = $0 },
            process: { [self] _, _ in
                defer { k += 1 }
                return try ImageIO.scale(try frame(k), width: outputSize.width, height: outputSize.height)
            })
        return (n, writer, pipeline.rangeStart)
    }

    /// The main form's render: the frames into `checkpoints` (encoded as they come with a
    /// single pass; with several, refined by the later passes first, and in fast mode
    /// finished a gap at a time, then encoded from the checkpoints at the end).
    public func run(checkpoints: Checkpoints, observer: RenderObserver) throws -> Stylized {
        guard settings.passes > 1 || settings.mode == .fast else {
            return try stylize(into: checkpoints, observer: observer, writing: true, keepInputs: false)
        }
        let done = try stylize(into: checkpoints, observer: observer, writing: false, keepInputs: settings.passes > 1)
        observer.finish()
        try runLaterPasses(frames: done.frames, checkpoints: checkpoints, observer: observer)
        let (w, h) = frames.processing
        let encoded = try encode(observer: observer) { k in
            guard let img = checkpoints.load(k, width: w, height: h) else { throw EngineError.failed("the checkpoint of frame \(k) is missing or damaged") }
            return img
        }
        return (encoded.frames, encoded.writer, done.secondsPerFrame)
    }

    /// Passes 2...N of the multi-pass algorithm over the checkpointed frames: even passes
    /// run backward, odd ones forward; each frame is refined against its neighbour in the
    /// pass's direction, already refined in this pass. Every refined frame replaces its
    /// checkpoint (atomically) and the position is recorded, so --resume continues inside
    /// a pass and gives the frames an uninterrupted run gives (all reads are from disk).
    func runLaterPasses(frames n: Int, checkpoints: Checkpoints, observer: RenderObserver) throws {
        guard n >= 2, settings.passes > 1 else { return }
        let passes = settings.passes, (width, height) = frames.processing
        let done = checkpoints.passProgress()
        func load(_ what: String, _ img: RGBImage?) throws -> RGBImage {
            guard let i = img else { throw EngineError.failed("the checkpoint of \(what) is missing or damaged; run without --resume to start over") }
            return i
        }
        for pass in 2...passes {
            if let d = done, d.pass > pass { continue }
            let order = pass % 2 == 0 ? Array((0..<n).reversed()) : Array(0..<n)
            let first = done.map { $0.pass == pass ? $0.position : 1 } ?? 1
            let started = Date()
            for pos in max(1, first)..<n {
                let t = order[pos], s = order[pos - 1]
                let refined = try frames.temporal.refine(
                    frame: t, input: try load("input \(t)", checkpoints.loadInput(t, width: width, height: height)),
                    result: try load("frame \(t)", checkpoints.load(t, width: width, height: height)),
                    neighbour: s, neighbourInput: try load("input \(s)", checkpoints.loadInput(s, width: width, height: height)),
                    neighbourResult: try load("frame \(s)", checkpoints.load(s, width: width, height: height)),
                    styles: frames.styles)
                try checkpoints.save(refined, t)
                try checkpoints.setPassProgress(pass: pass, position: pos + 1)
                observer.interruptible("pass \(pass) of \(passes) is under way; run the same command with --resume to continue")
                let el = Date().timeIntervalSince(started), k = pos - max(1, first) + 1
                observer.updateVideo(VideoProgress(framesDone: pos, framesExpected: n - 1, elapsed: el, secondsPerFrame: el / Double(k)))
            }
            observer.finish()
            observer.note("pass \(pass) of \(passes) (\(pass % 2 == 0 ? "backward" : "forward")) done")
        }
    }
}
