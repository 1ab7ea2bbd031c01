import Kernels
import Photoreal

/// A loss on one network layer's features, in the form a layer seen in tiles needs: the
/// statistics of each region (additive over regions that tile the layer), the value from
/// their sum, then the gradient region by region. `evaluate` is the whole layer at once.
public protocol FeatureLoss: Sendable {
    var layer: Int { get }
    /// Additive statistics over one region of the layer: `f` holds the region, whose
    /// top-left corner is `origin` in the layer's coordinates.
    func statistics(_ f: Tensor, origin: LayerPoint) -> [Double]
    /// The (weighted) value from the statistics summed over the whole layer (C channels,
    /// `area` = H·W), and the state `addGradient` needs.
    func settle(_ statistics: [Double], channels: Int, area: Int) -> (value: Double, state: [Float])
    /// Adds the (weighted) gradient over one region to `gradient` (f's shape).
    func addGradient(_ f: Tensor, origin: LayerPoint, state: [Float], gradient: inout Tensor)
}

/// A position in a layer's activations.
public struct LayerPoint: Sendable, Equatable {
    public var x: Int, y: Int
    public init(x: Int, y: Int) { self.x = x; self.y = y }
    public static let zero = LayerPoint(x: 0, y: 0)
}

extension FeatureLoss {
    /// The loss on a whole layer: returns its value and adds its gradient into `gradient`.
    public func evaluate(_ f: Tensor, gradient: inout Tensor) -> Double {
        let settled = settle(statistics(f, origin: .zero), channels: f.channels, area: f.plane)
        addGradient(f, origin: .zero, state: settled.state, gradient: &gradient)
        return settled.value
    }
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

    /// Calls body(f row, target row, index of the row's start in f) for every row of the region.
    private func rows(_ f: Tensor, _ origin: LayerPoint, _ body: (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void) {
        precondition(f.channels == target.channels && origin.x + f.width <= target.width && origin.y + f.height <= target.height,
                     "ContentLoss: features \(f.shapeDescription) at (\(origin.x), \(origin.y)) vs target \(target.shapeDescription)")
        let (w, h, tw, th) = (f.width, f.height, target.width, target.height)
        f.storage.withUnsafeBufferPointer { fp in
        target.storage.withUnsafeBufferPointer { tp in
            for c in 0..<f.channels {
                for y in 0..<h {
                    let at = (c * h + y) * w
                    body(fp.baseAddress! + at, tp.baseAddress! + (c * th + origin.y + y) * tw + origin.x, at)
                }
            }
        }}
    }

    public func statistics(_ f: Tensor, origin: LayerPoint) -> [Double] {
        var sum = 0.0
        let w = f.width
        rows(f, origin) { fr, tr, _ in
            var s: Float = 0
            for i in 0..<w { let d = fr[i] - tr[i]; s += d * d }
            sum += Double(s)
        }
        return [sum]
    }

    public func settle(_ statistics: [Double], channels: Int, area: Int) -> (value: Double, state: [Float]) {
        let n = Double(channels * area)
        return (Double(weight) * statistics[0] / n, [Float(2 * Double(weight) / n)])
    }

    public func addGradient(_ f: Tensor, origin: LayerPoint, state: [Float], gradient: inout Tensor) {
        precondition(gradient.sameShape(f), "ContentLoss: gradient \(gradient.shapeDescription) for features \(f.shapeDescription)")
        let scale = state[0], w = f.width
        gradient.storage.withUnsafeMutableBufferPointer { gp in
            rows(f, origin) { fr, tr, at in
                let g = gp.baseAddress! + at
                for i in 0..<w { g[i] += scale * (fr[i] - tr[i]) }
            }
        }
    }
}

/// The Gram matrix G = F Fᵀ / (C·H·W) of a C×(H·W) feature map, C×C row-major.
public func gramMatrix(_ f: Tensor) -> [Float] { GramStyle.gram(f)! }

/// Gram style loss (Gatys): weight · mean((G − Ĝ)²) over the C×C entries
/// (`GramStyle` without a mask). Gradient: weight · 4/(C²·C·H·W) · (G − Ĝ) F.
public struct StyleLoss: FeatureLoss {
    public let layer: Int
    public let targetGram: [Float]
    public let weight: Float
    public init(layer: Int, targetGram: [Float], weight: Float) {
        self.layer = layer; self.targetGram = targetGram; self.weight = weight
    }

    public func statistics(_ f: Tensor, origin: LayerPoint) -> [Double] {
        var unused: [Float] = []
        return GramStyle.sums(f, mask: nil, masked: &unused).sums.map(Double.init)
    }

    /// State: the gradient's scale, then G − Ĝ.
    public func settle(_ statistics: [Double], channels c: Int, area: Int) -> (value: Double, state: [Float]) {
        let norm = 1 / Double(c * max(1, area))
        let (value, d) = GramStyle.value(gram: statistics.map { Float($0 * norm) }, target: targetGram, weight: Double(weight))
        return (value, [GramStyle.gradientScale(channels: c, weight: Double(weight), maskSum: Double(area))] + d)
    }

    public func addGradient(_ f: Tensor, origin: LayerPoint, state: [Float], gradient: inout Tensor) {
        var product: [Float] = []
        GramStyle.addGradient(f, mask: nil, masked: [], difference: Array(state.dropFirst()), alpha: state[0],
                              gradient: &gradient, product: &product)
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

    /// The content's masks over the region `f` covers.
    private func masks(_ f: Tensor, _ origin: LayerPoint) -> Tensor {
        loss.masks.crop(x: origin.x, y: origin.y, width: f.width, height: f.height)
    }
    public func statistics(_ f: Tensor, origin: LayerPoint) -> [Double] { loss.statistics(f, masks: masks(f, origin)) }
    public func settle(_ statistics: [Double], channels: Int, area: Int) -> (value: Double, state: [Float]) {
        loss.settle(statistics, channels: channels, area: area)
    }
    public func addGradient(_ f: Tensor, origin: LayerPoint, state: [Float], gradient: inout Tensor) {
        loss.addGradient(f, masks: masks(f, origin), state: state, gradient: &gradient)
    }
}

/// The photorealism term is an image loss like TV and temporal.
extension PhotorealismLoss: ImageLoss {}
