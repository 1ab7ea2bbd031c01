import Foundation
import Kernels
@testable import Temporal
import TestSupport
import XCTest

final class WeightSmoothingTests: XCTestCase {
    func testSmoothedWeightsTaperButNeverTrustOccludedPixels() {
        let (w, h) = (9, 7)
        var c = [Float](repeating: 1, count: w * h)
        c[3 * w + 4] = 0                                   // one occluded pixel
        let s = Warp.smoothWeights(c, width: w, height: h, radius: 1)
        XCTAssertEqual(s[3 * w + 4], 0)                    // stays untrusted
        XCTAssertEqual(s[3 * w + 3], 8.0 / 9, accuracy: 1e-6)   // its neighbours taper
        XCTAssertEqual(s[0], 1)                            // far away: unchanged
        XCTAssert(s.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(Warp.smoothWeights(c, width: w, height: h, radius: 0), c)
        XCTAssertEqual(Warp.smoothWeights([Float](repeating: 1, count: w * h), width: w, height: h, radius: 3), [Float](repeating: 1, count: w * h))
    }
}
