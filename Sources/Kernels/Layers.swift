/// Elementwise and pooling layers with their backward passes.
public enum Layers {
    /// ReLU backward: passes the gradient where the layer's *output* is positive.
    public static func reluBackward(_ grad: inout Tensor, output: Tensor) {
        precondition(grad.sameShape(output), "reluBackward: \(grad.shapeDescription) vs \(output.shapeDescription)")
        output.storage.withUnsafeBufferPointer { o in
            grad.storage.withUnsafeMutableBufferPointer { g in
                let op = o.baseAddress!, gp = g.baseAddress!
                parallelFor(g.count, minPerThread: 1 << 16) { r in
                    for i in r where op[i] <= 0 { gp[i] = 0 }
                }
            }
        }
    }

    /// `maxBlur`: max over each 2×2 window at stride 1, then a [1 3 3 1]/8 blur applied
    /// at stride 2 (Zhang, "Making Convolutional Networks Shift-Invariant Again", 2019):
    /// max pooling's selectivity without its aliasing.
    public enum Pooling: String, Sendable, CaseIterable, Codable { case max, average, maxBlur = "max-blur" }

    /// 2×2 pooling with stride 2; odd trailing rows/columns are dropped (floor), as in
    /// PyTorch and Caffe-converted VGGs with even inputs.
    public static func pool2x2(_ x: Tensor, _ kind: Pooling) -> Tensor {
        if kind == .maxBlur { return maxBlurPool(x) }
        let oh = x.height / 2, ow = x.width / 2, w = x.width, h = x.height
        var out = Tensor(channels: x.channels, height: oh, width: ow)
        x.storage.withUnsafeBufferPointer { xs in
            out.storage.withUnsafeMutableBufferPointer { os in
                let xp = xs.baseAddress!, op = os.baseAddress!
                parallelFor(x.channels, minPerThread: 4) { range in
                    for c in range {
                        let src = xp + c * h * w, dst = op + c * oh * ow
                        for y in 0..<oh {
                            let r0 = src + 2 * y * w, r1 = r0 + w
                            for xx in 0..<ow {
                                let a = r0[2 * xx], b = r0[2 * xx + 1], cc = r1[2 * xx], d = r1[2 * xx + 1]
                                dst[y * ow + xx] = kind == .max ? Swift.max(Swift.max(a, b), Swift.max(cc, d))
                                                                : 0.25 * (a + b + cc + d)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Backward of `pool2x2`. Max pooling routes each gradient to the first maximal input
    /// of its window (ties go to the first in row-major order, as in PyTorch).
    public static func pool2x2Backward(_ grad: Tensor, input x: Tensor, _ kind: Pooling) -> Tensor {
        let oh = x.height / 2, ow = x.width / 2, w = x.width, h = x.height
        precondition(grad.channels == x.channels && grad.height == oh && grad.width == ow,
                     "pool2x2Backward: gradient \(grad.shapeDescription) for input \(x.shapeDescription)")
        if kind == .maxBlur { return maxBlurPoolBackward(grad, input: x) }
        var out = Tensor.zeros(like: x)
        x.storage.withUnsafeBufferPointer { xs in
        grad.storage.withUnsafeBufferPointer { gs in
        out.storage.withUnsafeMutableBufferPointer { os in
            let xp = xs.baseAddress!, gp = gs.baseAddress!, op = os.baseAddress!
            parallelFor(x.channels, minPerThread: 4) { range in
                for c in range {
                    let src = xp + c * h * w, g = gp + c * oh * ow, dst = op + c * h * w
                    for y in 0..<oh {
                        for xx in 0..<ow {
                            let gv = g[y * ow + xx]
                            let i0 = 2 * y * w + 2 * xx
                            if kind == .average {
                                let q = 0.25 * gv
                                dst[i0] = q; dst[i0 + 1] = q; dst[i0 + w] = q; dst[i0 + w + 1] = q
                            } else {
                                dst[windowArgmax(src, 2 * y, 2 * xx, h, w)] = gv
                            }
                        }
                    }
                }
            }
        }}}
        return out
    }

    /// The blur's taps: output i reads rows 2i − 1 … 2i + 2 (clamped to the image).
    static let blurTaps: (Float, Float, Float, Float) = (0.125, 0.375, 0.375, 0.125)

    /// Index of the first maximal element (row-major, as PyTorch) of the 2×2 window at
    /// (y, x) of a plane, clamped to the plane at its last row and column.
    @inline(__always)
    static func windowArgmax(_ p: UnsafePointer<Float>, _ y: Int, _ x: Int, _ h: Int, _ w: Int) -> Int {
        let y1 = Swift.min(y + 1, h - 1), x1 = Swift.min(x + 1, w - 1)
        var best = y * w + x
        if p[y * w + x1] > p[best] { best = y * w + x1 }
        if p[y1 * w + x] > p[best] { best = y1 * w + x }
        if p[y1 * w + x1] > p[best] { best = y1 * w + x1 }
        return best
    }

    static func maxBlurPool(_ x: Tensor) -> Tensor {
        let h = x.height, w = x.width, oh = h / 2, ow = w / 2
        var out = Tensor(channels: x.channels, height: oh, width: ow)
        if oh == 0 || ow == 0 { return out }
        let k = blurTaps
        x.storage.withUnsafeBufferPointer { xs in
        out.storage.withUnsafeMutableBufferPointer { os in
            let xp = xs.baseAddress!, op = os.baseAddress!
            parallelFor(x.channels, minPerThread: 4) { range in
                let m = UnsafeMutablePointer<Float>.allocate(capacity: h * w)      // stride-1 max
                let r = UnsafeMutablePointer<Float>.allocate(capacity: oh * w)     // blurred down the rows
                defer { m.deallocate(); r.deallocate() }
                for c in range {
                    let src = xp + c * h * w, dst = op + c * oh * ow
                    for y in 0..<h { for xx in 0..<w { m[y * w + xx] = src[windowArgmax(src, y, xx, h, w)] } }
                    for i in 0..<oh {
                        let a = m + Swift.max(2 * i - 1, 0) * w, b = m + 2 * i * w
                        let cc = m + Swift.min(2 * i + 1, h - 1) * w, d = m + Swift.min(2 * i + 2, h - 1) * w
                        for xx in 0..<w { r[i * w + xx] = k.0 * a[xx] + k.1 * b[xx] + k.2 * cc[xx] + k.3 * d[xx] }
                    }
                    for i in 0..<oh {
                        let row = r + i * w
                        for j in 0..<ow {
                            dst[i * ow + j] = k.0 * row[Swift.max(2 * j - 1, 0)] + k.1 * row[2 * j]
                                + k.2 * row[Swift.min(2 * j + 1, w - 1)] + k.3 * row[Swift.min(2 * j + 2, w - 1)]
                        }
                    }
                }
            }
        }}
        return out
    }

    static func maxBlurPoolBackward(_ grad: Tensor, input x: Tensor) -> Tensor {
        let h = x.height, w = x.width, oh = h / 2, ow = w / 2
        var out = Tensor.zeros(like: x)
        if oh == 0 || ow == 0 { return out }
        let k = blurTaps
        let taps: [Float] = [k.0, k.1, k.2, k.3]
        x.storage.withUnsafeBufferPointer { xs in
        grad.storage.withUnsafeBufferPointer { gs in
        out.storage.withUnsafeMutableBufferPointer { os in
            let xp = xs.baseAddress!, gp = gs.baseAddress!, op = os.baseAddress!
            parallelFor(x.channels, minPerThread: 4) { range in
                let r = UnsafeMutablePointer<Float>.allocate(capacity: oh * w)     // d/d(row-blurred)
                let m = UnsafeMutablePointer<Float>.allocate(capacity: h * w)      // d/d(stride-1 max)
                defer { r.deallocate(); m.deallocate() }
                for c in range {
                    let src = xp + c * h * w, g = gp + c * oh * ow, dst = op + c * h * w
                    r.initialize(repeating: 0, count: oh * w)
                    m.initialize(repeating: 0, count: h * w)
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let gv = g[i * ow + j]
                            for (t, kt) in taps.enumerated() { r[i * w + Swift.min(Swift.max(2 * j - 1 + t, 0), w - 1)] += kt * gv }
                        }
                    }
                    for i in 0..<oh {
                        for (t, kt) in taps.enumerated() {
                            let y = Swift.min(Swift.max(2 * i - 1 + t, 0), h - 1)
                            for xx in 0..<w { m[y * w + xx] += kt * r[i * w + xx] }
                        }
                    }
                    for y in 0..<h {
                        for xx in 0..<w where m[y * w + xx] != 0 {
                            dst[windowArgmax(src, y, xx, h, w)] += m[y * w + xx]
                        }
                    }
                }
            }
        }}}
        return out
    }
}
