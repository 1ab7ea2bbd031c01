import Foundation
import Kernels
import Photoreal
import VideoIO

/// Gatys et al.'s image stylisation: optimise an image so its features match the
/// content's and its Gram matrices match the style's, over a resolution pyramid.
public final class Stylizer {
    public let network: VGG
    public let config: StyleConfig
    let contentIndices: [Int]
    let styleIndices: [Int]
    let deepest: Int

    /// One call's inputs beside the content, the styles and the config.
    public struct Request {
        /// Used when config.initMode is `.image`.
        public var initImage: RGBImage?
        /// 3×H×W at the result size: replaces the init mode (and, without `pyramid`, the
        /// coarse levels: a warm start needs none).
        public var start: Tensor?
        /// Terms added to the objective at the final level (a temporal term).
        public var extraLosses: [ImageLoss] = []
        /// Overrides the config's budget.
        public var iterations: Int?
        public var pyramid = true
        public var earlyStop: EarlyStop?
        /// L-BFGS curvature to start the final level from (nil: afresh); the outcome
        /// carries it on, updated. A video's later frames pass it from frame to frame.
        public var curvature: LBFGS.Memory?
        public init(initImage: RGBImage? = nil, start: Tensor? = nil, extraLosses: [ImageLoss] = [], iterations: Int? = nil,
                    pyramid: Bool = true, earlyStop: EarlyStop? = nil, curvature: LBFGS.Memory? = nil) {
            self.initImage = initImage; self.start = start; self.extraLosses = extraLosses; self.iterations = iterations
            self.pyramid = pyramid; self.earlyStop = earlyStop; self.curvature = curvature
        }
    }

    /// What one call gives back.
    public struct Outcome {
        public var image: RGBImage
        /// The loss terms at the point the optimiser held last (the final level).
        public var breakdown: LossBreakdown
        /// Evaluations spent at the final level (less than the budget when it stopped early).
        public var evaluations: Int
        /// The request's curvature, updated by the final level (nil when none was given).
        public var curvature: LBFGS.Memory?
    }

    /// Observers of one call: `progress` after every evaluation; `snapshot` gets the
    /// current image every `snapshotEvery` evaluations; `shouldStop` ends it early.
    public struct Hooks {
        public var progress: (StyleProgress) -> Void
        public var snapshotEvery: Int
        public var snapshot: ((RGBImage, Int) -> Void)?
        public var shouldStop: () -> Bool
        public init(progress: @escaping (StyleProgress) -> Void = { _ in }, snapshotEvery: Int = 0,
                    snapshot: ((RGBImage, Int) -> Void)? = nil, shouldStop: @escaping () -> Bool = { false }) {
            self.progress = progress; self.snapshotEvery = snapshotEvery; self.snapshot = snapshot; self.shouldStop = shouldStop
        }
    }

    /// `network` may hold more layers than needed; only those up to the deepest loss
    /// layer are run.
    public init(network: VGG, config: StyleConfig) throws {
        try config.validate(styleCount: config.styleBlend?.count ?? 1)
        self.network = network.pooling == config.pooling ? network : network.with(pooling: config.pooling)
        self.config = config
        contentIndices = config.contentWeight > 0 ? try config.contentLayers.map { try network.layerIndex($0) } : []
        styleIndices = try config.styleLayers.map { try network.layerIndex($0) }
        deepest = (contentIndices + styleIndices).max()!
    }

    /// Number of convolutions a config needs from `architecture` (for loading only those).
    public static func convolutionsNeeded(_ config: StyleConfig, architecture: VGGArchitecture) throws -> Int {
        let names = VGG.layerNames(blocks: architecture.blocks)
        let wanted = (config.contentWeight > 0 ? config.contentLayers : []) + config.styleLayers
        return try wanted.map { n in
            guard let i = names.firstIndex(of: n) else { throw EngineError.unknownLayer(name: n, available: names) }
            return i + 1
        }.max() ?? 1
    }

    /// Result size: longest side `size`, aspect kept, at least 1 pixel.
    public static func fitSize(width: Int, height: Int, longest: Int) -> (Int, Int) {
        if width >= height {
            return (longest, max(1, Int((Double(height) * Double(longest) / Double(width)).rounded())))
        }
        return (max(1, Int((Double(width) * Double(longest) / Double(height)).rounded())), longest)
    }

    /// Sizes of the pyramid levels, coarsest first; levels below 32 px are skipped. Above
    /// 1024 px the pyramid goes on down until its coarsest level is at most 512 px
    /// (4096 → 512, 1024, 2048, 4096), unless there is no pyramid (`--pyramid 1`).
    public func levelSizes(width: Int, height: Int) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var levels = config.pyramidLevels
        let longest = max(width, height)
        while levels > 1 && longest > Stylizer.fullBudgetSize && longest >> (levels - 1) > Stylizer.fullBudgetSize / 2 { levels += 1 }
        for l in stride(from: levels - 1, through: 0, by: -1) {
            let f = 1.0 / Double(1 << l)
            let w = max(1, Int((Double(width) * f).rounded())), h = max(1, Int((Double(height) * f).rounded()))
            if l > 0 && min(w, h) < 32 { continue }
            out.append((w, h))
        }
        return out
    }

    /// The memory a stylisation may take, in bytes: what the network's evaluation is left
    /// after the optimiser and the targets decides its tiling (`MemoryPlan`). Nil: the
    /// network always sees the image whole.
    public var maxMemory: Int? { didSet { layouts = [:] } }
    private var layouts: [String: TileLayout] = [:]

    /// The network through layer `last` over a width×height image, tiled as `maxMemory` needs.
    func tiledNetwork(width w: Int, height h: Int, through last: Int) -> TiledNetwork {
        let key = "\(w)x\(h)/\(last)"
        let layout = layouts[key] ?? {
            let l = maxMemory.map {
                MemoryPlan.layout(network: network, through: last, width: w, height: h, budget: MemoryPlan.tileBudget(
                    maxMemory: $0, network: network, contentLayers: contentIndices, width: w, height: h))
            } ?? TileLayout.whole(width: w, height: h)
            layouts[key] = l
            return l
        }()
        return TiledNetwork(network: network, layout: layout, deepest: last)
    }

    /// Refuses a result size that cannot fit `maxMemory` even in tiles.
    public func checkMemory(width w: Int, height h: Int) throws {
        guard let m = maxMemory else { return }
        try MemoryPlan.check(maxMemory: m, network: network, through: deepest, contentLayers: contentIndices, width: w, height: h)
    }

    /// How the network sees a width×height result under `maxMemory`.
    public func layout(width: Int, height: Int) -> TileLayout { tiledNetwork(width: width, height: height, through: deepest).layout }

    /// Segmentation masks of the content and the (single) reference image: the style loss
    /// becomes Luan et al.'s per-label masked Gram loss. Default none.
    public var segmentation: MaskPairing? { didSet { targetCache = [:]; maskedCache = [:] } }

    /// Style targets per result size, reused across the frames of a video (the style
    /// images do not change between calls of one Stylizer).
    var targetCache: [String: [[Float]]] = [:]
    var maskedCache: [String: [[[Float]?]]] = [:]
    var cachedStyles: [RGBImage] = []

    /// Both target caches hold for one set of style images; other images empty them.
    func useStyles(_ styles: [RGBImage]) {
        if styles != cachedStyles { targetCache = [:]; maskedCache = [:]; cachedStyles = styles }
    }

    /// Stylises `content` with `styles`: the image alone (`run` gives the rest).
    public func stylize(content: RGBImage, styles: [RGBImage], initImage: RGBImage? = nil,
                        progress: @escaping (StyleProgress) -> Void = { _ in }) throws -> RGBImage {
        try run(content: content, styles: styles, Request(initImage: initImage), hooks: Hooks(progress: progress)).image
    }

    /// Stylises `content` with `styles`, level by level of the pyramid (or only at the
    /// result size, from `request.start`).
    public func run(content: RGBImage, styles: [RGBImage], _ request: Request = Request(), hooks: Hooks = Hooks()) throws -> Outcome {
        precondition(!styles.isEmpty, "Stylizer.stylize: no style image")
        let (fw, fh) = try resultSize(content, styleCount: styles.count)
        let phases = self.phases(width: fw, height: fh, pyramid: request.pyramid)
        let firstFull = phases.firstIndex { $0.w == fw && $0.h == fh }!
        if let s = request.start {
            precondition(s.width == fw && s.height == fh && s.channels == 3,
                         "Stylizer: start image \(s.shapeDescription) for a \(fw)×\(fh) result")
        }
        let requested = request.iterations ?? config.iterations
        // a pyramid's top levels get fewer evaluations; a warm start (a video's later frame) its own budget
        let budgets = phases.map { phases.count > 1 ? Stylizer.levelBudget(requested, width: $0.w, height: $0.h) : requested }
        // a level's cost: its pixels, its evaluations, and what tiling adds to each
        var progress = Progress(costs: zip(phases, budgets).map { p, b in
            Double(p.w * p.h * b) * MemoryPlan.cost(layout(width: p.w, height: p.h))
        })
        var x: Tensor? = nil
        var contentFinal = Tensor(channels: 3, height: 1, width: 1)
        var rng = SplitMix64(seed: config.seed)
        var outcome = Outcome(image: RGBImage(width: 1, height: 1), breakdown: LossBreakdown(), evaluations: 0, curvature: request.curvature)
        for (li, phase) in phases.enumerated() {
            let (w, h) = (phase.w, phase.h)
            let contentT = Tensor(image: try ImageIO.scale(content, width: w, height: h))
            contentFinal = contentT
            let shape: Tensor
            if li == firstFull, let s = request.start { shape = s } else if let prev = x { shape = Resize.bilinear(prev, height: h, width: w) } else {
                shape = try firstStart(content: contentT, styles: styles, initImage: request.initImage, rng: &rng)
            }
            let recorder = LossRecorder()
            let objective = try self.objective(content: contentT, styles: styles, extraLosses: li >= firstFull ? request.extraLosses : [],
                                               matting: phase.matting, recorder: recorder)
            var values = shape.storage
            let budget = budgets[li]
            var monitor = request.earlyStop.map(EarlyStop.Monitor.init)
            var evaluations = 0
            let cb: OptimizerCallback = { it, loss, current in
                if loss == recorder.last.total { recorder.held = recorder.last }
                evaluations += 1
                hooks.progress(progress.step(level: li, size: (w, h), iteration: it, of: budget, loss: loss))
                if hooks.snapshotEvery > 0, let snap = hooks.snapshot, progress.evaluations % hooks.snapshotEvery == 0 {
                    snap(Tensor(channels: 3, height: h, width: w, storage: current).rgbImage(), progress.evaluations)
                }
                if monitor?.shouldStop(after: loss) == true { return false }
                return !hooks.shouldStop()
            }
            let last = li == phases.count - 1
            let curvature = optimize(&values, budget: budget, curvature: last ? outcome.curvature : nil, objective: objective, callback: cb)
            if last { outcome.curvature = curvature }
            var result = Tensor(channels: 3, height: h, width: w, storage: values)
            result.clamp(0, 1)
            x = result
            outcome.breakdown = recorder.held
            outcome.evaluations = evaluations
            progress.finishLevel(li)
            if hooks.shouldStop() { break }
        }
        outcome.image = finish(x!, content: contentFinal).rgbImage()
        return outcome
    }

    /// Levels up to this longest side get the whole evaluation budget; larger ones less.
    static let fullBudgetSize = 1024

    /// The evaluations of a level: `budget` up to 1024 px, then in inverse proportion to
    /// the longest side (2048: half, 4096: a quarter): a level's start, upsampled from the
    /// one below, already holds the composition, and its evaluations cost 4× the last's.
    public static func levelBudget(_ budget: Int, width: Int, height: Int) -> Int {
        let longest = max(width, height)
        return longest <= fullBudgetSize ? budget : max(1, budget * fullBudgetSize / longest)
    }

    /// The result's size for `content`, refused when too small for the network or when
    /// masks meet several styles.
    func resultSize(_ content: RGBImage, styleCount: Int) throws -> (Int, Int) {
        let (fw, fh) = Stylizer.fitSize(width: content.width, height: content.height, longest: config.size)
        // relu5_1 sees the image at 1/16 of its size: a shorter side under 16 px leaves
        // deep layers empty
        guard min(fw, fh) >= StyleConfig.sizeRange.lowerBound else {
            throw EngineError.invalidOption("the result would be \(fw)×\(fh); its shorter side must be at least \(StyleConfig.sizeRange.lowerBound) px (raise --size, or the image is too narrow)")
        }
        if segmentation != nil && styleCount != 1 {
            throw EngineError.invalidOption("segmentation masks need exactly one reference image, got \(styleCount)")
        }
        return (fw, fh)
    }

    /// Progress over the levels, each weighing its estimated cost.
    struct Progress {
        let costs: [Double]
        let total: Double
        var done = 0.0, evaluations = 0
        let startedAt = Date()
        init(costs: [Double]) { self.costs = costs; total = costs.reduce(0, +) }

        mutating func step(level li: Int, size: (Int, Int), iteration it: Int, of budget: Int, loss: Double) -> StyleProgress {
            evaluations += 1
            return StyleProgress(level: li, levels: costs.count, levelSize: size, iteration: it, iterations: budget, loss: loss,
                                 elapsed: Date().timeIntervalSince(startedAt), evaluations: evaluations,
                                 fraction: (done + costs[li] * Double(it) / Double(budget)) / total)
        }
        mutating func finishLevel(_ li: Int) { done += costs[li] }
    }

    /// The sizes the optimisation runs at: the pyramid's levels, and with the two-stage
    /// schedule one more at full size that switches the photorealism term on.
    func phases(width fw: Int, height fh: Int, pyramid: Bool) -> [(w: Int, h: Int, matting: Bool)] {
        let levels = pyramid ? levelSizes(width: fw, height: fh) : [(fw, fh)]
        let photoreal = config.photorealWeight > 0
        var phases = levels.map { (w: $0.0, h: $0.1, matting: photoreal && !config.photorealTwoStage) }
        if photoreal && config.photorealTwoStage { phases.append((fw, fh, true)) }
        return phases
    }

    /// The first level's start image, from `config.initMode`.
    func firstStart(content: Tensor, styles: [RGBImage], initImage: RGBImage?, rng: inout SplitMix64) throws -> Tensor {
        switch config.initMode {
        case .content: return content
        case .random: return Tensor.random(channels: 3, height: content.height, width: content.width, in: 0.25...0.75, generator: &rng)
        case .colorTransfer: return ColorMetrics.reinhard(content, reference: Tensor(image: styles[0]))
        case .image:
            guard let ini = initImage else { throw EngineError.invalidOption("--init image was not loaded") }
            return Tensor(image: try ImageIO.scale(ini, width: content.width, height: content.height))
        }
    }

    /// The loss of the last evaluation, and of the point the optimiser holds (a rejected
    /// line-search trial is evaluated too, and must not be reported).
    final class LossRecorder {
        var last = LossBreakdown(), held = LossBreakdown()
    }

    /// The objective at one level: the network's content and style terms, TV, the extra
    /// image terms (temporal), the photorealism term; each evaluation's breakdown goes to
    /// `recorder`.
    func objective(content: Tensor, styles: [RGBImage], extraLosses: [ImageLoss], matting: Bool,
                   recorder: LossRecorder) throws -> Objective {
        let (w, h) = (content.width, content.height)
        let featureLosses = try self.featureLosses(content: content, styles: styles)
        let tv = TotalVariationLoss(weight: config.tvWeight)
        let photoreal: PhotorealismLoss? = matting
            ? PhotorealismLoss(laplacian: MattingLaplacian(image: content, bands: false), weight: config.photorealWeight) : nil
        let tiled = tiledNetwork(width: w, height: h, through: deepest)
        return { values in
            let img = Tensor(channels: 3, height: h, width: w, storage: values)
            let (lossValues, grad) = tiled.evaluate(img, losses: featureLosses, gradient: true)
            var b = LossBreakdown()
            b.add(featureLosses, values: lossValues)
            var gi = grad!
            b.tv = tv.evaluate(img, gradient: &gi)
            for l in extraLosses { b.temporal += l.evaluate(img, gradient: &gi) }
            if let m = photoreal { b.photoreal = m.evaluate(img, gradient: &gi) }
            recorder.last = b
            return (b.total, gi.storage)
        }
    }

    /// One evaluation of the objective at `image` (its size is the level's): the loss
    /// parts and the gradient, with the network tiled as `maxMemory` needs. For tests and
    /// benchmarks; a stylisation evaluates through `run`.
    public func evaluate(_ image: Tensor, content: RGBImage, styles: [RGBImage], extraLosses: [ImageLoss] = [],
                         matting: Bool = false) throws -> (breakdown: LossBreakdown, gradient: Tensor) {
        let contentT = Tensor(image: try ImageIO.scale(content, width: image.width, height: image.height))
        let recorder = LossRecorder()
        let f = try objective(content: contentT, styles: styles, extraLosses: extraLosses, matting: matting, recorder: recorder)
        let (_, g) = f(image.storage)
        return (recorder.last, Tensor(channels: 3, height: image.height, width: image.width, storage: g))
    }

    /// Runs the optimiser over the box 0...1 (the image is written clamped: optimise that
    /// image, not one the clamp would change afterwards). L-BFGS starts from `curvature`
    /// when given and returns it updated.
    func optimize(_ values: inout [Float], budget: Int, curvature: LBFGS.Memory?, objective: Objective,
                  callback: OptimizerCallback) -> LBFGS.Memory? {
        let box: ClosedRange<Float> = 0...1
        switch config.optimizer {
        case .lbfgs:
            let opt = LBFGS(history: config.lbfgsHistory, learningRate: config.learningRate ?? 1, bounds: box)
            if var mem = curvature {
                opt.minimize(&values, evaluations: budget, memory: &mem, objective: objective, callback: callback)
                return mem
            }
            opt.minimize(&values, evaluations: budget, objective: objective, callback: callback)
            return nil
        case .adam:
            let opt = Adam(learningRate: config.learningRate ?? 0.02, bounds: box)
            opt.minimize(&values, evaluations: budget, objective: objective, callback: callback)
            return curvature
        }
    }

    /// The result's post-processing: guided-filter smoothing and colour preservation.
    func finish(_ result: Tensor, content: Tensor) -> Tensor {
        var out = result
        if config.smoothRadius > 0 && out.sameShape(content) {
            out = GuidedFilter.filter(guide: content, input: out, radius: config.smoothRadius, epsilon: config.smoothEpsilon)
            out.clamp(0, 1)
        }
        if config.preserveColors && out.sameShape(content) {
            out = ColorOps.preserveColors(stylized: out, content: content)
        }
        return out
    }
}
