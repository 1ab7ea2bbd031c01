import Engine
import Kernels
import TestSupport
import XCTest

/// Central-difference checks of every hand-written backward pass in Engine.
final class LossGradientTests: XCTestCase {
    func features(_ c: Int, _ h: Int, _ w: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(channels: c, height: h, width: w, in: 0...2, generator: &rng)
    }

    /// Preprocessing is affine: its backward is the adjoint of its linear part.
    func testPreprocessingBackwardIsTheAdjoint() {
        var rng = SplitMix64(seed: 9)
        let x = Tensor.random(channels: 3, height: 4, width: 3, in: 0...1, generator: &rng)
        let g = Tensor.random(channels: 3, height: 4, width: 3, generator: &rng)
        for p in Preprocessing.allCases {
            let zero = p.apply(Tensor(channels: 3, height: 4, width: 3))
            var lin = p.apply(x); lin.add(zero, scaled: -1)
            assertClose(lin.dot(g), x.dot(p.backward(g)), tolerance: 1e-5, "\(p)")
        }
        // Caffe: BGR order, 0...255, minus the mean pixel (the VGG weights' own preprocessing)
        let red = Tensor(channels: 3, height: 1, width: 1, storage: [1, 0, 0])
        XCTAssertEqual(Preprocessing.caffe.apply(red).storage, [-103.939, -116.779, 255 - 123.68])
    }

    func testGramMatrixDefinition() {
        let f = features(3, 2, 5, seed: 1)
        let g = gramMatrix(f)
        // G_ij = Σ_k F_ik F_jk / (C·H·W), computed here in Double
        for i in 0..<3 { for j in 0..<3 {
            var s = 0.0
            for k in 0..<10 { s += Double(f.storage[i * 10 + k]) * Double(f.storage[j * 10 + k]) }
            assertClose(s / 30, Double(g[i * 3 + j]), tolerance: 1e-6)
        }}
    }

    func testContentLossValueAndGradient() {
        let f = features(4, 3, 5, seed: 2), t = features(4, 3, 5, seed: 3)
        let loss = ContentLoss(layer: 0, target: t, weight: 5)
        var g = Tensor.zeros(like: f)
        let v = loss.evaluate(f, gradient: &g)
        var mse = 0.0
        for i in 0..<f.count { mse += Double((f.storage[i] - t.storage[i]) * (f.storage[i] - t.storage[i])) }
        assertClose(5 * mse / Double(f.count), v, tolerance: 1e-6)
        let err = gradientCheck(at: f, gradient: g) { x in var s = Tensor.zeros(like: x); return loss.evaluate(x, gradient: &s) }
        XCTAssertLessThan(err, 1e-3)
    }

    func testStyleLossGradient() {
        let f = features(5, 4, 3, seed: 4)
        let target = gramMatrix(features(5, 6, 6, seed: 5))
        let loss = StyleLoss(layer: 0, targetGram: target, weight: 100)
        var g = Tensor.zeros(like: f)
        _ = loss.evaluate(f, gradient: &g)
        let err = gradientCheck(at: f, gradient: g, step: 1e-3) { x in var s = Tensor.zeros(like: x); return loss.evaluate(x, gradient: &s) }
        XCTAssertLessThan(err, 1e-2)
        // zero at its own target
        var z = Tensor.zeros(like: f)
        XCTAssertEqual(StyleLoss(layer: 0, targetGram: gramMatrix(f), weight: 1).evaluate(f, gradient: &z), 0, accuracy: 1e-12)
    }

    func testTotalVariationGradient() {
        var rng = SplitMix64(seed: 6)
        let x = Tensor.random(channels: 3, height: 4, width: 5, in: 0...1, generator: &rng)
        let tv = TotalVariationLoss(weight: 1e-3)
        var g = Tensor.zeros(like: x)
        _ = tv.evaluate(x, gradient: &g)
        let err = gradientCheck(at: x, gradient: g, step: 1e-3) { y in var s = Tensor.zeros(like: y); return tv.evaluate(y, gradient: &s) }
        XCTAssertLessThan(err, 1e-2)
    }

    /// The whole network backward (preprocessing, convs, ReLU, pooling) on a tiny VGG
    /// with random weights, with content + style losses on two layers.
    func testNetworkBackwardEndToEnd() {
        for pooling in Layers.Pooling.allCases {
            for prep in Preprocessing.allCases {
                let net = VGG.random(blocks: [[4, 4], [6, 5]], seed: 11, preprocessing: prep).with(pooling: pooling)
                var rng = SplitMix64(seed: 12)
                let img = Tensor.random(channels: 3, height: 9, width: 10, in: 0...1, generator: &rng)
                let other = Tensor.random(channels: 3, height: 9, width: 10, in: 0...1, generator: &rng)
                let tActs = net.forward(other, through: 3)
                let losses: [FeatureLoss] = [
                    ContentLoss(layer: 3, target: tActs[3], weight: 2),
                    StyleLoss(layer: 1, targetGram: gramMatrix(tActs[1]), weight: 50),
                    StyleLoss(layer: 2, targetGram: gramMatrix(tActs[2]), weight: 50),
                ]
                func objective(_ x: Tensor) -> (Double, Tensor) {
                    let acts = net.forward(x, through: 3)
                    var grads: [Int: Tensor] = [:]
                    var total = 0.0
                    for l in losses {
                        var g = grads[l.layer] ?? Tensor.zeros(like: acts[l.layer])
                        total += l.evaluate(acts[l.layer], gradient: &g)
                        grads[l.layer] = g
                    }
                    return (total, net.backward(activations: acts, gradients: grads))
                }
                let (_, grad) = objective(img)
                XCTAssertGreaterThan(grad.maxAbs, 0)
                // Caffe preprocessing multiplies by 255: the same kinks lie 255× closer
                let steps: [Float] = prep == .caffe ? [1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6] : [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5]
                let err = directionalCheck(at: img, gradient: grad, steps: steps) { objective($0).0 }
                // The float32 network bounds what a finite difference can see: each direction's
                // error falls with the step until the kinks (ReLU, pooling) stop being crossed,
                // then rises again as float32 rounding takes over (caffe/max, this seed, over the
                // six directions: 2-40% at 1e-3, 0.01-1.9% at 1e-4, 0.3-6.7% at 1e-5). The floor
                // moves with the machine's rounding: on an AVX-512 EPYC caffe/max reached 1.6%
                // and torchvision/max 0.14%, past the 1% and 0.1% bounds an earlier machine met;
                // max-blur's overlapping windows cross about 4× the kinks of max pooling;
                // a wrong gradient is off by tens of per cent (routing max pooling's gradient
                // to the window's first element: 40-170% in every direction). Each layer's
                // gradient is checked exactly in LayerTests, caffe's preprocessing above.
                XCTAssertLessThan(err, prep == .caffe ? 3e-2 : pooling == .maxBlur ? 1e-2 : 3e-3, "pooling \(pooling) preprocessing \(prep)")
            }
        }
    }
}
