import Kernels
import Photoreal

/// A loss on one network layer's features: returns its (weighted) value and adds its
/// (weighted) gradient into `gradient`, which has the features' shape.
public protocol FeatureLoss: Sendable {
    var layer: Int { get }
    func evaluate(_ features: Tensor, gradient: inout Tensor) -> Double
}

/// A loss on the image itself (0...1 RGB): same contract as `FeatureLoss`.
public protocol ImageLoss: Sendable {
    func evaluate(_ image: Tensor, gradient: inout Tensor) -> Double
}

/// Content loss (Gatys): weight · mean((F − F̂)²).
public struct ContentLoss: FeatureLoss {
    public let layer: Int
    public let target: Tensor
    public let weight: Float
    public init(layer: Int, target: Tensor, weight: Float) {
        self.layer = layer; self.target = target; self.weight = weight
    }
    public func evaluate(_ f: Tensor, gradient: inout Tensor) -> Double {
        precondition(f.sameShape(target), "ContentLoss: features \(f.shapeDescription) vs target \(target.shapeDescription)")
        let n = f.count
        let scale = 2 * weight / Float(n)
        var sum = 0.0
        f.storage.withUnsafeBufferPointer { fp in
        target.storage.withUnsafeBufferPointer { tp in
        gradient.storage.withUnsafeMutableBufferPointer { gp in
            for i in 0..<n {
                let d = fp[i] - tp[i]
                sum += Double(d * d)
                gp[i] += scale * d
            }
        }}}
        return Double(weight) * sum / Double(n)
    }
}

/// The Gram matrix G = F Fᵀ / (C·H·W) of a C×(H·W) feature map, C×C row-major.
public func gramMatrix(_ f: Tensor) -> [Float] { GramStyle.gram(f)! }

/// Gram style loss (Gatys): weight · mean((G − Ĝ)²) over the C×C entries
/// (`GramStyle.term` without a mask). Gradient: weight · 4/(C²·C·H·W) · (G − Ĝ) F.
public struct StyleLoss: FeatureLoss {
    public let layer: Int
    public let targetGram: [Float]
    public let weight: Float
    public init(layer: Int, targetGram: [Float], weight: Float) {
        self.layer = layer; self.targetGram = targetGram; self.weight = weight
    }
    public func evaluate(_ f: Tensor, gradient: inout Tensor) -> Double {
        var scratch: (masked: [Float], product: [Float]) = ([], [])
        return GramStyle.term(f, mask: nil, target: targetGram, weight: Double(weight), gradient: &gradient, scratch: &scratch)!
    }
}

/// Total variation: weight/2 · Σ (Δx² + Δy²) over the image in 0...255 units, the
/// form whose gradient jcjohnson/neural-style applies (so its default 1e-3 carries over).
public struct TotalVariationLoss: ImageLoss {
    public let weight: Float
    public init(weight: Float) { self.weight = weight }
    public func evaluate(_ x: Tensor, gradient: inout Tensor) -> Double {
        if weight == 0 { return 0 }
        let h = x.height, w = x.width
        let s: Float = 255 * 255
        var sum = 0.0
        for c in 0..<x.channels {
            for y in 0..<h {
                for xx in 0..<w {
                    let v = x[c, y, xx]
                    if xx + 1 < w {
                        let d = x[c, y, xx + 1] - v
                        sum += Double(d * d)
                        gradient[c, y, xx] -= weight * s * d
                        gradient[c, y, xx + 1] += weight * s * d
                    }
                    if y + 1 < h {
                        let d = x[c, y + 1, xx] - v
                        sum += Double(d * d)
                        gradient[c, y, xx] -= weight * s * d
                        gradient[c, y + 1, xx] += weight * s * d
                    }
                }
            }
        }
        return Double(weight) * 0.5 * Double(s) * sum
    }
}

/// Luan et al.'s segmented style loss on one network layer (the Photoreal target's
/// `MaskedStyleLoss`, placed at a layer).
public struct SegmentedStyleLoss: FeatureLoss {
    public let layer: Int
    public let loss: MaskedStyleLoss
    public init(layer: Int, loss: MaskedStyleLoss) { self.layer = layer; self.loss = loss }
    public func evaluate(_ features: Tensor, gradient: inout Tensor) -> Double { loss.evaluate(features, gradient: &gradient) }
}

/// The photorealism term is an image loss like TV and temporal.
extension PhotorealismLoss: ImageLoss {}
