import Kernels

/// Backward warping and Ruder et al.'s consistency weights.
public enum Warp {
    /// Where pixel i of the reference frame samples the other frame: the four bilinear
    /// neighbours and their weights, or nil when p + flow(p) leaves the image.
    @inline(__always)
    static func taps(_ i: Int, flow: Flow) -> (idx: (Int, Int, Int, Int), wt: (Float, Float, Float, Float))? {
        let w = flow.width, h = flow.height
        let sx = Float(i % w) + flow.u[i], sy = Float(i / w) + flow.v[i]
        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { return nil }   // NaN fails too
        let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
        let fx = sx - Float(x0), fy = sy - Float(y0)
        return ((y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1),
                ((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy))
    }

    /// out(p) = image(p + flow(p)), bilinear; `valid` is false where p + flow(p) leaves the
    /// image (those pixels are copied from `image` at p, a neutral fill).
    public static func backward(_ image: Tensor, flow: Flow) -> (image: Tensor, valid: [Bool]) {
        precondition(image.width == flow.width && image.height == flow.height,
                     "Warp.backward: image \(image.shapeDescription) vs flow \(flow.width)×\(flow.height)")
        let n = image.plane
        var out = Tensor.zeros(like: image)
        var valid = [Bool](repeating: true, count: n)
        for i in 0..<n {
            guard let (k, a) = taps(i, flow: flow) else {
                valid[i] = false
                for c in 0..<image.channels { out.storage[c * n + i] = image.storage[c * n + i] }
                continue
            }
            for c in 0..<image.channels {
                let p = c * n
                out.storage[p + i] = a.0 * image.storage[p + k.0] + a.1 * image.storage[p + k.1]
                    + a.2 * image.storage[p + k.2] + a.3 * image.storage[p + k.3]
            }
        }
        return (out, valid)
    }

    /// out(p) = image(p + flow(p)) with Catmull–Rom (bicubic) interpolation, borders
    /// clamped; out-of-frame pixels are copied from `image` at p as in `backward`. Used to
    /// carry a stylised frame forward: bilinear interpolation is a low-pass filter, and
    /// repeated over dozens of frames it blurs the painted texture away.
    public static func backwardCubic(_ image: Tensor, flow: Flow) -> Tensor {
        precondition(image.width == flow.width && image.height == flow.height,
                     "Warp.backwardCubic: image \(image.shapeDescription) vs flow \(flow.width)×\(flow.height)")
        let w = image.width, h = image.height, n = w * h, channels = image.channels
        var out = image
        @inline(__always) func weights(_ t: Float) -> (Float, Float, Float, Float) {
            let t2 = t * t, t3 = t2 * t
            return (0.5 * (-t3 + 2 * t2 - t), 0.5 * (3 * t3 - 5 * t2 + 2),
                    0.5 * (-3 * t3 + 4 * t2 + t), 0.5 * (t3 - t2))
        }
        image.storage.withUnsafeBufferPointer { src in
        out.storage.withUnsafeMutableBufferPointer { dst in
        flow.u.withUnsafeBufferPointer { fu in
        flow.v.withUnsafeBufferPointer { fv in
            let S = src.baseAddress!, D = dst.baseAddress!
            parallelFor(h, minPerThread: 8) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        let sx = Float(x) + fu[i], sy = Float(y) + fv[i]
                        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { continue }
                        let x0 = Int(sx), y0 = Int(sy)
                        let wx = weights(sx - Float(x0)), wy = weights(sy - Float(y0))
                        let xs = (max(x0 - 1, 0), x0, min(x0 + 1, w - 1), min(x0 + 2, w - 1))
                        let ys = (max(y0 - 1, 0) * w, y0 * w, min(y0 + 1, h - 1) * w, min(y0 + 2, h - 1) * w)
                        for c in 0..<channels {
                            let P = S + c * n
                            @inline(__always) func row(_ r: Int) -> Float {
                                wx.0 * P[r + xs.0] + wx.1 * P[r + xs.1] + wx.2 * P[r + xs.2] + wx.3 * P[r + xs.3]
                            }
                            D[c * n + i] = wy.0 * row(ys.0) + wy.1 * row(ys.1) + wy.2 * row(ys.2) + wy.3 * row(ys.3)
                        }
                    }
                }
            }
        }}}}
        return out
    }

    /// Adjoint of `backward` with respect to the image (for gradient checks and for
    /// losses that flow through a warp): scatters `grad` back with the bilinear weights.
    public static func backwardAdjoint(_ grad: Tensor, flow: Flow) -> Tensor {
        let n = grad.plane
        var out = Tensor.zeros(like: grad)
        for i in 0..<n {
            guard let (k, a) = taps(i, flow: flow) else {
                for c in 0..<grad.channels { out.storage[c * n + i] += grad.storage[c * n + i] }
                continue
            }
            for c in 0..<grad.channels {
                let p = c * n, g = grad.storage[p + i]
                out.storage[p + k.0] += g * a.0
                out.storage[p + k.1] += g * a.1
                out.storage[p + k.2] += g * a.2
                out.storage[p + k.3] += g * a.3
            }
        }
        return out
    }

    /// Consistency weights c ∈ {0, 1} for warping frame t−1 into frame t (Ruder, Dosovitskiy
    /// & Brox 2016). `backward`: flow from frame t to t−1 (used to warp);
    /// `forward`: flow from t−1 to t. c = 0 where the forward–backward check fails
    /// (|w̃ + ŵ|² ≥ 0.01(|w̃|² + |ŵ|²) + 0.5, w̃ = forward sampled at p + ŵ(p)), where p + ŵ
    /// leaves the image, and on motion boundaries (|∇u|² + |∇v|² > 0.01|ŵ|² + 0.002).
    public static func consistency(backward b: Flow, forward f: Flow) -> [Float] {
        precondition(b.width == f.width && b.height == f.height, "consistency: flow sizes differ")
        let w = b.width, h = b.height
        var c = [Float](repeating: 1, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let bu = b.u[i], bv = b.v[i]
                let sx = Float(x) + bu, sy = Float(y) + bv
                if sx < 0 || sy < 0 || sx > Float(w - 1) || sy > Float(h - 1) || !sx.isFinite || !sy.isFinite { c[i] = 0; continue }
                let (fu, fv) = f.sample(sx, sy)
                let su = fu + bu, sv = fv + bv
                if su * su + sv * sv >= 0.01 * (fu * fu + fv * fv + bu * bu + bv * bv) + 0.5 { c[i] = 0; continue }
                // motion boundary: gradient of the backward flow (central differences)
                let xl = max(x - 1, 0), xr = min(x + 1, w - 1), yu = max(y - 1, 0), yd = min(y + 1, h - 1)
                let dx = Float(max(1, xr - xl)), dy = Float(max(1, yd - yu))
                let ux = (b.u[y * w + xr] - b.u[y * w + xl]) / dx, uy = (b.u[yd * w + x] - b.u[yu * w + x]) / dy
                let vx = (b.v[y * w + xr] - b.v[y * w + xl]) / dx, vy = (b.v[yd * w + x] - b.v[yu * w + x]) / dy
                if ux * ux + uy * uy + vx * vx + vy * vy > 0.01 * (bu * bu + bv * bv) + 0.002 { c[i] = 0 }
            }
        }
        return c
    }
}

extension Warp {
    /// Softened consistency weights: min(c, box blur of c over a (2r+1)² window), so
    /// trust tapers off toward occlusions and motion boundaries instead of jumping from
    /// 1 to 0; pixels with weight 0 stay 0. r = 0 returns c unchanged.
    public static func smoothWeights(_ c: [Float], width w: Int, height h: Int, radius r: Int) -> [Float] {
        precondition(c.count == w * h, "smoothWeights: \(c.count) weights for \(w)×\(h)")
        guard r > 0 else { return c }
        var tmp = c, out = c
        for y in 0..<h {
            for x in 0..<w {
                var s: Float = 0
                for k in max(0, x - r)...min(w - 1, x + r) { s += c[y * w + k] }
                tmp[y * w + x] = s / Float(min(w - 1, x + r) - max(0, x - r) + 1)
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var s: Float = 0
                for k in max(0, y - r)...min(h - 1, y + r) { s += tmp[k * w + x] }
                out[y * w + x] = min(c[y * w + x], s / Float(min(h - 1, y + r) - max(0, y - r) + 1))
            }
        }
        return out
    }
}

/// Ruder's short-term temporal loss: γ/D · Σ c·(x − ω(x_{t−1}))², D = C·H·W, on pixels
/// (0...1 units here). A loss term like the others: value and gradient 2γ/D·c·(x − ω).
public struct TemporalLoss: Sendable {
    public let warpedPrevious: Tensor
    public let weights: [Float]         // H×W, shared by the channels
    public let weight: Float
    public init(warpedPrevious: Tensor, weights: [Float], weight: Float) {
        precondition(weights.count == warpedPrevious.plane, "TemporalLoss: \(weights.count) weights for \(warpedPrevious.plane) pixels")
        self.warpedPrevious = warpedPrevious; self.weights = weights; self.weight = weight
    }
    public func evaluate(_ x: Tensor, gradient: inout Tensor) -> Double {
        precondition(x.sameShape(warpedPrevious), "TemporalLoss: image \(x.shapeDescription) vs \(warpedPrevious.shapeDescription)")
        let n = x.plane, d = Float(x.count)
        var sum = 0.0
        for c in 0..<x.channels {
            for i in 0..<n {
                let k = c * n + i
                let diff = x.storage[k] - warpedPrevious.storage[k]
                sum += Double(weights[i] * diff * diff)
                gradient.storage[k] += 2 * weight / d * weights[i] * diff
            }
        }
        return Double(weight) * sum / Double(d)
    }
}
