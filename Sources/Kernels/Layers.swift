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

    public enum Pooling: String, Sendable, CaseIterable { case max, average }

    /// 2×2 pooling with stride 2; odd trailing rows/columns are dropped (floor), as in
    /// PyTorch and Caffe-converted VGGs with even inputs.
    public static func pool2x2(_ x: Tensor, _ kind: Pooling) -> Tensor {
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
                                var best = i0
                                if src[i0 + 1] > src[best] { best = i0 + 1 }
                                if src[i0 + w] > src[best] { best = i0 + w }
                                if src[i0 + w + 1] > src[best] { best = i0 + w + 1 }
                                dst[best] = gv
                            }
                        }
                    }
                }
            }
        }}}
        return out
    }
}
