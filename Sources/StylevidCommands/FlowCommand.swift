import ArgumentParser
import Engine
import Foundation
import Kernels
import Temporal
import VideoIO

/// `stylevid flow A B OUT.flo`: the built-in optical flow from A to B, as Middlebury .flo.
struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Compute the optical flow from image A to image B and write it as a Middlebury .flo file.")

    @Argument(help: "First image.") var first: String
    @Argument(help: "Second image (same size as the first).") var second: String
    @Argument(help: "Output .flo file.") var output: String
    @Option(help: "Smoothness weight.") var alpha: Float = FlowOptions().alpha
    @Option(help: "Warps per pyramid level.") var warps: Int = FlowOptions().warps
    @Option(help: "Solver sweeps per warp.") var iterations: Int = FlowOptions().iterations
    @Option(help: "Charbonnier ε of the data term, intensity 0...1 (0 = quadratic).") var dataEpsilon: Float = FlowOptions().dataEpsilon
    @Option(help: "Charbonnier ε of the smoothness term, pixels (0 = quadratic).") var smoothEpsilon: Float = FlowOptions().smoothEpsilon
    @Option(help: "Weight updates of the robust terms per warp.") var reweightings: Int = FlowOptions().reweightings
    @Option(help: "Edge-aware smoothness: falloff of the weight with the intensity step (0 = uniform).") var edgeFalloff: Float = FlowOptions().edgeFalloff
    @Option(help: "Smallest edge-aware weight.") var edgeFloor: Float = FlowOptions().edgeFloor
    @Option(help: "Block-matching search radius at the coarsest level, in its pixels (0 = start from zero flow).") var searchRadius: Int = FlowOptions().searchRadius

    func run() throws {
        guard output.lowercased().hasSuffix(".flo") else { throw CLIError("\(output): the flow output must be a .flo file") }
        guard alpha > 0, warps >= 1, iterations >= 1, reweightings >= 1 else {
            throw CLIError("--alpha must be > 0; --warps, --iterations and --reweightings ≥ 1")
        }
        guard dataEpsilon >= 0, smoothEpsilon >= 0, edgeFalloff >= 0, (0...1).contains(edgeFloor) else {
            throw CLIError("--data-epsilon, --smooth-epsilon and --edge-falloff must be ≥ 0, --edge-floor in 0...1")
        }
        try checkOutputLocation(output, inputs: [first, second])
        let a = try ImageIO.read(first), b = try ImageIO.read(second)
        guard a.width == b.width && a.height == b.height else {
            throw CLIError("\(second) is \(b.width)×\(b.height) but \(first) is \(a.width)×\(a.height); the frames must be the same size")
        }
        var o = FlowOptions()
        o.alpha = alpha; o.warps = warps; o.iterations = iterations
        o.dataEpsilon = dataEpsilon; o.smoothEpsilon = smoothEpsilon; o.reweightings = reweightings
        o.edgeFalloff = edgeFalloff; o.edgeFloor = edgeFloor; o.searchRadius = max(0, searchRadius)
        let start = Date()
        let flow = OpticalFlow.compute(from: Tensor(image: a), to: Tensor(image: b), options: o)
        let ms = Date().timeIntervalSince(start) * 1000
        try FloFile.write(flow, to: output)
        FileHandle.standardError.write(String(format: "stylevid: wrote %@ (%d×%d) in %.0f ms\n", output, flow.width, flow.height, ms).data(using: .utf8)!)
    }
}
