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
        abstract: "Time a kernel: VGG forward + input-gradient backward, optical flow, the matting Laplacian, or each convolution by algorithm (prints JSON as the last line).")

    @Option(help: "What to time: vgg (forward + input gradient to relu5_1), flow (one optical flow between two frames) laplacian (matting Laplacian build, one product, one CG solve), conv (every convolution up to relu5_1, forward and input gradient, im2col vs Winograd; a JSON line per layer) or suite (VGG16/19 at 512x288 and 1280x720, flow at 512x288, Laplacian at 700x466: the BENCHMARKS.md figures, a JSON line each).")
    var kernel: Kernel = .vgg
    enum Kernel: String, ExpressibleByArgument, CaseIterable { case vgg, flow, laplacian, conv, tiled, suite }
    @Option(name: .customLong("max-memory"), help: "tiled: the --max-memory of the stylisation whose tiling to time (e.g. 6G); without it the network sees the image whole.")
    var maxMemory: String?
    @Flag(help: "tiled: time the whole-image evaluation too, interleaved with the tiled one (it must fit in memory).")
    var whole = false
    @Option(help: "vgg16 or vgg19.")
    var model: String = "vgg19"
    @Option(help: "Input size WIDTHxHEIGHT.")
    var size: String = "512x288"
    @Option(help: "Timed repetitions; the median is reported.")
    var reps: Int = 5

    func run() throws {
        guard let arch = VGGArchitecture(rawValue: model.lowercased()) else {
            throw ValidationError("--model: '\(model)' is not one of vgg16, vgg19")
        }
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        let limits = StyleConfig.sizeRange
        guard parts.count == 2, limits.contains(parts[0]), limits.contains(parts[1]) else {
            throw ValidationError("--size: expected WIDTHxHEIGHT between \(limits.lowerBound) and \(limits.upperBound), got '\(size)'")
        }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        let (w, h) = (parts[0], parts[1])
        switch kernel {
        case .vgg: benchVGG(arch, w, h)
        case .flow: try benchFlow(w, h)
        case .laplacian: try benchLaplacian(w, h)
        case .conv: try benchConv(arch, w, h)
        case .tiled: try benchTiled(arch, w, h)
        case .suite:
            // the project's figures (BENCHMARKS.md), one JSON line each; --size/--model ignored
            for size in [(512, 288), (1280, 720)] {
                for a in [VGGArchitecture.vgg16, .vgg19] { benchVGG(a, size.0, size.1) }
            }
            try benchFlow(512, 288)
            try benchLaplacian(700, 466)
        }
    }

    /// One forward + input-gradient pass up to relu5_1 (random weights: timing does not
    /// depend on them), the median of `reps`.
    func benchVGG(_ arch: VGGArchitecture, _ w: Int, _ h: Int) {
        // up to relu5_1: all convs of blocks 1–4 plus the first of block 5
        let count = arch.blocks.prefix(4).reduce(0) { $0 + $1.count } + 1
        let net = VGG.random(blocks: arch.blocks, upTo: count)
        var rng = SplitMix64(seed: 7)
        let x = Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
        let median = timed("\(arch.rawValue) \(w)x\(h)") {
            let acts = net.forward(x, through: count - 1)
            // d/dy of mean(y²), as the PyTorch reference does
            var g = acts[count - 1]
            g.scale(by: 2 / Float(g.count))
            _ = net.backward(activations: acts, gradients: [count - 1: g])
        }
        print(String(format: "{\"kernel\":\"vgg\",\"model\":\"%@\",\"size\":\"%dx%d\",\"threads\":%d,\"blas_core\":\"%@\",\"ms_per_iteration\":%.1f}",
                     arch.rawValue, w, h, kernelThreads, blasCoreName, median))
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

    /// Each convolution of the network up to relu5_1 at the size it runs at, forward and
    /// input gradient, by both algorithms (interleaved), one JSON line per layer; the last
    /// line sums them.
    func benchConv(_ arch: VGGArchitecture, _ w: Int, _ h: Int) throws {
        let count = arch.blocks.prefix(4).reduce(0) { $0 + $1.count } + 1
        let net = VGG.random(blocks: arch.blocks, upTo: count)
        var rng = SplitMix64(seed: 7)
        var sums: [Conv2D.Algorithm: Double] = [:]
        var cw = w, ch = h, layer = 0
        for (b, block) in arch.blocks.enumerated() {
            for _ in block where layer < count {
                let conv = net.convs[layer]
                let x = Tensor.random(channels: conv.inChannels, height: ch, width: cw, generator: &rng)
                let g = Tensor.random(channels: conv.outChannels, height: ch, width: cw, generator: &rng)
                var ms: [Conv2D.Algorithm: (Double, Double)] = [:]
                for algo in Conv2D.Algorithm.allCases {
                    let f = timed("conv\(layer) \(algo) forward") { _ = conv.forward(x, relu: true, algorithm: algo) }
                    let bw = timed("conv\(layer) \(algo) gradient") { _ = conv.inputGradient(g, algorithm: algo) }
                    ms[algo] = (f, bw)
                    sums[algo, default: 0] += f + bw
                }
                print(String(format: "{\"layer\":\"%@\",\"in\":%d,\"out\":%d,\"size\":\"%dx%d\",\"im2col_forward_ms\":%.2f,\"im2col_gradient_ms\":%.2f,\"winograd_forward_ms\":%.2f,\"winograd_gradient_ms\":%.2f,\"preferred\":\"%@\"}",
                             VGG.layerNames(blocks: arch.blocks)[layer].replacingOccurrences(of: "relu", with: "conv"), conv.inChannels, conv.outChannels, cw, ch,
                             ms[.im2col]!.0, ms[.im2col]!.1, ms[.winograd]!.0, ms[.winograd]!.1,
                             conv.preferredAlgorithm(inputChannels: conv.inChannels).rawValue))
                layer += 1
            }
            if b < 4 { cw /= 2; ch /= 2 }
        }
        print(String(format: "{\"kernel\":\"conv\",\"model\":\"%@\",\"size\":\"%dx%d\",\"threads\":%d,\"im2col_ms\":%.1f,\"winograd_ms\":%.1f}",
                     arch.rawValue, w, h, kernelThreads, sums[.im2col]!, sums[.winograd]!))
    }

    /// One evaluation of the content (relu4_2) and style (relu1_1 … relu5_1) losses with
    /// their input gradient, the network tiled for `--max-memory`; with `--whole` the
    /// whole-image evaluation interleaved with it. Reports the layout, the times and this
    /// process's peak RSS.
    func benchTiled(_ arch: VGGArchitecture, _ w: Int, _ h: Int) throws {
        let count = arch.blocks.prefix(4).reduce(0) { $0 + $1.count } + 1
        let net = VGG.random(blocks: arch.blocks, upTo: count)
        let names = VGG.layerNames(blocks: arch.blocks)
        let contentLayer = names.firstIndex(of: "relu4_2")!
        var rng = SplitMix64(seed: 7)
        let x = texture(w, h, seed: 5)
        let size = net.outputSize(of: contentLayer, width: w, height: h)
        var losses: [FeatureLoss] = [ContentLoss(layer: contentLayer, target: Tensor.random(
            channels: net.convs[contentLayer].outChannels, height: size.height, width: size.width, in: 0...1, generator: &rng), weight: 1)]
        for name in ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"] {
            let l = names.firstIndex(of: name)!, c = net.convs[l].outChannels
            losses.append(StyleLoss(layer: l, targetGram: [Float](repeating: 0.01, count: c * c), weight: 100))
        }
        let budget = try maxMemory.map { text -> Int in
            guard let b = MemoryPlan.parseSize(text) else { throw ValidationError("--max-memory: '\(text)' is not a size such as 2G or 512M") }
            return b
        }
        // the tiling a stylisation under this limit would use (the optimiser's share off)
        let layout = budget.map {
            MemoryPlan.layout(network: net, through: count - 1, width: w, height: h, budget: MemoryPlan.tileBudget(
                maxMemory: $0, network: net, contentLayers: [contentLayer], width: w, height: h))
        } ?? .whole(width: w, height: h)
        FileHandle.standardError.write("layout: \(layout)\n".data(using: .utf8)!)
        let tiled = TiledNetwork(network: net, layout: layout, deepest: count - 1)
        let untiled = TiledNetwork(network: net, layout: .whole(width: w, height: h), deepest: count - 1)
        var times: (tiled: [Double], whole: [Double]) = ([], [])
        for r in (reps > 1 ? 0 : 1)...reps {           // rep 0 warms up (none for a single rep: 8K takes minutes)
            for (name, network) in whole ? [("tiled", tiled), ("whole", untiled)] : [("tiled", tiled)] {
                let t = Date()
                _ = network.evaluate(x, losses: losses, gradient: true)
                let ms = Date().timeIntervalSince(t) * 1000
                FileHandle.standardError.write(String(format: "%@ rep %d: %.0f ms\n", name, r, ms).data(using: .utf8)!)
                if r > 0 { if name == "tiled" { times.tiled.append(ms) } else { times.whole.append(ms) } }
            }
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let wholeField = whole ? String(format: ",\"whole_ms\":%.0f,\"ratio\":%.2f", median(times.whole), median(times.tiled) / median(times.whole)) : ""
        print(String(format: "{\"kernel\":\"tiled\",\"model\":\"%@\",\"size\":\"%dx%d\",\"threads\":%d,\"tiles\":%d,\"halo\":%d,\"computed_pixels\":%.2f,\"tiled_ms\":%.0f%@,\"peak_rss_gb\":%.2f}",
                     arch.rawValue, w, h, kernelThreads, layout.count, layout.halo, Double(layout.computedPixels) / Double(w * h),
                     median(times.tiled), wholeField, peakRSSBytes() / 1e9))
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

/// This process's peak resident set size so far, in bytes.
func peakRSSBytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) * 1024
}
