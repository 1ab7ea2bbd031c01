import Foundation
import Kernels
@testable import Temporal
import TestSupport
import XCTest

/// One warp of a level with every pass in one dispatch (`LevelSolver`) against the same
/// passes called one by one (`OpticalFlow.refine`, then the median): the same flow, bit
/// for bit, on one thread and split over two, for robust and quadratic terms and for
/// sweeps that do not share out evenly among the rounds.
final class LevelSolverTests: XCTestCase {
    func testMatchesTheSeparatePasses() {
        var smoothOnly = FlowOptions(); smoothOnly.smoothEpsilon = 0; smoothOnly.iterations = 5
        var oddSweeps = FlowOptions(); oddSweeps.iterations = 7; oddSweeps.reweightings = 3
        for (w, h) in [(37, 23), (300, 200)] {
            let a = Luma.plane(FlowTests.texture(w, h, seed: 41))
            let b = Luma.plane(Warp.backward(FlowTests.texture(w, h, seed: 41), flow: FlowTests.constantFlow(w, h, 1.3, -0.6)).image)
            for options in [FlowOptions(), FlowOptions.classic, smoothOnly, oddSweeps] {
                let edges = EdgeWeights(image: a, width: w, height: h, falloff: options.edgeFalloff, floor: options.edgeFloor)
                let solver = LevelSolver(first: a, second: b, edges: edges, options: options)
                var fused = FlowTests.constantFlow(w, h, 0.4, 0.2), separate = fused
                for warp in 0..<2 {
                    solver.step(&fused)
                    OpticalFlow.refine(&separate, a, b, edges: edges, options: options)
                    separate = OpticalFlow.median3(separate)
                    let worst = zip(fused.u + fused.v, separate.u + separate.v).map { abs($0 - $1) }.max()!
                    XCTAssertTrue(fused == separate, "\(w)×\(h), warp \(warp), \(options): differs by up to \(worst)")
                }
                XCTAssertGreaterThan(fused.endPointError(to: FlowTests.constantFlow(w, h, 0.4, 0.2)), 0.3, "the flow should have moved")
            }
        }
    }
}
