import XCTest
import Engine
import Kernels
import Temporal

/// Fast mode's blending of the two runs and its trace back to the keyframe.
final class KeyframePropagationTests: XCTestCase {
    func result(_ value: Float, cost: Float, _ w: Int = 6, _ h: Int = 5) -> PatchSynthesis.Result {
        PatchSynthesis.Result(image: Tensor(channels: 3, height: h, width: w, storage: [Float](repeating: value, count: 3 * w * h)),
                              cost: [Float](repeating: cost, count: w * h), matchX: [], matchY: [])
    }

    /// Equal costs: the blend goes linearly from one keyframe's run to the other's; a run
    /// whose patches match far worse counts for little.
    func testBlendWeighsDistanceAndMatchCost() {
        let a = result(0.2, cost: 1), b = result(0.8, cost: 1)
        XCTAssertEqual(KeyframePropagation.blend(a, b, towardSecond: 0).storage[7], 0.2, accuracy: 1e-4)
        XCTAssertEqual(KeyframePropagation.blend(a, b, towardSecond: 0.5).storage[7], 0.5, accuracy: 1e-4)
        XCTAssertEqual(KeyframePropagation.blend(a, b, towardSecond: 0.75).storage[7], 0.65, accuracy: 1e-4)
        // run a matches badly at pixel (1, 1): there the blend leans to run b; far from it
        // (its 5×5 window apart) the two still weigh the same
        var poor = result(0.2, cost: 1)
        poor.cost[7] = 20
        let blended = KeyframePropagation.blend(poor, b, towardSecond: 0.5)
        XCTAssertGreaterThan(blended.storage[7], 0.6)
        XCTAssertEqual(blended.storage[29], 0.5, accuracy: 1e-4)
        // by distance alone (a cluster task's last gap, toward a keyframe painted apart)
        XCTAssertEqual(KeyframePropagation.blend(poor, b, towardSecond: 0.5, byCost: false).storage[7], 0.5, accuracy: 1e-4)
    }

    /// A pixel traces back when its flow is consistent and lands on a pixel that traced
    /// back; leaving the frame or landing on one that did not breaks the trace.
    func testTraceFollowsTheFlow() {
        let (w, h) = (4, 1)
        let back = Flow(width: w, height: h, u: [1, 1, 1, 1], v: [0, 0, 0, 0])
        let traced = KeyframePropagation.traced([true, false, true, true], consistent: [true, true, false, true], back: back)
        // pixel 0 → 1 (did not trace), 1 → 2 (traced), 2 inconsistent, 3 → 4 (outside)
        XCTAssertEqual(traced, [false, true, false, false])
    }

    /// The time left counts each kind of frame at its own cost: before anything but the
    /// first keyframe is measured, from that keyframe's cost; then from what was measured,
    /// with warm keyframes at least every maxGap frames, more where more were needed.
    func testTheTimeLeftCountsKeyframesAndPropagatedFramesAtTheirOwnCost() throws {
        var e = FastEstimate(maxGap: 16)
        XCTAssertNil(e.secondsLeft(framesLeft: 100), "nothing measured yet")
        e.keyframe(seconds: 60, fromScratch: true)
        XCTAssertEqual(try XCTUnwrap(e.secondsLeft(framesLeft: 160)), 160 * (60.0 / 250) + 10 * 10, accuracy: 1e-9)
        for _ in 0..<16 { e.arrived(seconds: 0.05) }
        e.propagated(frames: 15, seconds: 3)
        e.keyframe(seconds: 8, fromScratch: false)
        XCTAssertEqual(try XCTUnwrap(e.secondsLeft(framesLeft: 160)), 160 * (0.2 + 0.05) + 10 * 8, accuracy: 1e-9)
        // fast motion: 8 warm keyframes in 32 frames, one in 4
        for _ in 0..<16 { e.arrived(seconds: 0.05) }
        for _ in 0..<7 { e.keyframe(seconds: 8, fromScratch: false) }
        XCTAssertEqual(try XCTUnwrap(e.secondsLeft(framesLeft: 160)), 160 * (0.2 + 0.05) + 40 * 8, accuracy: 1e-9)
        // a cut's keyframe from scratch changes neither the warm cost nor the share
        e.keyframe(seconds: 50, fromScratch: true)
        XCTAssertEqual(try XCTUnwrap(e.secondsLeft(framesLeft: 160)), 160 * (0.2 + 0.05) + 40 * 8, accuracy: 1e-9)
    }
}
