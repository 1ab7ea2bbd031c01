import Engine
import Kernels
import TestSupport
import VideoIO
import XCTest

final class StylizerTests: XCTestCase {
    /// A tiny network with the standard layer names up to relu5_1 (widths 4…8), so the
    /// default config runs on it in milliseconds.
    let tiny = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)

    func pattern(_ w: Int, _ h: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng).rgbImage()
    }

    func config(_ mutate: (inout StyleConfig) -> Void = { _ in }) -> StyleConfig {
        var c = StyleConfig()
        c.size = 40; c.iterations = 15; c.pyramidLevels = 1
        mutate(&c)
        return c
    }

    func testSeededRunsAreReproducibleAndSeedsMatter() throws {
        let content = pattern(40, 30, seed: 1), style = pattern(32, 32, seed: 2)
        let a = try Stylizer(network: tiny, config: config { $0.initMode = .random; $0.seed = 7 }).stylize(content: content, styles: [style])
        let b = try Stylizer(network: tiny, config: config { $0.initMode = .random; $0.seed = 7 }).stylize(content: content, styles: [style])
        let c = try Stylizer(network: tiny, config: config { $0.initMode = .random; $0.seed = 8 }).stylize(content: content, styles: [style])
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.width, 40); XCTAssertEqual(a.height, 30)
    }

    func testOptimisationLowersTheLossAndPyramidEndsAtFullSize() throws {
        let content = pattern(96, 72, seed: 3), style = pattern(40, 40, seed: 4)
        var seen: [StyleProgress] = []
        let s = try Stylizer(network: tiny, config: config { $0.size = 96; $0.pyramidLevels = 3 })
        // 24×18 is below the 32 px floor, so of three levels only 48×36 and 96×72 run
        XCTAssertEqual(s.levelSizes(width: 96, height: 72).map { $0.0 }, [48, 96])
        let out = try s.stylize(content: content, styles: [style]) { seen.append($0) }
        XCTAssertEqual(out.width, 96); XCTAssertEqual(out.height, 72)
        XCTAssertEqual(Set(seen.map { $0.level }), [0, 1])
        XCTAssertEqual(seen.first { $0.level == 0 }?.levelSize.width, 48)
        let last = seen.last!
        guard let firstFine = seen.first(where: { $0.level == 1 }) else { return XCTFail("no fine level") }
        XCTAssertLessThan(last.loss, firstFine.loss)
        XCTAssertEqual(last.fraction, 1, accuracy: 1e-9)
        XCTAssertEqual(last.evaluations, seen.count)
    }

    /// Painting's terms are relative to their targets: the style term is styleWeight · Σ
    /// of each layer's squared relative Gram distance (`gramDistances`), the content term
    /// contentWeight · contentUnit · the squared content distance. So a network whose
    /// features are k times larger at every layer gives the same terms, where the plain
    /// ones (relighting keeps those) grow k² and k⁴.
    func testPaintingsTermsAreRelativeToTheirTargets() throws {
        let k: Float = 3
        let scaled = VGG(name: "scaled", blocks: tiny.blocks, convs: tiny.convs.enumerated().map { i, c in
            Conv2D(inChannels: c.inChannels, outChannels: c.outChannels,
                   weights: i == 0 ? c.weights.map { $0 * k } : c.weights, bias: c.bias.map { $0 * k })
        }, preprocessing: tiny.preprocessing)
        let content = waves(40, 40), result = pattern(40, 40, seed: 16)
        for (style, photoreal) in [(pattern(40, 40, seed: 15), Float(0)), (waves(40, 40, frequency: 0.9), 0), (pattern(40, 40, seed: 15), 1)] {
            let c = config { $0.photorealWeight = photoreal }
            let stylizer = try Stylizer(network: tiny, config: c)
            let a = try stylizer.measure(result, content: content, styles: [style])
            let b = try Stylizer(network: scaled, config: c).measure(result, content: content, styles: [style])
            XCTAssertGreaterThan(a.content, 0); XCTAssertGreaterThan(a.style, 0)
            let (contentGrowth, styleGrowth) = photoreal > 0 ? (Double(k * k), pow(Double(k), 4)) : (1, 1)
            XCTAssertEqual(b.content, contentGrowth * a.content, accuracy: 1e-3 * b.content, "photoreal \(photoreal)")
            XCTAssertEqual(b.style, styleGrowth * a.style, accuracy: 1e-3 * b.style, "photoreal \(photoreal)")
            guard photoreal == 0 else { continue }
            let distances = try stylizer.gramDistances(result, style: style)
            XCTAssertEqual(distances.count, c.styleLayers.count)
            XCTAssertEqual(a.style, Double(c.styleWeight) * distances.reduce(0) { $0 + $1 * $1 }, accuracy: 1e-3 * a.style)
            let moved = stylizer.contentDistance(result, content: content)
            XCTAssertEqual(a.content, Double(c.contentWeight * StyleConfig.contentUnit) * moved * moved, accuracy: 1e-3 * a.content)
        }
    }

    /// Smooth diagonal stripes: an image whose Gram matrices are far from noise's.
    func waves(_ w: Int, _ h: Int, frequency: Float = 0.3) -> RGBImage {
        var t = Tensor(channels: 3, height: h, width: w, storage: [Float](repeating: 0, count: 3 * w * h))
        for c in 0..<3 { for y in 0..<h { for x in 0..<w { t[c, y, x] = 0.5 + 0.4 * sin(frequency * Float(x + 2 * y) + Float(c)) } } }
        return t.rgbImage()
    }

    /// `style-metrics`' content distance: ‖F − F̂‖ / ‖F̂‖ at the content layer, computed
    /// here from the network's own forward pass; 0 for the photo itself.
    func testContentDistanceIsRelativeToThePhotosFeatures() throws {
        let content = pattern(40, 40, seed: 14), other = pattern(40, 40, seed: 16)
        let s = try Stylizer(network: tiny, config: config())
        XCTAssertEqual(s.contentDistance(content, content: content), 0)
        let layer = try tiny.layerIndex("relu4_2")
        let f = tiny.forward(Tensor(image: other), through: layer)[layer], g = tiny.forward(Tensor(image: content), through: layer)[layer]
        let diff = zip(f.storage, g.storage).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let norm = g.storage.reduce(0.0) { $0 + Double($1 * $1) }
        let expected = (diff / norm).squareRoot()
        XCTAssertGreaterThan(expected, 0.05)
        XCTAssertEqual(s.contentDistance(other, content: content), expected, accuracy: 1e-4 * expected)
    }

    func testPreserveColorsKeepsTheContentChroma() throws {
        let content = pattern(40, 40, seed: 5), style = pattern(40, 40, seed: 6)
        let out = try Stylizer(network: tiny, config: config { $0.preserveColors = true }).stylize(content: content, styles: [style])
        let o = Tensor(image: out), c = Tensor(image: content)
        // chroma (R−Y, B−Y) matches the content's wherever nothing was clipped
        var checked = 0
        for i in 0..<o.plane {
            let oy = 0.299 * o.storage[i] + 0.587 * o.storage[o.plane + i] + 0.114 * o.storage[2 * o.plane + i]
            let cy = 0.299 * c.storage[i] + 0.587 * c.storage[c.plane + i] + 0.114 * c.storage[2 * c.plane + i]
            let clipped = (0..<3).contains { o.storage[$0 * o.plane + i] <= 0.001 || o.storage[$0 * o.plane + i] >= 0.999 }
            if clipped { continue }
            XCTAssertEqual(o.storage[i] - oy, c.storage[i] - cy, accuracy: 0.01)
            checked += 1
        }
        XCTAssertGreaterThan(checked, o.plane / 2)
    }

    /// The optimiser works on the image it delivers: the loss `measure` finds on the
    /// written (clamped, 8-bit) result is the optimiser's own last figure, up to 8-bit
    /// rounding. (Without the box a style far outside the content's range pushed pixels
    /// out of 0...1 and the clamp raised the style loss of the written image.)
    func testDeliveredImageHasTheLossTheOptimiserReports() throws {
        let content = pattern(40, 40, seed: 12)
        // a style with saturated, high-contrast texture
        var style = pattern(40, 40, seed: 13)
        style.pixels = style.pixels.map { $0 > 127 ? 255 : 0 }
        let s = try Stylizer(network: tiny, config: config { $0.iterations = 40 })
        let outcome = try s.run(content: content, styles: [style])
        let out = outcome.image, reported = outcome.breakdown
        let measured = try s.measure(out, content: content, styles: [style])
        XCTAssertEqual(measured.style, reported.style, accuracy: 0.02 * reported.style + 1e-3)
        XCTAssertEqual(measured.content, reported.content, accuracy: 0.02 * reported.content + 1e-3)
    }

    func testStyleBlendAndOptionValidation() throws {
        XCTAssertThrowsError(try Stylizer(network: tiny, config: config { $0.styleLayers = ["relu6_1"] }))
        XCTAssertThrowsError(try Stylizer(network: tiny, config: config { $0.styleBlend = [0, 0] }))
        XCTAssertThrowsError(try Stylizer(network: tiny, config: config { $0.styleLayerWeights = [1] }))
        let content = pattern(40, 40, seed: 9), s1 = pattern(40, 40, seed: 10), s2 = pattern(40, 40, seed: 11)
        // a blend weight of zero is the same as leaving that style out
        let only1 = try Stylizer(network: tiny, config: config()).stylize(content: content, styles: [s1])
        let blend = try Stylizer(network: tiny, config: config { $0.styleBlend = [1, 0] }).stylize(content: content, styles: [s1, s2])
        XCTAssertEqual(only1, blend)
        XCTAssertEqual(try Stylizer.convolutionsNeeded(StyleConfig(), architecture: .vgg19), 13)
        XCTAssertEqual(try Stylizer.convolutionsNeeded(StyleConfig(), architecture: .vgg16), 11)
    }

    /// The relative Gram distance: 0 for the style itself, and a stylisation moves the
    /// content toward the style.
    func testGramDistanceIsZeroForTheStyleAndFallsAsTheStyleIsPainted() throws {
        let style = pattern(40, 40, seed: 4)
        var smooth = pattern(40, 40, seed: 3)     // a content of half the style's contrast
        for i in smooth.pixels.indices { smooth.pixels[i] = smooth.pixels[i] / 2 + 64 }
        let stylizer = try Stylizer(network: tiny, config: config { $0.contentWeight = 0; $0.styleWeight = 1e6; $0.iterations = 60 })
        XCTAssertEqual(try stylizer.gramDistance(style, style: style), 0, accuracy: 1e-6)
        let before = try stylizer.gramDistance(smooth, style: style)
        let after = try stylizer.gramDistance(try stylizer.stylize(content: smooth, styles: [style]), style: style)
        XCTAssertGreaterThan(before, 0.05)
        XCTAssertLessThan(after, before * 0.8, "painting brings the Gram matrices closer")
    }
}
