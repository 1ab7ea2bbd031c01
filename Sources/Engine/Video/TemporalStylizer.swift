import Foundation
import Kernels
import Temporal
import VideoIO

extension TemporalLoss: ImageLoss {}

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

    /// A result of the next frame rendered apart, that the frame is drawn toward: a
    /// cluster seam pass, which renders a task's first frames again continuing the task
    /// before and hands over to the task's own frames. Set before each frame. The frame's
    /// warm start and its temporal targets move part of the way from the warped earlier
    /// results to the guide, so that `remaining` (1 → 0 over the ramp) of the distance
    /// measured at the ramp's first frame (`startDistance`; nil: this is that frame) is
    /// left: the share is measured each frame, so what the optimisation undoes on one
    /// frame is made up on the next.
    public struct Guide {
        public var output: RGBImage
        public var remaining: Float
        public var startDistance: Float?
        public init(output: RGBImage, remaining: Float, startDistance: Float?) {
            self.output = output; self.remaining = remaining; self.startDistance = startDistance
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
        let guided = guideTarget(input: input, from: warped[0])
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

/// The guide as a tensor, and the share of the way a frame moves to it.
private struct GuideTarget {
    let target: Tensor
    var share: Float = 0
    /// Moves `image` `share` of the way to the target.
    func blend(into image: inout Tensor) {
        for i in image.storage.indices { image.storage[i] += share * (target.storage[i] - image.storage[i]) }
    }
    /// Root-mean-square distance of `image` to the target (summed pixel by pixel).
    func distance(_ image: Tensor) -> Float {
        let n = image.plane
        var sum = 0.0
        for i in 0..<n {
            for ch in 0..<3 { let d = Double(image.storage[ch * n + i] - target.storage[ch * n + i]); sum += d * d }
        }
        return n > 0 ? Float((sum / Double(3 * n)).squareRoot()) : 0
    }
}

extension TemporalStylizer {
    /// The guide, with the share that moves `current` (the warped previous result) to its
    /// place on the ramp; nil without a guide or one of another size.
    fileprivate func guideTarget(input: Tensor, from current: Tensor) -> GuideTarget? {
        guard let g = guide, g.output.width == input.width, g.output.height == input.height else { return nil }
        var guided = GuideTarget(target: Tensor(image: g.output))
        let distance = guided.distance(current)
        let start = g.startDistance ?? distance
        lastGuideStartDistance = start
        guided.share = Guide.share(remaining: g.remaining, startDistance: start, distance: distance)
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
