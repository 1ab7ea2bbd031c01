import Engine
import Foundation
import Photoreal
import VideoIO

extension RunSettings {
    /// The options under the image, photo or video preset (video when `video` is given),
    /// with the chain applied: the one way a job's settings are resolved.
    init(options: StyleOptions, positional: [String], chain: String?, photo: Bool, video: VideoOptions? = nil) throws {
        try self.init(config: try options.makeConfig(styleCount: max(1, positional.count), video: video != nil, photo: photo),
                      temporal: try video?.temporalConfig() ?? TemporalConfig(), passes: video?.passes ?? 1,
                      positional: positional, chain: chain, masks: options)
    }
}

/// The preparation every stylizing job shares, in the order it must happen: the output
/// checked against every input, the interrupt handler, the masks and the style images
/// read; then, once the job knows its processing size, `stylizer(...)` checks the memory
/// and builds the network and the stylizer. `ImageJob`, `VideoJob` (and through it the
/// cluster tasks) and `Stability` all build their stylizer here.
struct JobSetup {
    /// Segmentation masks: the content's, the reference's, and the label map between them.
    typealias Masks = (content: String?, reference: String?, map: String?)
    let segmentation: MaskPairing?
    let styleImages: [RGBImage]
    let maxMemory: Int

    /// `checkOutput`: the output check of the job's kind (image or video), given the output
    /// and the inputs it must not overwrite.
    init(stylePaths: [String], masks: Masks, maxMemory: Int = MemoryPlan.defaultBudget, content: String, output: String,
         checkOutput: (_ output: String, _ inputs: [String]) throws -> Void) throws {
        try checkOutput(output, [content] + stylePaths + [masks.content, masks.reference].compactMap { $0 })
        segmentation = try loadSegmentation(masks, styleCount: stylePaths.count)
        installInterruptHandler()
        styleImages = try stylePaths.map { try ImageIO.read($0) }
        self.maxMemory = maxMemory
    }

    init(_ settings: RunSettings, content: String, output: String,
         checkOutput: (_ output: String, _ inputs: [String]) throws -> Void) throws {
        try self.init(stylePaths: settings.stylePaths, masks: (settings.contentMask, settings.referenceMask, settings.maskMap),
                      maxMemory: settings.maxMemory, content: content, output: output, checkOutput: checkOutput)
    }

    /// The stylizer for `config` on width×height frames, with this job's masks.
    func stylizer(config: StyleConfig, model: String?, width: Int, height: Int) throws -> Stylizer {
        let s = try JobSetup.stylizer(config: config, model: model, width: width, height: height, maxMemory: maxMemory)
        s.segmentation = segmentation
        return s
    }

    /// Loads the model (`--model`) for the config and builds the stylizer for width×height
    /// content within `maxMemory`; refuses a result that cannot fit even in tiles.
    static func stylizer(config: StyleConfig, model: String?, width: Int, height: Int, maxMemory: Int) throws -> Stylizer {
        let network = try ModelLoader.load(path: try ModelLoader.resolve(model), for: config)
        let s = try Stylizer(network: network, config: config)
        s.maxMemory = maxMemory
        let (w, h) = Stylizer.fitSize(width: width, height: height, longest: config.size)
        do { try s.checkMemory(width: w, height: h) } catch let e as EngineError { throw CLIError("--size \(config.size): \(e.description)") }
        return s
    }
}

/// The configuration a run uses: the CLI options, then the -vf chain on top of them.
struct RunSettings {
    var config: StyleConfig
    var temporal: TemporalConfig
    var stylePaths: [String]
    var geometry: [GeometryOp] = []
    var passes: Int
    /// From the chain's `fast` filter (nil: the options decide).
    var mode: RenderMode? = nil
    var keyframeGap: Int? = nil
    /// Segmentation masks (content, reference) from the options or the photoreal filter.
    var contentMask: String? = nil
    var referenceMask: String? = nil
    var maskMap: String? = nil
    /// What the job may use in memory (--max-memory).
    var maxMemory = MemoryPlan.defaultBudget

    /// `positional`: the STYLE paths given as arguments (each weighs --style-weight).
    init(config: StyleConfig, temporal: TemporalConfig, passes: Int, positional: [String], chain: String?,
         masks: StyleOptions? = nil) throws {
        self.config = config; self.temporal = temporal; self.passes = passes; stylePaths = positional
        contentMask = masks?.contentMask; referenceMask = masks?.styleMask; maskMap = masks?.maskMap
        maxMemory = try masks?.memoryLimit() ?? maxMemory
        var s = ChainSettings(style: config, temporal: temporal)
        if let chain {
            s = try FilterChain.parse(chain, onto: s)
            if let m = s.contentMask { contentMask = m }
            if let m = s.referenceMask { referenceMask = m }
            if (contentMask == nil) != (referenceMask == nil) {
                throw CLIError("-vf: photoreal needs both mask= and refmask= (or neither)")
            }
        }
        geometry = s.geometry
        self.passes = s.passes ?? passes
        mode = s.mode; keyframeGap = s.keyframeGap
        do {
            (stylePaths, self.config, self.temporal) = try s.validated(positional: positional, explicitStart: masks?.`init` != nil,
                                                                       missingStyle: "give STYLE paths or a style= filter in -vf")
        } catch let e as EngineError { throw CLIError(chain == nil || e.description.hasPrefix("no style image") ? e.description : "-vf: \(e.description)") }
    }
}


/// Reads the segmentation masks, if any, and pairs their labels (errors name the file).
func loadSegmentation(_ masks: JobSetup.Masks, styleCount: Int) throws -> MaskPairing? {
    guard let cm = masks.content, let rm = masks.reference else { return nil }
    guard styleCount == 1 else {
        throw CLIError("segmentation masks need exactly one style/reference image, got \(styleCount)")
    }
    func read(_ path: String, _ what: String) throws -> LabelMap {
        let img = try ImageIO.read(path)
        do { return try LabelMap.decode(width: img.width, height: img.height, rgb: img.pixels, what: what) }
        catch let e as MaskError { throw CLIError("\(path): \(e.description)") }
    }
    let content = try read(cm, "content"), reference = try read(rm, "reference")
    do {
        let map = try masks.map.map { try MaskPairing.parseMap($0) } ?? [:]
        return try MaskPairing(content: content, reference: reference, map: map)
    } catch let e as MaskError { throw CLIError(e.description) }
}
