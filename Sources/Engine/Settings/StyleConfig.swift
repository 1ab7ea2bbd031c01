import Foundation
import Kernels

/// How the first image of the optimisation is made.
public enum InitMode: Sendable, Equatable, Codable {
    case content
    case random
    case image(String)
    /// The content with the (first) style image's colour statistics (Reinhard's Lab
    /// transfer): the start `stylevid photo` uses, so the optimisation begins with the
    /// reference's palette and works on the local tone.
    case colorTransfer

    public init?(argument: String) {
        switch argument {
        case "content": self = .content
        case "reinhard", "color-transfer": self = .colorTransfer
        case "random", "noise": self = .random
        default:
            guard !argument.isEmpty else { return nil }
            self = .image(argument)
        }
    }
}

/// Everything that shapes one image stylisation. The CLI, the filter chain and the
/// plugin all fill this same struct; defaults are documented on each field.
public struct StyleConfig: Sendable, Equatable, Codable {
    /// Longest side of the result, in pixels. Default 512.
    public var size: Int = 512
    /// Objective evaluations at each pyramid level. Default 200.
    public var iterations: Int = 200
    /// Weight of the content loss (mean squared feature error). Default 5.
    public var contentWeight: Float = 5
    /// Weight of each style layer's Gram loss. Default 100.
    public var styleWeight: Float = 100
    /// Total-variation weight (0...255 pixel units). Default 1e-6: jcjohnson's 1e-3 was tuned
    /// for ImageNet VGG19, whose feature losses are ~100× larger than the bundled HED-VGG16's;
    /// on it 1e-3 blurs the result flat (measured, see BENCHMARKS.md).
    public var tvWeight: Float = 1e-6
    /// Layers for the content loss. Default relu4_2.
    public var contentLayers: [String] = ["relu4_2"]
    /// Layers for the style loss. Default relu1_1 ... relu5_1.
    public var styleLayers: [String] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    /// Relative weight of each style layer (same count as styleLayers). Default all 1.
    public var styleLayerWeights: [Float]? = nil
    /// Blend weights of several style images (normalised to sum 1). Default equal.
    public var styleBlend: [Float]? = nil
    /// Style image size relative to the result's. Default 1.
    public var styleScale: Float = 1
    /// Initial image. Default: the content.
    public var initMode: InitMode = .content
    /// Optimiser. Default L-BFGS.
    public var optimizer: OptimizerKind = .lbfgs
    /// Step size: L-BFGS default 1, Adam default 0.02 (0...1 pixel units).
    public var learningRate: Float? = nil
    /// L-BFGS history length (reduced automatically for large images). Default 100.
    public var lbfgsHistory: Int = 100
    /// Resolution pyramid levels (1 = none): each level doubles the size. Default 2.
    public var pyramidLevels: Int = 2
    /// Keep the content's colours (luminance-only transfer). Default off.
    public var preserveColors: Bool = false
    /// Pooling inside the network. Default max (videos: `TemporalConfig.defaultPooling`).
    public var pooling: Layers.Pooling = .max
    /// Seed for random initialisation. Default 0.
    public var seed: UInt64 = 0
    /// λ of Luan et al.'s photorealism term (matting Laplacian of the content) on the
    /// result's 0...1 channels. Default 0 (off); `stylevid photo` uses
    /// `StyleConfig.defaultPhotorealWeight`.
    public var photorealWeight: Float = 0
    /// Whether the content and style terms are measured relative to their targets
    /// (`Stylizer.featureLosses`): for painting, yes, so that a weight means the same
    /// strength for every photo, style image and model; relighting's weights (the
    /// photorealism term against the style term) were measured on the plain terms, so
    /// with the photorealism term on, no.
    public var relativeTerms: Bool { photorealWeight == 0 }
    /// The relative content term is contentWeight · contentUnit · mean((F − F̂)²) / mean(F̂²).
    /// On the bundled network a photo's mean(F̂²) at relu4_2 is 30–90, so at 60 the content
    /// term is about as large as the plain one was, and the pixel-space terms (TV,
    /// temporal) keep their measured balance with it.
    public static let contentUnit: Float = 60
    /// What the loss terms are, for fingerprints: a resume or a plan made with other terms
    /// is refused.
    public static let lossForm = "terms: content and style relative to their targets"
    /// Luan et al.'s two-stage schedule: the whole pyramid first without the photorealism
    /// term, then `iterations` more at full size with it. Default off (the term is on from
    /// the start; measured better from a content start, see BENCHMARKS.md).
    public var photorealTwoStage: Bool = false

    /// Post-process smoothing: the result guided-filtered with the content as guide (the
    /// local-affine model of Luan et al.'s smoothing step, in closed form), window radius
    /// in pixels of the result. Default 0 (off).
    public var smoothRadius: Int = 0
    /// The guided filter's ε (0...1 colour units squared; σ_r = 0.01 → 1e-4). Default 1e-4.
    public var smoothEpsilon: Float = StyleConfig.defaultSmoothEpsilon

    /// `stylevid photo`'s λ: Luan's 1e4, re-measured for the bundled HED-VGG16 (whose style
    /// losses are ~100× smaller than ImageNet VGG19's) at photo's 384 px from the Reinhard
    /// start: 1e3 paints texture (structure 0.92), 3e3 0.98, 1e4 0.994 with the colours
    /// still moved (BENCHMARKS.md).
    public static let defaultPhotorealWeight: Float = 1e4

    /// Sizes in pixels: the longest side of a result, the shorter side (relu5_1 sees the
    /// image at 1/16 of its size, so under 16 px deep layers are empty), `-vf` geometry.
    public static let sizeRange = 16...8192

    /// The smoothing filter's range sigma (the `smooth` filter's `sigma`) and ε = sigma²
    /// (`--smooth-epsilon`).
    public static let defaultSmoothSigma = 0.01
    public static let defaultSmoothEpsilon = Float(defaultSmoothSigma * defaultSmoothSigma)

    public init() {}

    /// Checks that do not need the network: throws `EngineError.invalidOption`.
    public func validate(styleCount: Int) throws {
        func bad(_ m: String) -> EngineError { .invalidOption(m) }
        guard size >= StyleConfig.sizeRange.lowerBound else { throw bad("--size \(size) is too small (at least \(StyleConfig.sizeRange.lowerBound))") }
        guard size <= StyleConfig.sizeRange.upperBound else { throw bad("--size \(size) is too large (at most \(StyleConfig.sizeRange.upperBound))") }
        guard iterations >= 1 else { throw bad("--iterations must be at least 1") }
        for (n, v) in [("content", contentWeight), ("style", styleWeight), ("tv", tvWeight)] {
            guard v >= 0 && v.isFinite else { throw bad("--\(n)-weight must be a finite number ≥ 0, got \(v)") }
        }
        guard !contentLayers.isEmpty || contentWeight == 0 else { throw bad("--content-layers is empty") }
        guard !styleLayers.isEmpty else { throw bad("--style-layers is empty") }
        if let w = styleLayerWeights, w.count != styleLayers.count {
            throw bad("--style-layer-weights has \(w.count) values for \(styleLayers.count) style layers")
        }
        if let b = styleBlend {
            guard b.count == styleCount else {
                throw bad("--style-blend has \(b.count) weights for \(styleCount) style images")
            }
            guard b.allSatisfy({ $0 >= 0 && $0.isFinite }), b.reduce(0, +) > 0 else {
                throw bad("--style-blend weights must be ≥ 0 and not all zero")
            }
        }
        guard styleScale > 0.05 && styleScale <= 8 else { throw bad("--style-scale must be in (0.05, 8], got \(styleScale)") }
        guard (1...6).contains(pyramidLevels) else { throw bad("--pyramid must be between 1 and 6, got \(pyramidLevels)") }
        if let lr = learningRate, !(lr > 0 && lr.isFinite) { throw bad("--learning-rate must be > 0, got \(lr)") }
        guard photorealWeight >= 0 && photorealWeight.isFinite else { throw bad("--photoreal must be a finite number ≥ 0, got \(photorealWeight)") }
        guard (0...256).contains(smoothRadius) else { throw bad("--smooth must be between 0 and 256, got \(smoothRadius)") }
        guard smoothEpsilon > 0 && smoothEpsilon.isFinite else { throw bad("--smooth-epsilon must be > 0, got \(smoothEpsilon)") }
        guard lbfgsHistory >= 1 else { throw bad("L-BFGS history must be at least 1") }
    }
}
