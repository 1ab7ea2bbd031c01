import Engine
import Kernels
import Temporal
import TestSupport
import VideoIO
import XCTest

final class TemporalStylizerTests: XCTestCase {
    let tiny = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)

    func frames(_ n: Int, w: Int = 48, h: Int = 40) -> [RGBImage] { TemporalStylizerTests.panning(n, w: w, h: h) }

    /// A textured scene panning 2 px per frame.
    static func panning(_ n: Int, w: Int = 48, h: Int = 40) -> [RGBImage] {
        var rng = SplitMix64(seed: 21)
        let big = Resize.bilinear(Tensor.random(channels: 3, height: 12, width: 20, in: 0...1, generator: &rng), height: h, width: w + 2 * n)
        return (0..<n).map { k in
            var t = Tensor(channels: 3, height: h, width: w)
            for c in 0..<3 { for y in 0..<h { for x in 0..<w { t[c, y, x] = big[c, y, x + 2 * k] } } }
            return t.rgbImage()
        }
    }

    func stylizer(_ weight: Float, frames: [Int] = [1, 10, 20, 40], flowSource: FlowSource? = nil) throws -> TemporalStylizer {
        var c = StyleConfig()
        c.size = 48; c.iterations = 20; c.pyramidLevels = 1; c.styleWeight = 1000
        var t = TemporalConfig()
        t.weight = weight
        t.frames = frames
        return TemporalStylizer(stylizer: try Stylizer(network: tiny, config: c), config: t, flowSource: flowSource)
    }

    func run(_ weight: Float, _ input: [RGBImage], style: RGBImage, frames: [Int] = [1, 10, 20, 40],
             lookAhead: Bool = false, flowSource: FlowSource? = nil) throws -> [Tensor] {
        let ts = try stylizer(weight, frames: frames, flowSource: flowSource)
        return try input.indices.map { k in
            Tensor(image: try ts.next(input[k], upcoming: lookAhead && k + 1 < input.count ? input[k + 1] : nil, styles: [style]).image)
        }
    }

    var style: RGBImage {
        var rng = SplitMix64(seed: 22)
        return Tensor.random(channels: 3, height: 32, width: 32, in: 0...1, generator: &rng).rgbImage()
    }

    /// Flows computed ahead on another thread give exactly the frames computed in line.
    func testLookAheadFlowGivesIdenticalFrames() throws {
        let input = frames(4)
        let inline = try run(200, input, style: style, frames: [1, 2])
        let ahead = try run(200, input, style: style, frames: [1, 2], lookAhead: true)
        XCTAssertEqual(inline, ahead)
    }

    /// A shot change (frames the flow cannot connect) restarts like a first frame; the
    /// warping error leaves that pair out.
    func testSceneCutRestartsAndIsLeftOutOfTheWarpingError() throws {
        var rng = SplitMix64(seed: 31)
        let other = (0..<3).map { k -> RGBImage in
            var t = Tensor.random(channels: 3, height: 40, width: 48, in: 0...1, generator: &rng)
            t = Resize.bilinear(Resize.bilinear(t, height: 10, width: 12), height: 40, width: 48)
            return t.rgbImage()
        }
        let input = frames(3) + [other[0], other[0], other[0]]
        let ts = try stylizer(200, frames: [1])
        var outs: [Tensor] = []
        var coverage: [Float] = []
        for f in input { let made = try ts.next(f, styles: [style]); outs.append(Tensor(image: made.image)); coverage.append(made.coverage) }
        XCTAssertEqual(ts.sceneCuts, 1, "coverage \(coverage)")
        XCTAssertLessThan(coverage[3], 0.5)
        XCTAssertGreaterThan(coverage[4], 0.9)
        let ins = input.map { Tensor(image: $0) }
        let e = WarpingError(previousInput: ins[2], input: ins[3], previousOutput: outs[2], output: outs[3])
        XCTAssertLessThan(e.coverage, WarpingError.cutThreshold)
        let within = (1..<ins.count).filter { $0 != 3 }.map {
            WarpingError(previousInput: ins[$0 - 1], input: ins[$0], previousOutput: outs[$0 - 1], output: outs[$0]).error
        }
        XCTAssertEqual(warpingError(inputs: ins, outputs: outs), within.reduce(0, +) / Double(within.count), accuracy: 1e-12)
    }

    /// Later frames pass the L-BFGS curvature on (at most `carriedPairs` pairs, of the
    /// frame's size); a shot change forgets it; restoring it reproduces the next frame
    /// exactly (what --resume relies on), and starting that frame afresh gives another.
    func testCurvatureIsCarriedForgottenAtACutAndRestorable() throws {
        let input = frames(4)
        let ts = try stylizer(200, frames: [1])
        XCTAssertNil(ts.curvature)
        _ = try ts.next(input[0], styles: [style])
        XCTAssertNil(ts.curvature)                       // a first frame learns nothing to carry
        _ = try ts.next(input[1], styles: [style])
        let carried = try XCTUnwrap(ts.curvature)
        XCTAssertGreaterThan(carried.pairs, 0)
        XCTAssertLessThanOrEqual(carried.pairs, TemporalConfig.carriedPairs)
        XCTAssertEqual(carried.count, 3 * 48 * 40)
        let third = try ts.next(input[2], styles: [style]).image

        // a second stylizer restored to after frame 1, with and without the curvature
        func restored(_ memory: LBFGS.Memory?) throws -> RGBImage {
            let r = try stylizer(200, frames: [1])
            let first = try r.next(input[0], styles: [style]).image
            let second = try r.next(input[1], styles: [style]).image
            let fresh = try stylizer(200, frames: [1])
            try fresh.restore(frame: input[0], result: first)
            try fresh.restore(frame: input[1], result: second)
            fresh.curvature = memory
            return try fresh.next(input[2], styles: [style]).image
        }
        XCTAssertEqual(try restored(LBFGS.Memory(serialized: carried.serialized())), third)
        XCTAssertNotEqual(try restored(nil), third)

        var off = TemporalConfig(); off.weight = 200; off.frames = [1]; off.carryCurvature = false
        var c = StyleConfig(); c.size = 48; c.iterations = 20; c.pyramidLevels = 1; c.styleWeight = 1000
        let plain = TemporalStylizer(stylizer: try Stylizer(network: tiny, config: c), config: off)
        for f in input.prefix(3) { _ = try plain.next(f, styles: [style]) }
        XCTAssertNil(plain.curvature)
    }

    /// Long-term weights: each pixel goes to the nearest frame that saw it.
    func testClosestFirstWeights() {
        let c1: [Float] = [1, 0, 0, 1, 0], c10: [Float] = [1, 1, 0, 0, 0], c20: [Float] = [1, 1, 1, 0, 0]
        let w = TemporalStylizer.closestFirst([c1, c10, c20])
        XCTAssertEqual(w[0], [1, 0, 0, 1, 0])
        XCTAssertEqual(w[1], [0, 1, 0, 0, 0])
        XCTAssertEqual(w[2], [0, 0, 1, 0, 0])
        // soft weights: only what the nearer frames leave
        XCTAssertEqual(TemporalStylizer.closestFirst([[0.25], [1]])[1], [0.75])
    }

    func testEarlyStopRule() {
        let stop = EarlyStop(tolerance: 1e-3, window: 2)
        XCTAssertFalse(stop.shouldStop([10, 9]))                 // too few evaluations
        XCTAssertFalse(stop.shouldStop([10, 9, 8]))              // 20% better over 2
        XCTAssertTrue(stop.shouldStop([10, 9.9995, 9.9991]))     // 0.004% better over 2
        XCTAssertFalse(EarlyStop(tolerance: 0, window: 2).shouldStop([10, 9, 8.99]))
        XCTAssertTrue(EarlyStop(tolerance: 0, window: 2).shouldStop([10, 10, 10]))
    }

    /// The rule counts steps, not evaluations: L-BFGS reports the held loss again after
    /// each rejected line-search trial, and backtracking is not convergence.
    func testEarlyStopIgnoresRejectedTrials() {
        var monitor = EarlyStop.Monitor(EarlyStop(tolerance: 1e-3, window: 3))
        // a start, then three rejected trials (the held loss again) and a large step
        for loss in [196.7, 196.7, 196.7, 196.7] { XCTAssertFalse(monitor.shouldStop(after: loss)) }
        XCTAssertFalse(monitor.shouldStop(after: 105.2))
        XCTAssertFalse(monitor.shouldStop(after: 105.19))
        XCTAssertFalse(monitor.shouldStop(after: 105.18))
        XCTAssertFalse(monitor.shouldStop(after: 105.18))        // rejected: still 2 steps in the window
        XCTAssertTrue(monitor.shouldStop(after: 105.17))         // 3 steps, 0.03% better: converged
        // Adam-like reports (every evaluation moves, the loss may rise) use the best so far
        var adam = EarlyStop.Monitor(EarlyStop(tolerance: 1e-3, window: 2))
        XCTAssertFalse(adam.shouldStop(after: 10))
        XCTAssertFalse(adam.shouldStop(after: 12))
        XCTAssertTrue(adam.shouldStop(after: 11))                // no better than 10 over 2 steps
    }

    /// Flow files: used when present (a wrong flow changes the result), resampled when
    /// made at another size, computed when missing, and a corrupt one is an error naming it.
    func testFlowDirectory() throws {
        let dir = NSTemporaryDirectory() + "/stylevid-flowdir-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = frames(3)
        let source = try FlowDirectory(folder: dir)
        let builtIn = try run(200, input, style: style, frames: [1])
        XCTAssertEqual(try run(200, input, style: style, frames: [1], flowSource: source), builtIn)
        XCTAssertEqual(source.computedInstead, 2)
        // the pan is 2 px per frame: the true backward flow (t → t−1) is u = +2 at 48 px;
        // written at twice the size, it must be scaled back
        for t in 1..<3 {
            let (b, f) = source.paths(frame: t, earlier: t - 1)
            try FloFile.write(Flow(width: 96, height: 80, u: [Float](repeating: 4, count: 96 * 80), v: [Float](repeating: 0, count: 96 * 80)), to: b)
            try FloFile.write(Flow(width: 96, height: 80, u: [Float](repeating: -4, count: 96 * 80), v: [Float](repeating: 0, count: 96 * 80)), to: f)
        }
        XCTAssertTrue(source.paths(frame: 1, earlier: 0).backward.hasSuffix("/backward_2_1.flo"))
        let flows = try source.flows(frame: 1, earlier: 0, current: Tensor(image: input[1]), earlierInput: Tensor(image: input[0]))
        XCTAssertEqual(flows.backward.width, 48)
        XCTAssertEqual(flows.backward.u[100], 2, accuracy: 1e-6)
        let fromFiles = try run(200, input, style: style, frames: [1], flowSource: source)
        XCTAssertEqual(source.computedInstead, 2)          // no more computing
        XCTAssertLessThan(warpingError(inputs: input.map { Tensor(image: $0) }, outputs: fromFiles), 0.01)
        // a wrong flow (zero motion) gives other frames
        for t in 1..<3 {
            let (b, _) = source.paths(frame: t, earlier: t - 1)
            try FloFile.write(Flow(width: 48, height: 40), to: b)
        }
        XCTAssertNotEqual(try run(200, input, style: style, frames: [1], flowSource: source), fromFiles)
        try Data("not a flow".utf8).write(to: URL(fileURLWithPath: source.paths(frame: 1, earlier: 0).backward))
        XCTAssertThrowsError(try run(200, input, style: style, frames: [1], flowSource: source)) {
            XCTAssert("\($0)".contains("backward_2_1.flo"), "\($0)")
        }
    }

    /// The warm start and the temporal term make a panning sequence steadier (lower
    /// warping error) than stylizing every frame on its own.
    func testTemporalTermLowersTheWarpingError() throws {
        let input = frames(4)
        let style = self.style
        let independent = try run(0, input, style: style)
        let steady = try run(200, input, style: style)
        let ins = input.map { Tensor(image: $0) }
        let e0 = warpingError(inputs: ins, outputs: independent), e1 = warpingError(inputs: ins, outputs: steady)
        XCTAssertLessThan(e1, e0 * 0.7, "independent \(e0), temporal \(e1)")
        // the first frame is stylized exactly as an image would be
        XCTAssertEqual(independent[0], steady[0])
    }

    func testWarpingErrorIsZeroForAPerfectlyWarpedSequence() {
        let input = frames(3).map { Tensor(image: $0) }
        // the input itself is perfectly consistent with its own flow (up to interpolation)
        XCTAssertLessThan(warpingError(inputs: input, outputs: input), 1e-3)
        // noise added independently per frame is not
        var rng = SplitMix64(seed: 23)
        let noisy = input.map { t -> Tensor in var n = t; n.add(Tensor.random(channels: 3, height: t.height, width: t.width, in: -0.2...0.2, generator: &rng)); return n }
        XCTAssertGreaterThan(warpingError(inputs: input, outputs: noisy), 0.01)
    }
}
