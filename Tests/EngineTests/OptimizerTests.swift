import Engine
import Kernels
import TestSupport
import VideoIO
import XCTest

final class OptimizerTests: XCTestCase {
    /// Rosenbrock in 4 dimensions: minimum 0 at (1,1,1,1); a classic that defeats plain
    /// gradient descent and needs curvature information.
    func rosenbrock(_ x: [Float]) -> (Double, [Float]) {
        var f = 0.0
        var g = [Float](repeating: 0, count: x.count)
        for i in 0..<(x.count - 1) {
            let a = Double(x[i]), b = Double(x[i + 1])
            f += 100 * (b - a * a) * (b - a * a) + (1 - a) * (1 - a)
            g[i] += Float(-400 * a * (b - a * a) - 2 * (1 - a))
            g[i + 1] += Float(200 * (b - a * a))
        }
        return (f, g)
    }

    func testLBFGSSolvesRosenbrock() {
        var x: [Float] = [-1.2, 1, -1.2, 1]
        let f = LBFGS(history: 10).minimize(&x, evaluations: 400, objective: rosenbrock)
        XCTAssertLessThan(f, 1e-6)
        for v in x { XCTAssertEqual(v, 1, accuracy: 1e-2) }
    }

    func testLBFGSIsMonotoneAndStopsWhenAsked() {
        var x: [Float] = [-1.2, 1, -1.2, 1]
        var losses: [Double] = []
        LBFGS().minimize(&x, evaluations: 100, objective: rosenbrock) { n, loss, _ in
            losses.append(loss)
            return n < 20
        }
        XCTAssertEqual(losses.count, 20)
        for (a, b) in zip(losses, losses.dropFirst()) { XCTAssertLessThanOrEqual(b, a + 1e-9) }
    }

    func testHistoryShrinksForLargeProblems() {
        let opt = LBFGS(history: 100, memoryBudget: 1_000_000)
        XCTAssertEqual(opt.effectiveHistory(for: 1000), 100)
        XCTAssertEqual(opt.effectiveHistory(for: 100_000), 5)      // 1e6 / (2·1e5)
        XCTAssertEqual(opt.effectiveHistory(for: 10_000_000), 3)   // never below 3
    }

    /// A quadratic whose unconstrained minimum (2, −1, 0.5, 0.3) lies partly outside
    /// [0, 1]: with the box, the result is the box's nearest point (1, 0, 0.5, 0.3) (the
    /// Hessian is diagonal, so clamping the minimum is the constrained minimum), and no
    /// trial point the objective sees ever leaves the box.
    func boxedQuadratic(_ seen: UnsafeMutablePointer<Bool>) -> Objective {
        let c: [Float] = [2, -1, 0.5, 0.3], a: [Float] = [1, 3, 10, 0.5]
        return { x in
            if x.contains(where: { $0 < 0 || $0 > 1 }) { seen.pointee = true }
            var f = 0.0, g = [Float](repeating: 0, count: 4)
            for i in 0..<4 { let d = x[i] - c[i]; f += Double(a[i] * d * d); g[i] = 2 * a[i] * d }
            return (f, g)
        }
    }

    func testLBFGSWithBoundsStaysInsideAndFindsTheConstrainedMinimum() {
        var outside = false
        var x: [Float] = [0.5, 0.5, 0.9, 0.1]
        LBFGS(history: 5, bounds: 0...1).minimize(&x, evaluations: 60, objective: boxedQuadratic(&outside))
        XCTAssertFalse(outside)
        for (v, e) in zip(x, [Float](arrayLiteral: 1, 0, 0.5, 0.3)) { XCTAssertEqual(v, e, accuracy: 1e-4) }
        // without the box the same run goes outside (the test can fail)
        var free: [Float] = [0.5, 0.5, 0.9, 0.1]
        LBFGS(history: 5).minimize(&free, evaluations: 60, objective: boxedQuadratic(&outside))
        XCTAssertTrue(outside)
        XCTAssertEqual(free[0], 2, accuracy: 1e-3)
        // a start outside the box is projected first
        var y: [Float] = [5, -5, 3, -1]
        var seen = false
        LBFGS(bounds: 0...1).minimize(&y, evaluations: 60, objective: boxedQuadratic(&seen))
        XCTAssertFalse(seen)
        XCTAssertEqual(y[2], 0.5, accuracy: 1e-4)
        var z: [Float] = [0.5, 0.5, 0.9, 0.1]
        Adam(learningRate: 0.05, bounds: 0...1).minimize(&z, evaluations: 400, objective: boxedQuadratic(&seen))
        XCTAssertFalse(seen)
        XCTAssertEqual(z[0], 1, accuracy: 1e-6); XCTAssertEqual(z[1], 0, accuracy: 1e-6)
    }

    /// A badly scaled quadratic family f_k(x) = Σ a_i (x_i − c_i − k·0.01)²: the curvature
    /// learnt on one member lets the next reach a far lower loss in the same few
    /// evaluations than a fresh start (the first step is no longer a tiny probe along −g).
    func testCarriedCurvatureSpeedsUpTheNextSimilarProblem() {
        let n = 40
        let a = (0..<n).map { Float(1 + 30 * ($0 % 7)) }
        func problem(_ k: Int) -> Objective {
            { x in
                var f = 0.0, g = [Float](repeating: 0, count: n)
                for i in 0..<n { let d = x[i] - Float(i % 5) * 0.2 - Float(k) * 0.01; f += Double(a[i] * d * d); g[i] = 2 * a[i] * d }
                return (f, g)
            }
        }
        let opt = LBFGS(history: 20)
        var memory = LBFGS.Memory()
        var x = [Float](repeating: 0, count: n)
        opt.minimize(&x, evaluations: 30, memory: &memory, objective: problem(0))
        XCTAssertGreaterThan(memory.pairs, 5)
        var warm = x, fresh = x
        let fw = opt.minimize(&warm, evaluations: 4, memory: &memory, objective: problem(1))
        let ff = opt.minimize(&fresh, evaluations: 4, objective: problem(1))
        XCTAssertLessThan(fw, ff * 0.1, "warm \(fw) vs fresh \(ff)")
        // memory of another size is dropped, not misused
        var other: [Float] = [1, 2, 3]
        var m2 = memory
        opt.minimize(&other, evaluations: 3, memory: &m2) { x in (Double(x.map { $0 * $0 }.reduce(0, +)), x.map { 2 * $0 }) }
        XCTAssertEqual(m2.count, 3)
    }

    /// A restart (the carried direction points uphill once the box freezes a coordinate)
    /// drops the curvature; when no new pair follows before the budget ends, the next
    /// problem must start with the fresh probe, not a unit step along −g at the forgotten
    /// scale (which a frame with a large gradient spends its few evaluations halving).
    func testRestartWithoutNewPairsLeavesAFreshMemory() {
        // learn a strongly coupled curvature: the inverse Hessian's off-diagonal is positive
        let coupled: Objective = { x in
            let a = x[0] - x[1], b = x[0] + x[1]
            return (Double(100 * a * a + b * b), [200 * a + 2 * b, -200 * a + 2 * b])
        }
        let opt = LBFGS(history: 5, bounds: 0...1)
        var memory = LBFGS.Memory()
        var x: [Float] = [0.9, 0.2]
        opt.minimize(&x, evaluations: 12, memory: &memory, objective: coupled)
        XCTAssertGreaterThan(memory.pairs, 0)
        // a linear objective pushing x0 out of the box: frozen, the carried direction
        // raises x1 while the gradient says lower it, so L-BFGS restarts along −g; a linear
        // objective gives no curvature pair (yᵀs = 0)
        let linear: Objective = { x in (Double(-10 * x[0] + 0.1 * x[1]), [-10, 0.1]) }
        var y: [Float] = [1, 0.5]
        opt.minimize(&y, evaluations: 3, memory: &memory, objective: linear)
        XCTAssertLessThan(y[1], 0.5, "the restart went down the gradient")
        XCTAssertEqual(memory, LBFGS.Memory(), "a forgotten memory is a fresh one")
        // so the next problem starts exactly as a fresh optimiser does
        let steep: Objective = { x in
            let u = x[0] - 0.3, v = x[1] - 0.3
            return (Double(500 * u * u + 5 * v * v), [1000 * u, 10 * v])
        }
        var a: [Float] = [0.9, 0.8], b = a
        LBFGS(history: 5).minimize(&a, evaluations: 4, memory: &memory, objective: steep)
        LBFGS(history: 5).minimize(&b, evaluations: 4, objective: steep)
        XCTAssertEqual(a, b)
    }

    func testCurvatureSurvivesSerialisationExactlyAndRejectsGarbage() throws {
        var memory = LBFGS.Memory()
        var x: [Float] = [-1.2, 1, -1.2, 1]
        LBFGS(history: 6).minimize(&x, evaluations: 25, memory: &memory, objective: rosenbrock)
        XCTAssertEqual(memory.pairs, 6)
        let data = memory.serialized()
        XCTAssertEqual(LBFGS.Memory(serialized: data), memory)
        XCTAssertEqual(LBFGS.Memory(serialized: LBFGS.Memory().serialized()), LBFGS.Memory())
        XCTAssertNil(LBFGS.Memory(serialized: data.dropLast()))
        XCTAssertNil(LBFGS.Memory(serialized: Data("LBFGSMEM".utf8) + Data(repeating: 0xff, count: 40)))
        XCTAssertNil(LBFGS.Memory(serialized: Data()))
        // continuing from the restored memory gives the same iterates as from the original
        var a = x, b = x, ma = memory, mb = LBFGS.Memory(serialized: data)!
        LBFGS(history: 6).minimize(&a, evaluations: 10, memory: &ma, objective: rosenbrock)
        LBFGS(history: 6).minimize(&b, evaluations: 10, memory: &mb, objective: rosenbrock)
        XCTAssertEqual(a, b)
        XCTAssertEqual(ma, mb)
        memory.trim(to: 2)
        XCTAssertEqual(memory.pairs, 2)
    }

    func testAdamMinimisesAQuadratic() {
        var x: [Float] = [3, -2, 0.5]
        let target: [Float] = [1, 1, 1]
        let f = Adam(learningRate: 0.05).minimize(&x, evaluations: 600) { x in
            var v = 0.0, g = [Float](repeating: 0, count: 3)
            for i in 0..<3 { let d = x[i] - target[i]; v += Double(d * d); g[i] = 2 * d }
            return (v, g)
        }
        XCTAssertLessThan(f, 1e-3)
    }
}

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
