import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO
import Temporal

/// Options only the video path has.
struct VideoOptions: ParsableArguments {
    @Option(help: "Start at this time of the input (seconds, MM:SS or HH:MM:SS.ms; default 0).")
    var start: String?
    @Option(help: "Process only this much of the input (same formats; default to the end).")
    var duration: String?
    @Option(help: "Process only frames A-B (0-based, inclusive), instead of --start/--duration.")
    var frames: String?
    @Flag(help: "Leave the audio out (by default every audio stream is copied).")
    var noAudio = false
    @Option(help: "Video quality, constant rate factor (default \(VideoEncoding.defaultCRF.h264) for H.264, \(VideoEncoding.defaultCRF.vp9) for VP9; lower is better).")
    var crf: Int?
    @Option(help: "x264 preset.")
    var preset: String = VideoEncoding().preset
    @Option(help: "Temporal-consistency weight γ: each frame starts from the previous result warped by optical flow and is pulled toward it (0 = independent frames).")
    var temporalWeight: Float = TemporalConfig().weight
    @Option(help: "Evaluations for frames after the first, which start from the previous result (default \(TemporalConfig.defaultLaterIterations)).")
    var laterIterations: Int?
    @Option(help: "Earlier frames the temporal term looks back to, comma-separated offsets.")
    var temporalFrames: String = TemporalConfig().frames.map(String.init).joined(separator: ",")
    @Option(help: "Later frames stop once the loss improves by less than this fraction over --stop-window evaluations (0 = use the whole budget).")
    var stopTolerance: Double = TemporalConfig().stopTolerance
    @Option(help: "Evaluations the early stop looks back over (Ruder et al.'s schedule: --stop-tolerance 1e-4 --stop-window 50).")
    var stopWindow: Int = TemporalConfig().stopWindow
    @Flag(help: "Start every later frame's optimiser afresh (Ruder et al.), instead of with the L-BFGS curvature learnt on the frames before it.")
    var freshOptimizer = false
    @Option(help: "Soften the consistency weights over this radius, so trust tapers toward occlusions and motion boundaries (0 = off).")
    var smoothWeights: Int = 0
    @Option(help: "Folder of precomputed .flo files (backward_T_S.flo and forward_S_T.flo, frames numbered from 1 in the processed range); missing ones are computed.")
    var flowDir: String?
    @Option(help: "Passes over the video (Ruder et al.'s multi-pass): after the first, forward pass, each pass goes the other way, blending every frame with its refined neighbour warped onto it and optimising again.")
    var passes: Int = 1
    @Flag(help: "Continue an interrupted run from its checkpoints (same command, same settings).")
    var resume = false
    enum FlowMethod: String, ExpressibleByArgument, CaseIterable {
        case robust, classic
        var options: FlowOptions { self == .classic ? .classic : FlowOptions() }
    }
    @Option(help: "Optical flow between frames: robust (a patch search at every level for large motions, robust penalties, edge-aware smoothness) or classic (Horn–Schunck: blurs motion boundaries, and was no faster in renders, BENCHMARKS.md \"The robust flow in renders\").")
    var flow: FlowMethod = .robust
    enum OutputSize: String, ExpressibleByArgument, CaseIterable { case processing, scaled, source }
    @Option(help: "Output frame size: processing (the --size result), scaled (that result enlarged to the input's size: no extra work, soft), or source (optimised again at the input's size: strokes and detail at full resolution, about 14× the time per frame at 720p).")
    var outputSize: OutputSize = .processing

    static func parseTime(_ s: String, _ name: String) throws -> Double {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { throw ValidationError("--\(name): '\(s)' is not a time") }
        var t = 0.0
        for p in parts {
            guard let v = Double(p), v >= 0, v.isFinite else { throw ValidationError("--\(name): '\(s)' is not a time") }
            t = t * 60 + v
        }
        return t
    }

    func temporalConfig() throws -> TemporalConfig {
        var t = TemporalConfig()
        t.weight = temporalWeight
        t.laterIterations = laterIterations
        t.frames = try temporalFrames.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let j = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--temporal-frames: '\($0)' is not a frame offset (expected e.g. 1,10,20,40)")
            }
            return j
        }
        t.stopTolerance = stopTolerance
        t.stopWindow = stopWindow
        t.weightSmoothing = smoothWeights
        t.carryCurvature = !freshOptimizer
        t.flow = flow.options
        do { try t.validate() } catch let e as EngineError { throw ValidationError(e.description) }
        return t
    }

    func range() throws -> FrameRange {
        if let f = frames {
            guard start == nil && duration == nil else { throw ValidationError("--frames cannot be combined with --start or --duration") }
            let p = f.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard p.count == 2, let a = p[0], let b = p[1], a >= 0, b >= a else {
                throw ValidationError("--frames: expected A-B with 0 ≤ A ≤ B, got '\(f)'")
            }
            return FrameRange(frames: a...b)
        }
        let d = try duration.map { try VideoOptions.parseTime($0, "duration") }
        if let d, d <= 0 { throw ValidationError("--duration must be positive") }
        return FrameRange(start: try start.map { try VideoOptions.parseTime($0, "start") }, duration: d)
    }
}

/// `stylevid INPUT.mp4 STYLE OUTPUT.mp4`: frames stylized with temporal consistency
/// (TemporalStylizer), checkpointed for --resume, written with the input's timestamps and
/// audio; optionally refined by later passes.
struct VideoJob {
    let paths: [String]
    let options: StyleOptions
    let video: VideoOptions
    var chain: String? = nil
    /// `stylevid photo` on a video: the photoreal defaults, frame by frame with the
    /// temporal term.
    var photo = false

    func run() throws {
        let job = try prepare()
        let reporter = ProgressReporter(quiet: options.quiet)
        reporter.note(job.summary)
        let checkpoints = try Checkpoints(output: job.output, fingerprint: job.fingerprint, resume: video.resume)
        if checkpoints.available > 0 { reporter.note("resuming: \(checkpoints.available) finished frame(s) found") }
        var written: (frames: Int, writer: VideoWriter?, secondsPerFrame: Double)
        do {
            // with several passes, the first only stylizes (inputs kept for the later
            // passes) and the video is encoded from the checkpoints at the end
            if job.passes > 1 {
                let done = try stylizeFrames(job, into: checkpoints, reporter: reporter, writing: false, keepInputs: true)
                reporter.finish()
                try runLaterPasses(frames: done.frames, passes: job.passes, temporal: job.temporal, styles: job.styleImages,
                                   checkpoints: checkpoints, width: job.processing.width, height: job.processing.height, reporter: reporter)
                let encoded = try encode(job, reporter: reporter) { k in
                    guard let img = checkpoints.load(k, width: job.processing.width, height: job.processing.height) else {
                        throw CLIError("the checkpoint of frame \(k) is missing or damaged")
                    }
                    return img
                }
                written = (encoded.frames, encoded.writer, done.secondsPerFrame)
            } else {
                written = try stylizeFrames(job, into: checkpoints, reporter: reporter, writing: true, keepInputs: false)
            }
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
        if let d = job.flowDir, d.computedInstead > 0 {
            reporter.note("note: \(d.computedInstead) flow pair(s) were not in \(d.folder) and were computed")
        }
        if job.reader.corruptPackets > 0 {
            reporter.note("warning: \(job.reader.corruptPackets) damaged packet(s) in \(job.input) were skipped (\(job.reader.lastDecodeError ?? "decode error")); every decodable frame was processed")
        }
        var later = job.laterFrames > 0 ? String(format: "; later frames %.1f evaluations on average", Double(job.laterEvaluations) / Double(job.laterFrames)) : ""
        if job.source != nil && job.laterFrames > 0 { later += String(format: " + %.1f at source size", Double(job.sourceEvaluations) / Double(job.laterFrames)) }
        if job.temporal.sceneCuts > 0 { later += "; \(job.temporal.sceneCuts) scene cut(s) restyled from scratch" }
        reporter.note(String(format: "wrote %@ (%d frames, %d×%d, %.1f s per frame%@)", job.output, written.frames,
                             written.writer?.width ?? 0, written.writer?.height ?? 0, written.secondsPerFrame, later))
    }
}

/// What a video render decided before its first frame: the resolved settings, the input
/// and the sizes, the stylizer, and the fingerprint a resume (or a cluster task) checks.
final class PreparedVideo {
    let input: String, output: String
    let config: StyleConfig
    let temporalConfig: TemporalConfig
    let styleImages: [RGBImage]
    let geometry: [GeometryOp]
    let passes: Int
    let range: FrameRange
    let reader: VideoReader
    let sizing: (Int) -> Int?
    let processing: (width: Int, height: Int)
    let outputSize: (width: Int, height: Int)
    let temporal: TemporalStylizer
    /// The source-size level (`--output-size source`), nil when the output is the
    /// processing-size result (or that result enlarged).
    let source: SourceLevel?
    /// The size of the finished frames the checkpoints hold: the source level's, or the
    /// processing size.
    var resultSize: (width: Int, height: Int) { source.map { ($0.width, $0.height) } ?? processing }
    let flowDir: FlowDirectory?
    let fingerprint: String
    let summary: String
    let noAudio: Bool
    let encoding: VideoEncoding
    var laterEvaluations = 0, laterFrames = 0, sourceEvaluations = 0
    /// Where the range starts in the input, when known (a cluster plan records it): every
    /// reader of the range seeks there instead of decoding from the start.
    var seek: (pts: Int64, index: Int, videoStart: (pts: Int64, time: Double))? {
        didSet { if let s = seek { reader.seek(toPts: s.pts, index: s.index, videoStart: s.videoStart) } }
    }

    init(input: String, output: String, config: StyleConfig, temporalConfig: TemporalConfig, styleImages: [RGBImage],
         geometry: [GeometryOp], passes: Int, range: FrameRange, reader: VideoReader, sizing: @escaping (Int) -> Int?,
         processing: (width: Int, height: Int), outputSize: (width: Int, height: Int), temporal: TemporalStylizer,
         source: SourceLevel?, flowDir: FlowDirectory?, fingerprint: String, summary: String, noAudio: Bool, encoding: VideoEncoding) {
        self.input = input; self.output = output; self.config = config; self.temporalConfig = temporalConfig
        self.styleImages = styleImages; self.geometry = geometry; self.passes = passes; self.range = range
        self.reader = reader; self.sizing = sizing; self.processing = processing; self.outputSize = outputSize
        self.temporal = temporal; self.source = source; self.flowDir = flowDir; self.fingerprint = fingerprint; self.summary = summary
        self.noAudio = noAudio; self.encoding = encoding
    }
}

extension VideoJob {
    /// The options, the video preset and the chain resolved to one run (nothing loaded).
    func resolvedSettings() throws -> RunSettings {
        try RunSettings(options: options, positional: Array(paths[1..<(paths.count - 1)]), chain: chain, photo: photo, video: video)
    }

    /// Resolves the settings, opens the input and builds the stylizer: everything that can
    /// fail is checked here, before minutes of work. `range` replaces the options' range
    /// (a cluster task's frames); `arguments` are what the fingerprint records (default:
    /// this command line).
    func prepare(range override: FrameRange? = nil, arguments: [String]? = nil) throws -> PreparedVideo {
        let input = paths[0], output = paths[paths.count - 1]
        let settings = try resolvedSettings()
        var config = settings.config
        let tconfig = settings.temporal
        let geometry = settings.geometry
        let passes = settings.passes
        guard (1...50).contains(passes) else { throw CLIError("--passes must be between 1 and 50") }
        if passes > 1 && tconfig.weight == 0 { throw CLIError("--passes needs the temporal term (--temporal-weight > 0)") }
        let range = try override ?? video.range()
        if video.outputSize != .processing && !geometry.isEmpty {
            throw CLIError("--output-size \(video.outputSize.rawValue): the -vf chain's scale or crop decides the frame size; leave one of them out")
        }
        if video.outputSize == .source && passes > 1 {
            throw CLIError("--passes refines frames at the processing size; with --output-size source it is not available yet (use --output-size scaled)")
        }
        if case .image = config.initMode { throw CLIError("--init PATH is for images; for videos use content or random") }
        let setup = try JobSetup(settings, content: input, output: output, checkOutput: checkVideoOutput)
        let flowDir = try video.flowDir.map { try FlowDirectory(folder: $0, fallback: tconfig.flow) }
        // --size caps the processing size of a video: a small video is not blown up
        // (but never below 64 px, what the network needs to see anything)
        // with scale/crop in the chain, the chain decides the processing size
        let size = config.size
        let sizing: (Int) -> Int? = geometry.isEmpty ? { min(size, max(64, $0)) } : { _ in nil }
        // optimised at the source size, frames are decoded whole and scaled down here
        let reader = try VideoReader(path: input, sizing: video.outputSize == .source ? { _ in nil } : sizing)
        var (procW, procH) = (reader.outputWidth, reader.outputHeight)
        if video.outputSize == .source, let s = sizing(max(procW, procH)) {
            (procW, procH) = VideoReader.scaledSize(width: procW, height: procH, longest: s)
        }
        if !geometry.isEmpty {
            do { (procW, procH) = try geometry.outputSize(width: procW, height: procH) } catch let e as EngineError { throw CLIError("-vf: \(e.description)") }
            guard min(procW, procH) >= StyleConfig.sizeRange.lowerBound else { throw CLIError("-vf: the frames would be \(procW)×\(procH); the shorter side must be at least \(StyleConfig.sizeRange.lowerBound) px") }
        }
        config.size = max(procW, procH)
        let stylizer = try setup.stylizer(config: config, model: options.model, width: procW, height: procH)
        let network = stylizer.network
        let temporal = TemporalStylizer(stylizer: stylizer, config: tconfig, flowSource: flowDir)
        let info = reader.info
        let source = video.outputSize == .source && (procW, procH) != (info.width, info.height)
            ? try sourceLevel(sharing: stylizer, config: config, temporal: tconfig, width: info.width, height: info.height, maxMemory: setup.settings.maxMemory)
            : nil
        if let s = range.start, let d = info.duration, s >= d {
            throw CLIError(String(format: "--start %g s is past the end of %@ (%.2f s long)", s, input, d))
        }
        if let f = range.frames, let n = info.frameCount, f.lowerBound >= n {
            throw CLIError("--frames \(f.lowerBound)-\(f.upperBound) starts past the end of \(input) (\(n) frames)")
        }
        let summary = String(format: "%@: %d×%d, %.3f fps, %@ → %d×%d; model %@, %@ pooling",
                             input, info.width, info.height, info.frameRate.value,
                             info.frameCount.map { "\($0) frames" } ?? "unknown length",
                             procW, procH, network.name, config.pooling.rawValue)
            + (source.map { ", then optimised again at \($0.width)×\($0.height) (--output-size source)" } ?? "")
        var encoding = VideoEncoding()
        encoding.crf = video.crf
        encoding.preset = video.preset
        // H.264/VP9 in 4:2:0 need even sizes: an odd source is written one pixel smaller
        let toSource = video.outputSize != .processing
        let outW = toSource ? info.width & ~1 : procW & ~1
        let outH = toSource ? info.height & ~1 : procH & ~1
        return PreparedVideo(input: input, output: output, config: config, temporalConfig: tconfig, styleImages: setup.styleImages,
                             geometry: geometry, passes: passes, range: range, reader: reader, sizing: sizing,
                             processing: (procW, procH), outputSize: (outW, outH), temporal: temporal, source: source, flowDir: flowDir,
                             fingerprint: VideoJob.fingerprint(arguments: arguments ?? Array(CommandLine.arguments.dropFirst()),
                                                               config: config, temporal: tconfig, network: network.name),
                             summary: summary, noAudio: video.noAudio, encoding: encoding)
    }

    /// The source-size level of `--output-size source`: the processing stylizer's network
    /// and settings at the source's longest side, under the same memory limit (refused
    /// before any work when even tiles cannot fit it).
    func sourceLevel(sharing processing: Stylizer, config: StyleConfig, temporal: TemporalConfig,
                     width: Int, height: Int, maxMemory: Int) throws -> SourceLevel {
        var c = config
        c.size = max(width, height)
        let s = try Stylizer(network: processing.network, config: c)
        s.maxMemory = maxMemory
        s.segmentation = processing.segmentation
        do { try s.checkMemory(width: width, height: height) } catch let e as EngineError {
            throw CLIError("--output-size source: \(e.description) (a \(width)×\(height) frame; use --output-size scaled, or raise --max-memory)")
        }
        return SourceLevel(stylizer: s, config: temporal, sourceWidth: width, sourceHeight: height)
    }

    /// A writer for the output with the input's timing, rotation and audio; or, given a
    /// `segment` path, for a cluster task's part of it: video only, from time 0, encoded
    /// with a fixed thread count so every node makes the same bytes.
    func writerMaker(_ job: PreparedVideo, reporter: ProgressReporter, segment: String? = nil,
                     made: @escaping (VideoWriter) -> Void) -> (Double) throws -> VideoWriter? {
        let info = job.reader.info
        var encoding = job.encoding
        if segment != nil { encoding.threads = VideoJob.segmentEncoderThreads }
        return { startTime in
            let w = try VideoWriter(path: segment ?? job.output, width: job.outputSize.width, height: job.outputSize.height,
                                    timeBase: info.timeBase, frameRate: info.frameRate, rotation: info.rotation,
                                    audioFrom: job.noAudio || segment != nil ? nil : job.input, startTime: startTime,
                                    endTime: job.range.duration.map { startTime + $0 }, trimAudioToVideo: job.range.frames != nil,
                                    encoding: encoding)
            for warning in w.warnings { reporter.note("warning: " + warning) }
            made(w)
            return w
        }
    }
    static let segmentEncoderThreads = 2

    /// Stylizes the frames of `job.range` in order, each saved in `checkpoints` (a frame
    /// already there is restored instead); `writing`: encoded into the output as they come.
    /// `beforeFrame(k)` runs before frame k (counted from the range's first) is stylized,
    /// `beforeSaving(k)` after, before it is saved (state a resume needs goes first).
    /// `toContinue`: what an interrupted run is told to do.
    func stylizeFrames(_ job: PreparedVideo, into checkpoints: Checkpoints, reporter: ProgressReporter,
                       writing: Bool, keepInputs: Bool, toContinue: String = "run the same command with --resume to continue",
                       beforeFrame: (Int) throws -> Void = { _ in },
                       beforeSaving: (Int) throws -> Void = { _ in }) throws -> (frames: Int, writer: VideoWriter?, secondsPerFrame: Double) {
        let (procW, procH) = job.processing, temporal = job.temporal, source = job.source, info = job.reader.info
        var frameNumber = 0
        var current = VideoProgress(framesDone: 0, framesExpected: job.range.expectedCount(total: info.frameCount, frameRate: info.frameRate.value), elapsed: 0, secondsPerFrame: 0)
        var writer: VideoWriter?
        let n = try FramePipeline(reader: job.reader, range: job.range).run(
            makeWriter: writing ? writerMaker(job, reporter: reporter) { writer = $0 } : { _ in nil },
            process: { decoded, next in
                defer { frameNumber += 1 }
                // the frames at processing size (the decoded frames are, unless the source
                // level needs them whole)
                let toProcessing = { (image: RGBImage) in
                    source == nil ? image : try ImageIO.scale(image, width: procW, height: procH)
                }
                var frame = decoded, upcoming = next
                if !job.geometry.isEmpty {
                    frame.image = try job.geometry.apply(to: decoded.image)
                    if let n = next { upcoming?.image = try job.geometry.apply(to: n.image) }
                }
                let input = try toProcessing(frame.image)
                let styled: RGBImage
                // a saved frame, and its source-size result when there is a source level
                if let saved = checkpoints.load(frameNumber, width: procW, height: procH),
                   let result = source.map({ checkpoints.loadSource(frameNumber, width: $0.width, height: $0.height) }) ?? saved {
                    try temporal.restore(frame: input, result: saved)
                    temporal.curvature = checkpoints.loadCurvature(after: frameNumber)
                    source?.restore(result: result)
                    styled = result
                } else {
                    // the next frame's flows are computed meanwhile, unless it is checkpointed
                    let ahead = checkpoints.has(frameNumber + 1) ? nil : try upcoming.map { try toProcessing($0.image) }
                    try beforeFrame(frameNumber)
                    let started = Date()
                    styled = try stylizeAndSave(job, number: frameNumber, frame: frame.image, input: input, ahead: ahead,
                                                checkpoints: checkpoints, keepInputs: keepInputs, beforeSaving: beforeSaving) { p in
                        var q = p
                        q.elapsed = Date().timeIntervalSince(started)
                        reporter.updateFrame(video: current, frame: q)
                    }
                    interruptMessage.value = "\(frameNumber + 1) frame(s) are saved; \(toContinue)"
                }
                return writing ? try ImageIO.scale(styled, width: job.outputSize.width, height: job.outputSize.height) : styled
            },
            progress: { p in current = p; reporter.updateVideo(p) })
        return (n, writer, current.secondsPerFrame)
    }

    /// Frame `number` stylised at the processing size (`input`; `ahead`: the next frame,
    /// whose flows are computed meanwhile) and, with a source level, again at the source
    /// size (`frame`), then checkpointed; returns the result to write. `progress` gets the
    /// frame's fraction, the two levels weighted by their pixels.
    func stylizeAndSave(_ job: PreparedVideo, number: Int, frame: RGBImage, input: RGBImage, ahead: RGBImage?,
                        checkpoints: Checkpoints, keepInputs: Bool, beforeSaving: (Int) throws -> Void,
                        progress: @escaping (StyleProgress) -> Void) throws -> RGBImage {
        let (procW, procH) = job.processing
        let share = job.source.map { Double(procW * procH) / Double(procW * procH + $0.width * $0.height) } ?? 1
        func part(_ from: Double, _ to: Double) -> (StyleProgress) -> Void {
            { p in var q = p; q.fraction = from + (to - from) * p.fraction; progress(q) }
        }
        let made = try job.temporal.next(input, upcoming: ahead, styles: job.styleImages, progress: part(0, share))
        let full = try job.source?.next(frame, processed: made, styles: job.styleImages, progress: part(share, 1))
        if number > 0 {
            job.laterEvaluations += made.evaluations; job.sourceEvaluations += full?.evaluations ?? 0; job.laterFrames += 1
        }
        if ProcessInfo.processInfo.environment["STYLEVID_DEBUG"] != nil { FileHandle.standardError.write("frame \(number): coverage \(made.coverage), evaluations \(made.evaluations)\(full.map { " + \($0.evaluations) at source size" } ?? ""), loss \(full?.breakdown ?? made.breakdown)\n".data(using: .utf8)!) }
        try beforeSaving(number)
        if keepInputs { try checkpoints.saveInput(input, number) }
        // the curvature first and the older one removed last: a kill at any point leaves
        // each saved frame with the curvature that followed it; a frame counts as saved
        // once its processing-size result is, so its source-size result goes before
        if let f = full { try checkpoints.saveSource(f.image, number) }
        try checkpoints.saveCurvature(job.temporal.curvature, after: number)
        try checkpoints.save(made.image, number)
        checkpoints.removeCurvature(after: number - 1)
        return full?.image ?? made.image
    }

    /// Encodes the output (or a cluster task's `segment`) from finished frames
    /// (`frame(k)`, k counted from the range's first frame), with the input's timestamps,
    /// rotation and audio. `start`: where the range starts in the video (for a segment).
    func encode(_ job: PreparedVideo, reporter: ProgressReporter, segment: String? = nil,
                frame: @escaping (Int) throws -> RGBImage) throws -> (frames: Int, writer: VideoWriter?, start: (pts: Int64, videoStartTime: Double)?) {
        var writer: VideoWriter?
        var k = 0
        let reader = try VideoReader(path: job.input, sizing: job.sizing)
        if let s = job.seek { reader.seek(toPts: s.pts, index: s.index, videoStart: s.videoStart) }
        let pipeline = FramePipeline(reader: reader, range: job.range)
        let n = try pipeline.run(
            makeWriter: writerMaker(job, reporter: reporter, segment: segment) { writer = $0 },
            process: { _, _ in
                defer { k += 1 }
                return try ImageIO.scale(try frame(k), width: job.outputSize.width, height: job.outputSize.height)
            })
        return (n, writer, pipeline.rangeStart)
    }
}

extension VideoJob {
    /// Passes 2...N of the multi-pass algorithm over the checkpointed frames: even passes
    /// run backward, odd ones forward; each frame is refined against its neighbour in the
    /// pass's direction, already refined in this pass. Every refined frame replaces its
    /// checkpoint (atomically) and the position is recorded, so --resume continues inside
    /// a pass and gives the frames an uninterrupted run gives (all reads are from disk).
    func runLaterPasses(frames n: Int, passes: Int, temporal: TemporalStylizer, styles: [RGBImage], checkpoints: Checkpoints,
                        width: Int, height: Int, reporter: ProgressReporter) throws {
        guard n >= 2 else { return }
        let done = checkpoints.passProgress()
        func load(_ what: String, _ img: RGBImage?) throws -> RGBImage {
            guard let i = img else { throw CLIError("the checkpoint of \(what) is missing or damaged; run without --resume to start over") }
            return i
        }
        for pass in 2...passes {
            if let d = done, d.pass > pass { continue }
            let order = pass % 2 == 0 ? Array((0..<n).reversed()) : Array(0..<n)
            let first = done.map { $0.pass == pass ? $0.position : 1 } ?? 1
            let started = Date()
            for pos in max(1, first)..<n {
                let t = order[pos], s = order[pos - 1]
                let refined = try temporal.refine(
                    frame: t, input: try load("input \(t)", checkpoints.loadInput(t, width: width, height: height)),
                    result: try load("frame \(t)", checkpoints.load(t, width: width, height: height)),
                    neighbour: s, neighbourInput: try load("input \(s)", checkpoints.loadInput(s, width: width, height: height)),
                    neighbourResult: try load("frame \(s)", checkpoints.load(s, width: width, height: height)),
                    styles: styles)
                try checkpoints.save(refined, t)
                try checkpoints.setPassProgress(pass: pass, position: pos + 1)
                interruptMessage.value = "pass \(pass) of \(passes) is under way; run the same command with --resume to continue"
                let el = Date().timeIntervalSince(started), k = pos - max(1, first) + 1
                reporter.updateVideo(VideoProgress(framesDone: pos, framesExpected: n - 1, elapsed: el, secondsPerFrame: el / Double(k)))
            }
            reporter.finish()
            reporter.note("pass \(pass) of \(passes) (\(pass % 2 == 0 ? "backward" : "forward")) done")
        }
    }

    /// Everything that decides the frames: a resume with other settings is refused. The
    /// command line, and the settings it came to (defaults included, which may change
    /// between versions, the form of the loss terms, and the model a default --model
    /// resolves to).
    static func fingerprint(arguments: [String], config: StyleConfig, temporal: TemporalConfig, network: String) -> String {
        var args = arguments.filter { !["--resume", "--quiet"].contains($0) }
        if args.first == "run" { args.removeFirst() }
        return args.joined(separator: "\u{1F}") + "\nmodel \(network)\n\(StyleConfig.lossForm)\n\(config)\n\(temporal)\n"
    }
}

/// Finished frames of a video run, kept as lossless PNGs in a hidden folder next to the
/// output, so an interrupted run can resume. Each is written atomically; one that does
/// not decode (or has the wrong size) is redone, never trusted. Removed on success.
final class Checkpoints {
    let folder: String
    private(set) var available = 0

    convenience init(output: String, fingerprint: String, resume: Bool) throws {
        let url = URL(fileURLWithPath: output)
        try self.init(folder: url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).stylevid-frames").path,
                      output: output, fingerprint: fingerprint, resume: resume)
    }

    /// `output`: what the messages name.
    init(folder: String, output: String, fingerprint: String, resume: Bool) throws {
        self.folder = folder
        let fm = FileManager.default
        let manifest = folder + "/settings"
        if resume {
            guard fm.fileExists(atPath: manifest) else {
                throw CLIError("--resume: nothing to resume for \(output) (no checkpoints in \(folder))")
            }
            guard (try? String(contentsOfFile: manifest, encoding: .utf8)) == fingerprint else {
                throw CLIError("--resume: the checkpoints in \(folder) were made with other settings; run the same command, or without --resume to start over")
            }
            available = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter(Checkpoints.isFrameName).count
        } else {
            try? fm.removeItem(atPath: folder)   // our own folder from an earlier run: start over
            do {
                try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try fingerprint.write(toFile: manifest, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot create the checkpoint folder \(folder): \(error.localizedDescription)")
            }
        }
    }

    /// File names inside a checkpoint folder (a cluster task's folder is one).
    static func frameName(_ n: Int) -> String { String(format: "frame-%06d.png", n) }
    static func inputName(_ n: Int) -> String { String(format: "input-%06d.png", n) }
    static func isFrameName(_ name: String) -> Bool { name.hasPrefix("frame-") && name.hasSuffix(".png") }

    func path(_ n: Int) -> String { folder + "/" + Checkpoints.frameName(n) }

    func has(_ n: Int) -> Bool { n < available && FileManager.default.fileExists(atPath: path(n)) }

    func load(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard n < available || FileManager.default.fileExists(atPath: path(n)),
              let img = try? ImageIO.read(path(n)), img.width == width, img.height == height else { return nil }
        return img
    }

    /// Finished frames on disk (from this run or an earlier one).
    var saved: Int { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("frame-") && $0.hasSuffix(".png") }.count }

    func save(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: path(n)) }

    /// The optimiser's curvature after frame n (only the newest is kept), so a resumed run
    /// continues exactly as an uninterrupted one would.
    func curvaturePath(_ n: Int) -> String { folder + String(format: "/curvature-%06d.bin", n) }
    func saveCurvature(_ memory: LBFGS.Memory?, after n: Int) throws {
        if let m = memory { try m.serialized().write(to: URL(fileURLWithPath: curvaturePath(n)), options: .atomic) }
    }
    func removeCurvature(after n: Int) {
        if n >= 0 { try? FileManager.default.removeItem(atPath: curvaturePath(n)) }
    }
    func loadCurvature(after n: Int) -> LBFGS.Memory? {
        (try? Data(contentsOf: URL(fileURLWithPath: curvaturePath(n)))).flatMap { LBFGS.Memory(serialized: $0) }
    }

    /// The source-size results of `--output-size source` (frame-N holds the processing-size
    /// result the next frame continues).
    func sourcePath(_ n: Int) -> String { folder + String(format: "/source-%06d.png", n) }
    func saveSource(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: sourcePath(n)) }
    func loadSource(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard let img = try? ImageIO.read(sourcePath(n)), img.width == width, img.height == height else { return nil }
        return img
    }
    /// Frame n's finished result: its source-size one when the job has a source level.
    func loadResult(_ n: Int, width: Int, height: Int, source: Bool) -> RGBImage? {
        source ? loadSource(n, width: width, height: height) : load(n, width: width, height: height)
    }

    /// The processing-size input frames, kept for the later passes of --passes.
    func inputPath(_ n: Int) -> String { folder + "/" + Checkpoints.inputName(n) }
    func saveInput(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: inputPath(n)) }
    func loadInput(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard let img = try? ImageIO.read(inputPath(n)), img.width == width, img.height == height else { return nil }
        return img
    }

    /// Later passes: the pass under way and how many positions of it are done.
    func passProgress() -> (pass: Int, position: Int)? {
        guard let s = try? String(contentsOfFile: folder + "/passes", encoding: .utf8) else { return nil }
        let p = s.split(separator: " ").compactMap { Int($0) }
        return p.count == 2 ? (p[0], p[1]) : nil
    }
    func setPassProgress(pass: Int, position: Int) throws {
        try "\(pass) \(position)".write(toFile: folder + "/passes", atomically: true, encoding: .utf8)
    }

    func removeAll() { try? FileManager.default.removeItem(atPath: folder) }
}

func checkVideoOutput(_ output: String, inputs: [String]) throws {
    let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
    guard VideoWriter.containers.contains(ext) else {
        throw CLIError("\(output): a video input needs a video output (.\(VideoWriter.containers.joined(separator: ", ."))), not '.\(ext)'")
    }
    try checkOutputLocation(output, inputs: inputs)
}

/// `stylevid probe FILE`: the streams of a media file and their properties.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the streams of a video or image file.")
    @Argument(help: "A media file.") var file: String

    func run() throws {
        let r = try VideoReader(path: file)
        let i = r.info
        print("\(i.path): \(i.container)" + (i.duration.map { String(format: ", %.3f s", $0) } ?? ""))
        print(String(format: "video: %d×%d, %.3f fps (%@), time base %@, %@, rotation %d°",
                     i.width, i.height, i.frameRate.value, i.frameRate.description, i.timeBase.description,
                     i.frameCount.map { "\($0) frames" } ?? "frame count unknown", i.rotation))
        for s in i.streams { print("  stream \(s.index): \(s.kind) \(s.codec)\(s.details.isEmpty ? "" : ", " + s.details)") }
    }
}

/// `stylevid stability OUTPUT INPUT`: Lai et al.'s temporal warping error of a stylized
/// video (lower is steadier), with the flow taken from the input video.
struct Stability: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stability",
        abstract: "Measure the flicker of a stylized video: its warping error against the input (lower is steadier).",
        discussion: """
            Lai et al. (2018): the mean over frames of the squared difference between each \
            output frame and the previous output frame warped by the optical flow of the \
            input, over the pixels where that flow is consistent (RGB in 0...1). The input \
            is scaled to the output's size and matched to it by time. Pairs across a shot \
            change (the flow connects fewer than 10% of the pixels) are left out. Prints \
            one JSON line.
            """)
    @Argument(help: "The stylized video.") var output: String
    @Argument(help: "The input video it was made from.") var input: String
    @Option(help: "Only frames A-B (0-based, inclusive) of the stylized video; the input is matched by time.") var frames: String?
    @Flag(help: "Also count pairs across a shot change (where the input's flow connects fewer than 10% of the pixels); they are left out by default.") var keepCuts = false
    @Option(help: "Also measure style strength: the style loss of every output frame against this style image (default layers and weights), and the content loss against the input frame; the means are added to the JSON line (lower style loss = stronger style).") var style: String?
    @Option(help: "Model for --style: \(StyleOptions.modelChoices).") var model: String?
    @Option(help: "The optical flow that measures: robust or classic (see the main form's --flow).") var flow: VideoOptions.FlowMethod = .robust
    @Option(help: "Pooling of the network for --style; measure with the pooling the video was made with (videos are made with max-blur unless their --pooling said otherwise).") var pooling: Layers.Pooling = TemporalConfig.defaultPooling

    func run() throws {
        let out = try VideoReader(path: output)
        let w = out.info.width, h = out.info.height
        var strength: (stylizer: Stylizer, style: RGBImage)? = nil
        if let sp = style {
            let styleImage = try ImageIO.read(sp)
            var config = StyleConfig()
            config.size = max(w, h)
            config.pooling = pooling
            strength = (try JobSetup.stylizer(config: config, model: model, width: w, height: h, maxMemory: MemoryPlan.defaultBudget), styleImage)
        }
        var styleLosses: [Double] = [], contentLosses: [Double] = []
        let inp = try VideoReader(path: input, longestSide: max(w, h))
        let range = try VideoOptions.parse(frames.map { ["--frames", $0] } ?? []).range()
        var firstIn: Double? = nil
        var previous: (input: Tensor, output: Tensor)? = nil
        var total = 0.0, count = 0, pairs = 0, cuts = 0
        var pairErrors: [Double] = []      // pair k: frames k and k + 1, cuts included
        while let o = try out.nextFrame() {
            guard range.frames?.contains(o.index) ?? true else { if o.index > (range.frames?.upperBound ?? .max) { break }; continue }
            // the input frame shown at the same time (output time 0 = first input frame)
            var f: VideoFrame? = nil
            while let i = try inp.nextFrame() {
                firstIn = firstIn ?? i.time
                if i.time - firstIn! >= o.time - 1e-3 { f = i; break }
            }
            guard let match = f else { break }
            let current = (input: Tensor(image: try ImageIO.scale(match.image, width: w, height: h)), output: Tensor(image: o.image))
            count += 1
            if let m = strength {
                let b = try m.stylizer.measure(o.image, content: match.image, styles: [m.style])
                styleLosses.append(b.style); contentLosses.append(b.content)
            }
            if let p = previous {
                let e = WarpingError(previousInput: p.input, input: current.input, previousOutput: p.output, output: current.output,
                                     flow: flow.options)
                pairErrors.append(e.error)
                if e.coverage >= WarpingError.cutThreshold || keepCuts { total += e.error; pairs += 1 } else { cuts += 1 }
            }
            previous = current
        }
        guard count >= 2 else { throw CLIError("need at least 2 frames to measure flicker, found \(count)") }
        guard pairs >= 1 else { throw CLIError("every pair of frames is a shot change; nothing to measure (--keep-cuts counts them)") }
        var json = String(format: "{\"frames\":%d,\"pairs\":%d,\"shot_changes_skipped\":%d,\"warping_error\":%.6f", count, pairs, cuts, total / Double(pairs))
        if !styleLosses.isEmpty {
            let mean = { (v: [Double]) in v.reduce(0, +) / Double(v.count) }
            json += String(format: ",\"style_loss\":%.4f,\"style_loss_max\":%.4f,\"content_loss\":%.4f,\"style_loss_per_frame\":[",
                           mean(styleLosses), styleLosses.max()!, mean(contentLosses))
            json += styleLosses.map { String(format: "%.3f", $0) }.joined(separator: ",") + "]"
        }
        json += ",\"warping_error_per_pair\":[" + pairErrors.map { String(format: "%.6f", $0) }.joined(separator: ",") + "]"
        print(json + "}")
    }
}
