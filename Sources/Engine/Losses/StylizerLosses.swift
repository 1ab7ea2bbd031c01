import Foundation
import Kernels
import Photoreal
import VideoIO

/// The loss terms of a stylisation and the distances `style-metrics` reports: the style
/// targets (Gram matrices, cached per size), the content and style terms, the measures.
extension Stylizer {
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
}
