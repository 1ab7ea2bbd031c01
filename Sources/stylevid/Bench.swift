import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import Temporal

/// `stylevid bench`: times one forward + input-gradient backward pass through the network
/// up to relu5_1 (random weights: timing does not depend on them).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a kernel: VGG forward + input-gradient backward, optical flow, or the matting Laplacian (prints JSON as the last line).")

    @Option(help: "What to time: vgg (forward + input gradient to relu5_1), flow (one optical flow between two frames) or laplacian (matting Laplacian build, one product, one CG solve) (default vgg).")
    var kernel: String = "vgg"
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
        switch kernel.lowercased() {
        case "vgg": break
        case "flow": return try benchFlow(w, h)
        case "laplacian": return try benchLaplacian(w, h)
        default: throw ValidationError("--kernel: '\(kernel)' is not one of vgg, flow, laplacian")
        }
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

    /// A smooth random texture (noise upsampled from a coarse grid), RGB 0...1.
    func texture(_ w: Int, _ h: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        var t = Tensor(channels: 3, height: h, width: w)
        for scale in [4, 16, 48] {
            let g = Tensor.random(channels: 3, height: max(2, h / scale), width: max(2, w / scale), in: 0...1, generator: &rng)
            t.add(Resize.bilinear(g, height: h, width: w), scaled: 1 / 3)
        }
        return t
    }

    func timed(_ label: String, _ body: () -> Void) -> Double {
        body()                                    // warm-up
        var times: [Double] = []
        for r in 0..<reps {
            let t = Date()
            body()
            times.append(Date().timeIntervalSince(t) * 1000)
            FileHandle.standardError.write(String(format: "%@ rep %d: %.1f ms\n", label, r + 1, times.last!).data(using: .utf8)!)
        }
        return times.sorted()[times.count / 2]
    }

    func benchFlow(_ w: Int, _ h: Int) throws {
        let b = texture(w, h, seed: 1)
        var truth = Flow(width: w, height: h)
        for i in 0..<(w * h) { truth.u[i] = 3.7; truth.v[i] = -2.2 }
        let a = Warp.backward(b, flow: truth).image
        var flow = Flow(width: 1, height: 1)
        let ms = timed("flow") { flow = OpticalFlow.compute(from: a, to: b) }
        var interior = [Bool](repeating: false, count: w * h)
        for y in 12..<max(12, h - 12) { for x in 12..<max(12, w - 12) { interior[y * w + x] = true } }
        print(String(format: "{\"kernel\":\"flow\",\"size\":\"%dx%d\",\"threads\":%d,\"ms\":%.1f,\"epe\":%.4f}",
                     w, h, kernelThreads, ms, flow.endPointError(to: truth, mask: interior)))
    }

    func benchLaplacian(_ w: Int, _ h: Int) throws {
        let img = texture(w, h, seed: 2)
        var L: MattingLaplacian? = nil
        let build = timed("build") { L = MattingLaplacian(image: img) }
        // what the optimiser builds: the window data only
        let windows = timed("windows") { _ = MattingLaplacian(image: img, bands: false) }
        let x = img.storage[0..<(w * h)].map { $0 }
        let product = timed("product") { _ = L!.multiply(x) }
        // the closed-form smoothing solve (L + μI)v = μy of one channel, y = the texture
        // plus noise the image does not explain, μ = 0.01, to 1e-4 relative residual
        var rng = SplitMix64(seed: 9)
        let y = x.map { $0 + Float.random(in: -0.1...0.1, using: &rng) }
        var iterations = 0
        let solve = timed("solve") { iterations = L!.solve(y, mu: 0.01, tolerance: 1e-4, maxIterations: 2000).iterations }
        // the photorealism term as the optimiser calls it: value + gradient, 3 channels
        let term = PhotorealismLoss(laplacian: L!, weight: 1)
        let v = texture(w, h, seed: 3)
        let evaluate = timed("term") { var g = Tensor.zeros(like: v); _ = term.evaluate(v, gradient: &g) }
        print(String(format: "{\"kernel\":\"laplacian\",\"size\":\"%dx%d\",\"threads\":%d,\"build_ms\":%.1f,\"windows_only_build_ms\":%.1f,\"product_ms\":%.1f,\"solve_ms\":%.1f,\"cg_iterations\":%d,\"term_ms\":%.1f}",
                     w, h, kernelThreads, build, windows, product, solve, iterations, evaluate))
    }
}
