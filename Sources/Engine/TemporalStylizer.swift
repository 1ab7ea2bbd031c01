import Foundation
import Kernels
import Temporal
import VideoIO

extension TemporalLoss: ImageLoss {}

/// Settings of temporally consistent video stylisation (Ruder, Dosovitskiy & Brox).
public struct TemporalConfig: Sendable, Equatable {
    /// γ of the temporal loss (0 = frames independent, no warm start). Default 200: on
    /// bikes.mp4 the warping error was flat from 50 to 1000 (BENCHMARKS.md).
    public var weight: Float = 200
    /// Evaluations for frames after the first (which gets the full budget and the
    /// pyramid). Default `defaultLaterIterations` (never more than the first frame's budget).
    public var laterIterations: Int? = nil
    /// Earlier frames the temporal term looks back to (1 = the previous frame; Ruder's
    /// long-term set is 1, 10, 20, 40). A frame's consistency weight is reduced by the
    /// nearer frames' (c_j ← max(c_j − Σ_{k<j} c_k, 0)), so each pixel is pulled toward
    /// the closest frame where it was visible. Default [1, 10, 20, 40].
    public var frames: [Int] = [1, 10, 20, 40]
    /// Later frames stop early once the loss improved by less than this (relative) over
    /// `stopWindow` evaluations. Default 1e-3 over 3 (0 = never stop early).
    public var stopTolerance: Double = 1e-3
    public var stopWindow: Int = 3
    /// The early-stop rule of a later frame (nil: never stop early).
    var earlyStop: EarlyStop? { stopTolerance > 0 ? EarlyStop(tolerance: stopTolerance, window: stopWindow) : nil }
    /// A frame where fewer than this fraction of the pixels were seen (consistently) in an
    /// earlier frame is a new shot: it is stylised from scratch with the full budget, like
    /// the first frame. Default 0.5.
    public var sceneCutThreshold: Float = 0.5
    /// Radius of the consistency-weight smoothing (0 = off, the default): weights taper
    /// toward occlusions and motion boundaries (`Warp.smoothWeights`).
    public var weightSmoothing: Int = 0
    /// Later frames start L-BFGS with the curvature learnt on the frames before (the last
    /// `carriedPairs` pairs), instead of afresh (Ruder et al.). On bikes.mp4 at 384 px
    /// this kept the later frames' style loss at 1.3× the first frame's instead of
    /// drifting to 2× within 8 frames, at no extra evaluations (BENCHMARKS.md).
    public var carryCurvature = true
    public var flow = FlowOptions()
    public init() {}

    /// 20: with the carried curvature and max-blur pooling, later frames reach 1.025× the
    /// published schedule's style loss at 8.8 s/frame on 2 cores at 384 px (max pooling:
    /// 1.15×; 10 evaluations: 6.1 s; BENCHMARKS.md).
    public static let defaultLaterIterations = 20
    /// Pooling of the network for videos (images keep max pooling, the published
    /// default): max-blur. Max pooling ties a converged frame to its alignment with the
    /// pooling grid, so a warped start that moved by 1-3 px has 2.5x the content loss and
    /// later frames spend their evaluations re-aligning; with max-blur the default schedule
    /// is within 2.5% of the published schedule's style loss on bikes.mp4 (max: 1.15x;
    /// BENCHMARKS.md); frames looked at on three clip/style pairs and `stylevid photo` look
    /// as they do with max pooling.
    public static let defaultPooling: Layers.Pooling = .maxBlur
    /// Curvature pairs carried from frame to frame (and checkpointed for --resume).
    public static let carriedPairs = 20

    public func validate() throws {
        func bad(_ m: String) -> EngineError { .invalidOption(m) }
        guard weight >= 0, weight.isFinite else { throw bad("--temporal-weight must be a finite number ≥ 0") }
        if let l = laterIterations, l < 1 { throw bad("--later-iterations must be at least 1") }
        guard !frames.isEmpty, frames.allSatisfy({ $0 >= 1 && $0 <= 1000 }) else {
            throw bad("--temporal-frames must list frame offsets from 1 to 1000, e.g. 1,10,20,40")
        }
        guard frames.contains(1) else { throw bad("--temporal-frames must include 1 (the previous frame, which the warm start uses)") }
        guard (0...50).contains(weightSmoothing) else { throw bad("--smooth-weights must be a radius from 0 to 50") }
        guard sceneCutThreshold >= 0, sceneCutThreshold <= 1 else { throw bad("the scene-cut threshold must be in 0...1") }
        guard stopTolerance >= 0, stopTolerance.isFinite, stopWindow >= 1 else { throw bad("the early-stop tolerance must be ≥ 0 and its window ≥ 1") }
    }
}

/// Where the flows between frames come from: the built-in solver, or files.
public protocol FlowSource: AnyObject, Sendable {
    /// The backward flow (frame t → frame s, used to warp s onto t) and the forward flow
    /// (s → t, for the consistency check) between processed frames t and s < t (0-based),
    /// at the processing size of `current` and `earlier`.
    func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow)
}

/// Flow from the built-in solver, on the input frames at processing size.
public final class BuiltInFlow: FlowSource, @unchecked Sendable {
    public let options: FlowOptions
    public init(options: FlowOptions = FlowOptions()) { self.options = options }
    public func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow) {
        (OpticalFlow.compute(from: current, to: earlierInput, options: options),
         OpticalFlow.compute(from: earlierInput, to: current, options: options))
    }
}

/// Precomputed Middlebury .flo files in a folder, named as Ruder et al.'s scripts name
/// them, frames numbered from 1 in the processed range: `backward_T_S.flo` (T → S) and
/// `forward_S_T.flo` (S → T). A flow of another size is resampled (and its vectors scaled)
/// to the processing size. A missing pair is computed with the built-in flow instead
/// (counted in `computedInstead`); an unreadable file is an error naming it.
public final class FlowDirectory: FlowSource, @unchecked Sendable {
    public let folder: String
    let fallback: BuiltInFlow
    private let lock = NSLock()
    private var computed = 0
    public var computedInstead: Int { lock.lock(); defer { lock.unlock() }; return computed }

    public init(folder: String, fallback: FlowOptions = FlowOptions()) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw EngineError.invalidOption("--flow-dir \(folder): no such folder")
        }
        self.folder = folder
        self.fallback = BuiltInFlow(options: fallback)
    }

    public func paths(frame t: Int, earlier s: Int) -> (backward: String, forward: String) {
        (folder + "/backward_\(t + 1)_\(s + 1).flo", folder + "/forward_\(s + 1)_\(t + 1).flo")
    }

    public func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow) {
        let (pb, pf) = paths(frame: t, earlier: s)
        let fm = FileManager.default
        guard fm.fileExists(atPath: pb), fm.fileExists(atPath: pf) else {
            lock.lock(); computed += 1; lock.unlock()
            return try fallback.flows(frame: t, earlier: s, current: current, earlierInput: earlierInput)
        }
        func load(_ p: String) throws -> Flow {
            let f = try FloFile.read(p)
            return f.width == current.width && f.height == current.height
                ? f : f.resampled(width: current.width, height: current.height)
        }
        return (try load(pb), try load(pf))
    }
}

/// Stylises a sequence of frames: the first like an image; each later one starts from
/// the previous result warped by the optical flow (pixels the flow cannot vouch for, i.e.
/// disoccluded, out of frame or on motion boundaries, start from an older frame that saw
/// them, else from the frame's own content) and is pulled toward the warped earlier
/// results by the temporal loss, weighted by the consistency of the flow.
public final class TemporalStylizer {
    public let stylizer: Stylizer
    public let config: TemporalConfig
    public let flowSource: FlowSource
    /// The last max(frames) processed frames at processing size: input and result.
    private var history: History = []
    public private(set) var framesDone = 0
    /// The L-BFGS curvature carried from frame to frame (`curvature`).
    private var carried: LBFGS.Memory?
    /// Frames treated as the start of a new shot (stylised from scratch), the first excluded.
    public private(set) var sceneCuts = 0
    private var prefetch: (frame: Int, result: FlowPrefetch)?

    /// A stylized frame further on that the next frame is drawn toward: the seam of a
    /// render cut into chunks, where a chunk's last frames travel toward the next chunk's
    /// first frame (its keyframe), so the two meet. Set before each frame. The frame's warm
    /// start and its temporal targets move part of the way from the warped earlier results
    /// to the guide warped onto the frame, so that `remaining` (1 → 0 over the ramp) of
    /// the distance measured at the ramp's first frame (`startDistance`; nil: this is
    /// that frame) is left: the share is measured each frame, so what the optimisation
    /// undoes on one frame is made up on the next. Pixels the flow between the frame and
    /// the guide does not vouch for keep their own start and targets. A guide without an
    /// `input` is of the frame itself (a seam pass handing over to a task's own frames).
    public struct Guide {
        public var input: RGBImage?
        public var output: RGBImage
        public var remaining: Float
        public var startDistance: Float?
        public init(input: RGBImage?, output: RGBImage, remaining: Float, startDistance: Float?) {
            self.input = input; self.output = output; self.remaining = remaining; self.startDistance = startDistance
        }

        /// The share of the way to move a frame `distance` from the guide.
        public static func share(remaining: Float, startDistance: Float, distance: Float) -> Float {
            guard distance > 0 else { return 0 }
            return min(1, max(0, 1 - remaining * startDistance / distance))
        }
    }
    public var guide: Guide?
    /// The guide distance the last guided frame measured from (its `startDistance`, or
    /// its own distance on the ramp's first frame): a resumed render needs it again.
    public private(set) var lastGuideStartDistance: Float?

    public init(stylizer: Stylizer, config: TemporalConfig, flowSource: FlowSource? = nil) {
        self.stylizer = stylizer; self.config = config
        self.flowSource = flowSource ?? BuiltInFlow(options: config.flow)
    }

    func processingInput(_ frame: RGBImage) throws -> RGBImage {
        let (w, h) = Stylizer.fitSize(width: frame.width, height: frame.height, longest: stylizer.config.size)
        return try ImageIO.scale(frame, width: w, height: h)
    }

    private func push(input: RGBImage, output: RGBImage) {
        history.append((input, output))
        let keep = config.frames.max() ?? 1
        if history.count > keep { history.removeFirst(history.count - keep) }
        framesDone += 1
    }

    /// Resumes after a frame whose result was checkpointed: the state becomes exactly what
    /// `next` would have left (the result is kept at 8 bits in both cases; the optimiser's
    /// curvature, when it is carried, is restored separately through `curvature`).
    public func restore(frame: RGBImage, result: RGBImage) throws {
        push(input: try processingInput(frame), output: result)
    }

    /// The L-BFGS curvature the next frame will start from (nil: afresh).
    public var curvature: LBFGS.Memory? {
        get { carried }
        set { carried = config.carryCurvature ? newValue : nil }
    }

    /// One stylized frame, and what it cost.
    public struct Frame {
        public var image: RGBImage
        /// Evaluations spent on it.
        public var evaluations: Int
        /// The share of its pixels an earlier frame vouched for (1 for a first frame).
        public var coverage: Float
        /// Its loss terms.
        public var breakdown: LossBreakdown
        /// How it joins the frame before, when it was started from it: the backward flow
        /// (this frame → the previous) and the consistency weights of that warp, at
        /// processing size. Nil for a shot's first frame.
        public var link: Link? = nil
    }

    /// The warp from the previous frame onto a frame, and where it holds.
    public struct Link {
        public var backward: Flow
        public var consistency: [Float]
        public init(backward: Flow, consistency: [Float]) { self.backward = backward; self.consistency = consistency }
    }

    typealias History = [(input: RGBImage, output: RGBImage)]

    /// Offsets j of the earlier frames a frame of `input`'s size can use with `history`
    /// (same size, still kept).
    static func usableOffsets(_ frames: [Int], history: History, input: RGBImage) -> [Int] {
        frames.sorted().filter { j in
            j <= history.count && history[history.count - j].input.width == input.width
                && history[history.count - j].input.height == input.height
        }
    }

    /// The flow pairs between frame t and each earlier frame t − j.
    static func flows(_ source: FlowSource, frame t: Int, input: Tensor, offsets: [Int], history: History) throws -> [(backward: Flow, forward: Flow)] {
        try offsets.map { j in
            let f = try source.flows(frame: t, earlier: t - j, current: input, earlierInput: Tensor(image: history[history.count - j].input))
            return (f.backward.snappedToFrame(), f.forward.snappedToFrame())
        }
    }

    /// The schedule of every frame after the first (and of later passes): a warm start,
    /// no pyramid, the later-frame budget (never above the first frame's) and the early stop.
    /// `carry`: start from (and update) the curvature carried from frame to frame; the
    /// later passes, which --resume can enter at any frame, start afresh.
    func stylizeLater(content: RGBImage, start: Tensor, losses: [ImageLoss], styles: [RGBImage], carry: Bool = true,
                      progress: @escaping (StyleProgress) -> Void) throws -> Stylizer.Outcome {
        let iterations = min(stylizer.config.iterations, config.laterIterations ?? TemporalConfig.defaultLaterIterations)
        let carrying = carry && config.carryCurvature
        var out = try stylizer.run(content: content, styles: styles,
                                   Stylizer.Request(start: start, extraLosses: losses, iterations: iterations, pyramid: false,
                                                    earlyStop: config.earlyStop, curvature: carrying ? carried ?? LBFGS.Memory() : nil),
                                   hooks: Stylizer.Hooks(progress: progress))
        out.curvature?.trim(to: TemporalConfig.carriedPairs)
        carried = carrying ? out.curvature : nil
        return out
    }

    /// Ruder's consistency weights, smoothed if configured.
    func consistency(_ flow: (backward: Flow, forward: Flow)) -> [Float] {
        let c = Warp.consistency(backward: flow.backward, forward: flow.forward)
        return Warp.smoothWeights(c, width: flow.backward.width, height: flow.backward.height, radius: config.weightSmoothing)
    }

    /// Stylises the next frame. `upcoming` (the frame after it, when known) lets the flows
    /// it will need be computed while this one is being stylised.
    public func next(_ frame: RGBImage, upcoming: RGBImage? = nil, styles: [RGBImage],
                     progress: @escaping (StyleProgress) -> Void = { _ in }) throws -> Frame {
        let t = framesDone
        let inputImage = try processingInput(frame)
        let input = Tensor(image: inputImage)
        let offsets = config.weight > 0 ? TemporalStylizer.usableOffsets(config.frames, history: history, input: inputImage) : []
        let flows = try flows(frame: t, input: input, offsets: offsets)
        if let up = upcoming, config.weight > 0 { try prefetchFlows(frame: t + 1, input: try processingInput(up), after: inputImage) }
        func fromScratch(coverage: Float) throws -> Frame {
            carried = nil      // a new shot: what was learnt no longer applies
            let out = try stylizer.run(content: frame, styles: styles, hooks: Stylizer.Hooks(progress: progress))
            push(input: inputImage, output: out.image)
            return Frame(image: out.image, evaluations: out.evaluations, coverage: coverage, breakdown: out.breakdown)
        }
        guard !offsets.isEmpty else { return try fromScratch(coverage: 1) }
        let n = input.plane
        let weights = TemporalStylizer.closestFirst(flows.map { consistency($0) })
        let coverage = Float((0..<n).filter { i in weights.contains { $0[i] > 0 } }.count) / Float(n)
        if coverage < config.sceneCutThreshold {
            sceneCuts += 1
            return try fromScratch(coverage: coverage)
        }
        var warped = zip(offsets, flows).map { j, flow in
            Warp.backwardCubic(Tensor(image: history[history.count - j].output), flow: flow.backward)
        }
        let guided = try guideTarget(frame: t, input: input, from: warped[0])
        if let g = guided { for k in warped.indices { g.blend(into: &warped[k]) } }
        let start = warmStart(input: input, warped: warped, weights: weights, backward: flows[0].backward, guided: guided)
        let losses: [ImageLoss] = zip(warped, weights).map { TemporalLoss(warpedPrevious: $0, weights: $1, weight: config.weight) }
        let out = try stylizeLater(content: frame, start: start, losses: losses, styles: styles, progress: progress)
        push(input: inputImage, output: out.image)
        return Frame(image: out.image, evaluations: out.evaluations, coverage: coverage, breakdown: out.breakdown,
                     link: offsets[0] == 1 ? Link(backward: flows[0].backward, consistency: weights[0]) : nil)
    }

    /// The flows frame t needs, from the prefetch when it computed them.
    func flows(frame t: Int, input: Tensor, offsets: [Int]) throws -> [(backward: Flow, forward: Flow)] {
        defer { prefetch = nil }
        guard !offsets.isEmpty else { return [] }
        if let p = prefetch, p.frame == t, p.result.offsets == offsets { return try p.result.wait() }
        return try TemporalStylizer.flows(flowSource, frame: t, input: input, offsets: offsets, history: history)
    }

    /// Starts computing frame t's flows (`input` at processing size) in the background,
    /// with the history as it will be once the frame before (`previous`) is done: its
    /// result is not needed for flows, the input stands in for it.
    func prefetchFlows(frame t: Int, input: RGBImage, after previous: RGBImage) throws {
        var h = history
        h.append((previous, previous))
        let keep = config.frames.max() ?? 1
        if h.count > keep { h.removeFirst(h.count - keep) }
        let offsets = TemporalStylizer.usableOffsets(config.frames, history: h, input: input)
        let source = flowSource, hist = h
        prefetch = (t, FlowPrefetch(offsets: offsets) {
            try TemporalStylizer.flows(source, frame: t, input: Tensor(image: input), offsets: offsets, history: hist)
        })
    }

    /// The warm start: each pixel from the nearest frame that saw it. A pixel none
    /// vouches for but that the previous frame covers (an occlusion, a motion boundary)
    /// keeps the previous result warped there: its neighbourhood's texture, which the
    /// optimisation corrects (starting it from the plain content leaves pale patches that
    /// a short budget cannot repaint). What comes into view at the border starts from the
    /// content recoloured to the previous result's palette (copying the previous result
    /// there would smear the border into streaks).
    private func warmStart(input: Tensor, warped: [Tensor], weights: [[Float]], backward back: Flow, guided: GuideTarget?) -> Tensor {
        let n = input.plane
        let previous = Tensor(image: history[history.count - 1].output)
        var recoloured = ColorOps.matchStatistics(input, to: previous)
        guided?.blend(into: &recoloured)
        var start = warped[0]
        for i in 0..<n {
            let sx = Float(i % back.width) + back.u[i], sy = Float(i / back.width) + back.v[i]
            if !(sx >= 0 && sy >= 0 && sx <= Float(back.width - 1) && sy <= Float(back.height - 1)) {
                for ch in 0..<3 { start.storage[ch * n + i] = recoloured.storage[ch * n + i] }
            }
        }
        for (k, wk) in weights.enumerated() where k > 0 {
            for i in 0..<n where wk[i] > 0 { for ch in 0..<3 { start.storage[ch * n + i] = warped[k].storage[ch * n + i] } }
        }
        return start
    }
}

/// The guide warped onto a frame, with the pixels the flow between them vouches for.
private struct GuideTarget {
    let target: Tensor
    let trust: [Float]
    var share: Float = 0
    /// Moves `image` `share` of the way to the target at the trusted pixels.
    func blend(into image: inout Tensor) {
        let n = trust.count
        for i in 0..<n where trust[i] > 0 {
            for ch in 0..<3 { image.storage[ch * n + i] += share * (target.storage[ch * n + i] - image.storage[ch * n + i]) }
        }
    }
    /// Root-mean-square distance of `image` to the target over the trusted pixels.
    func distance(_ image: Tensor) -> Float {
        let n = trust.count
        var sum = 0.0, count = 0
        for i in 0..<n where trust[i] > 0 {
            for ch in 0..<3 { let d = Double(image.storage[ch * n + i] - target.storage[ch * n + i]); sum += d * d }
            count += 3
        }
        return count > 0 ? Float((sum / Double(count)).squareRoot()) : 0
    }
}

extension TemporalStylizer {
    /// `guide` warped onto frame `t`, with the share that moves `current` (the warped
    /// previous result) to its place on the ramp; nil without a guide or one of another size.
    fileprivate func guideTarget(frame t: Int, input: Tensor, from current: Tensor) throws -> GuideTarget? {
        guard let g = guide, g.output.width == input.width, g.output.height == input.height else { return nil }
        var guided: GuideTarget
        if let gi = g.input {
            guard gi.width == input.width, gi.height == input.height else { return nil }
            let flow = try BuiltInFlow(options: config.flow).flows(frame: t, earlier: t, current: input, earlierInput: Tensor(image: gi))
            guided = GuideTarget(target: Warp.backwardCubic(Tensor(image: g.output), flow: flow.backward), trust: consistency(flow))
        } else {
            guided = GuideTarget(target: Tensor(image: g.output), trust: [Float](repeating: 1, count: input.plane))
        }
        let distance = guided.distance(current)
        let start = g.startDistance ?? distance
        lastGuideStartDistance = start
        guided.share = Guide.share(remaining: g.remaining, startDistance: start, distance: distance)
        if ProcessInfo.processInfo.environment["STYLEVID_DEBUG"] != nil {
            FileHandle.standardError.write("frame \(t): guide distance \(distance) (start \(start)), remaining \(g.remaining), share \(guided.share)\n".data(using: .utf8)!)
        }
        return guided
    }
}

extension TemporalStylizer {
    /// One frame of a later pass of Ruder et al.'s multi-pass algorithm: the frame's
    /// current result is blended with its neighbour's (the previous frame in the pass's
    /// direction, already refined in this pass) warped onto it, where the flow is
    /// consistent (x ← (1 − δ·c)·x + δ·c·ω(neighbour)), and optimised again with the
    /// temporal term toward that warp. All images are at processing size; `frame` and
    /// `neighbour` are the indices in the processed range (for flow files).
    public func refine(frame t: Int, input: RGBImage, result: RGBImage, neighbour s: Int,
                       neighbourInput: RGBImage, neighbourResult: RGBImage, styles: [RGBImage],
                       blend delta: Float = 0.5, progress: @escaping (StyleProgress) -> Void = { _ in }) throws -> RGBImage {
        let inT = Tensor(image: input)
        let flow = try flowSource.flows(frame: t, earlier: s, current: inT, earlierInput: Tensor(image: neighbourInput))
        let c = consistency(flow)
        let warped = Warp.backwardCubic(Tensor(image: neighbourResult), flow: flow.backward)
        var start = Tensor(image: result)
        start.blend(toward: warped, weights: c, scale: delta)
        return try stylizeLater(content: input, start: start,
                                losses: [TemporalLoss(warpedPrevious: warped, weights: c, weight: config.weight)],
                                styles: styles, carry: false, progress: progress).image
    }

    /// Ruder et al.'s long-term weights, nearest frame first: c_j ← max(c_j − Σ_{k<j} c_k, 0),
    /// so a pixel is pulled only toward the closest earlier frame that saw it.
    public static func closestFirst(_ consistency: [[Float]]) -> [[Float]] {
        guard let n = consistency.first?.count else { return [] }
        var nearer = [Float](repeating: 0, count: n)
        return consistency.map { c in
            var out = c
            for i in 0..<n { out[i] = max(c[i] - nearer[i], 0); nearer[i] += c[i] }
            return out
        }
    }
}

/// Flows computed on a background thread; `wait` returns them (or rethrows).
final class FlowPrefetch: @unchecked Sendable {
    let offsets: [Int]
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<[(backward: Flow, forward: Flow)], Error> = .success([])
    init(offsets: [Int], work: @escaping @Sendable () throws -> [(backward: Flow, forward: Flow)]) {
        self.offsets = offsets
        Thread.detachNewThread { [self] in
            result = Result { try work() }
            done.signal()
        }
    }
    func wait() throws -> [(backward: Flow, forward: Flow)] {
        done.wait(); done.signal()
        return try result.get()
    }
}

/// Lai et al.'s warping error of a stylised sequence, with the flow taken from the input
/// frames: E = 1/(T−1) Σ_t Σ_i M_t(i)‖O_t(i) − ω(O_{t−1})(i)‖² / Σ_i M_t(i), M the
/// consistency mask. Frames are RGB 0...1 tensors of one size. Pairs across a shot change
/// (where the flow connects fewer than `cutBelow` of the pixels) are left out: there the
/// few pixels the check lets through are chance matches, and the normalisation by ΣM
/// would give them a whole frame's weight.
public func warpingError(inputs: [Tensor], outputs: [Tensor], flow: FlowOptions = FlowOptions(), cutBelow: Double = WarpingError.cutThreshold) -> Double {
    precondition(inputs.count == outputs.count && inputs.count >= 2, "warpingError: need ≥ 2 matching frames")
    var total = 0.0, pairs = 0
    for t in 1..<inputs.count {
        let e = WarpingError(previousInput: inputs[t - 1], input: inputs[t], previousOutput: outputs[t - 1], output: outputs[t], flow: flow)
        if e.coverage >= cutBelow { total += e.error; pairs += 1 }
    }
    return pairs > 0 ? total / Double(pairs) : 0
}

/// One term of the warping error: frame t against frame t−1, and the fraction of pixels
/// the flow connects (the mask's coverage).
public struct WarpingError {
    public static let cutThreshold = 0.1
    public let error: Double
    public let coverage: Double

    public init(previousInput: Tensor, input: Tensor, previousOutput: Tensor, output: Tensor, flow: FlowOptions = FlowOptions()) {
        let back = OpticalFlow.compute(from: input, to: previousInput, options: flow)
        let fwd = OpticalFlow.compute(from: previousInput, to: input, options: flow)
        let m = Warp.consistency(backward: back, forward: fwd)
        let warped = Warp.backward(previousOutput, flow: back).image
        let n = warped.plane
        var num = 0.0, den = 0.0
        for i in 0..<n where m[i] > 0 {
            var d2 = 0.0
            for c in 0..<3 { let d = Double(output.storage[c * n + i] - warped.storage[c * n + i]); d2 += d * d }
            num += d2; den += 1
        }
        error = den > 0 ? num / den : 0
        coverage = den / Double(n)
    }
}
