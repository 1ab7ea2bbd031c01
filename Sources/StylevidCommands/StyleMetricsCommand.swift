import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// `stylevid style-metrics RESULT CONTENT STYLE`: how painted a result is.
struct StyleMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "style-metrics",
        abstract: "Measure how strongly a result carries a style (one JSON line).",
        discussion: """
            gram_distance: the mean over the default style layers of the relative Gram \
            distance ‖G(RESULT) − G(STYLE)‖ / ‖G(STYLE)‖ at RESULT's size (0 = the same \
            Gram matrices); content_gram_distance: the same for CONTENT, where an unpainted \
            result starts; ratio: the first over the second (lower = more painted). \
            content_distance: ‖F − F̂‖ / ‖F̂‖ of RESULT's features against CONTENT's at the \
            content layer (relu4_2), how far the subject moved (0 = not at all). \
            ratio_by_layer: each style layer's Gram distance over CONTENT's (relu1_1 first).
            """)
    @Argument(help: "The stylized image.") var result: String
    @Argument(help: "The image it was made from.") var content: String
    @Argument(help: "The style image.") var style: String
    @Option(help: "Model: \(StyleOptions.modelChoices).") var model: String?

    func run() throws {
        let r = try ImageIO.read(result)
        let c = try ImageIO.scale(try ImageIO.read(content), width: r.width, height: r.height)
        let s = try ImageIO.read(style)
        var config = StyleConfig()
        config.size = max(r.width, r.height)
        let stylizer = try Stylizer(network: try ModelLoader.load(path: try ModelLoader.resolve(model), for: config), config: config)
        let layers = try stylizer.gramDistances(r, style: s), own = try stylizer.gramDistances(c, style: s)
        let painted = layers.reduce(0, +) / Double(layers.count), plain = own.reduce(0, +) / Double(own.count)
        let moved = stylizer.contentDistance(r, content: c)
        let byLayer = zip(layers, own).map { String(format: "%.3f", $0 / max($1, 1e-12)) }.joined(separator: ", ")
        print(String(format: "{\"gram_distance\": %.4f, \"content_gram_distance\": %.4f, \"ratio\": %.3f, \"content_distance\": %.4f, \"ratio_by_layer\": [%@]}",
                     painted, plain, painted / max(plain, 1e-12), moved, byLayer))
    }
}
