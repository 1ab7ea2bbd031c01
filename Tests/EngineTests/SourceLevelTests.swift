import Engine
import Kernels
import Temporal
import TestSupport
import VideoIO
import XCTest

/// The source-size level of a video (`--output-size source`): the link to the previous
/// frame brought up from the processing size, and frames that follow the motion.
final class SourceLevelTests: XCTestCase {
    let tiny = VGG.random(blocks: [[4, 4], [6, 6], [8, 8, 8], [8, 8, 8], [8, 8, 8]], upTo: 11, seed: 5)

    func level(size: Int, weight: Float, width: Int, height: Int) throws -> SourceLevel {
        var c = StyleConfig()
        c.size = size; c.iterations = 12; c.pyramidLevels = 1; c.styleWeight = 1000
        var t = TemporalConfig()
        t.weight = weight
        t.laterIterations = 6
        t.stopTolerance = 0
        return SourceLevel(stylizer: try Stylizer(network: tiny, config: c), config: t, sourceWidth: width, sourceHeight: height)
    }

    /// A processing-size flow of 1 px becomes 2 px at twice the size: the previous result
    /// warped by the link is the previous result moved by 2 px, and full consistency stays
    /// full; a pixel the processing-size check rejected is not trusted at the source size.
    func testTheLinkIsBroughtUpToTheSourceSize() throws {
        let source = try level(size: 40, weight: 200, width: 40, height: 32)
        XCTAssertEqual(source.width, 40); XCTAssertEqual(source.height, 32)
        var rng = SplitMix64(seed: 3)
        let previous = Tensor.random(channels: 3, height: 32, width: 40, in: 0...1, generator: &rng)
        // frame t's pixel x shows what was at x − 1 in frame t − 1 (processing size 20×16)
        let flow = Flow(width: 20, height: 16, u: [Float](repeating: -1, count: 320), v: [Float](repeating: 0, count: 320))
        var consistency = [Float](repeating: 1, count: 320)
        consistency[8 * 20 + 10] = 0
        let (warped, trust) = source.linked(previous.rgbImage(), by: TemporalStylizer.Link(backward: flow, consistency: consistency))
        let rounded = Tensor(image: previous.rgbImage())
        var worst: Float = 0
        for c in 0..<3 { for y in 0..<32 { for x in 2..<40 { worst = max(worst, abs(warped[c, y, x] - rounded[c, y, x - 2])) } } }
        XCTAssertLessThan(worst, 1e-4, "moved by 2 px at twice the size")
        XCTAssertEqual(trust[0], 1)
        XCTAssertEqual(trust[4 * 40 + 4], 1)
        XCTAssertLessThan(trust[16 * 40 + 20], 1, "the rejected pixel")
    }

    /// A scene panning by 2 px per frame, stylised at 24 px and then at 48: the source
    /// level's frames are steadier (lower warping error) with the link than without, a
    /// shot's first frame gets the first-frame budget and later ones the later budget.
    func testSourceFramesFollowTheMotion() throws {
        let input = TemporalStylizerTests.panning(5)   // 48×40
        var rng = SplitMix64(seed: 22)
        let style = Tensor.random(channels: 3, height: 32, width: 32, in: 0...1, generator: &rng).rgbImage()
        func render(_ weight: Float) throws -> (frames: [Tensor], evaluations: [Int]) {
            var c = StyleConfig()
            c.size = 24; c.iterations = 12; c.pyramidLevels = 1; c.styleWeight = 1000
            var t = TemporalConfig()
            t.weight = weight
            t.frames = [1]
            let temporal = TemporalStylizer(stylizer: try Stylizer(network: tiny, config: c), config: t)
            let source = try level(size: 48, weight: weight, width: 48, height: 40)
            var out: [Tensor] = [], evaluations: [Int] = []
            for f in input {
                let processed = try temporal.next(try ImageIO.scale(f, width: 24, height: 20), styles: [style])
                XCTAssertEqual(processed.link == nil, weight == 0 || out.isEmpty)
                let full = try source.next(f, processed: processed, styles: [style])
                XCTAssertEqual(full.image.width, 48); XCTAssertEqual(full.image.height, 40)
                out.append(Tensor(image: full.image)); evaluations.append(full.evaluations)
            }
            return (out, evaluations)
        }
        let linked = try render(200), independent = try render(0)
        XCTAssertEqual(linked.evaluations, [12, 6, 6, 6, 6])
        XCTAssertEqual(independent.evaluations, [12, 12, 12, 12, 12])
        let inputs = input.map { Tensor(image: $0) }
        let steady = warpingError(inputs: inputs, outputs: linked.frames), loose = warpingError(inputs: inputs, outputs: independent.frames)
        XCTAssertLessThan(steady, 0.5 * loose, "warping error with the link \(steady), without \(loose)")
    }

    /// A seam pass's hand-over at the source size: a frame guided toward a result rendered
    /// apart ends nearer to it, the more so the larger the weight; without a guide it is
    /// the frame the level makes alone.
    func testGuideDrawsTheFrameTowardAResultRenderedApart() throws {
        let input = TemporalStylizerTests.panning(2)   // 48×40
        var rng = SplitMix64(seed: 31)
        let style = Tensor.random(channels: 3, height: 32, width: 32, in: 0...1, generator: &rng).rgbImage()
        let apart = Tensor.random(channels: 3, height: 40, width: 48, in: 0...1, generator: &rng).rgbImage()
        func second(guided weight: Float?) throws -> Tensor {
            var c = StyleConfig()
            c.size = 24; c.iterations = 8; c.pyramidLevels = 1; c.styleWeight = 1000
            var t = TemporalConfig()
            t.frames = [1]
            let temporal = TemporalStylizer(stylizer: try Stylizer(network: tiny, config: c), config: t)
            let source = try level(size: 48, weight: 200, width: 48, height: 40)
            var last = Tensor(channels: 3, height: 1, width: 1)
            for (k, f) in input.enumerated() {
                let processed = try temporal.next(try ImageIO.scale(f, width: 24, height: 20), styles: [style])
                source.guide = k == 1 ? weight.map { (apart, $0) } : nil
                last = Tensor(image: try source.next(f, processed: processed, styles: [style]).image)
            }
            return last
        }
        let target = Tensor(image: apart)
        func distance(_ t: Tensor) -> Float { zip(t.storage, target.storage).map { abs($0 - $1) }.reduce(0, +) / Float(t.count) }
        let alone = try second(guided: nil), half = try second(guided: 0.5), whole = try second(guided: 1)
        XCTAssertEqual(alone.storage, try second(guided: 0).storage, "weight 0 is no guide")
        XCTAssertLessThan(distance(half), 0.8 * distance(alone))
        XCTAssertLessThan(distance(whole), 0.8 * distance(half))
    }
}
