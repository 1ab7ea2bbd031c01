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
    @Option(help: "Charbonnier ε of the data term: pixels with normalisation, intensity 0...1 without (0 = quadratic).") var dataEpsilon: Float = FlowOptions().dataEpsilon
    @Option(help: "Data-term normalisation ζ, intensity per pixel (0 = plain brightness constancy).") var dataNormalization: Float = FlowOptions().dataNormalization
    @Option(help: "Charbonnier ε of the flow's smoothness term, in pixels (0 = quadratic). Not the main form's --smooth-epsilon, which belongs to the guided filter of --smooth.") var smoothEpsilon: Float = FlowOptions().smoothEpsilon
    @Option(help: "Weight updates of the robust terms per warp.") var reweightings: Int = FlowOptions().reweightings
    @Option(help: "Edge-aware smoothness: falloff of the weight with the intensity step (0 = uniform).") var edgeFalloff: Float = FlowOptions().edgeFalloff
    @Option(help: "Smallest edge-aware weight.") var edgeFloor: Float = FlowOptions().edgeFloor
    @Option(help: "Patch search: distance between patches, in pixels of each level (0 = no patch search).") var patchStride: Int = FlowOptions().patchStride
    @Option(help: "Patch search: the distance between patches at the finest level.") var finestPatchStride: Int = FlowOptions().finestPatchStride
    @Option(help: "Patch search: Gauss–Newton steps per patch at most.") var patchIterations: Int = FlowOptions().patchIterations
    @Option(name: .customLong("repeat"), help: "Compute the flow N times and report the median time (for benchmarks: the first run in a process also pays for its memory and threads).") var repeats: Int = 1
    @Flag(help: "The flow before the robust terms (Horn–Schunck), as `--flow classic` renders use; the options above are ignored.") var classic = false

    func run() throws {
        guard output.lowercased().hasSuffix(".flo") else { throw CLIError("\(output): the flow output must be a .flo file") }
        guard alpha > 0, warps >= 1, iterations >= 1, reweightings >= 1, patchIterations >= 1, repeats >= 1 else {
            throw CLIError("--alpha must be > 0; --warps, --iterations, --reweightings, --patch-iterations and --repeat ≥ 1")
        }
        guard dataEpsilon >= 0, dataNormalization >= 0, smoothEpsilon >= 0, edgeFalloff >= 0, patchStride >= 0, finestPatchStride >= 1,
              (0...1).contains(edgeFloor) else {
            throw CLIError("--data-epsilon, --data-normalization, --smooth-epsilon, --edge-falloff and --patch-stride must be ≥ 0, --finest-patch-stride ≥ 1, --edge-floor in 0...1")
        }
        try checkOutputLocation(output, inputs: [first, second])
        let a = try ImageIO.read(first), b = try ImageIO.read(second)
        guard a.width == b.width && a.height == b.height else {
            throw CLIError("\(second) is \(b.width)×\(b.height) but \(first) is \(a.width)×\(a.height); the frames must be the same size")
        }
        var o = FlowOptions()
        o.alpha = alpha; o.warps = warps; o.iterations = iterations
        o.dataEpsilon = dataEpsilon; o.dataNormalization = dataNormalization; o.smoothEpsilon = smoothEpsilon
        o.reweightings = reweightings; o.edgeFalloff = edgeFalloff; o.edgeFloor = edgeFloor
        o.patchSearch = patchStride > 0; o.patchStride = max(1, patchStride); o.finestPatchStride = finestPatchStride
        o.patchIterations = patchIterations
        if classic { o = .classic }
        let ta = Tensor(image: a), tb = Tensor(image: b)
        var flow = Flow(width: 1, height: 1), times: [Double] = []
        for _ in 0..<repeats {
            let start = Date()
            flow = OpticalFlow.compute(from: ta, to: tb, options: o)
            times.append(Date().timeIntervalSince(start) * 1000)
        }
        let ms = times.sorted()[times.count / 2]
        try FloFile.write(flow, to: output)
        FileHandle.standardError.write(String(format: "stylevid: wrote %@ (%d×%d) in %.1f ms\n", output, flow.width, flow.height, ms).data(using: .utf8)!)
    }
}
