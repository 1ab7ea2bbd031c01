import Foundation
import Kernels
import Photoreal
import Temporal
import VideoIO

/// How a video's frames are made.
public enum RenderMode: String, Codable, Sendable, CaseIterable {
    /// Every frame optimised (the default).
    case full
    /// Keyframes optimised, the frames between them propagated (`KeyframePropagation`).
    case fast
}

/// Fast mode's rules: where keyframes go and how the frames between are synthesised.
public struct FastConfig: Codable, Equatable, Sendable {
    /// At most this many frames from one keyframe to the next.
    public var maxGap = 16
    /// A frame becomes a keyframe when less than this share of its pixels traces back to
    /// the last keyframe through consistent flow, frame by frame (the rest is what came
    /// into view or out from behind something since). 0.3: on bikes.mp4 0.6 made 66
    /// keyframes of 240 frames, 2.5 times 0.3's 26, for a style 1.13× full mode's instead
    /// of 1.26× (BENCHMARKS.md "Fast mode").
    public var minReach: Float = 0.3
    /// Weight of EbSynth's temporal guide: the run's previous output warped onto the frame,
    /// matched against the keyframe's result.
    public var temporalGuide: Float = 1
    public var synthesis = PatchSynthesis.Options()
    public init() {}

    public func validate() throws {
        guard (2...240).contains(maxGap) else { throw EngineError.invalidOption("--keyframe-gap must be between 2 and 240") }
    }
}

/// Fast mode's time left. Its frames cost unlike each other: a keyframe from scratch
/// (a shot's first) several times a warm one, which costs what a full-mode frame does,
/// and a propagated frame a small share of either; and the frames are finished a gap at a
/// time. So the time left is the frames not yet finished at the measured cost of a
/// propagated frame (flows included), plus the warm keyframes expected among them (at
/// least one every `maxGap` frames, more where the share so far is higher) at the
/// measured cost of one. Until a kind has been measured it is taken from the first
/// keyframe's cost (1/6 of it for a warm keyframe, 1/250 for a propagated frame: bikes.mp4
/// at 384 px, BENCHMARKS.md "Fast mode").
public struct FastEstimate: Sendable {
    public let maxGap: Int
    private var scratch = (count: 0, seconds: 0.0), warm = (count: 0, seconds: 0.0)
    private var propagation = (count: 0, seconds: 0.0), arrivals = (count: 0, seconds: 0.0)
    public init(maxGap: Int) { self.maxGap = maxGap }

    public mutating func keyframe(seconds: Double, fromScratch: Bool) {
        if fromScratch { scratch = (scratch.count + 1, scratch.seconds + seconds) } else { warm = (warm.count + 1, warm.seconds + seconds) }
    }
    /// Frames synthesised between keyframes and the seconds they took.
    public mutating func propagated(frames: Int, seconds: Double) { propagation = (propagation.count + frames, propagation.seconds + seconds) }
    /// A frame arrived, and the seconds its flows took.
    public mutating func arrived(seconds: Double) { arrivals = (arrivals.count + 1, arrivals.seconds + seconds) }

    /// Seconds for `framesLeft` frames not finished yet (nil before the first keyframe).
    public func secondsLeft(framesLeft: Int) -> Double? {
        let mean = { (k: (count: Int, seconds: Double)) in k.count > 0 ? k.seconds / Double(k.count) : nil }
        guard let first = mean(scratch) ?? mean(warm).map({ $0 * 6 }) else { return nil }
        let perFrame = (mean(propagation) ?? first / 250) + (mean(arrivals) ?? 0)
        let share = max(Double(warm.count) / Double(max(arrivals.count, 1)), 1 / Double(maxGap))
        return Double(framesLeft) * (perFrame + share * (mean(warm) ?? first / 6))
    }
}

/// Fast mode (Jamriška et al. 2019, "Stylizing Video by Example"): a shot's first frame
/// and the frames where the content has moved too far from the last keyframe
/// (`FastConfig.minReach`, `maxGap`) are optimised as `--mode full` does; every frame
/// between two keyframes is synthesised from patches of both (`PatchSynthesis`), in a
/// run forward from the keyframe before and one backward from the keyframe after, each
/// guided by the frame's colours, the flow-advected position and the run's previous
/// output; the two runs are blended by distance and by how well their patches match.
///
/// Frames arrive in order (`push`); a gap is rendered when the keyframe that closes it
/// is known, so results reach `store` a gap at a time, in order. The keyframe decisions
/// depend only on the input frames and their flows, so a resumed render makes the same
/// decisions and reuses every complete gap from the store.
public final class KeyframePropagation {
    public let frames: FrameRenderer
    public let config: FastConfig
    let store: FrameStore
    let flow: FlowSource
    let hooks: FrameRenderer.Hooks
    /// Frames this render stylised by the optimiser (keyframes) and propagated (restored ones not counted).
    public private(set) var keyframes = 0, propagated = 0
    public private(set) var estimate: FastEstimate

    /// Keyframes made elsewhere, shared with the cluster task beside this one (a task that
    /// continues a shot starts from the keyframe the task before ends on), so that the
    /// tasks render apart and still meet at an ordinary keyframe.
    public struct Boundary {
        /// The range's first frame: its result, made elsewhere (saved as the range's frame 0).
        public var opening: (() throws -> RGBImage)?
        /// The frame after the range, pushed last as frame `number`: its result, made
        /// elsewhere, closes the last gap; it is not the range's, so it is not saved.
        public var closing: (number: Int, result: () throws -> RGBImage)?
        public init(opening: (() throws -> RGBImage)? = nil, closing: (number: Int, result: () throws -> RGBImage)? = nil) {
            self.opening = opening; self.closing = closing
        }
    }
    let boundary: Boundary

    /// A processed frame: the number, the input at processing size, and the flows to
    /// the frame before (back: this → previous; forward: previous → this).
    struct Arrival {
        var number: Int
        var image: RGBImage
        var input: Tensor
        var back: Flow?, forward: Flow?
    }
    private var key: (number: Int, input: Tensor, result: Tensor)?
    private var pending: [Arrival] = []
    /// Where the frame before traces back to the keyframe.
    private var reach: [Bool] = []
    /// The last finished frames (input, result), the keyframes' temporal history.
    private var recent: [(input: RGBImage, result: RGBImage)] = []
    private var last: Arrival?

    public init(frames: FrameRenderer, config: FastConfig, store: FrameStore, hooks: FrameRenderer.Hooks = FrameRenderer.Hooks(),
                boundary: Boundary = Boundary()) {
        self.frames = frames; self.config = config; self.store = store; self.hooks = hooks; self.boundary = boundary
        estimate = FastEstimate(maxGap: config.maxGap)
        flow = frames.temporal.flowSource
    }

    /// Frame `number` (counted from the range's first), as decoded.
    public func push(number: Int, decoded: RGBImage) throws {
        let image = try frames.processingInput(decoded)
        var a = Arrival(number: number, image: image, input: Tensor(image: image))
        defer { last = a }
        guard let prev = last, key != nil else { return try startShot(a) }
        let arrived = Date()
        let f = try flow.flows(frame: number, earlier: prev.number, current: a.input, earlierInput: prev.input)
        estimate.arrived(seconds: Date().timeIntervalSince(arrived))
        a.back = f.backward.snappedToFrame(); a.forward = f.forward.snappedToFrame()
        let consistent = Warp.consistency(backward: a.back!, forward: a.forward!).map { $0 > 0 }
        let coverage = Float(consistent.filter { $0 }.count) / Float(consistent.count)
        let cut = coverage < frames.settings.temporal.sceneCutThreshold
        if let closing = boundary.closing, number == closing.number {
            // past a cut the shared keyframe starts what comes after, not this gap
            return try cut ? closeGap(with: nil) : closeGap(with: a, shared: closing.result())
        }
        if cut {
            // the frame before does not cover this one: a cut, or motion too fast to
            // propagate across. The gap ends with the forward run; the frame is a keyframe
            // whose optimiser looks back further (`TemporalConfig.frames`) and starts from
            // scratch only where no earlier frame covers it, as in full mode
            try closeGap(with: nil)
            return try startShot(a, history: recent)
        }
        reach = KeyframePropagation.traced(reach, consistent: consistent, back: a.back!)
        let share = Float(reach.filter { $0 }.count) / Float(max(reach.count, 1))
        // where a shared keyframe ends the range within reach, the last gap waits for it:
        // a keyframe of its own just before it would meet it with no frames to blend over
        let closingNear = boundary.closing.map { $0.number - key!.number <= config.maxGap } ?? false
        if share < config.minReach || (number - key!.number >= config.maxGap && !closingNear) {
            try closeGap(with: a)
        } else {
            pending.append(a)
        }
    }

    /// Seconds left for the frames not yet arrived (`framesNotArrived`) and those waiting
    /// for their gap to close.
    public func secondsLeft(framesNotArrived: Int) -> Double? {
        estimate.secondsLeft(framesLeft: framesNotArrived + pending.count)
    }

    /// The end of the range: the frames after the last keyframe, from the forward run alone.
    public func finish() throws { try closeGap(with: nil) }

    /// The pixels of a frame that trace back to the keyframe: consistent with the frame
    /// before, at a pixel there that traced back.
    public static func traced(_ before: [Bool], consistent: [Bool], back: Flow) -> [Bool] {
        let w = back.width, h = back.height
        return (0..<(w * h)).map { i in
            guard consistent[i] else { return false }
            let x = Int((Float(i % w) + back.u[i]).rounded()), y = Int((Float(i / w) + back.v[i]).rounded())
            return x >= 0 && y >= 0 && x < w && y < h && (before.isEmpty || before[y * w + x])
        }
    }

    /// A keyframe with no gap before it: the range's first frame (no `history`: from
    /// scratch, or the boundary's opening keyframe), or one the frame before does not cover.
    private func startShot(_ a: Arrival, history: [(input: RGBImage, result: RGBImage)] = []) throws {
        if let r = restored(a.number) { return becomeKey(a, r) }
        let opening = a.number == 0 ? boundary.opening : nil
        let r = try opening?() ?? keyframe(a, history: history)
        try save(r, a.number)
        becomeKey(a, r)
    }

    /// The frame's saved result, when the store has it.
    private func restored(_ n: Int) -> RGBImage? {
        store.has(n) ? store.load(n, width: frames.processing.width, height: frames.processing.height) : nil
    }

    /// A keyframe, optimised by the temporal stylizer with `history` (earlier inputs and
    /// results, oldest first) as its earlier frames; none: from scratch.
    private func keyframe(_ a: Arrival, history: [(input: RGBImage, result: RGBImage)]) throws -> RGBImage {
        let t = TemporalStylizer(stylizer: frames.temporal.stylizer, config: frames.settings.temporal, flowSource: flow)
        for h in history { try t.restore(frame: h.input, result: h.result) }
        try hooks.beforeFrame(a.number)
        let started = Date()
        let made = try t.next(a.image, styles: frames.styles) { p in
            var q = p; q.elapsed = Date().timeIntervalSince(started); self.hooks.progress(q)
        }
        hooks.rendered?(String(format: "frame %d: keyframe, coverage %.3f, %d evaluations", a.number, made.coverage, made.evaluations))
        keyframes += 1
        estimate.keyframe(seconds: Date().timeIntervalSince(started), fromScratch: history.isEmpty || t.sceneCuts > 0)
        return made.image
    }

    /// Makes a finished frame the keyframe the next frames come from.
    private func becomeKey(_ a: Arrival, _ result: RGBImage) {
        remember(a.image, result)
        key = (a.number, a.input, Tensor(image: result))
        reach = []
    }

    private func save(_ img: RGBImage, _ n: Int) throws {
        try hooks.beforeSaving(n)
        try store.save(img, n)
        hooks.saved(n)
    }

    private func remember(_ input: RGBImage, _ result: RGBImage) {
        recent.append((input, result))
        let keep = frames.settings.temporal.frames.max() ?? 1
        if recent.count > keep { recent.removeFirst(recent.count - keep) }
    }

    /// Renders the pending frames: between the keyframe and `next` (a new keyframe,
    /// optimised here, or the boundary's `shared` one), or after the keyframe alone (`next`
    /// nil: a cut or the end).
    private func closeGap(with next: Arrival?, shared: RGBImage? = nil) throws {
        defer { pending = [] }
        let gap = pending
        // (a gap before a shared keyframe is complete once its own frames are saved)
        if restoredGap(gap, shared == nil ? next : nil) { return }
        guard let k = key else { return }
        let started = Date()
        var optimising = 0.0
        defer {
            if !gap.isEmpty {
                let s = Date().timeIntervalSince(started) - optimising
                estimate.propagated(frames: gap.count, seconds: s)
                hooks.rendered?(String(format: "frames %d-%d: propagated, %.3f s a frame", gap[0].number, gap[gap.count - 1].number, s / Double(gap.count)))
            }
        }
        let forward = run(from: k, over: gap, flows: gap.map { $0.back! })
        var results = forward.map(\.image)
        var closing: RGBImage?
        if let b = next {
            let history = recent + zip(gap, forward).map { ($0.image, $1.image.rgbImage()) }
            let optimiserStarted = Date()
            let made = try shared ?? keyframe(b, history: Array(history.suffix(frames.settings.temporal.frames.max() ?? 1)))
            optimising = Date().timeIntervalSince(optimiserStarted)
            // backward: frame s from s + 1, along the forward flow s → s + 1
            let flows = gap.indices.reversed().map { i in i + 1 < gap.count ? gap[i + 1].forward! : b.forward! }
            let backward = Array(run(from: (b.number, b.input, Tensor(image: made)), over: gap.reversed(), flows: flows).reversed())
            results = zip(gap, zip(forward, backward)).map { a, runs in
                KeyframePropagation.blend(runs.0, runs.1, towardSecond: Float(a.number - k.number) / Float(b.number - k.number), byCost: shared == nil)
            }
            closing = shared == nil ? made : nil
        }
        for (a, r) in zip(gap, results) { try emit(a, r) }
        propagated += gap.count
        if let b = next, let made = closing {
            try save(made, b.number)
            becomeKey(b, made)
        }
    }

    /// Whether the store holds the gap's frames and its closing keyframe, all of them:
    /// then they are taken from there.
    private func restoredGap(_ gap: [Arrival], _ next: Arrival?) -> Bool {
        let all = gap + (next.map { [$0] } ?? [])
        let saved = all.compactMap { restored($0.number) }
        guard !all.isEmpty && saved.count == all.count else { return false }
        for (a, r) in zip(gap, saved) { remember(a.image, r) }
        if let b = next { becomeKey(b, saved[saved.count - 1]) }
        return true
    }

    private func emit(_ a: Arrival, _ image: Tensor) throws {
        let r = image.rgbImage()
        try save(r, a.number)
        remember(a.image, r)
    }

    /// One EbSynth run from keyframe `k` over `frames` in order, frame i reached from the
    /// one before through `flows[i]` (this frame → the one before).
    func run(from k: (number: Int, input: Tensor, result: Tensor), over gap: [Arrival], flows: [Flow]) -> [PatchSynthesis.Result] {
        var out: [PatchSynthesis.Result] = []
        var positions = PatchSynthesis.Positions.identity(width: k.input.width, height: k.input.height)
        var previous = k.result
        let source = PatchSynthesis.Guide([(k.input, 1), (k.result, config.temporalGuide)])
        for (a, f) in zip(gap, flows) {
            positions = positions.advected(by: f)
            let warped = Warp.backwardCubic(previous, flow: f)
            let target = PatchSynthesis.Guide([(a.input, 1), (warped, config.temporalGuide)])
            let r = PatchSynthesis.synthesize(style: k.result, source: source, target: target, expected: positions, options: config.synthesis)
            out.append(r)
            previous = r.image
        }
        return out
    }

    /// The two runs' syntheses of a frame blended: each weighted by its nearness to its
    /// keyframe (`towardSecond`: 0 at the first, 1 at the second) and, `byCost`, by
    /// exp(−cost/σ), the cost box-filtered over 5×5 pixels and σ the median of both. Toward
    /// a shared keyframe, painted apart from the one before, the cost switched whole
    /// regions from one painting to the other within a frame or two, and is left out: the
    /// handover then spreads over the gap (BENCHMARKS.md "Fast mode on the cluster").
    public static func blend(_ a: PatchSynthesis.Result, _ b: PatchSynthesis.Result, towardSecond s: Float, byCost: Bool = true) -> Tensor {
        let w = a.image.width, h = a.image.height, n = w * h
        func smoothed(_ c: [Float]) -> [Float] {
            GuidedFilter.boxMean(Tensor(channels: 1, height: h, width: w, storage: c), radius: 2).storage
        }
        // each run's match weight per pixel: exp(−cost/σ), or 1 by distance alone
        var ma = [Float](repeating: 1, count: n), mb = ma
        if byCost {
            let ca = smoothed(a.cost), cb = smoothed(b.cost)
            let sorted = (ca + cb).sorted()
            let sigma = max(sorted[sorted.count / 2], 1e-6)
            ma = ca.map { exp(-$0 / sigma) }; mb = cb.map { exp(-$0 / sigma) }
        }
        var out = a.image
        for i in 0..<n {
            let wa = (1 - s) * ma[i] + 1e-6, wb = s * mb[i] + 1e-6
            for ch in 0..<a.image.channels {
                let j = ch * n + i
                out.storage[j] = (wa * a.image.storage[j] + wb * b.image.storage[j]) / (wa + wb)
            }
        }
        return out
    }
}
