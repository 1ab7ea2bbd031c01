import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// Reads the inputs, checks everything that can be checked before minutes of work,
/// stylizes, and writes the output atomically.
struct ImageJob {
    let paths: [String]
    let options: StyleOptions
    var chain: String? = nil
    /// `stylevid photo`: photoreal defaults, and the result brought back to the photo's
    /// own resolution by guided upsampling.
    var photo = false

    func run() throws {
        let content = paths[0], output = paths[paths.count - 1]
        let settings = try RunSettings(options: options, positional: Array(paths[1..<(paths.count - 1)]), chain: chain, photo: photo)
        let setup = try JobSetup(settings, content: content, output: output, checkOutput: checkOutput)
        var config = settings.config
        var contentImage = try ImageIO.read(content)
        if !settings.geometry.isEmpty {
            do { contentImage = try settings.geometry.apply(to: contentImage) } catch let e as EngineError { throw CLIError("-vf: \(e.description)") }
            config.size = max(contentImage.width, contentImage.height)
        }
        var initImage: RGBImage? = nil
        if case .image(let p) = config.initMode { initImage = try ImageIO.read(p) }
        let stylizer = try setup.stylizer(config: config, model: options.model, width: contentImage.width, height: contentImage.height)
        let network = stylizer.network, segmentation = setup.segmentation
        let reporter = ProgressReporter(quiet: options.quiet)
        let (fw, fh) = Stylizer.fitSize(width: contentImage.width, height: contentImage.height, longest: config.size)
        let levels = stylizer.levelSizes(width: fw, height: fh).map { w, h -> String in
            let layout = stylizer.layout(width: w, height: h)
            return "\(w)×\(h) (\(Stylizer.levelBudget(config.iterations, width: w, height: h))\(layout.isWhole ? "" : " in \(layout.count) tiles"))"
        }
        var plan = "model \(network.name), \(config.pooling.rawValue) pooling; evaluations at \(levels.joined(separator: ", then "))"
        if config.photorealWeight > 0 {
            plan += config.photorealTwoStage ? ", then \(config.iterations) with the photorealism term (λ \(config.photorealWeight))"
                                             : "; photorealism term λ \(config.photorealWeight)"
        }
        if let s = segmentation { plan += "; \(s.pairs.count) mask label\(s.pairs.count == 1 ? "" : "s")" }
        if levels.contains(where: { $0.hasSuffix("tiles)") }) {
            plan += String(format: "; tiles within --max-memory %.1f GB", Double(settings.maxMemory) / 1e9)
        }
        reporter.note(plan)
        let stem = URL(fileURLWithPath: output).deletingPathExtension().path
        let ext = URL(fileURLWithPath: output).pathExtension
        let outcome = try stylizer.run(
            content: contentImage, styles: setup.styleImages, Stylizer.Request(initImage: initImage),
            hooks: Stylizer.Hooks(progress: { reporter.update($0) }, snapshotEvery: options.saveEvery,
                                  snapshot: { img, n in try? ImageIO.write(img, to: "\(stem).iter\(n).\(ext)") }))
        var result = outcome.image
        reporter.finish()
        if photo && result.width < contentImage.width {
            // the colour mapping found at the processing size, applied to the full photo
            let low = try ImageIO.scale(contentImage, width: result.width, height: result.height)
            result = GuidedFilter.upsample(lowResult: Tensor(image: result), lowGuide: Tensor(image: low),
                                           guide: Tensor(image: contentImage), radius: PhotoCommand.upsampleRadius,
                                           epsilon: PhotoCommand.upsampleEpsilon).rgbImage()
        }
        try ImageIO.write(result, to: output)
        let b = outcome.breakdown
        var summary = String(format: "wrote %@ (%d×%d); loss content %.3g style %.3g tv %.3g",
                             output, result.width, result.height, b.content, b.style, b.tv)
        if config.photorealWeight > 0 { summary += String(format: " photoreal %.3g", b.photoreal) }
        reporter.note(summary)
    }
}
