import Foundation
import Kernels
import Photoreal
import VideoIO

/// One report from a running stylisation.
public struct StyleProgress: Sendable {
    public var level: Int            // 0-based pyramid level
    public var levels: Int
    public var levelSize: (width: Int, height: Int)
    public var iteration: Int        // evaluations done at this level
    public var iterations: Int       // budget at this level
    public var loss: Double
    public var elapsed: Double       // seconds since the start
    public var evaluations: Int      // evaluations since the start, all levels
    /// Fraction of the whole job done, by estimated cost (a level costs ∝ its pixels).
    public var fraction: Double
}

/// The value of each loss part at the last evaluation (weighted).
public struct LossBreakdown: Sendable, Equatable {
    public var content = 0.0, style = 0.0, tv = 0.0, temporal = 0.0, photoreal = 0.0
    public var total: Double { content + style + tv + temporal + photoreal }

    /// Adds the network losses' values to the content and style parts.
    mutating func add(_ losses: [FeatureLoss], values: [Double]) {
        for (loss, v) in zip(losses, values) {
            if loss is ContentLoss { content += v } else { style += v }
        }
    }
}

/// Stop an optimisation once the best loss improved by less than `tolerance` (relative)
/// over the last `window` steps (Ruder et al. stop at 1e-4 over 50 iterations).
public struct EarlyStop: Sendable, Equatable {
    public var tolerance: Double
    public var window: Int
    public init(tolerance: Double, window: Int) { self.tolerance = tolerance; self.window = window }

    /// `best[k]`: the lowest loss after k + 1 steps.
    public func shouldStop(_ best: [Double]) -> Bool {
        guard window > 0, best.count > window else { return false }
        let then = best[best.count - 1 - window], now = best[best.count - 1]
        return (then - now) <= tolerance * abs(now)
    }

    /// Applies the rule to the losses an optimiser reports after each evaluation. A line
    /// search's rejected trial reports again the loss of the point it still holds: such a
    /// repeat is not a step and does not count toward the window (counted, two or three
    /// backtracking trials in a row looked like convergence and ended a video frame after
    /// 4 of its 60 evaluations).
    public struct Monitor {
        public let rule: EarlyStop
        private var best: [Double] = []
        private var last: Double?
        public init(_ rule: EarlyStop) { self.rule = rule }

        /// Records the loss reported after an evaluation; true when the optimisation should stop.
        public mutating func shouldStop(after loss: Double) -> Bool {
            defer { last = loss }
            if loss == last { return false }
            best.append(Swift.min(best.last ?? .infinity, loss))
            return rule.shouldStop(best)
        }
    }
}

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
    private var targetCache: [String: [[Float]]] = [:]
    private var maskedCache: [String: [[[Float]?]]] = [:]
    private var cachedStyles: [RGBImage] = []

    /// Both target caches hold for one set of style images; other images empty them.
    private func useStyles(_ styles: [RGBImage]) {
        if styles != cachedStyles { targetCache = [:]; maskedCache = [:]; cachedStyles = styles }
    }

    /// Blended Gram targets for every style layer, at a result size of w×h.
    func styleTargets(_ styles: [RGBImage], width w: Int, height h: Int) throws -> [[Float]] {
        useStyles(styles)
        let key = "\(w)x\(h)"
        if let t = targetCache[key] { return t }
        let t = try computeStyleTargets(styles, width: w, height: h)
        targetCache[key] = t
        return t
    }

    /// Per style layer, per label pair: the reference's masked Gram target (nil where the
    /// label's reference mask vanishes at that layer).
    func maskedTargets(_ style: RGBImage, pairing: MaskPairing, width w: Int, height h: Int) throws -> [[[Float]?]] {
        useStyles([style])
        let key = "\(w)x\(h)"
        if let t = maskedCache[key] { return t }
        let image = try styleTensor(style, width: w, height: h)
        let tiled = tiledNetwork(width: image.width, height: image.height, through: styleIndices.max()!)
        var stats: [Int: [Double]] = [:], masks: [Int: Tensor] = [:]
        for li in styleIndices {
            let size = network.outputSize(of: li, width: image.width, height: image.height)
            masks[li] = pairing.referenceMasks(width: size.width, height: size.height)
        }
        tiled.forEachCore(image, layers: styleIndices) { _, li, f, at in
            let m = masks[li]!.crop(x: at.x, y: at.y, width: f.width, height: f.height)
            stats[li, default: []].addInPlace(MaskedStyleLoss.statistics(f, masks: m, labels: 0..<m.channels))
        }
        let t = styleIndices.map { li in
            MaskedStyleLoss.targets(statistics: stats[li]!, channels: network.convs[li].outChannels, area: masks[li]!.plane)
        }
        maskedCache[key] = t
        return t
    }

    /// A style image scaled for a w×h result (--style-scale).
    func styleTensor(_ style: RGBImage, width w: Int, height h: Int) throws -> Tensor {
        let longest = max(16, Int((Float(max(w, h)) * config.styleScale).rounded()))
        let (sw, sh) = Stylizer.fitSize(width: style.width, height: style.height, longest: longest)
        return Tensor(image: try ImageIO.scale(style, width: sw, height: sh))
    }

    /// Gram matrices of every style layer of `image`.
    func styleGrams(_ image: Tensor) -> [[Float]] {
        let grams = tiledNetwork(width: image.width, height: image.height, through: styleIndices.max()!).grams(image, layers: styleIndices)
        return styleIndices.map { grams[$0]! }
    }

    func computeStyleTargets(_ styles: [RGBImage], width w: Int, height h: Int) throws -> [[Float]] {
        let blend: [Float] = {
            let b = config.styleBlend ?? [Float](repeating: 1, count: styles.count)
            let s = b.reduce(0, +)
            return b.map { $0 / s }
        }()
        var targets: [[Float]] = styleIndices.map { [Float](repeating: 0, count: network.convs[$0].outChannels * network.convs[$0].outChannels) }
        for (k, style) in styles.enumerated() where blend[k] > 0 {
            for (t, g) in styleGrams(try styleTensor(style, width: w, height: h)).enumerated() {
                for i in 0..<g.count { targets[t][i] += blend[k] * g[i] }
            }
        }
        return targets
    }

    /// The content and style losses of a w×h result (the content tensor's size). Painting
    /// (`StyleConfig.relativeTerms`) measures each term relative to its target: the
    /// content term as mean((F − F̂)²) / mean(F̂²) (times `StyleConfig.contentUnit`), each
    /// style layer's as mean((G − Ĝ)²) / mean(Ĝ²). A weight then means the same strength
    /// whatever the magnitude of the photo's features, of the style's Gram matrices (a
    /// saturated pattern's are 10× a painting's) or of the network's (BENCHMARKS.md, "One
    /// strength for every style").
    func featureLosses(content contentT: Tensor, styles: [RGBImage]) throws -> [FeatureLoss] {
        let (w, h) = (contentT.width, contentT.height)
        let relative = config.relativeTerms
        let contentActs = contentIndices.isEmpty ? [:]
            : tiledNetwork(width: w, height: h, through: contentIndices.max()!).features(contentT, layers: contentIndices)
        let contentLosses = contentIndices.map { li -> FeatureLoss in
            let target = contentActs[li]!
            let unit = relative ? StyleConfig.contentUnit / Float(max(target.meanSquare, 1e-12)) : 1
            return ContentLoss(layer: li, target: target, weight: config.contentWeight * unit)
        }
        return contentLosses + (try styleLosses(styles, width: w, height: h, relative: relative))
    }

    /// The style losses of a w×h result: Gram losses, or with a segmentation, the masked
    /// ones; `relative`: each layer's weight divided by mean(Ĝ²), its target's energy
    /// (the mean over the labels' targets for a segmented one).
    func styleLosses(_ styles: [RGBImage], width w: Int, height h: Int, relative: Bool) throws -> [FeatureLoss] {
        let layerW = (config.styleLayerWeights ?? [Float](repeating: 1, count: styleIndices.count)).map { config.styleWeight * $0 }
        func weight(_ t: Int, targets: [[Float]]) -> Float {
            guard relative else { return layerW[t] }
            let energy = targets.map { g in g.reduce(0.0) { $0 + Double($1 * $1) } / Double(max(1, g.count)) }
            return layerW[t] / Float(max(energy.reduce(0, +) / Double(max(1, energy.count)), 1e-12))
        }
        if let pairing = segmentation {
            let targets = try maskedTargets(styles[0], pairing: pairing, width: w, height: h)
            return styleIndices.enumerated().map { t, li in
                let size = network.outputSize(of: li, width: w, height: h)
                return SegmentedStyleLoss(layer: li, loss: MaskedStyleLoss(
                    masks: pairing.contentMasks(width: size.width, height: size.height), targets: targets[t],
                    areas: pairing.areas, weight: weight(t, targets: targets[t].compactMap { $0 })))
            }
        }
        let grams = try styleTargets(styles, width: w, height: h)
        return zip(styleIndices, grams).enumerated().map { t, lg in
            StyleLoss(layer: lg.0, targetGram: lg.1, weight: weight(t, targets: [lg.1]))
        }
    }

    /// How far `image`'s style is from `style`'s: the mean over the style layers of the
    /// relative Gram distance ‖G(image) − G(style)‖ / ‖G(style)‖ (Frobenius; 0 = the same
    /// Gram matrices, 1 = as far as none at all), the style sized as for a stylisation.
    public func gramDistance(_ image: RGBImage, style: RGBImage) throws -> Double {
        let distances = try gramDistances(image, style: style)
        return distances.reduce(0, +) / Double(distances.count)
    }

    /// `gramDistance`'s terms: the relative Gram distance at each style layer.
    public func gramDistances(_ image: RGBImage, style: RGBImage) throws -> [Double] {
        let img = Tensor(image: image)
        let targets = try styleTargets([style], width: img.width, height: img.height)
        return zip(styleGrams(img), targets).map { g, target -> Double in
            let diff = zip(g, target).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let norm = target.reduce(0.0) { $0 + Double($1 * $1) }
            return (diff / max(norm, 1e-30)).squareRoot()
        }
    }

    /// How far `image`'s subject moved from `content`'s (same size): ‖F − F̂‖ / ‖F̂‖ over the
    /// content layers' features (0 = the same features, 1 = as far as none at all).
    public func contentDistance(_ image: RGBImage, content: RGBImage) -> Double {
        guard let last = contentIndices.max() else { return 0 }
        let net = tiledNetwork(width: image.width, height: image.height, through: last)
        let f = net.features(Tensor(image: image), layers: contentIndices), g = net.features(Tensor(image: content), layers: contentIndices)
        var diff = 0.0, norm = 0.0
        for li in contentIndices {
            for (a, b) in zip(f[li]!.storage, g[li]!.storage) { diff += Double((a - b) * (a - b)); norm += Double(b * b) }
        }
        return (diff / max(norm, 1e-30)).squareRoot()
    }

    /// The content, style and total-variation losses of a finished `result` (as written:
    /// 8-bit, in range) against `content` scaled to its size: what a stylisation delivered,
    /// as opposed to the optimiser's last figure.
    public func measure(_ result: RGBImage, content: RGBImage, styles: [RGBImage]) throws -> LossBreakdown {
        precondition(!styles.isEmpty, "Stylizer.measure: no style image")
        let img = Tensor(image: result)
        let contentT = Tensor(image: try ImageIO.scale(content, width: result.width, height: result.height))
        let losses = try featureLosses(content: contentT, styles: styles)
        var b = LossBreakdown()
        b.add(losses, values: tiledNetwork(width: img.width, height: img.height, through: deepest)
            .evaluate(img, losses: losses, gradient: false).values)
        var gi = Tensor.zeros(like: img)
        b.tv = TotalVariationLoss(weight: config.tvWeight).evaluate(img, gradient: &gi)
        return b
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
