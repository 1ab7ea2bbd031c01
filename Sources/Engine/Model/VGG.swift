import Foundation
import Kernels

/// How a network expects its input, given an RGB image in 0...1.
public enum Preprocessing: String, Sendable, Equatable, CaseIterable {
    /// Caffe / Keras weights: BGR, 0...255, minus the mean pixel.
    case caffe
    /// torchvision weights: RGB, (x − mean) / std.
    case torchvision

    static let caffeMeanBGR: [Float] = [103.939, 116.779, 123.68]
    static let torchMean: [Float] = [0.485, 0.456, 0.406]
    static let torchStd: [Float] = [0.229, 0.224, 0.225]

    /// (source RGB channel, scale, offset) of each network input channel.
    var channelMap: [(Int, Float, Float)] {
        switch self {
        case .caffe: return (0..<3).map { c in (2 - c, 255, -Preprocessing.caffeMeanBGR[c]) }
        case .torchvision: return (0..<3).map { c in (c, 1 / Preprocessing.torchStd[c], -Preprocessing.torchMean[c] / Preprocessing.torchStd[c]) }
        }
    }

    public func apply(_ image: Tensor) -> Tensor {
        precondition(image.channels == 3, "Preprocessing.apply: expected an RGB tensor, got \(image.shapeDescription)")
        var out = Tensor.zeros(like: image)
        let n = image.plane
        for (c, (src, scale, offset)) in channelMap.enumerated() {
            for i in 0..<n { out.storage[c * n + i] = image.storage[src * n + i] * scale + offset }
        }
        return out
    }

    /// Maps a gradient w.r.t. the network input back to the RGB image.
    public func backward(_ grad: Tensor) -> Tensor {
        var out = Tensor.zeros(like: grad)
        let n = grad.plane
        for (c, (src, scale, _)) in channelMap.enumerated() {
            for i in 0..<n { out.storage[src * n + i] += grad.storage[c * n + i] * scale }
        }
        return out
    }
}

/// The VGG families: convolution widths per block.
public enum VGGArchitecture: String, Sendable, Equatable, CaseIterable {
    case vgg16, vgg19
    public var blocks: [[Int]] {
        switch self {
        case .vgg16: return [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
        case .vgg19: return [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]]
        }
    }
    public var convCount: Int { blocks.reduce(0) { $0 + $1.count } }
}

/// A VGG feature network (convolutions + ReLU, 2×2 pooling between blocks), holding only
/// the layers up to the deepest one any loss needs. Layers are named relu{block}_{i}.
public final class VGG: @unchecked Sendable {
    public let blocks: [[Int]]
    public let convs: [Conv2D]
    public let preprocessing: Preprocessing
    public let pooling: Layers.Pooling
    public let name: String
    /// "relu1_1", "relu1_2", ... for every convolution held.
    public let layerNames: [String]
    /// blockStart[j] is true when conv j is the first of a block after the first block
    /// (a pooling layer precedes it).
    let pooledBefore: [Bool]

    /// "relu1_1", "relu1_2", ... for every convolution of an architecture.
    public static func layerNames(blocks: [[Int]]) -> [String] {
        blocks.enumerated().flatMap { b, blk in (0..<blk.count).map { "relu\(b + 1)_\($0 + 1)" } }
    }

    public init(name: String, blocks: [[Int]], convs: [Conv2D], preprocessing: Preprocessing, pooling: Layers.Pooling = .max) {
        let names = VGG.layerNames(blocks: blocks)
        let pooled = blocks.enumerated().flatMap { b, blk in (0..<blk.count).map { b > 0 && $0 == 0 } }
        precondition(convs.count <= names.count, "VGG: \(convs.count) convolutions for \(names.count) layers")
        self.name = name
        self.blocks = blocks
        self.convs = convs
        self.preprocessing = preprocessing
        self.pooling = pooling
        self.layerNames = Array(names.prefix(convs.count))
        self.pooledBefore = Array(pooled.prefix(convs.count))
    }

    /// A copy that uses another pooling kind (the weights are shared).
    public func with(pooling: Layers.Pooling) -> VGG {
        VGG(name: name, blocks: blocks, convs: convs, preprocessing: preprocessing, pooling: pooling)
    }

    /// A network with seeded random (He-initialised) weights: for benchmarks and tests.
    public static func random(name: String = "random", blocks: [[Int]], upTo count: Int? = nil, seed: UInt64 = 1,
                              preprocessing: Preprocessing = .caffe) -> VGG {
        var rng = SplitMix64(seed: seed)
        var convs: [Conv2D] = []
        var cin = 3
        let n = count ?? blocks.reduce(0) { $0 + $1.count }
        outer: for blk in blocks {
            for cout in blk {
                if convs.count == n { break outer }
                let scale = (2.0 / Float(cin * 9)).squareRoot()
                let w = (0..<(cout * cin * 9)).map { _ in Float.random(in: -1...1, using: &rng) * scale * 1.7 }
                let b = (0..<cout).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
                convs.append(Conv2D(inChannels: cin, outChannels: cout, weights: w, bias: b))
                cin = cout
            }
        }
        return VGG(name: name, blocks: blocks, convs: convs, preprocessing: preprocessing)
    }

    public func layerIndex(_ name: String) throws -> Int {
        if let i = layerNames.firstIndex(of: name) { return i }
        throw EngineError.unknownLayer(name: name, available: VGG.layerNames(blocks: blocks))
    }

    /// Width and height of layer `layer`'s activations for a width×height input (each
    /// pooling halves them, rounding down).
    public func outputSize(of layer: Int, width: Int, height: Int) -> (width: Int, height: Int) {
        let pools = poolings(before: layer)
        return (width >> pools, height >> pools)
    }

    /// Post-ReLU activations of convolutions 0...last for an RGB image in 0...1.
    public func forward(_ image: Tensor, through last: Int) -> [Tensor] {
        precondition(last < convs.count, "VGG.forward: layer \(last) of \(convs.count)")
        var acts: [Tensor] = []
        acts.reserveCapacity(last + 1)
        var x = preprocessing.apply(image)
        for j in 0...last {
            if pooledBefore[j] { x = Layers.pool2x2(x, pooling) }
            x = convs[j].forward(x, relu: true)
            acts.append(x)
        }
        return acts
    }

    /// dL/d(image) given dL/d(activation j) for the layers in `gradients` (keys index
    /// `activations`, as returned by `forward`).
    public func backward(activations acts: [Tensor], gradients: [Int: Tensor]) -> Tensor {
        guard let deepest = gradients.keys.max() else {
            let first = acts[0]
            return Tensor(channels: 3, height: first.height, width: first.width)
        }
        var g = gradients[deepest]!
        var j = deepest
        while true {
            Layers.reluBackward(&g, output: acts[j])
            g = convs[j].inputGradient(g)
            if j == 0 { break }
            if pooledBefore[j] { g = Layers.pool2x2Backward(g, input: acts[j - 1], pooling) }
            j -= 1
            if let extra = gradients[j] { g.add(extra) }
        }
        return preprocessing.backward(g)
    }
}
