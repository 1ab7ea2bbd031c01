import Kernels

/// Levin, Lischinski & Weiss' matting Laplacian of an RGB image (values 0...1), the
/// photorealism regulariser of Luan et al.'s Deep Photo Style Transfer:
///   L_ij = Σ_{k: i,j ∈ w_k} (δ_ij − (1 + (I_i − μ_k)ᵀ (Σ_k + ε/9·I₃)⁻¹ (I_j − μ_k)) / 9)
/// over the 3×3 windows w_k that lie inside the image. Two pixels share a window only if
/// they are at most 2 apart in x and y, so L is stored as 25 bands: row i holds the
/// coefficients of its 5×5 neighbourhood (zeros outside the image). Symmetric, positive
/// semi-definite, rows summing to zero; V ↦ VᵀLV is ~0 for any V that is locally an
/// affine function of the image's colours.
public struct MattingLaplacian: Sendable {
    public let width: Int
    public let height: Int
    /// bands[i * 25 + (dy + 2) * 5 + (dx + 2)] = L(i, i + (dx, dy)).
    public let bands: [Float]
    /// Per window centre (interior pixels; zeros elsewhere): the window's mean colour (3)
    /// and the inverse of its regularised covariance (9), in Double — what the energy
    /// needs in the residual form (see `PhotorealismLoss`).
    public let windowMean: [Double]
    public let windowInverse: [Double]
    public let epsilon: Float
    /// The content's colours, interleaved RGB per pixel.
    public let guide: [Float]

    public static let defaultEpsilon: Float = 1e-7

    /// Builds L from a 3×H×W tensor. Parallel over rows; each row gathers from the
    /// windows that contain it, so no two threads write the same coefficient.
    /// `bands: false` keeps only the per-window data the photorealism term needs (the
    /// optimiser never multiplies by L): about half the build time and 100 bytes per
    /// pixel less; `multiply` and `solve` then refuse.
    public init(image: Tensor, epsilon: Float = MattingLaplacian.defaultEpsilon, bands withBands: Bool = true) {
        precondition(image.channels == 3, "MattingLaplacian: an RGB image is needed, got \(image.shapeDescription)")
        let w = image.width, h = image.height, n = w * h
        width = w; height = h; self.epsilon = epsilon
        var g = [Float](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { g[3 * i + c] = image.storage[c * n + i] } }
        guide = g
        // per window (centre c, interior pixels only): mean and inverse regularised covariance
        var mean = [Float](repeating: 0, count: n * 3)
        var inv = [Float](repeating: 0, count: n * 9)
        var meanD = [Double](repeating: 0, count: n * 3)
        var invD = [Double](repeating: 0, count: n * 9)
        image.storage.withUnsafeBufferPointer { src in
        mean.withUnsafeMutableBufferPointer { mp in
        inv.withUnsafeMutableBufferPointer { ip in
        meanD.withUnsafeMutableBufferPointer { mdp in
        invD.withUnsafeMutableBufferPointer { idp in
            let S = src.baseAddress!, M = mp.baseAddress!, INV = ip.baseAddress!, MD = mdp.baseAddress!, ID = idp.baseAddress!
            parallelFor(max(0, h - 2), minPerThread: 8) { rows in
                for cy in rows.lowerBound + 1 ..< rows.upperBound + 1 {
                    for cx in 1..<(w - 1) {
                        var m = (0.0, 0.0, 0.0)
                        var rr = 0.0, rg = 0.0, rb = 0.0, gg = 0.0, gb = 0.0, bb2 = 0.0
                        for dy in -1...1 { for dx in -1...1 {
                            let p = (cy + dy) * w + cx + dx
                            let r = Double(S[p]), g = Double(S[n + p]), b = Double(S[2 * n + p])
                            m.0 += r; m.1 += g; m.2 += b
                            rr += r * r; rg += r * g; rb += r * b; gg += g * g; gb += g * b; bb2 += b * b
                        }}
                        m = (m.0 / 9, m.1 / 9, m.2 / 9)
                        let e = Double(epsilon) / 9
                        let a = rr / 9 - m.0 * m.0 + e, bb = rg / 9 - m.0 * m.1, c = rb / 9 - m.0 * m.2
                        let d = gg / 9 - m.1 * m.1 + e, f = gb / 9 - m.1 * m.2, g = bb2 / 9 - m.2 * m.2 + e
                        // inverse of the symmetric [[a b c] [b d f] [c f g]]
                        let A = d * g - f * f, B = c * f - bb * g, C = bb * f - c * d
                        let det = a * A + bb * B + c * C
                        let k = cy * w + cx
                        M[3 * k] = Float(m.0); M[3 * k + 1] = Float(m.1); M[3 * k + 2] = Float(m.2)
                        let E = a * g - c * c, F = bb * c - a * f, I = a * d - bb * bb
                        let q = INV + 9 * k
                        q[0] = Float(A / det); q[1] = Float(B / det); q[2] = Float(C / det)
                        q[3] = Float(B / det); q[4] = Float(E / det); q[5] = Float(F / det)
                        q[6] = Float(C / det); q[7] = Float(F / det); q[8] = Float(I / det)
                        MD[3 * k] = m.0; MD[3 * k + 1] = m.1; MD[3 * k + 2] = m.2
                        let qd = ID + 9 * k
                        qd[0] = A / det; qd[1] = B / det; qd[2] = C / det
                        qd[3] = B / det; qd[4] = E / det; qd[5] = F / det
                        qd[6] = C / det; qd[7] = F / det; qd[8] = I / det
                    }
                }
            }
        }}}}}
        windowMean = meanD; windowInverse = invD
        var bands = [Float](repeating: 0, count: withBands ? n * 25 : 0)
        // an image under 3×3 has no window: L = 0
        if withBands && w >= 3 && h >= 3 {
        image.storage.withUnsafeBufferPointer { src in
        mean.withUnsafeBufferPointer { mp in
        inv.withUnsafeBufferPointer { ip in
        bands.withUnsafeMutableBufferPointer { bp in
            let S = src.baseAddress!, M = mp.baseAddress!, INV = ip.baseAddress!, B = bp.baseAddress!
            parallelFor(h, minPerThread: 8) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        // the windows containing i: centres within 1 of it, inside the border
                        for cy in max(1, y - 1)...min(h - 2, y + 1) {
                            for cx in max(1, x - 1)...min(w - 2, x + 1) {
                                let k = cy * w + cx
                                let mk = (M[3 * k], M[3 * k + 1], M[3 * k + 2])
                                let q = INV + 9 * k
                                let di = (S[i] - mk.0, S[n + i] - mk.1, S[2 * n + i] - mk.2)
                                // (I_i − μ)ᵀ Σ⁻¹, once per window
                                let t = (di.0 * q[0] + di.1 * q[3] + di.2 * q[6],
                                         di.0 * q[1] + di.1 * q[4] + di.2 * q[7],
                                         di.0 * q[2] + di.1 * q[5] + di.2 * q[8])
                                for jy in (cy - 1)...(cy + 1) {
                                    for jx in (cx - 1)...(cx + 1) {
                                        let j = jy * w + jx
                                        let dj = (S[j] - mk.0, S[n + j] - mk.1, S[2 * n + j] - mk.2)
                                        let v = (i == j ? 1 : 0) - (1 + t.0 * dj.0 + t.1 * dj.1 + t.2 * dj.2) / 9
                                        B[i * 25 + (jy - y + 2) * 5 + (jx - x + 2)] += v
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }}}}
        }
        self.bands = bands
    }

    /// y = L·x for one plane of W×H values.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        precondition(bands.count == width * height * 25, "MattingLaplacian.multiply: built with bands: false")
        let w = width, h = height
        bands.withUnsafeBufferPointer { bp in
            let B = bp.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for py in rows {
                    let y0 = max(0, py - 2), y1 = min(h - 1, py + 2)
                    for px in 0..<w {
                        let i = py * w + px
                        let x0 = max(0, px - 2), x1 = min(w - 1, px + 2)
                        var s: Float = 0
                        for jy in y0...y1 {
                            let row = B + i * 25 + (jy - py + 2) * 5 + 2 - px
                            for jx in x0...x1 { s += row[jx] * x[jy * w + jx] }
                        }
                        y[i] = s
                    }
                }
            }
        }
    }

    public func multiply(_ x: [Float]) -> [Float] {
        precondition(x.count == width * height, "MattingLaplacian: \(x.count) values for \(width)×\(height)")
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { multiply(xp.baseAddress!, into: $0.baseAddress!) } }
        return y
    }
}

/// Luan et al.'s photorealism term λ·Σ_c V_cᵀ L V_c on the result's channels (0...1),
/// gradient 2λ·L·V_c.
///
/// Evaluated in Levin et al.'s equivalent form rather than through the stored bands:
/// VᵀLV = Σ_k min_{a,b} Σ_{i∈w_k} (v_i − aᵀI_i − b)² + ε‖a‖², a ridge fit of V against the
/// content's colours in every 3×3 window, and (envelope theorem) ∂/∂v_i = 2 Σ_{k∋i} r_i^k,
/// the residuals of those fits. A sum of squares cannot go negative; the float bands can:
/// on flat, 8-bit-quantised areas (Σ_k ≈ ε/9, entries of L in the thousands) their
/// rounding made L indefinite and L-BFGS ran off to −2e9 on a video frame (measured).
public struct PhotorealismLoss: Sendable {
    public let laplacian: MattingLaplacian
    public let weight: Float
    public init(laplacian: MattingLaplacian, weight: Float) { self.laplacian = laplacian; self.weight = weight }

    public func evaluate(_ image: Tensor, gradient: inout Tensor) -> Double {
        let L = laplacian
        precondition(image.width == L.width && image.height == L.height,
                     "PhotorealismLoss: image \(image.shapeDescription) vs Laplacian \(L.width)×\(L.height)")
        let w = L.width, h = L.height, n = w * h
        guard w >= 3 && h >= 3 else { return 0 }
        let eps = Double(L.epsilon)
        let guide = L.guide
        var total = 0.0
        // per window: the fit's slope (3) and the window's mean of v; then each pixel
        // gathers its residuals from the windows that contain it
        var fit = [Double](repeating: 0, count: n * 4)
        var rowEnergy = [Double](repeating: 0, count: h)
        for c in 0..<image.channels {
            image.storage.withUnsafeBufferPointer { vp in
            guide.withUnsafeBufferPointer { gp in
            L.windowMean.withUnsafeBufferPointer { mp in
            L.windowInverse.withUnsafeBufferPointer { ip in
            fit.withUnsafeMutableBufferPointer { fp in
            rowEnergy.withUnsafeMutableBufferPointer { ep in
                let V = vp.baseAddress! + c * n, G = gp.baseAddress!, M = mp.baseAddress!, INV = ip.baseAddress!
                let FIT = fp.baseAddress!, E = ep.baseAddress!
                parallelFor(h - 2, minPerThread: 8) { rows in
                    for cy in rows.lowerBound + 1 ..< rows.upperBound + 1 {
                        var e = 0.0
                        for cx in 1..<(w - 1) {
                            let k = cy * w + cx
                            var vm = 0.0
                            for dy in -1...1 { for dx in -1...1 { vm += Double(V[k + dy * w + dx]) } }
                            vm /= 9
                            let mu = (M[3 * k], M[3 * k + 1], M[3 * k + 2])
                            var cv = (0.0, 0.0, 0.0)
                            for dy in -1...1 { for dx in -1...1 {
                                let p = k + dy * w + dx
                                let dv = Double(V[p]) - vm
                                cv.0 += (Double(G[3 * p]) - mu.0) * dv
                                cv.1 += (Double(G[3 * p + 1]) - mu.1) * dv
                                cv.2 += (Double(G[3 * p + 2]) - mu.2) * dv
                            }}
                            cv = (cv.0 / 9, cv.1 / 9, cv.2 / 9)
                            let q = INV + 9 * k
                            let a = (q[0] * cv.0 + q[1] * cv.1 + q[2] * cv.2,
                                     q[3] * cv.0 + q[4] * cv.1 + q[5] * cv.2,
                                     q[6] * cv.0 + q[7] * cv.1 + q[8] * cv.2)
                            FIT[4 * k] = a.0; FIT[4 * k + 1] = a.1; FIT[4 * k + 2] = a.2; FIT[4 * k + 3] = vm
                            for dy in -1...1 { for dx in -1...1 {
                                let p = k + dy * w + dx
                                let r = (Double(V[p]) - vm) - (a.0 * (Double(G[3 * p]) - mu.0) + a.1 * (Double(G[3 * p + 1]) - mu.1)
                                                              + a.2 * (Double(G[3 * p + 2]) - mu.2))
                                e += r * r
                            }}
                            e += eps * (a.0 * a.0 + a.1 * a.1 + a.2 * a.2)
                        }
                        E[cy] = e
                    }
                }
            }}}}}}
            for y in 1..<(h - 1) { total += rowEnergy[y] }
            let scale = Double(2 * weight)
            image.storage.withUnsafeBufferPointer { vp in
            guide.withUnsafeBufferPointer { gp in
            L.windowMean.withUnsafeBufferPointer { mp in
            fit.withUnsafeBufferPointer { fp in
            gradient.storage.withUnsafeMutableBufferPointer { op in
                let V = vp.baseAddress! + c * n, G = gp.baseAddress!, M = mp.baseAddress!, FIT = fp.baseAddress!
                let OUT = op.baseAddress! + c * n
                parallelFor(h, minPerThread: 8) { rows in
                    for y in rows {
                        for x in 0..<w {
                            let i = y * w + x
                            var g = 0.0
                            for cy in max(1, y - 1)...min(h - 2, y + 1) {
                                for cx in max(1, x - 1)...min(w - 2, x + 1) {
                                    let k = cy * w + cx
                                    g += (Double(V[i]) - FIT[4 * k + 3])
                                        - (FIT[4 * k] * (Double(G[3 * i]) - M[3 * k]) + FIT[4 * k + 1] * (Double(G[3 * i + 1]) - M[3 * k + 1])
                                           + FIT[4 * k + 2] * (Double(G[3 * i + 2]) - M[3 * k + 2]))
                                }
                            }
                            OUT[i] += Float(scale * g)
                        }
                    }
                }
            }}}}}
        }
        return Double(weight) * total
    }
}

extension MattingLaplacian {
    /// Solves (L + μI)·x = μ·y for one plane by conjugate gradients with a Jacobi
    /// preconditioner: the x closest to y (weight μ) that is locally an affine function
    /// of the image's colours (weight 1) — Levin et al.'s closed-form matting and Li et
    /// al.'s photorealistic smoothing are this solve. Starts from y; stops when the
    /// residual falls under `tolerance` relative to μ‖y‖ or after `maxIterations`.
    /// Returns the solution and the iterations used.
    public func solve(_ y: [Float], mu: Float, tolerance: Float = 1e-4, maxIterations: Int = 500) -> (x: [Float], iterations: Int) {
        precondition(y.count == width * height, "MattingLaplacian.solve: \(y.count) values for \(width)×\(height)")
        precondition(mu > 0, "MattingLaplacian.solve: μ must be > 0")
        precondition(bands.count == width * height * 25, "MattingLaplacian.solve: built with bands: false")
        let n = y.count
        var x = y
        var diag = [Float](repeating: 0, count: n)
        for i in 0..<n { diag[i] = bands[i * 25 + 12] + mu }
        func apply(_ v: [Float]) -> [Float] {
            var out = multiply(v)
            for i in 0..<n { out[i] += mu * v[i] }
            return out
        }
        // r = μy − (L + μ)x
        let ax = apply(x)
        var r = [Float](repeating: 0, count: n)
        for i in 0..<n { r[i] = mu * y[i] - ax[i] }
        let bnorm = max(1e-20, mu * Float(dot(y, y).squareRoot()))
        var z = (0..<n).map { r[$0] / diag[$0] }
        var p = z
        var rz = dot(r, z)
        var it = 0
        while it < maxIterations && Float(dot(r, r).squareRoot()) > tolerance * bnorm {
            let ap = apply(p)
            let alpha = Float(rz / max(1e-30, dot(p, ap)))
            for i in 0..<n { x[i] += alpha * p[i]; r[i] -= alpha * ap[i] }
            for i in 0..<n { z[i] = r[i] / diag[i] }
            let rz2 = dot(r, z)
            let beta = Float(rz2 / max(1e-30, rz))
            rz = rz2
            for i in 0..<n { p[i] = z[i] + beta * p[i] }
            it += 1
        }
        return (x, it)
    }
}
