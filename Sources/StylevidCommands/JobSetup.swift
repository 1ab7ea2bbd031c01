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
    let settings: RunSettings
    let segmentation: MaskPairing?
    let styleImages: [RGBImage]

    /// `checkOutput`: the output check of the job's kind (image or video), given the output
    /// and the inputs it must not overwrite.
    init(_ settings: RunSettings, content: String, output: String,
         checkOutput: (_ output: String, _ inputs: [String]) throws -> Void) throws {
        let masks = [settings.contentMask, settings.referenceMask].compactMap { $0 }
        try checkOutput(output, [content] + settings.stylePaths + masks)
        segmentation = try loadSegmentation(settings)
        installInterruptHandler()
        styleImages = try settings.stylePaths.map { try ImageIO.read($0) }
        self.settings = settings
    }

    /// The stylizer for `config` on width×height frames, with this job's masks.
    func stylizer(config: StyleConfig, model: String?, width: Int, height: Int) throws -> Stylizer {
        let s = try JobSetup.stylizer(config: config, model: model, width: width, height: height, maxMemory: settings.maxMemory)
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
