/// Bilinear resampling with half-pixel centres (PyTorch's `align_corners=False`, no
/// antialiasing), and its exact adjoint for backpropagation. Used for the resolution
/// pyramid and for masks; photos are scaled with swscale in VideoIO.
public enum Resize {
    /// Source taps (i0, i1, weight of i1) of each destination index along one axis.
    public static func taps(src: Int, dst: Int) -> [(Int, Int, Float)] {
        let scale = Float(src) / Float(dst)
        return (0..<dst).map { d in
            var s = (Float(d) + 0.5) * scale - 0.5
            if s < 0 { s = 0 }
            let i0 = Swift.min(Int(s), src - 1)
            let i1 = Swift.min(i0 + 1, src - 1)
            return (i0, i1, s - Float(i0))
        }
    }

    public static func bilinear(_ x: Tensor, height: Int, width: Int) -> Tensor {
        precondition(height > 0 && width > 0 && x.height > 0 && x.width > 0,
                     "Resize.bilinear: \(x.shapeDescription) → \(height)×\(width)")
        let ty = taps(src: x.height, dst: height), tx = taps(src: x.width, dst: width)
        var out = Tensor(channels: x.channels, height: height, width: width)
        let sw = x.width, sh = x.height
        x.storage.withUnsafeBufferPointer { xs in
            out.storage.withUnsafeMutableBufferPointer { os in
                let xp = xs.baseAddress!, op = os.baseAddress!
                parallelFor(x.channels * height, minPerThread: 64) { range in
                    for r in range {
                        let c = r / height, y = r % height
                        let (y0, y1, fy) = ty[y]
                        let row0 = xp + (c * sh + y0) * sw, row1 = xp + (c * sh + y1) * sw
                        let dst = op + r * width
                        for xx in 0..<width {
                            let (x0, x1, fx) = tx[xx]
                            let top = row0[x0] + fx * (row0[x1] - row0[x0])
                            let bot = row1[x0] + fx * (row1[x1] - row1[x0])
                            dst[xx] = top + fy * (bot - top)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Adjoint of `bilinear`: scatters the output gradient back onto the source grid.
    public static func bilinearBackward(_ grad: Tensor, sourceHeight: Int, sourceWidth: Int) -> Tensor {
        let ty = taps(src: sourceHeight, dst: grad.height), tx = taps(src: sourceWidth, dst: grad.width)
        var out = Tensor(channels: grad.channels, height: sourceHeight, width: sourceWidth)
        let w = grad.width, h = grad.height
        grad.storage.withUnsafeBufferPointer { gs in
            out.storage.withUnsafeMutableBufferPointer { os in
                let gp = gs.baseAddress!, op = os.baseAddress!
                parallelFor(grad.channels, minPerThread: 1) { range in
                    for c in range {
                        let dst = op + c * sourceHeight * sourceWidth
                        for y in 0..<h {
                            let (y0, y1, fy) = ty[y]
                            for xx in 0..<w {
                                let (x0, x1, fx) = tx[xx]
                                let g = gp[(c * h + y) * w + xx]
                                dst[y0 * sourceWidth + x0] += g * (1 - fy) * (1 - fx)
                                dst[y0 * sourceWidth + x1] += g * (1 - fy) * fx
                                dst[y1 * sourceWidth + x0] += g * fy * (1 - fx)
                                dst[y1 * sourceWidth + x1] += g * fy * fx
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
