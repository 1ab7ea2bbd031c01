import Foundation
import Kernels

/// CIE Lab (D65) conversions, Reinhard et al.'s colour transfer, and the two measures the
/// photoreal benchmark reports: structure kept (SSIM's structure term on luminance) and
/// colour moved (distance of the Lab mean/std to the reference's).
public enum ColorMetrics {
    @inline(__always) static func linear(_ c: Double) -> Double { c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4) }
    @inline(__always) static func gamma(_ c: Double) -> Double { c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055 }
    static let white = (0.95047, 1.0, 1.08883)

    /// sRGB 0...1 (3×H×W) → Lab (L 0...100), 3×H×W.
    public static func lab(_ t: Tensor) -> Tensor {
        precondition(t.channels == 3, "ColorMetrics.lab: RGB needed, got \(t.shapeDescription)")
        let n = t.plane
        var out = Tensor(channels: 3, height: t.height, width: t.width)
        func f(_ v: Double) -> Double { v > 216.0 / 24389 ? cbrt(v) : (24389.0 / 27 * v + 16) / 116 }
        for i in 0..<n {
            let r = linear(Double(t.storage[i])), g = linear(Double(t.storage[n + i])), b = linear(Double(t.storage[2 * n + i]))
            let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / white.0
            let y = (0.2126729 * r + 0.7151522 * g + 0.0721750 * b) / white.1
            let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / white.2
            let fx = f(x), fy = f(y), fz = f(z)
            out.storage[i] = Float(116 * fy - 16)
            out.storage[n + i] = Float(500 * (fx - fy))
            out.storage[2 * n + i] = Float(200 * (fy - fz))
        }
        return out
    }

    /// Lab → sRGB 0...1 (clamped).
    public static func rgb(fromLab t: Tensor) -> Tensor {
        let n = t.plane
        var out = Tensor(channels: 3, height: t.height, width: t.width)
        func finv(_ v: Double) -> Double { let c = v * v * v; return c > 216.0 / 24389 ? c : (116 * v - 16) * 27 / 24389 }
        for i in 0..<n {
            let fy = (Double(t.storage[i]) + 16) / 116
            let fx = fy + Double(t.storage[n + i]) / 500, fz = fy - Double(t.storage[2 * n + i]) / 200
            let x = finv(fx) * white.0, y = finv(fy) * white.1, z = finv(fz) * white.2
            let r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
            let g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
            let b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
            out.storage[i] = Float(min(1, max(0, gamma(max(0, r)))))
            out.storage[n + i] = Float(min(1, max(0, gamma(max(0, g)))))
            out.storage[2 * n + i] = Float(min(1, max(0, gamma(max(0, b)))))
        }
        return out
    }

    /// Per-channel (mean, standard deviation) of a tensor.
    public static func moments(_ t: Tensor) -> [(mean: Double, std: Double)] {
        let n = t.plane
        return (0..<t.channels).map { c in
            var s = 0.0, s2 = 0.0
            for i in 0..<n { let v = Double(t.storage[c * n + i]); s += v; s2 += v * v }
            let m = s / Double(n)
            return (m, sqrt(max(0, s2 / Double(n) - m * m)))
        }
    }

    /// Distance between two images' Lab statistics: √Σ_c (Δmean_c² + Δstd_c²) (Lab units;
    /// a just-noticeable difference is about 2).
    public static func labDistance(_ a: Tensor, _ b: Tensor) -> Double {
        let ma = moments(lab(a)), mb = moments(lab(b))
        var s = 0.0
        for c in 0..<3 { s += pow(ma[c].mean - mb[c].mean, 2) + pow(ma[c].std - mb[c].std, 2) }
        return sqrt(s)
    }

    /// Every channel (up to 3) of `t` shifted and scaled to `reference`'s mean and
    /// standard deviation (a flat channel is only shifted). Sizes may differ.
    public static func matchMoments(_ t: Tensor, to reference: Tensor) -> Tensor {
        var out = t
        let mc = moments(t), mr = moments(reference)
        let n = t.plane
        for c in 0..<min(3, t.channels, reference.channels) {
            let s = mc[c].std > 1e-6 ? mr[c].std / mc[c].std : 1
            for i in 0..<n { out.storage[c * n + i] = Float((Double(t.storage[c * n + i]) - mc[c].mean) * s + mr[c].mean) }
        }
        return out
    }

    /// Reinhard, Ashikhmin, Gooch & Shirley's colour transfer, in CIE Lab: every channel
    /// shifted and scaled to the reference's mean and standard deviation.
    public static func reinhard(_ content: Tensor, reference: Tensor) -> Tensor {
        rgb(fromLab: matchMoments(lab(content), to: lab(reference)))
    }

    /// Mean of SSIM's structure term s = (σ_xy + C3)/(σ_x σ_y + C3) between the two images'
    /// luma, over 11×11 Gaussian windows (σ 1.5, Wang et al.'s), C3 = (0.03·1)²/2.
    /// 1 = same structure; insensitive to brightness and contrast changes, which a colour
    /// transfer is meant to make.
    public static func structureSimilarity(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.width == b.width && a.height == b.height, "structureSimilarity: \(a.shapeDescription) vs \(b.shapeDescription)")
        let w = a.width, h = a.height
        let x = Luma.plane(a), y = Luma.plane(b)
        let kernel: [Double] = (-5...5).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        func blur(_ p: [Double]) -> [Double] {
            var t = [Double](repeating: 0, count: w * h), o = t
            for yy in 0..<h { for xx in 0..<w {
                var s = 0.0, ws = 0.0
                for k in -5...5 where xx + k >= 0 && xx + k < w { s += kernel[k + 5] * p[yy * w + xx + k]; ws += kernel[k + 5] }
                t[yy * w + xx] = s / ws
            }}
            for yy in 0..<h { for xx in 0..<w {
                var s = 0.0, ws = 0.0
                for k in -5...5 where yy + k >= 0 && yy + k < h { s += kernel[k + 5] * t[(yy + k) * w + xx]; ws += kernel[k + 5] }
                o[yy * w + xx] = s / ws
            }}
            return o
        }
        let xd = x.map(Double.init), yd = y.map(Double.init)
        let mx = blur(xd), my = blur(yd)
        let sxx = blur(xd.map { $0 * $0 }), syy = blur(yd.map { $0 * $0 }), sxy = blur(zip(xd, yd).map { $0 * $1 })
        let c3 = 0.03 * 0.03 / 2
        var total = 0.0
        for i in 0..<(w * h) {
            let vx = max(0, sxx[i] - mx[i] * mx[i]), vy = max(0, syy[i] - my[i] * my[i])
            let cxy = sxy[i] - mx[i] * my[i]
            total += (cxy + c3) / (sqrt(vx * vy) + c3)
        }
        return total / Double(w * h)
    }
}
