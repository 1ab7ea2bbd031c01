import Engine
import Kernels
import Photoreal
import TestSupport
import VideoIO
import XCTest

/// The Photoreal pieces wired into the Stylizer, on a tiny random network.
final class PhotorealStylizerTests: XCTestCase {
    let tiny = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)

    func textured(_ w: Int, _ h: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Resize.bilinear(Tensor.random(channels: 3, height: h / 4, width: w / 4, in: 0.3...0.7, generator: &rng), height: h, width: w)
    }

    func config() -> StyleConfig {
        var c = StyleConfig()
        c.size = 32; c.iterations = 40; c.pyramidLevels = 1; c.styleWeight = 1e4; c.contentWeight = 1
        return c
    }

    /// Reference: left half red, right half blue, labelled so. Content mask: top "blue",
    /// bottom "red". With the masks the top comes out much bluer than the bottom; without
    /// them there is little such difference.
    func testSegmentationSendsEachLabelItsOwnColours() throws {
        var style = Tensor(channels: 3, height: 32, width: 32)
        var refLabels = [Int32](repeating: 0, count: 32 * 32)
        var rng = SplitMix64(seed: 3)
        for y in 0..<32 { for x in 0..<32 {
            let red = x < 16
            let jitter = Float.random(in: -0.1...0.1, using: &rng)
            style[0, y, x] = red ? 0.9 + jitter : 0.1
            style[2, y, x] = red ? 0.1 : 0.9 + jitter
            style[1, y, x] = 0.2
            refLabels[y * 32 + x] = red ? 1 : 0
        }}
        let reference = LabelMap(width: 32, height: 32, labels: refLabels, names: ["blue", "red"])
        let content = LabelMap(width: 32, height: 32, labels: (0..<(32 * 32)).map { $0 / 32 < 16 ? 0 : 1 }, names: ["blue", "red"])
        let contentImage = textured(32, 32, seed: 4).rgbImage()

        func blueMinusRed(_ img: RGBImage, rows: Range<Int>) -> Double {
            let t = Tensor(image: img)
            var s = 0.0
            for y in rows { for x in 0..<32 { s += Double(t[2, y, x] - t[0, y, x]) } }
            return s / Double(rows.count * 32)
        }
        // the colour layers, given time: the relative terms weigh every layer alike, and on
        // this tiny network the deep ones (2×2 px at 32 px) would take 40 evaluations
        var colours = config()
        colours.styleLayers = ["relu1_1", "relu2_1"]; colours.iterations = 120
        let s = try Stylizer(network: tiny, config: colours)
        s.segmentation = try MaskPairing(content: content, reference: reference)
        let masked = try s.stylize(content: contentImage, styles: [style.rgbImage()])
        let top = blueMinusRed(masked, rows: 0..<16), bottom = blueMinusRed(masked, rows: 16..<32)
        XCTAssertGreaterThan(top - bottom, 0.4, "top \(top) bottom \(bottom)")

        let plain = try Stylizer(network: tiny, config: colours).stylize(content: contentImage, styles: [style.rgbImage()])
        XCTAssertLessThan(abs(blueMinusRed(plain, rows: 0..<16) - blueMinusRed(plain, rows: 16..<32)), 0.2)

        // a mapping swaps them: content "blue" takes the reference's red region
        s.segmentation = try MaskPairing(content: content, reference: reference, map: ["blue": "red", "red": "blue"])
        let swapped = try s.stylize(content: contentImage, styles: [style.rgbImage()])
        XCTAssertLessThan(blueMinusRed(swapped, rows: 0..<16) - blueMinusRed(swapped, rows: 16..<32), -0.4)

        // masks need exactly one reference image
        XCTAssertThrowsError(try s.stylize(content: contentImage, styles: [style.rgbImage(), style.rgbImage()]))
    }

    /// Matting energy Σ_c V_cᵀ L V_c of the result, with the content's Laplacian.
    func mattingEnergy(_ img: RGBImage, content: RGBImage) -> Double {
        let L = MattingLaplacian(image: Tensor(image: content))
        let t = Tensor(image: img)
        var e = 0.0
        for c in 0..<3 {
            let v = t.channel(c).storage
            e += dot(v, L.multiply(v))
        }
        return e
    }

    /// The photorealism term keeps the result locally affine in the content's colours:
    /// its matting energy drops well below that of the plain result, in one stage and in
    /// Luan's two stages; the breakdown reports the term.
    func testPhotorealTermKeepsTheResultLocallyAffine() throws {
        let content = textured(32, 32, seed: 6).rgbImage()
        let style = textured(32, 32, seed: 7).rgbImage()
        var c = config()
        let plain = try Stylizer(network: tiny, config: c).stylize(content: content, styles: [style])
        // λ relative to this tiny random network's style loss (weight 1e4)
        c.photorealWeight = 1e6
        let s = try Stylizer(network: tiny, config: c)
        var phases = Set<Int>()
        let outcome = try s.run(content: content, styles: [style], hooks: Stylizer.Hooks(progress: { phases.insert($0.levels) }))
        let real = outcome.image
        XCTAssertGreaterThan(outcome.breakdown.photoreal, 0)
        XCTAssertEqual(phases, [1])
        let ePlain = mattingEnergy(plain, content: content), eReal = mattingEnergy(real, content: content)
        XCTAssertLessThan(eReal, ePlain / 3, "plain \(ePlain), photoreal \(eReal)")

        c.photorealTwoStage = true
        let two = try Stylizer(network: tiny, config: c)
        var levels = Set<Int>()
        let twoStage = try two.run(content: content, styles: [style], hooks: Stylizer.Hooks(progress: { levels.insert($0.levels) })).image
        XCTAssertEqual(levels, [2])   // one level, then the photoreal stage
        XCTAssertLessThan(mattingEnergy(twoStage, content: content), ePlain / 3)
    }

    /// --smooth: the guided filter of the result (content as guide) leaves it locally
    /// affine in the content's colours.
    func testSmoothingLowersMattingEnergy() throws {
        let content = textured(32, 32, seed: 8).rgbImage()
        let style = textured(32, 32, seed: 9).rgbImage()
        var c = config()
        let plain = try Stylizer(network: tiny, config: c).stylize(content: content, styles: [style])
        c.smoothRadius = 2
        let smooth = try Stylizer(network: tiny, config: c).stylize(content: content, styles: [style])
        XCTAssertNotEqual(plain, smooth)
        XCTAssertLessThan(mattingEnergy(smooth, content: content), mattingEnergy(plain, content: content) / 2)
    }

    /// The reinhard start: the content carrying the style's Lab statistics.
    func testColorTransferInit() throws {
        let content = textured(32, 32, seed: 10).rgbImage()
        var st = textured(32, 32, seed: 11)
        for i in 0..<st.plane { st.storage[i] = min(1, st.storage[i] + 0.3) }
        var c = config()
        c.initMode = .colorTransfer
        c.iterations = 1
        let out = Tensor(image: try Stylizer(network: tiny, config: c).stylize(content: content, styles: [st.rgbImage()]))
        XCTAssertLessThan(ColorMetrics.labDistance(out, st), ColorMetrics.labDistance(Tensor(image: content), st) / 2)
        XCTAssertEqual(InitMode(argument: "reinhard"), .colorTransfer)
    }
}
