import Engine
import StylevidFrei0r
import XCTest

/// The frei0r parameters' slider mapping and the settings they resolve to (the hosts
/// themselves are in CLITests/Frei0rTests).
final class ParameterTests: XCTestCase {
    func testWeightsAreATenthOfTheSliderPerFactorOfTen() {
        let w = SliderScale.weight(zeroIsOff: false)
        XCTAssertEqual(w.value(0.5), 100, accuracy: 1e-9)
        XCTAssertEqual(w.value(0.7), 10_000, accuracy: 1e-6)
        XCTAssertEqual(w.value(0), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(w.value(1), 1e7, accuracy: 1e-3)
        XCTAssertEqual(w.position(200), 0.530103, accuracy: 1e-6)
        for x in stride(from: 0.05, through: 1, by: 0.05) { XCTAssertEqual(w.position(w.value(x)), x, accuracy: 1e-12) }
        // out of range: clamped, as hosts clamp their sliders
        XCTAssertEqual(w.value(7), 1e7, accuracy: 1e-3)
        XCTAssertEqual(w.value(-1), 1e-3, accuracy: 1e-12)
        let off = SliderScale.weight(zeroIsOff: true)
        XCTAssertEqual(off.value(0), 0)
        XCTAssertEqual(off.position(0), 0)
        XCTAssertEqual(off.value(0.001), pow(10, -2.99), accuracy: 1e-9)
    }

    func testCountsAndSizesStep() {
        XCTAssertEqual(SliderScale.count.value(0.1), 100)
        XCTAssertEqual(SliderScale.count.value(0.0204), 20)
        XCTAssertEqual(SliderScale.count.value(0), 1)
        XCTAssertEqual(SliderScale.size.value(0.046875), 384)
        XCTAssertEqual(SliderScale.size.value(0.0469), 384)
        XCTAssertEqual(SliderScale.size.value(0), 16)
        XCTAssertEqual(SliderScale.size.value(1), 8192)
        XCTAssertEqual(SliderScale.size.position(384), 0.046875)
    }

    func testDefaultsResolveToTheCommandLinesVideoSettings() throws {
        var s = PluginSettings()
        s.style = "painting.jpg"
        let r = try s.resolve(); let (style, temporal, paths) = (r.style, r.temporal, r.stylePaths)
        XCTAssertEqual(paths, ["painting.jpg"])
        let cli = Preset.video.style()
        XCTAssertEqual(style.styleWeight, cli.styleWeight, accuracy: 1e-3)
        XCTAssertEqual(style.iterations, cli.iterations)
        XCTAssertEqual(style.size, cli.size)
        XCTAssertEqual(style.pooling, TemporalConfig.defaultPooling)
        XCTAssertEqual(style.photorealWeight, 0)
        XCTAssertEqual(style.initMode, .content)
        XCTAssertEqual(temporal.weight, TemporalConfig().weight, accuracy: 1e-3)
        XCTAssertEqual(temporal.laterIterations, TemporalConfig.defaultLaterIterations)
        // every default position is inside the frei0r range
        for p in Parameter.allCases { XCTAssert((0...1).contains(p.defaultPosition), p.name) }
    }

    func testPhotorealStartsFromTheReferencePalette() throws {
        var s = PluginSettings()
        s.style = "reference.jpg"
        s.positions[Parameter.photoreal.rawValue] = 0.7
        let style = try s.resolve().style
        XCTAssertEqual(style.photorealWeight, 10_000, accuracy: 1)
        XCTAssertEqual(style.initMode, .colorTransfer)
    }

    func testTheChainOverridesTheSliders() throws {
        var s = PluginSettings()
        s.style = "slider.jpg"
        s.chain = "style=a.jpg:weight=200,style=b.jpg:weight=600,temporal=50,iterations=40:8"
        let r = try s.resolve(); let (style, temporal, paths) = (r.style, r.temporal, r.stylePaths)
        XCTAssertEqual(paths, ["a.jpg", "b.jpg"])
        XCTAssertEqual(style.styleWeight, 400)
        XCTAssertEqual(style.styleBlend, [200, 600])
        XCTAssertEqual(style.iterations, 40)
        XCTAssertEqual(temporal.laterIterations, 8)
        XCTAssertEqual(temporal.weight, 50)
        // what a frei0r filter cannot do, and a chain with a mistake: errors, not a guess
        s.chain = "scale=64:-2"
        XCTAssertThrowsError(try s.resolve()) { XCTAssert("\($0)".contains("scale and crop"), "\($0)") }
        s.chain = "style=a.jpg,fast=gap=8"
        XCTAssertThrowsError(try s.resolve()) { XCTAssert("\($0)".contains("fast mode is not in the plugin yet"), "\($0)") }
        s.chain = "style=a.jpg:wieght=3"
        XCTAssertThrowsError(try s.resolve()) { e in
            XCTAssertEqual((e as? FilterChainError)?.message.contains("did you mean 'weight'"), true, "\(e)")
        }
        s.chain = ""; s.style = " "
        XCTAssertThrowsError(try s.resolve()) { XCTAssert("\($0)".contains("no style image"), "\($0)") }
    }
}
