import Foundation
import TestSupport
import XCTest

/// The real `stylevid` binary, run as a user would. Every bad input must give one error
/// line naming the problem, a non-zero exit, no output file, and untouched inputs.
final class CLITests: TemporaryDirectoryTestCase {

    /// A small real photo (written through the tool's own PNG path would be circular, so
    /// the test writes a PPM-free PNG with FFmpeg's CLI-free route: the tool itself
    /// converts the sample data; here we use the bundled sample when present).
    var sample: String { StylevidPaths.data + "/astronaut.png" }
    var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }

    func requireSampleData() throws {
        guard FileManager.default.fileExists(atPath: sample), FileManager.default.fileExists(atPath: painting) else {
            XCTFail("sample data missing in \(StylevidPaths.data): run `make setup` (make test does it)")
            throw XCTSkip("no sample data")
        }
    }

    func assertOneLineError(_ r: RunResult, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected failure: \(r.stderr)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "killed by a signal: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssert(r.stderr.hasPrefix("stylevid: error: "), r.stderr, file: file, line: line)
        XCTAssert(r.stderr.contains(fragment), "'\(fragment)' not in: \(r.stderr)", file: file, line: line)
    }

    func noFiles(except keep: Set<String> = [], file: StaticString = #filePath, line: UInt = #line) {
        let left = Set(try! FileManager.default.contentsOfDirectory(atPath: dir)).subtracting(keep)
        XCTAssertEqual(left, [], "unexpected files left behind", file: file, line: line)
    }

    func testHelpListsOptionsWithDefaults() {
        let r = runStylevid(["image", "--help"])
        XCTAssertEqual(r.status, 0)
        for fragment in ["--size <size>", "(default 512", "--iterations", "--content-weight", "--style-weight",
                         "--tv-weight", "--content-layers", "--style-layers", "--style-layer-weights", "--style-blend",
                         "--style-scale", "--init", "--optimizer", "--learning-rate", "--pyramid", "--preserve-colors",
                         "--model", "--seed", "--save-every", "--quiet"] {
            XCTAssert(r.stdout.contains(fragment), "--help lacks \(fragment)")
        }
        let top = runStylevid(["--help"])
        XCTAssert(top.stdout.contains("image") && top.stdout.contains("bench"), top.stdout)
    }

    func testMissingAndUnreadableInputs() throws {
        try requireSampleData()
        let out = dir + "/out.png"
        assertOneLineError(runStylevid([dir + "/nope.png", painting, out]), contains: "nope.png: no such file")
        assertOneLineError(runStylevid([sample, dir + "/nostyle.jpg", out]), contains: "nostyle.jpg: no such file")
        let text = dir + "/text.png"
        try "this is not an image".write(toFile: text, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid([text, painting, out]), contains: "text.png")
        let empty = dir + "/empty.jpg"
        FileManager.default.createFile(atPath: empty, contents: Data())
        assertOneLineError(runStylevid([sample, empty, out]), contains: "empty.jpg")
        noFiles(except: ["text.png", "empty.jpg"])
    }

    func testBadOptionsFailBeforeAnyWork() throws {
        try requireSampleData()
        let out = dir + "/out.png"
        assertOneLineError(runStylevid([sample, painting, out, "--size", "0"]), contains: "--size 0 is too small")
        assertOneLineError(runStylevid([sample, painting, out, "--size", "100000"]), contains: "too large")
        assertOneLineError(runStylevid([sample, painting, out, "--size", "7000"]), contains: "memory")
        assertOneLineError(runStylevid([sample, painting, out, "--style-blend", "1,2"]), contains: "--style-blend has 2 weights for 1 style images")
        assertOneLineError(runStylevid([sample, painting, out, "--style-layer-weights", "1,2"]), contains: "2 values for 5 style layers")
        assertOneLineError(runStylevid([sample, painting, out, "--style-layers", "relu9_1"]), contains: "unknown layer 'relu9_1'")
        assertOneLineError(runStylevid([sample, painting, out, "--optimizer", "sgd"]), contains: "sgd")
        assertOneLineError(runStylevid([sample, painting, out, "--iterations", "-3"]), contains: "iterations")
        assertOneLineError(runStylevid([sample, painting]), contains: "expected INPUT STYLE")
        assertOneLineError(runStylevid([sample, painting, dir + "/out.xyz"]), contains: "unknown output format '.xyz'")
        assertOneLineError(runStylevid([sample, painting, dir + "/missing/out.png"]), contains: "does not exist")
        noFiles()
    }

    func testWrongWeightsFile() throws {
        try requireSampleData()
        let bad = dir + "/weights.h5"
        try "definitely not HDF5".write(toFile: bad, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid([sample, painting, dir + "/o.png", "--model", bad, "--size", "32"]),
                           contains: "not a usable weights file")
        assertOneLineError(runStylevid([sample, painting, dir + "/o.png", "--model", dir + "/absent.safetensors"]),
                           contains: "not found")
        noFiles(except: ["weights.h5"])
    }

    func testNeverOverwritesInputsOrLeavesPartialOutput() throws {
        try requireSampleData()
        let content = dir + "/content.png"
        try FileManager.default.copyItem(atPath: sample, toPath: content)
        let before = FileManager.default.contents(atPath: content)
        assertOneLineError(runStylevid([content, painting, content]), contains: "would overwrite the input")
        XCTAssertEqual(FileManager.default.contents(atPath: content), before)
        // an existing output survives a failed run
        let out = dir + "/existing.png"
        try "old result".write(toFile: out, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid([content, painting, out, "--model", dir + "/none.h5"]), contains: "not found")
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "old result")
        noFiles(except: ["content.png", "existing.png"])
    }

    /// Real weights, real photo, real painting: a tiny run end to end. The result must be
    /// an image of the right size, different from the content, whose colours moved
    /// toward the painting's.
    func testStylizesARealPhoto() throws {
        try requireSampleData()
        let out = dir + "/styled.png"
        let r = runStylevid([sample, painting, out, "--size", "64", "--iterations", "15", "--pyramid", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try readPNGViaTool(out)
        XCTAssertEqual(png.width, 64); XCTAssertEqual(png.height, 64)
        let content = try readPNGViaTool(sample, size: 64)
        let style = try readPNGViaTool(painting, size: 64)
        let dContent = meanColorDistance(png, content), dBefore = meanColorDistance(content, style)
        let dStyle = meanColorDistance(png, style)
        XCTAssertGreaterThan(dContent, 2, "output equals the content")
        XCTAssertLessThan(dStyle, dBefore, "colours did not move toward the style (\(dStyle) vs \(dBefore))")
        noFiles(except: ["styled.png"])
    }

    /// Ctrl-C (SIGINT) and SIGTERM mid-run: a clean exit (130 / 143, no crash signal), the
    /// message, no output, no temporary file, and an existing output left as it was.
    func testInterruptLeavesNothingBehind() throws {
        try requireSampleData()
        let out = dir + "/existing.png"
        try "old result".write(toFile: out, atomically: true, encoding: .utf8)
        for (signal, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
            // large enough that the signal likely lands inside a GEMM, where a plain exit()
            // from the handler crashed (intermittently: it depends on where the main thread is)
            p.arguments = [sample, painting, out, "--size", "400", "--pyramid", "1", "--iterations", "500"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            // wait until it is optimising (first progress line), then interrupt
            let handle = err.fileHandleForReading
            var seen = ""
            let deadline = Date().addingTimeInterval(60)
            while !seen.contains("it 1/") && Date() < deadline {
                seen += String(decoding: handle.availableData, as: UTF8.self)
            }
            usleep(2_000_000)
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            seen += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(p.terminationReason, .exit, "crashed on signal \(signal): \(seen)")
            XCTAssertEqual(p.terminationStatus, code)
            XCTAssert(seen.contains("interrupted; no output was written"), seen)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "old result")
            noFiles(except: ["existing.png"])
        }
    }

    func testBenchPrintsJSON() {
        let r = runStylevid(["bench", "--model", "vgg16", "--size", "32x32", "--reps", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let obj = try? JSONSerialization.jsonObject(with: last.data(using: .utf8)!) as? [String: Any]
        XCTAssertEqual(obj?["model"] as? String, "vgg16")
        XCTAssertEqual(obj?["size"] as? String, "32x32")
        XCTAssertGreaterThan(obj?["ms_per_iteration"] as? Double ?? 0, 0)
        assertOneLineError(runStylevid(["bench", "--size", "12x"]), contains: "--size")
    }
}
