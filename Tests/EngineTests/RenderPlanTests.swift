import Engine
import Foundation
import TestSupport
import VideoIO
import XCTest

final class RenderPlanTests: XCTestCase {
    func testTasksFallOnShotStartsAndSplitLongShots() {
        // shots 0-29, 30-136, 137-241, 242-249 (bikes.mp4's), at most 40 frames a task
        let tasks = RenderPlan.tasks(frameCount: 250, shotStarts: [30, 137, 242], chunkFrames: 40)
        XCTAssertEqual(tasks.map { [$0.first, $0.last] },
                       [[0, 29], [30, 64], [65, 100], [101, 136], [137, 171], [172, 206], [207, 241], [242, 249]])
        // every frame in exactly one task, in order
        XCTAssertEqual(tasks.flatMap { Array($0.first...$0.last) }, Array(0..<250))
        // no shot start inside a task (except its first frame)
        for s in [30, 137, 242] { XCTAssert(tasks.contains { $0.first == s }, "\(s)") }
    }

    func testShortShotsShareATaskAndOneShotSplitsEvenly() {
        let merged = RenderPlan.tasks(frameCount: 20, shotStarts: [5, 8, 12, 19, 0, 99], chunkFrames: 10)
        // shots 0-4, 5-7, 8-11, 12-18, 19 (0 and 99 are no cuts): neighbours that fit share a task
        XCTAssertEqual(merged.map { [$0.first, $0.last] }, [[0, 7], [8, 11], [12, 19]])
        let even = RenderPlan.tasks(frameCount: 13, shotStarts: [], chunkFrames: 4)
        XCTAssertEqual(even.map(\.count), [3, 3, 3, 4])
        XCTAssertEqual(RenderPlan.tasks(frameCount: 0, shotStarts: [], chunkFrames: 4), [])
    }

    func testJSONUsesTheDocumentedKeys() throws {
        let plan = RenderPlan(stylevidVersion: "9", input: "/in.mp4", output: "/out.mp4", workingDirectory: "/w",
                              settings: VideoSettings(style: StyleConfig(), temporal: TemporalConfig(), stylePaths: ["p.jpg"]), fingerprint: "f", frameCount: 13, frameRate: 25,
                              width: 64, height: 36, shotStarts: [], tasks: [.init(first: 0, last: 6), .init(first: 7, last: 12)])
        let data = try plan.encoded()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["tasks"] as? [[String: Int]], [["first": 0, "last": 6], ["first": 7, "last": 12]])
        for key in ["input", "output", "settings", "fingerprint", "frame_count", "working_directory", "stylevid_version", "shot_starts"] {
            XCTAssertNotNil(object[key], key)
        }
        XCTAssertEqual(try RenderPlan.decode(data), plan)
        // the settings as values, not a command line to parse again
        let settings = try XCTUnwrap(object["settings"] as? [String: Any])
        XCTAssertEqual(settings["style_paths"] as? [String], ["p.jpg"])
        XCTAssertEqual((settings["style"] as? [String: Any])?["style_weight"] as? Double, Double(StyleConfig().styleWeight))
        XCTAssertEqual(plan.task(of: 7), 1)
        XCTAssertNil(plan.task(of: 13))
        XCTAssertThrowsError(try RenderPlan.decode(Data("{\"tasks\": 3}".utf8)))
        XCTAssertThrowsError(try RenderPlan.decode(Data("{\"format\": 1, \"tasks\": []}".utf8))) {
            XCTAssertEqual($0 as? RenderPlan.FormatError, .format(1))
        }
    }

    /// The seam pass hands over to a task's own frames in equal steps: the guide's share
    /// reaches each step from wherever the frame before ended up.
    func testSeamPassMakesEqualSteps() {
        let plan = RenderPlan(stylevidVersion: "9", input: "/in.mp4", output: "/out.mp4", workingDirectory: "/w",
                              settings: VideoSettings(style: StyleConfig(), temporal: TemporalConfig(), stylePaths: []), fingerprint: "f", frameCount: 40, frameRate: 25, width: 64, height: 36,
                              shotStarts: [30], seamPassFrames: 4, tasks: [.init(first: 0, last: 14), .init(first: 15, last: 29), .init(first: 30, last: 39)])
        // a frame the optimisation pulled back (distance 0.9 of the start where 0.75
        // was asked) moves further: to exactly the 0.5 asked of the next one
        var distance: Float = 1
        for (remaining, undone) in [(Float(0.75), Float(0.15)), (0.5, 0.1), (0.25, 0), (0, 0)] {
            let share = TemporalStylizer.Guide.share(remaining: remaining, startDistance: 1, distance: distance)
            XCTAssertEqual(distance * (1 - share), remaining, accuracy: 1e-6)
            distance = remaining + undone
        }
        XCTAssertEqual(TemporalStylizer.Guide.share(remaining: 0.5, startDistance: 1, distance: 0.3), 0, "already past: stays")
        // the seam pass of task 1: its first 4 frames again, from the task before's last
        XCTAssertEqual(plan.seamPassLength(task: 1), 4)
        XCTAssertEqual((0..<6).map { plan.seamPassRemaining(task: 1, frame: $0) }, [0.8, 0.6, 0.4, 0.2, nil, nil])
        XCTAssertEqual([0, 2].map { plan.seamPassLength(task: $0) }, [0, 0], "the first task and a new shot have none")
        var fast = plan
        fast.settings.mode = .fast
        XCTAssertEqual(fast.seamPassLength(task: 1), 0, "fast mode's tasks meet at a shared keyframe instead")
        XCTAssert(fast.continuesShot(1))
        // readers seek to the nearest frame whose timestamp the plan knows
        XCTAssertNil(plan.seekPoint(frame: 20), "a plan without timestamps: decode from the start")
        var timed = plan
        (timed.videoStartPts, timed.videoStartTime) = (100, 0.1)
        for k in timed.tasks.indices { (timed.tasks[k].firstPts, timed.tasks[k].lastPts) = (Int64(timed.tasks[k].first * 10 + 100), Int64(timed.tasks[k].last * 10 + 100)) }
        XCTAssertEqual(timed.seekPoint(frame: 15).map { [$0.pts, Int64($0.index)] }, [250, 15])
        XCTAssertEqual(timed.seekPoint(frame: 27).map { [$0.pts, Int64($0.index)] }, [250, 15], "inside task 1: its first frame")
        XCTAssertEqual(timed.seekPoint(frame: 29).map { [$0.pts, Int64($0.index)] }, [390, 29])
        XCTAssertEqual(timed.seekPoint(frame: 0)?.videoStart.pts, 100)
    }

    /// A pan over one picture is one shot; a jump to another picture is a cut.
    func testShotDetectorFindsCutsNotMotion() throws {
        let data = StylevidPaths.data
        try requireInstalled([data + "/astronaut.png", data + "/coffee.png"])
        let a = try ImageIO.read(data + "/astronaut.png"), b = try ImageIO.read(data + "/coffee.png")
        func window(_ img: RGBImage, x: Int) -> RGBImage {
            var out = [UInt8](); out.reserveCapacity(64 * 48 * 3)
            for row in 0..<48 { for col in 0..<64 { let i = ((row * 4) * img.width + (x + col) * 4) * 3; out += img.pixels[i..<(i + 3)] } }
            return RGBImage(width: 64, height: 48, pixels: out)
        }
        var d = ShotDetector()
        for x in 0..<10 { XCTAssertFalse(d.add(window(a, x: 2 * x)), "pan frame \(x)") }
        XCTAssertTrue(d.add(window(b, x: 0)))
        for x in 1..<5 { XCTAssertFalse(d.add(window(b, x: 2 * x))) }
        XCTAssertEqual(d.starts, [10])
    }
}
