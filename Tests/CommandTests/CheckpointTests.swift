import Engine
import Foundation
@testable import StylevidCommands
import TestSupport
import VideoIO
import XCTest

final class CheckpointTests: TemporaryDirectoryTestCase {
    func image(_ v: UInt8, _ w: Int = 8, _ h: Int = 6) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: v, count: w * h * 3)) }

    func testResumeFindsFramesAndRefusesOtherSettings() throws {
        let out = dir + "/out.mp4"
        let fresh = try Checkpoints(output: out, fingerprint: "A", resume: false)
        try fresh.save(image(10), 0)
        try fresh.save(image(20), 1)
        let resumed = try Checkpoints(output: out, fingerprint: "A", resume: true)
        XCTAssertEqual(resumed.available, 2)
        XCTAssertEqual(resumed.load(1, width: 8, height: 6)?.pixels, image(20).pixels)
        XCTAssertNil(resumed.load(1, width: 16, height: 6), "a frame of another size is redone, not trusted")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: resumed.path(0)))
        XCTAssertNil(resumed.load(0, width: 8, height: 6), "a damaged frame is redone")
        XCTAssertThrowsError(try Checkpoints(output: out, fingerprint: "B", resume: true)) {
            XCTAssert("\($0)".contains("were made with other settings"), "\($0)")
        }
        XCTAssertThrowsError(try Checkpoints(output: dir + "/other.mp4", fingerprint: "A", resume: true)) {
            XCTAssert("\($0)".contains("nothing to resume"), "\($0)")
        }
        _ = try Checkpoints(output: out, fingerprint: "B", resume: false)
        XCTAssertEqual(try Checkpoints(output: out, fingerprint: "B", resume: true).available, 0, "a fresh run starts over")
    }

    func testJobFolderSaysWhyThereIsNoPlan() throws {
        XCTAssertThrowsError(try JobFolder(dir + "/none").load()) { XCTAssert("\($0)".contains("no such job folder"), "\($0)") }
        XCTAssertThrowsError(try JobFolder(dir).load()) { XCTAssert("\($0)".contains("has no plan.json"), "\($0)") }
        // a plan of the format before settings were stored as values (it stored the arguments)
        try Data("{\"format\": 2, \"arguments\": [\"in.mp4\", \"p.jpg\", \"out.mp4\"]}".utf8).write(to: URL(fileURLWithPath: dir + "/plan.json"))
        XCTAssertThrowsError(try JobFolder(dir).load()) {
            XCTAssert("\($0)".contains("was made by an earlier version of stylevid (plan format 2; this one reads 3): plan again"), "\($0)")
        }
        let folder = JobFolder(dir)
        try FileManager.default.createDirectory(atPath: folder.taskFolder(0), withIntermediateDirectories: true)
        try folder.writeSegmentInfo(.init(offset: 3072, videoStartTime: 0.5), task: 0)
        XCTAssertEqual(folder.segmentInfo(0)?.offset, 3072)
        XCTAssertEqual(folder.segmentInfo(0)?.videoStartTime, 0.5)
        XCTAssertNil(folder.segmentInfo(1))
    }
}
