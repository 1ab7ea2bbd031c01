import Engine
import Kernels
import Photoreal
import Temporal
import TestSupport
import VideoIO
import XCTest

/// Tiled evaluation of the network against the whole image's: the same loss values and
/// input gradient (to float rounding) for every loss term, odd sizes, several layouts and
/// every pooling kind.
final class TilingTests: XCTestCase {
    func random(_ c: Int, _ h: Int, _ w: Int, seed: UInt64, in range: ClosedRange<Float> = 0...1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(channels: c, height: h, width: w, in: range, generator: &rng)
    }

    /// max |a − b| / max |b|: the largest error of any pixel, against the gradient's scale
    /// (a norm over the whole image would dilute an error confined to a tile's border).
    func relativeDifference(_ a: Tensor, _ b: Tensor) -> Double {
        var d = a
        d.add(b, scaled: -1)
        return Double(d.maxAbs) / Double(max(b.maxAbs, 1e-30))
    }

    func testLayoutCoversTheImageWithAlignedCores() {
        for (w, h, cols, rows) in [(67, 53, 3, 2), (211, 181, 2, 2), (100, 40, 4, 1), (33, 33, 8, 8)] {
            let l = TileLayout(width: w, height: h, columns: cols, rows: rows, alignment: 4, halo: 16)
            var covered = [Int](repeating: 0, count: w * h)
            for (core, tile) in zip(l.cores, l.tiles) {
                for y in core.y..<core.maxY { for x in core.x..<core.maxX { covered[y * w + x] += 1 } }
                XCTAssertEqual(core.x % 4, 0); XCTAssertEqual(core.y % 4, 0)
                XCTAssertTrue(core.maxX == w || core.maxX % 4 == 0, "\(core)")
                // the tile is the core grown by the halo, clipped to the image
                XCTAssertEqual(tile.x, max(0, core.x - 16)); XCTAssertEqual(tile.maxX, min(w, core.maxX + 16))
                XCTAssertEqual(tile.y, max(0, core.y - 16)); XCTAssertEqual(tile.maxY, min(h, core.maxY + 16))
            }
            XCTAssertEqual(Set(covered), [1], "every pixel in exactly one core (\(w)×\(h), \(cols)×\(rows))")
        }
        // 33 px hold 8 cells of 4: 8 columns are possible; 9 are not
        XCTAssertEqual(TileLayout(width: 33, height: 8, columns: 9, rows: 1, alignment: 4, halo: 0).count, 8)
    }

    /// A change to one input pixel moves features only within the computed reach, and does
    /// reach that far (so the halo is neither too small nor needlessly large).
    func testReceptiveFieldReach() {
        for pooling in Layers.Pooling.allCases {
            let net = VGG.random(blocks: [[3, 3], [4, 4], [4, 4, 4]], seed: 2).with(pooling: pooling)
            let last = 4   // relu3_1
            let (reach, grid) = net.receptiveField(through: last)
            XCTAssertEqual(grid, 4)
            let n = 96, at = 48
            let img = random(3, n, n, seed: 3, in: 0.2...0.8)
            var moved = img
            for c in 0..<3 { moved[c, at, at] += 0.3 }
            let a = net.forward(img, through: last)[last], b = net.forward(moved, through: last)[last]
            var farthest = 0
            for c in 0..<a.channels { for y in 0..<a.height { for x in 0..<a.width where a[c, y, x] != b[c, y, x] {
                // the feature at (x, y) of a layer 4× smaller covers input 4x ..< 4x + 4
                let dx = max(4 * x - at, at - (4 * x + 3), 0), dy = max(4 * y - at, at - (4 * y + 3), 0)
                farthest = max(farthest, dx, dy)
            }}}
            XCTAssertLessThanOrEqual(farthest, reach, "\(pooling)")
            XCTAssertGreaterThan(farthest, reach - 8, "\(pooling): the reach \(reach) overestimates (seen \(farthest))")
        }
    }

    /// Content, plain style and masked style losses on several layers: tiled values and
    /// gradient equal the whole image's within 1e-4, odd sizes, layouts, poolings.
    func testTiledEvaluationEqualsWhole() {
        for pooling in Layers.Pooling.allCases {
            let net = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8]], seed: 7).with(pooling: pooling)
            let last = 4
            for (w, h) in [(67, 53), (90, 37)] {
                let img = random(3, h, w, seed: 8), other = random(3, h, w, seed: 9)
                let losses = self.losses(net, target: other, width: w, height: h, last: last)
                let whole = TiledNetwork(network: net, layout: .whole(width: w, height: h), deepest: last)
                    .evaluate(img, losses: losses, gradient: true)
                XCTAssertGreaterThan(whole.gradient!.maxAbs, 0)
                let halo = net.tileHalo(through: last)
                for (cols, rows) in [(2, 1), (1, 3), (3, 2), (5, 4)] {
                    let layout = TileLayout(width: w, height: h, columns: cols, rows: rows, alignment: 4, halo: halo)
                    XCTAssertGreaterThan(layout.count, 1)
                    let tiled = TiledNetwork(network: net, layout: layout, deepest: last).evaluate(img, losses: losses, gradient: true)
                    for (a, b) in zip(tiled.values, whole.values) {
                        XCTAssertEqual(a, b, accuracy: 1e-4 * abs(b), "\(pooling) \(w)×\(h) \(layout)")
                    }
                    XCTAssertLessThan(relativeDifference(tiled.gradient!, whole.gradient!), 1e-4, "\(pooling) \(w)×\(h) \(layout)")
                    let values = TiledNetwork(network: net, layout: layout, deepest: last).evaluate(img, losses: losses, gradient: false)
                    XCTAssertEqual(values.values, tiled.values)
                    XCTAssertNil(values.gradient)
                }
                // the control: half the halo leaves the cores' borders wrong, and this test sees it
                let short = TiledNetwork(network: net, layout: TileLayout(width: w, height: h, columns: 3, rows: 2, alignment: 4, halo: halo / 8 * 4),
                                         deepest: last)
                XCTAssertFalse(short.isExact)
                XCTAssertGreaterThan(relativeDifference(short.evaluate(img, losses: losses, gradient: true).gradient!, whole.gradient!), 1e-3)
            }
        }
    }

    /// Through the Stylizer, every term at once (content, style, masked style, TV,
    /// temporal, photoreal), the network tiled because a memory budget asks for it: the
    /// same breakdown and gradient as the whole evaluation. The style image is tiled too.
    func testStylizerUnderAMemoryBudgetEqualsWhole() throws {
        let net = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)
        var config = StyleConfig()
        config.size = 229; config.photorealWeight = 10; config.tvWeight = 1e-3; config.styleWeight = 1e4
        let (w, h) = (229, 181)
        let content = random(3, h, w, seed: 30).rgbImage(), style = random(3, 203, 167, seed: 31).rgbImage()
        let image = random(3, h, w, seed: 32)
        let temporal = TemporalLoss(warpedPrevious: random(3, h, w, seed: 33), weights: random(1, h, w, seed: 34).storage, weight: 50)
        func labels(_ w: Int, _ h: Int, _ seed: UInt64) -> LabelMap {
            LabelMap(width: w, height: h, labels: (0..<(w * h)).map { Int32(($0 % w + Int(seed) * ($0 / w)) / 37 % 2) }, names: ["a", "b"])
        }
        for masked in [false, true] {
            let whole = try Stylizer(network: net, config: config), tiled = try Stylizer(network: net, config: config)
            tiled.maxMemory = Int(MemoryPlan.jobBytes(network: net, contentLayers: [8], width: w, height: h)
                + 0.6 * Double(w * h) * MemoryPlan.tileBytesPerPixel(network: net, through: 10))
            XCTAssertGreaterThan(tiled.layout(width: w, height: h).count, 1)
            XCTAssertEqual(whole.layout(width: w, height: h).count, 1)
            if masked {
                let pairing = try MaskPairing(content: labels(w, h, 3), reference: labels(167, 203, 5))
                whole.segmentation = pairing; tiled.segmentation = pairing
            }
            let a = try whole.evaluate(image, content: content, styles: [style], extraLosses: [temporal], matting: true)
            let b = try tiled.evaluate(image, content: content, styles: [style], extraLosses: [temporal], matting: true)
            for (part, x, y) in [("content", a.breakdown.content, b.breakdown.content), ("style", a.breakdown.style, b.breakdown.style),
                                 ("tv", a.breakdown.tv, b.breakdown.tv), ("temporal", a.breakdown.temporal, b.breakdown.temporal),
                                 ("photoreal", a.breakdown.photoreal, b.breakdown.photoreal)] {
                XCTAssertGreaterThan(x, 0, part)
                XCTAssertEqual(y, x, accuracy: 1e-4 * x, "\(part), masked \(masked)")
            }
            XCTAssertLessThan(relativeDifference(b.gradient, a.gradient), 1e-4, "masked \(masked)")
        }
    }

    func testMemoryPlanPicksTheCheapestFittingLayout() {
        let net = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)
        let perPixel = MemoryPlan.tileBytesPerPixel(network: net, through: 10)
        let (w, h) = (900, 500)
        XCTAssertTrue(MemoryPlan.layout(network: net, through: 10, width: w, height: h, budget: Int(Double(w * h) * perPixel) + 1).isWhole)
        for share in [0.6, 0.3, 0.1] {
            let budget = Int(Double(w * h) * perPixel * share)
            let l = MemoryPlan.layout(network: net, through: 10, width: w, height: h, budget: budget)
            XCTAssertGreaterThan(l.count, 1)
            XCTAssertLessThanOrEqual(Double(l.largestTile) * perPixel, Double(budget), "\(l)")
            XCTAssertEqual(l.halo, net.tileHalo(through: 10))
        }
        // past the size where the whole image evaluates slower per pixel, tiles even with memory to spare
        let big = MemoryPlan.layout(network: net, through: 10, width: 2048, height: 2048, budget: Int.max / 2)
        XCTAssertGreaterThan(big.count, 1)
        XCTAssertLessThanOrEqual(big.largestTile, MemoryPlan.fastestTilePixels)
        XCTAssertEqual(MemoryPlan.parseSize("6G"), 6 << 30)
        XCTAssertEqual(MemoryPlan.parseSize("512MB"), 512_000_000)
        XCTAssertEqual(MemoryPlan.parseSize("1.5g"), 3 << 29)
        XCTAssertEqual(MemoryPlan.parseSize("4096"), 4096)
        for bad in ["", "G", "-1G", "six", "0", "1e30G", "nanG"] { XCTAssertNil(MemoryPlan.parseSize(bad), bad) }
    }

    /// The default limit follows Slurm's allocation, else the process's own cgroup (the
    /// nearest memory.max going up), else none.
    func testMemoryLimitOfTheProcess() {
        let files = ["/proc/self/cgroup": "0::/system.slice/job_7/step_0\n",
                     "/sys/fs/cgroup/system.slice/job_7/memory.max": "4294967296\n",
                     "/sys/fs/cgroup/system.slice/job_7/step_0/memory.max": "max\n"]
        XCTAssertEqual(MemoryPlan.processLimit(environment: [:]) { files[$0] }, 4 << 30)
        XCTAssertEqual(MemoryPlan.processLimit(environment: ["SLURM_MEM_PER_NODE": "2048"]) { files[$0] }, 2 << 30)
        XCTAssertEqual(MemoryPlan.processLimit(environment: ["SLURM_MEM_PER_CPU": "1000", "SLURM_CPUS_PER_TASK": "3"]) { _ in nil }, 3000 << 20)
        XCTAssertNil(MemoryPlan.processLimit(environment: [:]) { _ in nil })
        XCTAssertNil(MemoryPlan.processLimit(environment: [:]) { ["/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n"][$0] })
    }

    /// The bundled model on a real photo, tiled by a memory budget: the same loss, and the
    /// same gradient seen along smooth directions. Pixel for pixel the gradient cannot be
    /// the same: where a max-pooling window's inputs nearly tie, or a ReLU's input is
    /// nearly 0, the convolutions' rounding (which differs between a tile and the whole
    /// image, as it does between the Winograd and im2col paths of the whole image) picks
    /// which way the gradient goes, and a patch of pixels behind that unit changes (2% of
    /// the gradient in L2 at 768 px). Both are gradients of the same loss.
    func testBundledModelOnAPhoto() throws {
        let d = StylevidPaths.data
        try requireInstalled([d + "/astronaut.png", d + "/mate/abstract/Elephants.jpg"])
        let content = try ImageIO.scale(try ImageIO.read(d + "/astronaut.png"), width: 384, height: 320)
        let style = try ImageIO.read(d + "/mate/abstract/Elephants.jpg")
        var image = Tensor(image: content)
        image.storage = image.storage.map { min(1, max(0, $0 + 0.1 * sin($0 * 50))) }
        let config = StyleConfig()
        let net = try ModelLoader.load(path: try ModelLoader.resolve(nil), for: config)
        let whole = try Stylizer(network: net, config: config), tiled = try Stylizer(network: net, config: config)
        tiled.maxMemory = Int(MemoryPlan.jobBytes(network: net, contentLayers: [8], width: 384, height: 320)
            + 0.5 * 384 * 320 * MemoryPlan.tileBytesPerPixel(network: net, through: 10))
        XCTAssertGreaterThan(tiled.layout(width: 384, height: 320).count, 1)
        let a = try whole.evaluate(image, content: content, styles: [style])
        let b = try tiled.evaluate(image, content: content, styles: [style])
        XCTAssertEqual(b.breakdown.style, a.breakdown.style, accuracy: 1e-5 * a.breakdown.style)
        XCTAssertEqual(b.breakdown.content, a.breakdown.content, accuracy: 1e-5 * a.breakdown.content)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<3 {
            let smooth = Resize.bilinear(Tensor.random(channels: 3, height: 8, width: 8, in: -1...1, generator: &rng), height: 320, width: 384)
            XCTAssertEqual(b.gradient.dot(smooth), a.gradient.dot(smooth), accuracy: 1e-4 * abs(a.gradient.dot(smooth)))
        }
        var diff = b.gradient
        diff.add(a.gradient, scaled: -1)
        XCTAssertLessThan((diff.sumOfSquares / a.gradient.sumOfSquares).squareRoot(), 0.05)
    }

    /// Above 1024 px the pyramid reaches down to 512 px and its top levels get fewer
    /// evaluations; at or below 1024 px, and with --pyramid 1, nothing changes.
    func testHighResolutionSchedule() throws {
        let net = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)
        var config = StyleConfig()
        let sizes = { (levels: Int, w: Int, h: Int) -> [Int] in
            config.pyramidLevels = levels
            return try Stylizer(network: net, config: config).levelSizes(width: w, height: h).map { max($0.0, $0.1) }
        }
        XCTAssertEqual(try sizes(2, 4096, 2731), [512, 1024, 2048, 4096])
        XCTAssertEqual(try sizes(2, 2048, 2048), [512, 1024, 2048])
        XCTAssertEqual(try sizes(2, 1024, 700), [512, 1024])
        XCTAssertEqual(try sizes(3, 512, 300), [128, 256, 512])
        XCTAssertEqual(try sizes(1, 4096, 4096), [4096])
        XCTAssertEqual([1024, 2048, 4096, 8192].map { Stylizer.levelBudget(200, width: $0, height: $0 / 2) }, [200, 100, 50, 25])
        XCTAssertEqual(Stylizer.levelBudget(2, width: 8192, height: 100), 1)
    }

    /// The losses under test, targets from another image's features.
    func losses(_ net: VGG, target other: Tensor, width w: Int, height h: Int, last: Int) -> [FeatureLoss] {
        let acts = net.forward(other, through: last)
        let labels = 3
        var out: [FeatureLoss] = [ContentLoss(layer: last, target: acts[last], weight: 3)]
        for l in [0, 2, last] {
            out.append(StyleLoss(layer: l, targetGram: gramMatrix(acts[l]), weight: 500))
            // soft masks of the layer's size; label 2 is absent from this reference
            let masks = random(labels, acts[l].height, acts[l].width, seed: UInt64(20 + l))
            var targets = MaskedStyleLoss.targets(features: acts[l], masks: masks)
            targets[2] = nil
            out.append(SegmentedStyleLoss(layer: l, loss: MaskedStyleLoss(masks: masks, targets: targets, areas: [0.5, 0.3, 0.2], weight: 400)))
        }
        return out
    }
}
