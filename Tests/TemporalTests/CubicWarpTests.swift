import Foundation
import Kernels
@testable import Temporal
import TestSupport
import XCTest

final class CubicWarpTests: XCTestCase {
    /// Integer shifts are exact; linear ramps are reproduced at sub-pixel positions;
    /// out-of-frame pixels keep the image's own value; it is sharper than bilinear.
    func testCubicWarp() {
        let (w, h) = (24, 18)
        let img = FlowTests.texture(w, h, seed: 9)
        let shifted = Warp.backwardCubic(img, flow: FlowTests.constantFlow(w, h, 2, 1))
        for c in 0..<3 { for y in 0..<(h - 1) { for x in 0..<(w - 2) {
            XCTAssertEqual(shifted[c, y, x], img[c, y + 1, x + 2], accuracy: 1e-5)
        }}}
        var ramp = Tensor(channels: 1, height: h, width: w)
        for y in 0..<h { for x in 0..<w { ramp[0, y, x] = 0.1 * Float(x) - 0.05 * Float(y) } }
        let r = Warp.backwardCubic(ramp, flow: FlowTests.constantFlow(w, h, 0.3, 0.6))
        for y in 1..<(h - 3) { for x in 1..<(w - 3) {
            XCTAssertEqual(r[0, y, x], 0.1 * (Float(x) + 0.3) - 0.05 * (Float(y) + 0.6), accuracy: 1e-5)
        }}
        let out = Warp.backwardCubic(img, flow: FlowTests.constantFlow(w, h, 100, 0))
        XCTAssertEqual(out, img)
        // a half-pixel shift there and back: cubic loses less contrast than bilinear
        let half = FlowTests.constantFlow(w, h, 0.5, 0.5), back = FlowTests.constantFlow(w, h, -0.5, -0.5)
        let lin = Warp.backward(Warp.backward(img, flow: half).image, flow: back).image
        let cub = Warp.backwardCubic(Warp.backwardCubic(img, flow: half), flow: back)
        func err(_ t: Tensor) -> Float {
            var s: Float = 0
            for c in 0..<3 { for y in 3..<(h - 3) { for x in 3..<(w - 3) { s += abs(t[c, y, x] - img[c, y, x]) } } }
            return s
        }
        XCTAssertLessThan(err(cub), err(lin) * 0.6, "cubic \(err(cub)), bilinear \(err(lin))")
    }
}
