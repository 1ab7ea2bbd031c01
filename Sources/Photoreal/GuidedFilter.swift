import Kernels

/// He, Sun & Tang's guided filter with a colour guide: inside every (2r+1)² window the
/// output is an affine function of the guide's RGB, q = Aᵀ I + b, fitted to the input by
/// ridge regression (ε); the per-window coefficients are averaged over the windows that
/// cover a pixel. This is the "local affine" model of Luan et al.'s smoothing step in
/// closed form (O(N), no solve), and with the coefficients fitted at a low resolution and
/// applied to the full-resolution guide it is He & Sun's fast guided upsampling.
///
/// Written here rather than taken from a library: OpenCV's ximgproc has it, but pulling
/// OpenCV into a Swift package for ~100 lines of box filters is not worth the dependency.
public enum GuidedFilter {
    /// Mean over the (2r+1)² window clipped to the image, of one W×H plane (separable
    /// running sums; O(N) whatever r).
    static func boxMean(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, width w: Int, height h: Int, radius r: Int) {
        var tmp = [Double](repeating: 0, count: w * h)
        tmp.withUnsafeMutableBufferPointer { tp in
            let T = tp.baseAddress!
            for y in 0..<h {   // horizontal sums
                var prefix = [Double](repeating: 0, count: w + 1)
                for x in 0..<w { prefix[x + 1] = prefix[x] + Double(src[y * w + x]) }
                for x in 0..<w {
                    let a = max(0, x - r), b = min(w - 1, x + r)
                    T[y * w + x] = (prefix[b + 1] - prefix[a]) / Double(b - a + 1)
                }
            }
            var prefix = [Double](repeating: 0, count: h + 1)
            for x in 0..<w {   // vertical
                for y in 0..<h { prefix[y + 1] = prefix[y] + T[y * w + x] }
                for y in 0..<h {
                    let a = max(0, y - r), b = min(h - 1, y + r)
                    dst[y * w + x] = Float((prefix[b + 1] - prefix[a]) / Double(b - a + 1))
                }
            }
        }
    }

    /// Box mean of every channel of a tensor.
    public static func boxMean(_ t: Tensor, radius r: Int) -> Tensor {
        var out = Tensor(channels: t.channels, height: t.height, width: t.width)
        let n = t.plane
        t.storage.withUnsafeBufferPointer { sp in
            out.storage.withUnsafeMutableBufferPointer { dp in
                let S = sp.baseAddress!, D = dp.baseAddress!
                parallelFor(t.channels) { cs in
                    for c in cs { boxMean(S + c * n, D + c * n, width: t.width, height: t.height, radius: r) }
                }
            }
        }
        return out
    }

    /// The window-averaged affine coefficients: for each input channel k, 4 planes
    /// (A_r, A_g, A_b, b), so that output_k = A_r·I_r + A_g·I_g + A_b·I_b + b.
    public static func coefficients(guide I: Tensor, input p: Tensor, radius r: Int, epsilon eps: Float) -> Tensor {
        precondition(I.channels == 3 && I.width == p.width && I.height == p.height,
                     "GuidedFilter: guide \(I.shapeDescription) and input \(p.shapeDescription) must be RGB of one size")
        let n = I.plane, k = p.channels
        // products to average: I (3), I·Iᵀ (6), p (k), I·p (3k)
        var prod = Tensor(channels: 9 + 4 * k, height: I.height, width: I.width)
        let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
        for i in 0..<n {
            let v = (I.storage[i], I.storage[n + i], I.storage[2 * n + i])
            let a = [v.0, v.1, v.2]
            for c in 0..<3 { prod.storage[c * n + i] = a[c] }
            for (q, (s, t)) in pairs.enumerated() { prod.storage[(3 + q) * n + i] = a[s] * a[t] }
            for ch in 0..<k {
                let pv = p.storage[ch * n + i]
                prod.storage[(9 + ch) * n + i] = pv
                for c in 0..<3 { prod.storage[(9 + k + 3 * ch + c) * n + i] = a[c] * pv }
            }
        }
        let m = boxMean(prod, radius: r)
        var coef = Tensor(channels: 4 * k, height: I.height, width: I.width)
        for i in 0..<n {
            let mu = (Double(m.storage[i]), Double(m.storage[n + i]), Double(m.storage[2 * n + i]))
            let e = Double(eps)
            let a = Double(m.storage[3 * n + i]) - mu.0 * mu.0 + e, b = Double(m.storage[4 * n + i]) - mu.0 * mu.1
            let c = Double(m.storage[5 * n + i]) - mu.0 * mu.2, d = Double(m.storage[6 * n + i]) - mu.1 * mu.1 + e
            let f = Double(m.storage[7 * n + i]) - mu.1 * mu.2, g = Double(m.storage[8 * n + i]) - mu.2 * mu.2 + e
            let A = d * g - f * f, B = c * f - b * g, C = b * f - c * d
            let E = a * g - c * c, F = b * c - a * f, H = a * d - b * b
            let det = a * A + b * B + c * C
            for ch in 0..<k {
                let mp = Double(m.storage[(9 + ch) * n + i])
                let base = 9 + k + 3 * ch
                let cr = Double(m.storage[base * n + i]) - mu.0 * mp
                let cg = Double(m.storage[(base + 1) * n + i]) - mu.1 * mp
                let cb = Double(m.storage[(base + 2) * n + i]) - mu.2 * mp
                let ar = (A * cr + B * cg + C * cb) / det
                let ag = (B * cr + E * cg + F * cb) / det
                let ab = (C * cr + F * cg + H * cb) / det
                coef.storage[(4 * ch) * n + i] = Float(ar)
                coef.storage[(4 * ch + 1) * n + i] = Float(ag)
                coef.storage[(4 * ch + 2) * n + i] = Float(ab)
                coef.storage[(4 * ch + 3) * n + i] = Float(mp - ar * mu.0 - ag * mu.1 - ab * mu.2)
            }
        }
        return boxMean(coef, radius: r)
    }

    /// Applies averaged coefficients (from `coefficients`, at any size: they are
    /// interpolated bilinearly to the guide's, as `Resize.bilinear` would, but pixel by
    /// pixel, so a full-size photo never holds 12 full-size coefficient planes).
    public static func apply(coefficients coef: Tensor, guide I: Tensor) -> Tensor {
        precondition(I.channels == 3 && coef.channels % 4 == 0, "GuidedFilter.apply: guide \(I.shapeDescription), coefficients \(coef.shapeDescription)")
        let k = coef.channels / 4, n = I.plane, w = I.width, h = I.height
        let cw = coef.width, ch = coef.height, cn = coef.plane
        let ty = Resize.taps(src: ch, dst: h), tx = Resize.taps(src: cw, dst: w)
        var out = Tensor(channels: k, height: h, width: w)
        coef.storage.withUnsafeBufferPointer { cp in
        I.storage.withUnsafeBufferPointer { ip in
        out.storage.withUnsafeMutableBufferPointer { op in
            let C = cp.baseAddress!, G = ip.baseAddress!, O = op.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let (y0, y1, fy) = ty[y]
                    for x in 0..<w {
                        let (x0, x1, fx) = tx[x]
                        let i = y * w + x
                        @inline(__always) func sample(_ plane: Int) -> Float {
                            let p = C + plane * cn
                            let top = p[y0 * cw + x0] + fx * (p[y0 * cw + x1] - p[y0 * cw + x0])
                            let bot = p[y1 * cw + x0] + fx * (p[y1 * cw + x1] - p[y1 * cw + x0])
                            return top + fy * (bot - top)
                        }
                        for c in 0..<k {
                            O[c * n + i] = sample(4 * c) * G[i] + sample(4 * c + 1) * G[n + i]
                                + sample(4 * c + 2) * G[2 * n + i] + sample(4 * c + 3)
                        }
                    }
                }
            }
        }}}
        return out
    }

    /// The guided filter: `input` smoothed with edges taken from `guide` (same size).
    public static func filter(guide: Tensor, input: Tensor, radius: Int, epsilon: Float) -> Tensor {
        apply(coefficients: coefficients(guide: guide, input: input, radius: radius, epsilon: epsilon), guide: guide)
    }

    /// Guided upsampling: `lowResult`, computed from `lowGuide` (the guide scaled down to
    /// its size), brought to `guide`'s full resolution: its local colour mapping is applied
    /// to the full-size guide, so edges and detail come from the original.
    public static func upsample(lowResult: Tensor, lowGuide: Tensor, guide: Tensor, radius: Int, epsilon: Float) -> Tensor {
        let coef = coefficients(guide: lowGuide, input: lowResult, radius: radius, epsilon: epsilon)
        var out = apply(coefficients: coef, guide: guide)
        out.clamp(0, 1)
        return out
    }
}
