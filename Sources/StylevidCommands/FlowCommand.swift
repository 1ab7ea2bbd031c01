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

    func run() throws {
        guard output.lowercased().hasSuffix(".flo") else { throw CLIError("\(output): the flow output must be a .flo file") }
        guard alpha > 0, warps >= 1, iterations >= 1 else { throw CLIError("--alpha must be > 0, --warps and --iterations ≥ 1") }
        try checkOutputLocation(output, inputs: [first, second])
        let a = try ImageIO.read(first), b = try ImageIO.read(second)
        guard a.width == b.width && a.height == b.height else {
            throw CLIError("\(second) is \(b.width)×\(b.height) but \(first) is \(a.width)×\(a.height); the frames must be the same size")
        }
        var o = FlowOptions()
        o.alpha = alpha; o.warps = warps; o.iterations = iterations
        let start = Date()
        let flow = OpticalFlow.compute(from: Tensor(image: a), to: Tensor(image: b), options: o)
        let ms = Date().timeIntervalSince(start) * 1000
        try FloFile.write(flow, to: output)
        FileHandle.standardError.write(String(format: "stylevid: wrote %@ (%d×%d) in %.0f ms\n", output, flow.width, flow.height, ms).data(using: .utf8)!)
    }
}
