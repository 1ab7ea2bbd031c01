import Kernels
import Photoreal
import TestSupport
import XCTest

final class SegmentationTests: XCTestCase {
    func rgb(_ pixels: [(UInt8, UInt8, UInt8)]) -> [UInt8] { pixels.flatMap { [$0.0, $0.1, $0.2] } }

    func testColourCodedMaskTakesNearestPaletteColour() throws {
        // JPEG-ish noise around red, blue and white
        let m = try LabelMap.decode(width: 4, height: 1, rgb: rgb([(250, 10, 4), (3, 0, 240), (255, 255, 255), (240, 20, 0)]), what: "content")
        XCTAssertEqual(m.names, ["blue", "white", "red"])   // palette order
        XCTAssertEqual(m.labels, [2, 0, 1, 2])
        XCTAssertEqual(m.areas, [0.25, 0.25, 0.5])
    }

    func testIntegerLabelImage() throws {
        let m = try LabelMap.decode(width: 3, height: 2, rgb: rgb([(0, 0, 0), (3, 3, 3), (3, 3, 3), (1, 1, 1), (0, 0, 0), (3, 3, 3)]), what: "content")
        XCTAssertEqual(m.names, ["0", "1", "3"])
        XCTAssertEqual(m.labels, [0, 2, 2, 1, 0, 2])
        // white and grey make it colour-coded, not integer
        let c = try LabelMap.decode(width: 2, height: 1, rgb: rgb([(0, 0, 0), (128, 128, 128)]), what: "x")
        XCTAssertEqual(c.names, ["black", "grey"])
    }

    func testPairingByNameAndMissingLabel() throws {
        let content = LabelMap(width: 2, height: 2, labels: [0, 1, 1, 2], names: ["blue", "red", "green"])
        let reference = LabelMap(width: 2, height: 1, labels: [0, 1], names: ["red", "blue"])
        XCTAssertThrowsError(try MaskPairing(content: content, reference: reference)) { e in
            guard case MaskError.missingLabels(let only, let ref) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(only, ["green"]); XCTAssertEqual(ref, ["red", "blue"])
            XCTAssert("\(e)".contains("--mask-map green=red"), "\(e)")
        }
        let p = try MaskPairing(content: content, reference: reference, map: try MaskPairing.parseMap("green=blue"))
        XCTAssertEqual(p.pairs.map { [$0.0, $0.1] }, [[0, 1], [1, 0], [2, 1]])
        XCTAssertEqual(p.areas, [0.25, 0.5, 0.25])
        XCTAssertThrowsError(try MaskPairing.parseMap("green"))
        XCTAssertThrowsError(try MaskPairing.parseMap("a=b,a=c"))
        XCTAssertThrowsError(try MaskPairing(content: content, reference: reference, map: ["purple": "red"]))
        XCTAssertThrowsError(try MaskPairing(content: content, reference: reference, map: ["green": "purple"]))
    }

    func testMasksResizeToSoftPlanes() {
        let m = LabelMap(width: 4, height: 1, labels: [0, 0, 1, 1], names: ["a", "b"])
        let t = m.masks([1, 0], width: 2, height: 1)
        XCTAssertEqual(t.shape, [2, 1, 2])
        // the planes of a partition still sum to 1 everywhere after resizing
        let big = m.masks([0, 1], width: 7, height: 3)
        for i in 0..<big.plane { XCTAssertEqual(big.storage[i] + big.storage[big.plane + i], 1, accuracy: 1e-6) }
        XCTAssert(big.storage[0..<big.plane].contains { $0 > 0.05 && $0 < 0.95 }, "a stretched mask has soft borders")
    }

    /// Masked Gram against a Double reference; an all-ones mask gives the plain Gram.
    func testMaskedGram() {
        var rng = SplitMix64(seed: 1)
        let f = Tensor.random(channels: 3, height: 4, width: 5, in: -1...1, generator: &rng)
        let mask = Tensor.random(channels: 1, height: 4, width: 5, in: 0...1, generator: &rng)
        let g = mask.storage.withUnsafeBufferPointer { maskedGram(f, mask: $0.baseAddress!) }!
        let n = 20
        let mean = mask.storage.map(Double.init).reduce(0, +) / Double(n)
        for a in 0..<3 { for b in 0..<3 {
            var s = 0.0
            for i in 0..<n { s += Double(f.storage[a * n + i] * mask.storage[i]) * Double(f.storage[b * n + i] * mask.storage[i]) }
            assertClose(s / (3 * 20 * mean), Double(g[a * 3 + b]), tolerance: 1e-5)
        }}
        let zero = [Float](repeating: 0, count: n)
        XCTAssertNil(zero.withUnsafeBufferPointer { maskedGram(f, mask: $0.baseAddress!) })
    }

    /// Gradient check of the segmented style loss with soft masks, one label that has no
    /// reference target (skipped) and one whose content mask is empty (skipped).
    func testMaskedStyleLossGradient() {
        var rng = SplitMix64(seed: 7)
        let f = Tensor.random(channels: 4, height: 5, width: 6, in: 0...1, generator: &rng)
        var masks = Tensor.random(channels: 4, height: 5, width: 6, in: 0...1, generator: &rng)
        for i in 0..<30 { masks.storage[3 * 30 + i] = 0 }
        let ref = Tensor.random(channels: 4, height: 5, width: 6, in: 0...1, generator: &rng)
        var targets = MaskedStyleLoss.targets(features: ref, masks: masks)
        targets[1] = nil
        let loss = MaskedStyleLoss(masks: masks, targets: targets, areas: [0.5, 0.2, 0.3, 0.1], weight: 3)
        var g = Tensor.zeros(like: f)
        let v = loss.evaluate(f, gradient: &g)
        XCTAssertGreaterThan(v, 0)
        let err = gradientCheck(at: f, gradient: g, samples: 60, step: 1e-2) { x in
            var d = Tensor.zeros(like: x)
            return loss.evaluate(x, gradient: &d)
        }
        XCTAssertLessThan(err, 2e-2)
        // the reference's own features under its own masks give zero loss
        let same = MaskedStyleLoss(masks: masks, targets: MaskedStyleLoss.targets(features: f, masks: masks), areas: [1, 1, 1, 1], weight: 1)
        var g2 = Tensor.zeros(like: f)
        XCTAssertEqual(same.evaluate(f, gradient: &g2), 0, accuracy: 1e-9)
        XCTAssertLessThan(Double(g2.maxAbs), 1e-5)
    }

    /// The area weights: doubling one label's area doubles its share of the loss.
    func testAreaWeighting() {
        var rng = SplitMix64(seed: 9)
        let f = Tensor.random(channels: 2, height: 3, width: 3, in: 0...1, generator: &rng)
        let masks = Tensor(channels: 1, height: 3, width: 3, repeating: 1)
        let t: [[Float]?] = [[0, 0, 0, 0]]
        var g = Tensor.zeros(like: f)
        let a = MaskedStyleLoss(masks: masks, targets: t, areas: [0.25], weight: 1).evaluate(f, gradient: &g)
        let b = MaskedStyleLoss(masks: masks, targets: t, areas: [0.5], weight: 1).evaluate(f, gradient: &g)
        XCTAssertEqual(b, 2 * a, accuracy: 1e-12)
    }
}
