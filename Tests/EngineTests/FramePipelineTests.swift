import Engine
import Foundation
import TestSupport
import VideoIO
import XCTest

/// The frame pipeline's progress: the time left is estimated from the frames after the
/// first, which costs several times a later one (pyramid, full budget).
final class FramePipelineTests: TemporaryDirectoryTestCase {

    func testTimeLeftFollowsTheLaterFrames() throws {
        let clip = dir + "/clip.mkv"
        let ff = runShell("ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=10:duration=0.6 -c:v ffv1 '\(clip)'")
        XCTAssertEqual(ff.status, 0, ff.stderr)
        var reports: [VideoProgress] = []
        let written = try FramePipeline(reader: try VideoReader(path: clip, sizing: { _ in nil }), range: FrameRange()).run(
            makeWriter: { _ in nil },
            process: { frame, _ in
                usleep(reports.isEmpty ? 600_000 : 10_000)   // a first frame 60× a later one
                return frame.image
            },
            progress: { reports.append($0) })
        XCTAssertEqual(written, 6)
        XCTAssertEqual(reports.map(\.framesDone), [1, 2, 3, 4, 5, 6])
        XCTAssertNil(reports[0].laterSecondsPerFrame, "no later frame yet")
        XCTAssertEqual(reports[0].secondsLeft ?? 0, 5 * reports[0].secondsPerFrame, accuracy: 1e-9)
        let second = reports[1]
        let later = try XCTUnwrap(second.laterSecondsPerFrame)
        XCTAssertLessThan(later, 0.2, "the first frame left out")
        XCTAssertGreaterThan(second.secondsPerFrame, 0.3, "the average over both")
        XCTAssertEqual(second.secondsLeft ?? 0, 4 * later, accuracy: 1e-9)
        XCTAssertEqual(reports[5].secondsLeft, 0)
    }
}
