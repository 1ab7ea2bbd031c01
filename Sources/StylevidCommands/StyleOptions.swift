import ArgumentParser
import Engine
import Kernels

/// The image-stylisation options shared by `stylevid`, `stylevid image` (and later the
/// video path). They fill `StyleConfig`, the same struct the filter chain fills.
struct StyleOptions: ParsableArguments {
    static let defaults = StyleConfig()

    @Option(help: "Longest side of the result, in pixels (default \(defaults.size) for images, \(Preset.reducedSize) for videos; `stylevid photo`: \(Preset.reducedSize), then guided upsampling to the photo's size).")
    var size: Int?
    @Option(help: "Optimizer evaluations per pyramid level (default \(defaults.iterations) for images, \(Preset.reducedIterations) for a video's first frame and for `stylevid photo`).")
    var iterations: Int?
    @Option(help: "Content loss weight: how much of the photo's features to keep (the term is their squared distance relative to the photo's own, so the same weight keeps as much of every photo).")
    var contentWeight: Float = defaults.contentWeight
    @Option(help: "Style strength: the weight of each style layer's Gram term, relative to the content weight. Each term is measured relative to the style's own Gram matrices, so a weight means the same strength for every style image and every model: 200 paints harder, 50 keeps more of the photo. With --photoreal the terms are the plain ones, with the weights relighting was measured with.")
    var styleWeight: Float = defaults.styleWeight
    @Option(help: "Total-variation weight.")
    var tvWeight: Float = defaults.tvWeight
    @Option(help: "Comma-separated content layers.")
    var contentLayers: String = defaults.contentLayers.joined(separator: ",")
    @Option(help: "Comma-separated style layers.")
    var styleLayers: String = defaults.styleLayers.joined(separator: ",")
    @Option(help: "Comma-separated weight of each style layer (default all 1).")
    var styleLayerWeights: String?
    @Option(help: "Comma-separated blend weights, one per style image (default equal).")
    var styleBlend: String?
    @Option(help: "Style image size relative to the result.")
    var styleScale: Float = defaults.styleScale
    @Option(help: "Initial image: content, random, reinhard (the content with the style's Lab colour statistics) or an image path (default content; with --photoreal and in `stylevid photo`: reinhard).")
    var `init`: String?
    @Option(help: "Optimizer.")
    var optimizer: OptimizerKind = defaults.optimizer
    @Option(help: "Step size (default 1 for lbfgs, 0.02 for adam).")
    var learningRate: Float?
    @Option(help: "Resolution pyramid levels, 1 = off; each level doubles the size.")
    var pyramid: Int = defaults.pyramidLevels
    @Flag(help: "Keep the content's colours: transfer luminance only.")
    var preserveColors = false
    @Option(help: "Pooling in the network (max-blur: max, then a blur at stride 2: robust to small shifts, which lets each video frame build on the previous one) (default max for images, \(TemporalConfig.defaultPooling.rawValue) for videos).")
    var pooling: Layers.Pooling?
    /// The --model values, for every command that loads a network.
    static let modelChoices = "vgg16, vgg19, or the path of a .h5 (Keras), .safetensors, .pth (PyTorch) or .caffemodel (Caffe) file (default: vgg19 if installed in $STYLEVID_HOME/models, else vgg16)"
    @Option(help: "Model: \(StyleOptions.modelChoices).")
    var model: String?
    @Option(help: "Random seed.")
    var seed: UInt64 = defaults.seed
    @Option(help: "Photorealism weight λ of the matting-Laplacian term, which keeps the result a photograph (default 0 = off; `stylevid photo`: \(FilterOption.format(Double(StyleConfig.defaultPhotorealWeight)))).")
    var photoreal: Float?
    @Flag(help: "Luan et al.'s two-stage schedule: optimise without the photorealism term first, then as long again with it (default off).")
    var twoStage = false
    @Option(help: "Segmentation mask of the content: a 9-colour label image (blue, green, black, white, red, yellow, grey, lightblue, purple) or an integer label image (grey levels 0-63). Each region takes its style from the same label of --style-mask.")
    var contentMask: String?
    @Option(help: "Segmentation mask of the (single) style or reference image.")
    var styleMask: String?
    @Option(help: "Map content labels to reference labels, e.g. red=blue,3=1 (default: labels match by name).")
    var maskMap: String?
    @Option(help: "Smooth the result with a guided filter of this radius, the content as guide (default 0 = off; `stylevid photo`: \(Preset.photoSmoothRadius)).")
    var smooth: Int?
    @Option(help: "Guided-filter ε of --smooth (the result's smoothing), in squared 0-1 colour units. Not the optical flow's: that one is `stylevid flow --smooth-epsilon`.")
    var smoothEpsilon: Float = defaults.smoothEpsilon
    @Option(help: "Write the current image every N evaluations next to the output (0 = off).")
    var saveEvery: Int = 0
    @Flag(help: "No progress output.")
    var quiet = false
    @Option(name: .customLong("max-memory"), help: "Memory the stylisation may use, e.g. 6G or 800M (default 3/4 of this machine's memory, or of the Slurm allocation or cgroup limit it runs under). A result too large for it is evaluated in tiles, exactly; one that cannot fit even in tiles is refused before any work.")
    var maxMemory: String?

    /// --max-memory in bytes (the default when not given).
    func memoryLimit() throws -> Int {
        guard let text = maxMemory else { return MemoryPlan.defaultBudget }
        guard let bytes = MemoryPlan.parseSize(text) else { throw ValidationError("--max-memory: '\(text)' is not a size such as 6G, 800M or 6.5GB") }
        return bytes
    }

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

    func makeConfig(styleCount: Int, video: Bool = false, photo: Bool = false) throws -> StyleConfig {
        var c = (photo ? Preset.photo : video ? .video : .image).style(video: video)
        c.size = size ?? c.size
        c.iterations = iterations ?? c.iterations
        c.contentWeight = contentWeight
        c.styleWeight = styleWeight
        c.tvWeight = tvWeight
        c.contentLayers = names(contentLayers)
        c.styleLayers = names(styleLayers)
        c.styleLayerWeights = try styleLayerWeights.map { try floats($0, "style-layer-weights") }
        c.styleBlend = try styleBlend.map { try floats($0, "style-blend") }
        c.styleScale = styleScale
        c.photorealWeight = photoreal ?? c.photorealWeight
        if let i = `init` {
            guard let im = InitMode(argument: i) else { throw ValidationError("--init: expected content, random, reinhard or a path") }
            c.initMode = im
        } else {
            c.initMode = Preset.start(photorealWeight: c.photorealWeight)
        }
        c.optimizer = optimizer
        c.learningRate = learningRate
        c.pyramidLevels = pyramid
        c.preserveColors = preserveColors
        c.pooling = pooling ?? c.pooling
        c.seed = seed
        c.photorealTwoStage = twoStage
        c.smoothRadius = smooth ?? c.smoothRadius
        c.smoothEpsilon = smoothEpsilon
        if (contentMask == nil) != (styleMask == nil) {
            throw ValidationError("--content-mask and --style-mask go together: give both")
        }
        if maskMap != nil && contentMask == nil { throw ValidationError("--mask-map needs --content-mask and --style-mask") }
        if saveEvery < 0 { throw ValidationError("--save-every must be ≥ 0") }
        if styleBlend == nil && styleCount > 1 { c.styleBlend = [Float](repeating: 1, count: styleCount) }
        do { try c.validate(styleCount: styleCount) } catch let e as EngineError { throw ValidationError(e.description) }
        return c
    }
}

// Choice options: help and errors list the values (the spellings of older versions,
// "avg" and "maxblur", are still read).
extension Layers.Pooling: ExpressibleByArgument {
    public init?(argument: String) {
        let s = argument.lowercased()
        guard let p = Layers.Pooling(rawValue: s) ?? ["avg": .average, "maxblur": .maxBlur][s] else { return nil }
        self = p
    }
}
extension OptimizerKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
extension OutputSize: ExpressibleByArgument {}
extension RenderMode: ExpressibleByArgument {}
