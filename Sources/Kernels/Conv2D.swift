/// A 2-D convolution with a square odd kernel (k×k), stride 1 and "same" zero padding
/// (k/2) — the only kind VGG uses. Weights are stored [out][in][ky][kx] (PyTorch order).
///
/// Forward runs as banded im2col + one GEMM per band. The trick that keeps im2col cheap:
/// the input is copied once into a zero-padded plane of width W+2p, and the output is
/// computed over that padded width too; then every im2col row (ci, ky, kx) is a contiguous
/// slice of the padded input, so im2col is K memcpy's per band. The 2p junk columns per
/// output row are dropped while bias and ReLU are applied.
///
/// The input gradient of a stride-1 "same" convolution is itself a "same" convolution of
/// the output gradient with the weights flipped in space and transposed in channels, so
/// backward reuses the forward path (no col2im scatter).
public struct Conv2D: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public private(set) var weights: [Float]      // [out][in][k][k]
    public private(set) var bias: [Float]         // [out]
    private var flippedTransposed: [Float]        // [in][out][k][k], spatially flipped
    /// Winograd transforms of `weights` and `flippedTransposed` (3×3 kernels only).
    private var winogradForward: [Float] = []
    private var winogradBackward: [Float] = []

    /// How a convolution is computed: banded im2col + GEMM, or Winograd F(4×4, 3×3).
    public enum Algorithm: String, Sendable, CaseIterable {
        case im2col, winograd
    }

    public init(inChannels: Int, outChannels: Int, kernel: Int = 3, weights: [Float], bias: [Float]) {
        precondition(kernel % 2 == 1 && kernel > 0, "Conv2D: kernel must be odd, got \(kernel)")
        precondition(weights.count == outChannels * inChannels * kernel * kernel,
                     "Conv2D: expected \(outChannels * inChannels * kernel * kernel) weights, got \(weights.count)")
        precondition(bias.count == outChannels, "Conv2D: expected \(outChannels) biases, got \(bias.count)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.weights = weights
        self.bias = bias
        let kk = kernel * kernel
        var ft = [Float](repeating: 0, count: weights.count)
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                for t in 0..<kk {
                    ft[(i * outChannels + o) * kk + (kk - 1 - t)] = weights[(o * inChannels + i) * kk + t]
                }
            }
        }
        self.flippedTransposed = ft
        if kernel == 3 {
            winogradForward = Winograd.transformWeights(weights, outChannels: outChannels, inChannels: inChannels)
            winogradBackward = Winograd.transformWeights(ft, outChannels: inChannels, inChannels: outChannels)
        }
    }

    /// The algorithm `forward` (cin = inChannels) and `inputGradient` (cin = outChannels)
    /// use: it depends only on the channels going in.
    public func preferredAlgorithm(inputChannels cin: Int) -> Algorithm {
        if kernel != 3 { return .im2col }
        if let forced = Conv2D.forcedAlgorithm { return forced }
        // with 3 input channels (conv1_1 on the image) the 36 GEMMs have k = 3 and the
        // transforms dominate: im2col is ~2× faster there (bench --kernel conv)
        return cin < 8 ? .im2col : .winograd
    }

    /// STYLEVID_CONV=im2col|winograd forces one path (benchmarks and comparisons).
    static let forcedAlgorithm: Algorithm? = getenvString("STYLEVID_CONV").flatMap(Algorithm.init(rawValue:))

    /// y = conv(x) + b, optionally followed by ReLU (fused into the write-back).
    public func forward(_ input: Tensor, relu: Bool = false, algorithm: Algorithm? = nil) -> Tensor {
        precondition(input.channels == inChannels,
                     "Conv2D.forward: expected \(inChannels) input channels, got \(input.channels)")
        let algo = algorithm ?? preferredAlgorithm(inputChannels: inChannels)
        if algo == .winograd && kernel == 3 {
            return Winograd.convolve(input, u: winogradForward, outChannels: outChannels, bias: bias, relu: relu)
        }
        return Conv2D.sameConvolution(input, weights: weights, outChannels: outChannels,
                                      kernel: kernel, bias: bias, relu: relu)
    }

    /// dL/dx given dL/dy (dL/dy must already include the ReLU mask, if any).
    public func inputGradient(_ outputGradient: Tensor, algorithm: Algorithm? = nil) -> Tensor {
        precondition(outputGradient.channels == outChannels,
                     "Conv2D.inputGradient: expected \(outChannels) channels, got \(outputGradient.channels)")
        let algo = algorithm ?? preferredAlgorithm(inputChannels: outChannels)
        if algo == .winograd && kernel == 3 {
            return Winograd.convolve(outputGradient, u: winogradBackward, outChannels: inChannels, bias: nil, relu: false)
        }
        return Conv2D.sameConvolution(outputGradient, weights: flippedTransposed, outChannels: inChannels,
                                      kernel: kernel, bias: nil, relu: false)
    }

    /// Upper bound on the im2col band buffer, in floats (16 MiB).
    static let bandBudget = 4 << 20

    static func sameConvolution(_ input: Tensor, weights: [Float], outChannels: Int, kernel k: Int,
                                bias: [Float]?, relu: Bool) -> Tensor {
        let cin = input.channels, h = input.height, w = input.width
        var output = Tensor(uninitializedChannels: outChannels, height: h, width: w)
        if h == 0 || w == 0 { return output }
        let p = k / 2
        let pw = w + 2 * p, ph = h + 2 * p
        let kk = k * k
        let kdim = cin * kk
        // Scratch buffers are uninitialised (zero-filling 16 MiB per call costs more than
        // the im2col itself): only the padding border and the slack are zeroed.
        let padPlane = ph * pw
        let paddedCount = cin * padPlane + 2 * k
        let rowsPerBand = Swift.max(1, Swift.min(h, bandBudget / Swift.max(1, kdim * pw)))
        let maxN = rowsPerBand * pw
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        let col = UnsafeMutablePointer<Float>.allocate(capacity: kdim * maxN)
        let band = UnsafeMutablePointer<Float>.allocate(capacity: outChannels * maxN)
        defer { padded.deallocate(); col.deallocate(); band.deallocate() }
        // zero-padded input, plus 2k slack floats so the last slice of the last channel
        // may run over the plane end into zeros
        (padded + cin * padPlane).initialize(repeating: 0, count: 2 * k)
        input.storage.withUnsafeBufferPointer { src in
            let s = src.baseAddress!
            parallelFor(cin, minPerThread: 4) { range in
                for c in range {
                    let plane = padded + c * padPlane
                    plane.initialize(repeating: 0, count: p * pw)
                    (plane + (p + h) * pw).initialize(repeating: 0, count: p * pw)
                    for y in 0..<h {
                        let row = plane + (y + p) * pw
                        row.initialize(repeating: 0, count: p)
                        (row + p).update(from: s + (c * h + y) * w, count: w)
                        (row + p + w).initialize(repeating: 0, count: p)
                    }
                }
            }
        }
        weights.withUnsafeBufferPointer { wp in
        output.storage.withUnsafeMutableBufferPointer { op in
            let pad = UnsafePointer(padded), colp = col, bandp = band
            let outp = op.baseAddress!
            var y0 = 0
            while y0 < h {
                let rows = Swift.min(rowsPerBand, h - y0)
                let n = rows * pw
                // im2col: row (ci, ky, kx) = padded[ci][(y0+ky)*pw + kx ..< +n]
                parallelFor(kdim, minPerThread: 16) { range in
                    for r in range {
                        let ci = r / kk, t = r % kk, ky = t / k, kx = t % k
                        (colp + r * n).update(from: pad + ci * padPlane + (y0 + ky) * pw + kx, count: n)
                    }
                }
                gemm(m: outChannels, n: n, k: kdim, a: wp.baseAddress!, lda: kdim,
                     b: colp, ldb: n, c: bandp, ldc: n)
                // write back: drop the 2p junk columns, add bias, apply ReLU
                parallelFor(outChannels, minPerThread: 4) { range in
                    for o in range {
                        let b: Float = bias?[o] ?? 0
                        for yy in 0..<rows {
                            let src = bandp + o * n + yy * pw
                            let dst = outp + (o * h + y0 + yy) * w
                            if relu {
                                for x in 0..<w { dst[x] = Swift.max(src[x] + b, 0) }
                            } else {
                                for x in 0..<w { dst[x] = src[x] + b }
                            }
                        }
                    }
                }
                y0 += rows
            }
        }}
        return output
    }

    /// Plain direct convolution, the reference the fast path is tested against.
    public func referenceForward(_ input: Tensor) -> Tensor {
        let h = input.height, w = input.width, k = kernel, p = k / 2
        var out = Tensor(channels: outChannels, height: h, width: w)
        for o in 0..<outChannels {
            for y in 0..<h {
                for x in 0..<w {
                    var s = Double(bias[o])
                    for i in 0..<inChannels {
                        for ky in 0..<k {
                            let yy = y + ky - p
                            if yy < 0 || yy >= h { continue }
                            for kx in 0..<k {
                                let xx = x + kx - p
                                if xx < 0 || xx >= w { continue }
                                s += Double(weights[((o * inChannels + i) * k + ky) * k + kx]) * Double(input[i, yy, xx])
                            }
                        }
                    }
                    out[o, y, x] = Float(s)
                }
            }
        }
        return out
    }
}
