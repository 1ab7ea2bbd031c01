import ArgumentParser
import Engine
import Kernels

/// The image-stylisation options shared by `stylevid`, `stylevid image` (and later the
/// video path). They fill `StyleConfig`, the same struct the filter chain fills.
struct StyleOptions: ParsableArguments {
    static let defaults = StyleConfig()

    /// Videos get a smaller default size and first-frame budget: they have many frames.
    static let videoSize = 384, videoIterations = 100

    @Option(help: "Longest side of the result, in pixels (default \(defaults.size) for photos, \(videoSize) for videos).")
    var size: Int?
    @Option(help: "Optimizer evaluations per pyramid level (default \(defaults.iterations) for photos; \(videoIterations) for a video's first frame).")
    var iterations: Int?
    @Option(help: "Content loss weight (default \(defaults.contentWeight)).")
    var contentWeight: Float = defaults.contentWeight
    @Option(help: "Style loss weight per layer (default \(defaults.styleWeight)).")
    var styleWeight: Float = defaults.styleWeight
    @Option(help: "Total-variation weight (default \(defaults.tvWeight)).")
    var tvWeight: Float = defaults.tvWeight
    @Option(help: "Comma-separated content layers (default \(defaults.contentLayers.joined(separator: ","))).")
    var contentLayers: String = defaults.contentLayers.joined(separator: ",")
    @Option(help: "Comma-separated style layers (default \(defaults.styleLayers.joined(separator: ","))).")
    var styleLayers: String = defaults.styleLayers.joined(separator: ",")
    @Option(help: "Comma-separated weight of each style layer (default all 1).")
    var styleLayerWeights: String?
    @Option(help: "Comma-separated blend weights, one per style image (default equal).")
    var styleBlend: String?
    @Option(help: "Style image size relative to the result (default \(defaults.styleScale)).")
    var styleScale: Float = defaults.styleScale
    @Option(help: "Initial image: content, random or an image path (default content).")
    var `init`: String = "content"
    @Option(help: "Optimizer: lbfgs or adam (default lbfgs).")
    var optimizer: String = defaults.optimizer.rawValue
    @Option(help: "Step size (default 1 for lbfgs, 0.02 for adam).")
    var learningRate: Float?
    @Option(help: "Resolution pyramid levels, 1 = off; each level doubles the size (default \(defaults.pyramidLevels)).")
    var pyramid: Int = defaults.pyramidLevels
    @Flag(help: "Keep the content's colours: transfer luminance only.")
    var preserveColors = false
    @Option(help: "Pooling in the network: max or average (default max).")
    var pooling: String = "max"
    @Option(help: "Model: vgg16, vgg19 or a .h5/.safetensors path (default: vgg19 if installed, else vgg16).")
    var model: String?
    @Option(help: "Random seed (default \(defaults.seed)).")
    var seed: UInt64 = defaults.seed
    @Option(help: "Write the current image every N evaluations next to the output (default off).")
    var saveEvery: Int = 0
    @Flag(help: "No progress output.")
    var quiet = false

    func floats(_ s: String, _ name: String) throws -> [Float] {
        try s.split(separator: ",").map {
            guard let v = Float($0.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                throw ValidationError("--\(name): '\($0)' is not a number")
            }
            return v
        }
    }

    func names(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func makeConfig(styleCount: Int, video: Bool = false) throws -> StyleConfig {
        var c = StyleConfig()
        c.size = size ?? (video ? StyleOptions.videoSize : c.size)
        c.iterations = iterations ?? (video ? StyleOptions.videoIterations : c.iterations)
        c.contentWeight = contentWeight
        c.styleWeight = styleWeight
        c.tvWeight = tvWeight
        c.contentLayers = names(contentLayers)
        c.styleLayers = names(styleLayers)
        c.styleLayerWeights = try styleLayerWeights.map { try floats($0, "style-layer-weights") }
        c.styleBlend = try styleBlend.map { try floats($0, "style-blend") }
        c.styleScale = styleScale
        guard let im = InitMode(argument: `init`) else { throw ValidationError("--init: expected content, random or a path") }
        c.initMode = im
        guard let opt = OptimizerKind(rawValue: optimizer.lowercased()) else {
            throw ValidationError("--optimizer: '\(optimizer)' is not one of lbfgs, adam")
        }
        c.optimizer = opt
        c.learningRate = learningRate
        c.pyramidLevels = pyramid
        c.preserveColors = preserveColors
        switch pooling.lowercased() {
        case "max": c.pooling = .max
        case "avg", "average": c.pooling = .average
        default: throw ValidationError("--pooling: '\(pooling)' is not one of max, average")
        }
        c.seed = seed
        if saveEvery < 0 { throw ValidationError("--save-every must be ≥ 0") }
        if styleBlend == nil && styleCount > 1 { c.styleBlend = [Float](repeating: 1, count: styleCount) }
        do { try c.validate(styleCount: styleCount) } catch let e as EngineError { throw ValidationError(e.description) }
        return c
    }
}
