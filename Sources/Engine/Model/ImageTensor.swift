import Kernels
import Photoreal
import VideoIO

extension Tensor {
    /// An RGB image as a 3×H×W tensor with values in 0...1.
    public init(image: RGBImage) {
        let n = image.width * image.height
        var s = [Float](repeating: 0, count: 3 * n)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<n {
                s[i] = Float(px[3 * i]) / 255
                s[n + i] = Float(px[3 * i + 1]) / 255
                s[2 * n + i] = Float(px[3 * i + 2]) / 255
            }
        }
        self.init(channels: 3, height: image.height, width: image.width, storage: s)
    }

    /// Back to 8-bit RGB, clamped and rounded.
    public func rgbImage() -> RGBImage {
        precondition(channels == 3, "rgbImage: expected 3 channels, got \(channels)")
        let n = plane
        var px = [UInt8](repeating: 0, count: 3 * n)
        for c in 0..<3 {
            for i in 0..<n {
                let v = storage[c * n + i]
                px[3 * i + c] = UInt8(Swift.min(Swift.max((v.isFinite ? v : 0) * 255 + 0.5, 0), 255))
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }
}

public enum ColorOps {
    /// "Original colours": the luminance of `stylized` with the chroma of `content`
    /// (BT.601 YUV), both 3×H×W in 0...1 and of equal size.
    public static func preserveColors(stylized: Tensor, content: Tensor) -> Tensor {
        precondition(stylized.sameShape(content), "preserveColors: \(stylized.shapeDescription) vs \(content.shapeDescription)")
        var out = stylized
        let n = stylized.plane
        for i in 0..<n {
            let (r, g, b) = (stylized.storage[i], stylized.storage[n + i], stylized.storage[2 * n + i])
            let (cr, cg, cb) = (content.storage[i], content.storage[n + i], content.storage[2 * n + i])
            let y = Luma.rec601(r, g, b), cy = Luma.rec601(cr, cg, cb)
            // same chroma as the content: shift every channel by the luminance difference
            out.storage[i] = cr + (y - cy)
            out.storage[n + i] = cg + (y - cy)
            out.storage[2 * n + i] = cb + (y - cy)
        }
        out.clamp(0, 1)
        return out
    }

    /// `image` with each channel's mean and standard deviation moved to `reference`'s
    /// (a per-channel RGB colour transfer), clamped to 0...1. Sizes may differ.
    public static func matchStatistics(_ image: Tensor, to reference: Tensor) -> Tensor {
        var out = ColorMetrics.matchMoments(image, to: reference)
        out.clamp(0, 1)
        return out
    }
}
