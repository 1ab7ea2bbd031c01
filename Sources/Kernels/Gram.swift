/// The Gram style term, written once: the plain style loss (Gatys) is the case without a
/// mask, Luan et al.'s segmented one calls it per label with that label's mask.
///
/// G = (F⊙M)(F⊙M)ᵀ / (C·H·W·mean(M)) of a C×H×W feature map F under an H×W mask M
/// (none: M = 1), C×C row-major. The term is weight · mean((G − Ĝ)²) over the C×C entries;
/// its gradient is weight · 4/(C²·C·H·W·mean(M)) · ((G − Ĝ)(F⊙M)) ⊙ M.
public enum GramStyle {
    /// The Gram matrix and the mask's mean; nil when the mask is (numerically) empty.
    /// `masked` receives F⊙M when there is a mask (the gradient reuses it).
    public static func gram(_ f: Tensor, mask: UnsafePointer<Float>?, masked: inout [Float]) -> (gram: [Float], mean: Double)? {
        let c = f.channels, n = f.plane
        var g = [Float](repeating: 0, count: c * c)
        guard n > 0 else { return (g, 1) }
        var mean = 1.0
        if let mask {
            mean = 0
            for i in 0..<n { mean += Double(mask[i]) }
            mean /= Double(n)
            guard mean > 1e-6 else { return nil }
            if masked.count != f.count { masked = [Float](repeating: 0, count: f.count) }
            f.storage.withUnsafeBufferPointer { fp in
                masked.withUnsafeMutableBufferPointer { p in
                    for ch in 0..<c { for i in 0..<n { p[ch * n + i] = fp[ch * n + i] * mask[i] } }
                }
            }
        }
        let alpha = mask == nil ? 1 / Float(c * n) : Float(1 / (Double(c * n) * mean))
        (mask == nil ? f.storage : masked).withUnsafeBufferPointer { fp in
            g.withUnsafeMutableBufferPointer { gp in
                gemm(transB: true, m: c, n: c, k: n, alpha: alpha,
                     a: fp.baseAddress!, lda: n, b: fp.baseAddress!, ldb: n, c: gp.baseAddress!, ldc: c)
            }
        }
        return (g, mean)
    }

    /// The Gram matrix of `f` under `mask` (none: the plain one); nil for an empty mask.
    public static func gram(_ f: Tensor, mask: UnsafePointer<Float>? = nil) -> [Float]? {
        var scratch: [Float] = []
        return gram(f, mask: mask, masked: &scratch)?.gram
    }

    /// The term against `target`, its gradient added to `gradient`; nil (nothing added)
    /// for an empty mask. `scratch`: reusable buffers for the masked case.
    public static func term(_ f: Tensor, mask: UnsafePointer<Float>?, target: [Float], weight: Double,
                            gradient: inout Tensor, scratch: inout (masked: [Float], product: [Float])) -> Double? {
        let c = f.channels, n = f.plane
        precondition(target.count == c * c, "GramStyle: target of \(target.count) values for \(c) channels")
        guard let (gram, mean) = gram(f, mask: mask, masked: &scratch.masked) else { return nil }
        var d = gram
        var sum = 0.0
        for i in 0..<d.count { d[i] -= target[i]; sum += Double(d[i] * d[i]) }
        guard n > 0 else { return weight * sum / Double(c * c) }
        let alpha = Float(4 * weight / (Double(c * c) * Double(c * n) * mean))
        if let mask {
            if scratch.product.count != f.count { scratch.product = [Float](repeating: 0, count: f.count) }
            d.withUnsafeBufferPointer { dp in
                scratch.masked.withUnsafeBufferPointer { p in
                    scratch.product.withUnsafeMutableBufferPointer { op in
                        gemm(m: c, n: n, k: c, alpha: alpha, a: dp.baseAddress!, lda: c,
                             b: p.baseAddress!, ldb: n, c: op.baseAddress!, ldc: n)
                    }
                }
            }
            let product = scratch.product
            gradient.storage.withUnsafeMutableBufferPointer { gp in
                for ch in 0..<c { for i in 0..<n { gp[ch * n + i] += product[ch * n + i] * mask[i] } }
            }
        } else {
            d.withUnsafeBufferPointer { dp in
            f.storage.withUnsafeBufferPointer { fp in
            gradient.storage.withUnsafeMutableBufferPointer { gp in
                gemm(m: c, n: n, k: c, alpha: alpha, a: dp.baseAddress!, lda: c,
                     b: fp.baseAddress!, ldb: n, beta: 1, c: gp.baseAddress!, ldc: n)
            }}}
        }
        return weight * sum / Double(c * c)
    }
}
