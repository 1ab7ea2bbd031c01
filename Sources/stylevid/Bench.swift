import ArgumentParser
import Engine
import Foundation
import Kernels

/// `stylevid bench`: times one forward + input-gradient backward pass through the network
/// up to relu5_1 (random weights: timing does not depend on them).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time VGG forward + input-gradient backward (prints JSON as the last line).")

    @Option(help: "vgg16 or vgg19 (default vgg19).")
    var model: String = "vgg19"
    @Option(help: "Input size WIDTHxHEIGHT (default 512x288).")
    var size: String = "512x288"
    @Option(help: "Timed repetitions; the median is reported (default 5).")
    var reps: Int = 5

    func run() throws {
        guard let arch = VGGArchitecture(rawValue: model.lowercased()) else {
            throw ValidationError("--model: '\(model)' is not one of vgg16, vgg19")
        }
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 16, parts[1] >= 16, parts[0] <= 8192, parts[1] <= 8192 else {
            throw ValidationError("--size: expected WIDTHxHEIGHT between 16 and 8192, got '\(size)'")
        }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        let (w, h) = (parts[0], parts[1])
        // up to relu5_1: all convs of blocks 1–4 plus the first of block 5
        let count = arch.blocks.prefix(4).reduce(0) { $0 + $1.count } + 1
        let net = VGG.random(blocks: arch.blocks, upTo: count)
        var rng = SplitMix64(seed: 7)
        let x = Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
        func step() {
            let acts = net.forward(x, through: count - 1)
            // d/dy of mean(y²), as the PyTorch reference does
            var g = acts[count - 1]
            g.scale(by: 2 / Float(g.count))
            _ = net.backward(activations: acts, gradients: [count - 1: g])
        }
        step()
        var times: [Double] = []
        for r in 0..<reps {
            let t = Date()
            step()
            times.append(Date().timeIntervalSince(t) * 1000)
            FileHandle.standardError.write(String(format: "rep %d: %.1f ms\n", r + 1, times.last!).data(using: .utf8)!)
        }
        times.sort()
        let median = times[times.count / 2]
        print(String(format: "{\"model\":\"%@\",\"size\":\"%dx%d\",\"threads\":%d,\"ms_per_iteration\":%.1f}",
                     arch.rawValue, w, h, kernelThreads, median))
    }
}
