import Foundation
import TestSupport
import XCTest

/// PyTorch and Caffe weights through the real binary: the same network in every format
/// stylizes alike, and damaged or hostile files get one line.
final class WeightFormatCLITests: CLITestCase {
    var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    var fixtures: String { repository.appendingPathComponent("Tests/EngineTests/Fixtures").path }

    /// A random full-size VGG16 written by PyTorch as a legacy .pth and a zip .pth, and as
    /// safetensors: the three stylized images are the same bytes. Needs PyTorch
    /// (`$STYLEVID_TORCH_PYTHON`, default python3); skipped without it.
    func testTorchLayoutsAndSafetensorsStylizeBitIdentically() throws {
        try requireSampleData()
        let python = ProcessInfo.processInfo.environment["STYLEVID_TORCH_PYTHON"] ?? "python3"
        guard runShell("'\(python)' -c 'import torch' 2>/dev/null").status == 0 else {
            throw XCTSkip("PyTorch is not installed (set STYLEVID_TORCH_PYTHON to a python with torch): the .pth files are not generated")
        }
        let made = runShell("'\(python)' '\(repository.path)/scripts/random_vgg16.py' '\(dir!)' 2>&1")
        XCTAssertEqual(made.status, 0, made.stdout)
        var images: [String: Data] = [:]
        for model in ["vgg16-legacy.pth", "vgg16-zip.pth", "vgg16.safetensors"] {
            let out = dir + "/\(model).png"
            let r = runStylevid([sample, painting, out, "--model", dir + "/" + model, "--size", "48", "--iterations", "5", "--quiet"])
            XCTAssertEqual(r.status, 0, r.stderr)
            images[model] = FileManager.default.contents(atPath: out)
        }
        XCTAssertNotNil(images["vgg16.safetensors"] ?? nil)
        XCTAssertEqual(images["vgg16-legacy.pth"], images["vgg16.safetensors"], "legacy .pth and safetensors differ")
        XCTAssertEqual(images["vgg16-zip.pth"], images["vgg16.safetensors"], "zip .pth and safetensors differ")
    }

    func testBadWeightFilesGiveOneLineAndWriteNothing() throws {
        try requireSampleData()
        let zip = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/torch-zip.pth"))
        try zip.prefix(zip.count - 100).write(to: URL(fileURLWithPath: dir + "/cut.pth"))
        let legacy = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/torch-legacy.pth"))
        try legacy.prefix(legacy.count - 10).write(to: URL(fileURLWithPath: dir + "/cut-legacy.pth"))
        try Data([0x0A, 0x03, 0x56, 0x47, 0x47]).write(to: URL(fileURLWithPath: dir + "/net.caffemodel"))   // name only
        try Data("layer { name: \"conv1\" }\n".utf8).write(to: URL(fileURLWithPath: dir + "/text.caffemodel"))
        let cases: [(String, String)] = [
            (dir + "/cut.pth", "truncated"), (dir + "/cut-legacy.pth", "truncated"),
            (fixtures + "/not-a-state-dict.pth", "not a state dict"), (fixtures + "/foreign-zip.pth", "posix.system"),
            (dir + "/net.caffemodel", "without layers"), (dir + "/text.caffemodel", "text.caffemodel"),
        ]
        for (model, fragment) in cases {
            assertOneLineError(runStylevid([sample, painting, dir + "/out.png", "--model", model, "--size", "32", "--iterations", "2"]), contains: fragment)
        }
        noFiles(except: ["cut.pth", "cut-legacy.pth", "net.caffemodel", "text.caffemodel"])
    }
}
