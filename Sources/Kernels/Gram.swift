/// The Gram style term, written once: the plain style loss (Gatys) is the case without a
/// mask, Luan et al.'s segmented one calls it per label with that label's mask.
///
/// G = (F⊙M)(F⊙M)ᵀ / (C·H·W·mean(M)) of a C×H×W feature map F under an H×W mask M
/// (none: M = 1), C×C row-major. The term is weight · mean((G − Ĝ)²) over the C×C entries;
/// its gradient is weight · 4/(C²·C·H·W·mean(M)) · ((G − Ĝ)(F⊙M)) ⊙ M.
///
/// The pieces are public so a feature map seen in tiles can be summed tile by tile: the
/// unnormalised sums S = (F⊙M)(F⊙M)ᵀ and ΣM add up over the tiles, G = S / (C·ΣM), and
/// the gradient of each tile needs only G and the tile's own features.
public enum GramStyle {
    /// S = (F⊙M)(F⊙M)ᵀ (C×C) and ΣM (H·W without a mask) over the pixels `f` holds.
    /// `masked` receives F⊙M when there is a mask.
    public static func sums(_ f: Tensor, mask: UnsafePointer<Float>?, masked: inout [Float]) -> (sums: [Float], maskSum: Double) {
        let c = f.channels, n = f.plane
        var s = [Float](repeating: 0, count: c * c)
        guard n > 0 else { return (s, 0) }
        var maskSum = Double(n)
        if let mask {
            maskSum = 0
            for i in 0..<n { maskSum += Double(mask[i]) }
            applyMask(f, mask, into: &masked)
        }
        (mask == nil ? f.storage : masked).withUnsafeBufferPointer { fp in
            s.withUnsafeMutableBufferPointer { gp in
                gemm(transB: true, m: c, n: c, k: n, alpha: 1,
                     a: fp.baseAddress!, lda: n, b: fp.baseAddress!, ldb: n, c: gp.baseAddress!, ldc: c)
            }
        }
        return (s, maskSum)
    }

    /// F⊙M into `masked` (resized to f's count).
    public static func applyMask(_ f: Tensor, _ mask: UnsafePointer<Float>, into masked: inout [Float]) {
        let c = f.channels, n = f.plane
        if masked.count != f.count { masked = [Float](repeating: 0, count: f.count) }
        f.storage.withUnsafeBufferPointer { fp in
            masked.withUnsafeMutableBufferPointer { p in
                for ch in 0..<c { for i in 0..<n { p[ch * n + i] = fp[ch * n + i] * mask[i] } }
            }
        }
    }

    /// True when a mask's sum over a map of `area` pixels is (numerically) empty.
    public static func isEmpty(maskSum: Double, area: Int) -> Bool { maskSum <= 1e-6 * Double(area) }

    /// The Gram matrix and the mask's mean; nil when the mask is (numerically) empty.
    /// `masked` receives F⊙M when there is a mask (the gradient reuses it).
    public static func gram(_ f: Tensor, mask: UnsafePointer<Float>?, masked: inout [Float]) -> (gram: [Float], mean: Double)? {
        let n = f.plane
        let (s, maskSum) = sums(f, mask: mask, masked: &masked)
        guard n > 0 else { return (s, 1) }
        guard !isEmpty(maskSum: maskSum, area: n) else { return nil }
        let alpha = Float(1 / (Double(f.channels) * maskSum))
        return (s.map { $0 * alpha }, maskSum / Double(n))
    }

    /// The Gram matrix of `f` under `mask` (none: the plain one); nil for an empty mask.
    public static func gram(_ f: Tensor, mask: UnsafePointer<Float>? = nil) -> [Float]? {
        var scratch: [Float] = []
        return gram(f, mask: mask, masked: &scratch)?.gram
    }

    /// The term's value for a Gram matrix against its target: weight · mean((G − Ĝ)²), and
    /// the difference G − Ĝ the gradient needs.
    public static func value(gram: [Float], target: [Float], weight: Double) -> (value: Double, difference: [Float]) {
        precondition(target.count == gram.count, "GramStyle: target of \(target.count) values for a \(gram.count)-entry Gram matrix")
        var d = gram
        var sum = 0.0
        for i in 0..<d.count { d[i] -= target[i]; sum += Double(d[i] * d[i]) }
        return (weight * sum / Double(max(1, d.count)), d)
    }

    /// The gradient's scale: 4·weight / (C²·C·ΣM) (ΣM over the whole map).
    public static func gradientScale(channels c: Int, weight: Double, maskSum: Double) -> Float {
        Float(4 * weight / (Double(c * c) * Double(c) * maskSum))
    }

    /// gradient += alpha · ((D (F⊙M)) ⊙ M) over the pixels `f` holds; `masked` must hold
    /// F⊙M when there is a mask (from `sums` on the same f and mask).
    public static func addGradient(_ f: Tensor, mask: UnsafePointer<Float>?, masked: [Float], difference d: [Float], alpha: Float,
                                   gradient: inout Tensor, product: inout [Float]) {
        let c = f.channels, n = f.plane
        guard n > 0 else { return }
        precondition(gradient.sameShape(f), "GramStyle: gradient \(gradient.shapeDescription) for features \(f.shapeDescription)")
        if let mask {
            if product.count != f.count { product = [Float](repeating: 0, count: f.count) }
            d.withUnsafeBufferPointer { dp in
                masked.withUnsafeBufferPointer { p in
                    product.withUnsafeMutableBufferPointer { op in
                        gemm(m: c, n: n, k: c, alpha: alpha, a: dp.baseAddress!, lda: c,
                             b: p.baseAddress!, ldb: n, c: op.baseAddress!, ldc: n)
                    }
                }
            }
            let prod = product
            gradient.storage.withUnsafeMutableBufferPointer { gp in
                for ch in 0..<c { for i in 0..<n { gp[ch * n + i] += prod[ch * n + i] * mask[i] } }
            }
        } else {
            d.withUnsafeBufferPointer { dp in
            f.storage.withUnsafeBufferPointer { fp in
            gradient.storage.withUnsafeMutableBufferPointer { gp in
                gemm(m: c, n: n, k: c, alpha: alpha, a: dp.baseAddress!, lda: c,
                     b: fp.baseAddress!, ldb: n, beta: 1, c: gp.baseAddress!, ldc: n)
            }}}
        }
    }

    /// The term against `target`, its gradient added to `gradient`; nil (nothing added)
    /// for an empty mask. `scratch`: reusable buffers for the masked case.
    public static func term(_ f: Tensor, mask: UnsafePointer<Float>?, target: [Float], weight: Double,
                            gradient: inout Tensor, scratch: inout (masked: [Float], product: [Float])) -> Double? {
        let c = f.channels, n = f.plane
        precondition(target.count == c * c, "GramStyle: target of \(target.count) values for \(c) channels")
        guard let (gram, mean) = gram(f, mask: mask, masked: &scratch.masked) else { return nil }
        let (value, d) = self.value(gram: gram, target: target, weight: weight)
        guard n > 0 else { return value }
        addGradient(f, mask: mask, masked: scratch.masked, difference: d,
                    alpha: gradientScale(channels: c, weight: weight, maskSum: mean * Double(n)),
                    gradient: &gradient, product: &scratch.product)
        return value
    }
}
