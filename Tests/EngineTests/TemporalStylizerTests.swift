import Engine
import Kernels
import Temporal
import TestSupport
import VideoIO
import XCTest

final class TemporalStylizerTests: XCTestCase {
    let tiny = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)

    /// A textured scene panning 2 px per frame.
    func frames(_ n: Int, w: Int = 48, h: Int = 40) -> [RGBImage] {
        var rng = SplitMix64(seed: 21)
        let big = Resize.bilinear(Tensor.random(channels: 3, height: 12, width: 20, in: 0...1, generator: &rng), height: h, width: w + 2 * n)
        return (0..<n).map { k in
            var t = Tensor(channels: 3, height: h, width: w)
            for c in 0..<3 { for y in 0..<h { for x in 0..<w { t[c, y, x] = big[c, y, x + 2 * k] } } }
            return t.rgbImage()
        }
    }

    func run(_ weight: Float, _ input: [RGBImage], style: RGBImage) throws -> [Tensor] {
        var c = StyleConfig()
        c.size = 48; c.iterations = 20; c.pyramidLevels = 1; c.styleWeight = 1000
        var t = TemporalConfig()
        t.weight = weight
        let ts = TemporalStylizer(stylizer: try Stylizer(network: tiny, config: c), config: t)
        return try input.map { Tensor(image: try ts.next($0, styles: [style])) }
    }

    /// The warm start and the temporal term make a panning sequence steadier (lower
    /// warping error) than stylizing every frame on its own.
    func testTemporalTermLowersTheWarpingError() throws {
        let input = frames(4)
        var rng = SplitMix64(seed: 22)
        let style = Tensor.random(channels: 3, height: 32, width: 32, in: 0...1, generator: &rng).rgbImage()
        let independent = try run(0, input, style: style)
        let steady = try run(200, input, style: style)
        let ins = input.map { Tensor(image: $0) }
        let e0 = warpingError(inputs: ins, outputs: independent), e1 = warpingError(inputs: ins, outputs: steady)
        XCTAssertLessThan(e1, e0 * 0.7, "independent \(e0), temporal \(e1)")
        // the first frame is stylized exactly as an image would be
        XCTAssertEqual(independent[0], steady[0])
    }

    func testWarpingErrorIsZeroForAPerfectlyWarpedSequence() {
        let input = frames(3).map { Tensor(image: $0) }
        // the input itself is perfectly consistent with its own flow (up to interpolation)
        XCTAssertLessThan(warpingError(inputs: input, outputs: input), 1e-3)
        // noise added independently per frame is not
        var rng = SplitMix64(seed: 23)
        let noisy = input.map { t -> Tensor in var n = t; n.add(Tensor.random(channels: 3, height: t.height, width: t.width, in: -0.2...0.2, generator: &rng)); return n }
        XCTAssertGreaterThan(warpingError(inputs: input, outputs: noisy), 0.01)
    }
}
