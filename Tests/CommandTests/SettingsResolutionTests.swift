import Engine
import Foundation
@testable import StylevidCommands
import TestSupport
import VideoIO
import XCTest

/// The command-line logic without the binary: settings resolution, the resume
/// fingerprint, checkpoints and job folders.
final class SettingsResolutionTests: XCTestCase {
    func options(_ args: [String]) throws -> StyleOptions { try StyleOptions.parse(args) }

    func testOptionsFillTheVideoPresetAndTheChainAddsStyles() throws {
        let o = try options(["--style-weight", "300"])
        let config = try o.makeConfig(styleCount: 1, video: true)
        XCTAssertEqual(config.size, Preset.video.style().size, "the video preset's size")
        XCTAssertEqual(config.styleWeight, 300)
        let s = try RunSettings(config: config, temporal: TemporalConfig(), passes: 1, positional: ["a.jpg"],
                                chain: "style=b.jpg:weight=100,temporal=weight=50", masks: o)
        XCTAssertEqual(s.stylePaths, ["a.jpg", "b.jpg"])
        XCTAssertEqual(s.config.styleBlend, [300, 100], "the images blend in proportion to their weights")
        XCTAssertEqual(s.config.styleWeight, 200, "the loss weight is their mean")
        XCTAssertEqual(s.temporal.weight, 50)
    }

    /// "photoreal starts from reinhard" holds whether λ comes from an option or the chain,
    /// unless the user chose a start.
    func testPhotorealStartsFromReinhardFromEitherSide() throws {
        let plain = try options([])
        let viaChain = try RunSettings(config: try plain.makeConfig(styleCount: 1), temporal: TemporalConfig(), passes: 1,
                                       positional: ["a.jpg"], chain: "photoreal=1e4", masks: plain)
        XCTAssertEqual(viaChain.config.initMode, Preset.start(photorealWeight: 1e4))
        XCTAssertNotEqual(viaChain.config.initMode, Preset.start(photorealWeight: 0))
        let chosen = try options(["--init", "content"])
        let kept = try RunSettings(config: try chosen.makeConfig(styleCount: 1), temporal: TemporalConfig(), passes: 1,
                                   positional: ["a.jpg"], chain: "photoreal=1e4", masks: chosen)
        XCTAssertEqual(kept.config.initMode, Preset.start(photorealWeight: 0), "an explicit --init wins")
    }

    /// One resolve step for every job: the image, photo and video presets come from the
    /// kind of job, the video options only when there is a video.
    func testJobSettingsComeFromTheJobsPreset() throws {
        let o = try options([])
        let image = try RunSettings(options: o, positional: ["a.jpg"], chain: nil, photo: false)
        let photo = try RunSettings(options: o, positional: ["a.jpg"], chain: nil, photo: true)
        let video = try RunSettings(options: o, positional: ["a.jpg"], chain: nil, photo: false,
                                    video: try VideoOptions.parse(["--passes", "3", "--temporal-weight", "70"]))
        XCTAssertEqual(image.config.size, Preset.image.style().size)
        XCTAssertEqual(video.config.size, Preset.video.style().size)
        XCTAssertNotEqual(image.config.size, video.config.size, "the presets differ, so the test can tell them apart")
        XCTAssertGreaterThan(photo.config.photorealWeight, 0, "the photo preset turns the photorealism term on")
        XCTAssertEqual(image.config.photorealWeight, 0)
        XCTAssertEqual(video.passes, 3); XCTAssertEqual(video.temporal.weight, 70)
        XCTAssertEqual(image.passes, 1)
    }

    /// The shared preparation checks the output against every input, masks included,
    /// before anything is read.
    func testJobSetupRefusesAnOutputThatIsAnInput() throws {
        let dir = NSTemporaryDirectory() + "stylevid-setup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let o = try options(["--content-mask", dir + "/m.png", "--style-mask", dir + "/r.png"])
        let masked = try RunSettings(options: o, positional: [dir + "/s.png"], chain: nil, photo: false)
        XCTAssertThrowsError(try JobSetup(masked, content: dir + "/c.png", output: dir + "/r.png", checkOutput: checkOutput)) {
            XCTAssert("\($0)".contains("output would overwrite the input \(dir)/r.png"), "\($0)")
        }
        let plain = try RunSettings(options: try options([]), positional: [dir + "/s.png"], chain: nil, photo: false)
        XCTAssertThrowsError(try JobSetup(plain, content: dir + "/c.png", output: dir + "/out.png", checkOutput: checkOutput)) {
            XCTAssert("\($0)".contains("s.png"), "the missing style image is named: \($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.png"), "nothing is written")
    }

    func testBadSettingsGiveOneLine() throws {
        let o = try options([])
        let config = try o.makeConfig(styleCount: 1)
        XCTAssertThrowsError(try RunSettings(config: config, temporal: TemporalConfig(), passes: 1, positional: [], chain: nil, masks: o)) {
            XCTAssertEqual("\($0)", "no style image: give STYLE paths or a style= filter in -vf")
        }
        XCTAssertThrowsError(try RunSettings(config: config, temporal: TemporalConfig(), passes: 1, positional: ["a.jpg"],
                                             chain: "photoreal=1e4:mask=m.png", masks: o)) {
            XCTAssert("\($0)".contains("needs both mask= and refmask="), "\($0)")
        }
        let weightless = try options(["--style-weight", "0"])
        XCTAssertThrowsError(try RunSettings(config: try weightless.makeConfig(styleCount: 1), temporal: TemporalConfig(), passes: 1,
                                             positional: ["a.jpg"], chain: "style=b.jpg:weight=0", masks: weightless)) {
            XCTAssertEqual("\($0)", "-vf: every style weight is 0")
        }
        XCTAssertThrowsError(try options(["--size", "9000"]).makeConfig(styleCount: 1)) {
            XCTAssert("\($0)".contains("too large (at most \(StyleConfig.sizeRange.upperBound))"), "\($0)")
        }
    }

    /// What --resume and a cluster task compare: the same settings give the same
    /// fingerprint however they were spelled; any setting, the model, the style or the
    /// input change it; --resume and --quiet do not.
    func testFingerprintFollowsSettingsNotSpelling() throws {
        func settings(_ args: [String]) throws -> VideoSettings { try MainForm.parse(args).videoJob.videoSettings() }
        let base = try settings(["in.mp4", "p.jpg", "out.mp4"]).fingerprint(input: "in.mp4", network: "vgg16")
        XCTAssertEqual(base, try settings(["in.mp4", "p.jpg", "out.mp4", "--resume", "--quiet", "--style-weight", "100.0"])
            .fingerprint(input: "in.mp4", network: "vgg16"))
        // checkpoints made before the terms became relative are refused
        XCTAssert(base.contains(StyleConfig.lossForm), base)
        for other in [try settings(["in.mp4", "p.jpg", "out.mp4", "--style-weight", "200"]).fingerprint(input: "in.mp4", network: "vgg16"),
                      try settings(["in.mp4", "p.jpg", "out.mp4", "--temporal-weight", "201"]).fingerprint(input: "in.mp4", network: "vgg16"),
                      try settings(["in.mp4", "p.jpg", "out.mp4"]).fingerprint(input: "in.mp4", network: "vgg19"),
                      try settings(["in.mp4", "q.jpg", "out.mp4"]).fingerprint(input: "in.mp4", network: "vgg16"),
                      try settings(["in.mp4", "p.jpg", "out.mp4"]).fingerprint(input: "other.mp4", network: "vgg16")] {
            XCTAssertNotEqual(other, base)
        }
    }
}
