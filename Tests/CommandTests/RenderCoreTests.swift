import Engine
import Foundation
@testable import StylevidCommands
import StylevidFrei0r
import TestSupport
import VideoIO
import XCTest

/// The one video render core (`FrameRenderer`) behind the command line and the plugin.
final class RenderCoreTests: TemporaryDirectoryTestCase {
    final class Silent: RenderObserver {
        func note(_ message: String) {}
        func updateFrame(video: VideoProgress, frame: StyleProgress) {}
        func updateVideo(_ progress: VideoProgress) {}
        func finish() {}
        func interruptible(_ message: String) {}
        let verbose = false
    }

    /// The same settings on the same decoded frames give the same frames through the
    /// main form's render and through the plugin's frei0r entry points, called here as a
    /// host calls them: byte for byte, first frame and later ones. The 64×48 clip is below
    /// --size 128: both keep its size (the plugin used to enlarge it).
    func testPluginAndCommandLineRenderTheSameFrames() throws {
        let style = StylevidPaths.data + "/mate/abstract/Elephants.jpg", source = StylevidPaths.data + "/carphone_pristine.mp4"
        try requireInstalled([style, source])
        guard (try? ModelLoader.resolve(nil)) != nil else { try requirement("no model installed: run `make setup`") }
        let clip = dir + "/clip.mp4", frames = 4
        let made = runShell("ffmpeg -v error -y -i '\(source)' -frames:v \(frames) -an -vf scale=64:48 '\(clip)'")
        XCTAssertEqual(made.status, 0, made.stderr)

        // the command line: --size 128, 12 evaluations for the first frame and 4 for later ones
        let job = try MainForm.parse([clip, style, dir + "/out.mp4", "--size", "128", "--iterations", "12", "--later-iterations", "4"]).videoJob
        let render = try job.prepare()
        XCTAssert(render.frames.processing == (64, 48), "\(render.frames.processing)")
        let store = try Checkpoints(folder: dir + "/frames", output: "the test", fingerprint: render.fingerprint, resume: false)
        XCTAssertEqual(try render.stylize(into: store, observer: Silent(), writing: false, keepInputs: false).frames, frames)
        let cli = try (0..<frames).map { try XCTUnwrap(store.load($0, width: 64, height: 48), "frame \($0)") }

        // the plugin: the same settings from its parameters
        var plugin = PluginSettings()
        plugin.style = style
        plugin.chain = "iterations=12:4"
        plugin.positions[Parameter.size.rawValue] = Parameter.size.scale!.position(128)
        plugin.positions[Parameter.temporalWeight.rawValue] = Parameter.temporalWeight.scale!.position(Double(TemporalConfig().weight))
        let resolved = try plugin.resolve()
        XCTAssertEqual(resolved.style, render.settings.style, "the plugin resolves the command line's style settings")
        XCTAssertEqual(resolved.temporal, render.settings.temporal, "and its temporal settings")

        let instance = try XCTUnwrap(stylevidF0rConstruct(64, 48))
        defer { stylevidF0rDestruct(instance) }
        for p in Parameter.allCases {
            if p.isString {
                try (p == .style ? plugin.style : plugin.chain).withCString { s in
                    var pointer: UnsafePointer<CChar>? = s
                    withUnsafeMutablePointer(to: &pointer) { stylevidF0rSetParamValue(instance, UnsafeMutableRawPointer($0), Int32(p.rawValue)) }
                }
            } else {
                var v = plugin.positions[p.rawValue]
                stylevidF0rSetParamValue(instance, &v, Int32(p.rawValue))
            }
        }
        let reader = try VideoReader(path: clip)
        var k = 0
        while let decoded = try reader.nextFrame() {
            let n = 64 * 48
            var rgba = [UInt32](repeating: 0, count: n), out = [UInt32](repeating: 0, count: n)
            rgba.withUnsafeMutableBytes { b in
                for i in 0..<n { for c in 0..<3 { b[4 * i + c] = decoded.image.pixels[3 * i + c] }; b[4 * i + 3] = 255 }
            }
            stylevidF0rUpdate(instance, decoded.time, rgba, &out)
            let rgb = out.withUnsafeBytes { b in (0..<n * 3).map { b[4 * ($0 / 3) + $0 % 3] } }
            XCTAssertEqual(rgb, cli[k].pixels, "frame \(k): the plugin's result differs from the command line's")
            XCTAssertNotEqual(rgb, decoded.image.pixels, "frame \(k) was stylised")
            k += 1
        }
        XCTAssertEqual(k, frames)
    }
}
