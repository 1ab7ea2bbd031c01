import Engine
import Foundation
import Kernels
import TestSupport
import XCTest

/// The PyTorch (.pth) and Caffe (.caffemodel) readers: on files PyTorch wrote
/// (Fixtures/, made by Fixtures/make_torch_fixtures.py), on .caffemodel files written here
/// in protobuf's wire format, and on damaged and hostile ones.
final class TorchAndCaffeTests: TemporaryDirectoryTestCase {
    var fixtures: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path }

    func read(_ path: String) throws -> [String: NamedArray] {
        Dictionary(uniqueKeysWithValues: try WeightFile.read(path).map { ($0.name, $0) })
    }

    func testBothTorchLayoutsGivePyTorchsValues() throws {
        struct Expected: Decodable { var shape: [Int]; var values: [Double] }
        let expected = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/torch-expected.json")))
        XCTAssertEqual(expected.count, 8)
        for layout in ["zip", "legacy"] {
            let path = fixtures + "/torch-\(layout).pth"
            XCTAssertEqual(try WeightFile.format(of: path), .pytorch)
            let arrays = try read(path)
            XCTAssertEqual(Set(arrays.keys), Set(expected.keys), layout)
            for (name, e) in expected {
                XCTAssertEqual(arrays[name]?.shape, e.shape, "\(layout): \(name)")
                XCTAssertEqual(arrays[name]?.values, e.values.map { Float($0) }, "\(layout): \(name)")
            }
            // the views: a transpose (strides 1, 4), every third element from the fourth,
            // a transposed float16 tensor
            XCTAssertEqual(arrays["transposed"]?.values.prefix(3), [-1, 0, 1], layout)
            XCTAssertEqual(arrays["sliced"]?.values, [3, 6, 9, 12], layout)
            XCTAssertEqual(arrays["half_t"]?.values.prefix(2), [-0.5, 0.5], layout)
        }
    }

    func testAPickleNamingAnyOtherGlobalIsRefused() {
        for layout in ["zip", "legacy"] {
            XCTAssertThrowsError(try WeightFile.read(fixtures + "/foreign-\(layout).pth")) {
                XCTAssert("\($0)".contains("posix.system") && "\($0)".contains("refused"), "\($0)")
            }
        }
        XCTAssertThrowsError(try WeightFile.read(fixtures + "/not-a-state-dict.pth")) {
            XCTAssert("\($0)".contains("not a state dict"), "\($0)")
        }
    }

    /// A training checkpoint: the tensors of its "state_dict"; the storages of its other
    /// tensors (the optimizer's, first in the legacy file) are stepped over.
    func testACheckpointsStateDict() throws {
        let arrays = try read(fixtures + "/checkpoint-legacy.pth")
        XCTAssertEqual(Array(arrays.keys), ["w"])
        XCTAssertEqual(arrays["w"]?.values, [1, 2, 3, 4])
    }

    func testTruncatedTorchFilesAreRefusedAtEveryLength() throws {
        for layout in ["zip", "legacy"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/torch-\(layout).pth"))
            for n in stride(from: 0, to: bytes.count, by: 7) {
                XCTAssertThrowsError(try TorchFile.decode(bytes.prefix(n), path: "cut.pth"), "\(layout), \(n) bytes") {
                    XCTAssert("\($0)".contains("cut.pth"), "\($0)")
                }
            }
        }
    }

    /// A legacy stream as Python 2 and the torch of 2017 wrote it (torchvision's VGG files
    /// are that old): byte strings (SHORT_BINSTRING), the OrderedDict built from its
    /// items, and `_rebuild_tensor` (no v2). Built here opcode by opcode.
    func testPython2EraLegacyStream() throws {
        var b: [UInt8] = []
        func str(_ s: String) { b += [0x55, UInt8(s.utf8.count)] + Array(s.utf8) }
        func global(_ m: String, _ n: String) { b += [0x63] + Array("\(m)\n\(n)\n".utf8) }
        func int(_ i: UInt8) { b += [0x4B, i] }
        b += [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]   // magic
        b += [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]                                                       // 1001
        b += [0x80, 0x02, 0x7D, 0x2E]                                                                   // system info
        // OrderedDict([["w", _rebuild_tensor(storage "7", 1, (2, 2), (1, 2))]])
        b += [0x80, 0x02]; global("collections", "OrderedDict")
        b += [0x5D, 0x5D]; str("w"); b += [0x61]
        global("torch._utils", "_rebuild_tensor")
        b += [0x28, 0x28]; str("storage"); global("torch", "FloatStorage"); str("7"); str("cpu"); int(5); b += [0x4E, 0x74, 0x51]
        int(1); int(2); int(2); b += [0x86]; int(1); int(2); b += [0x86, 0x74, 0x52]
        b += [0x61, 0x61, 0x85, 0x52, 0x2E]
        b += [0x80, 0x02, 0x5D]; str("7"); b += [0x61, 0x2E]                                             // storage keys
        b += withUnsafeBytes(of: UInt64(5).littleEndian) { Array($0) }
        b += [Float(0), 1, 2, 3, 4].withUnsafeBytes { Array($0) }
        let arrays = try TorchFile.decode(Data(b), path: "old.pth")
        XCTAssertEqual(arrays.map(\.name), ["w"])
        XCTAssertEqual(arrays.first?.shape, [2, 2])
        XCTAssertEqual(arrays.first?.values, [1, 3, 2, 4], "offset 1, strides (1, 2)")
        XCTAssertThrowsError(try TorchFile.decode(Data(b.dropLast(3)), path: "old.pth")) { XCTAssert("\($0)".contains("truncated"), "\($0)") }
    }

    // MARK: Caffe

    /// Protobuf's wire format, as much as a .caffemodel needs.
    struct Wire {
        var bytes: [UInt8] = []
        mutating func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }
        mutating func int(_ field: Int, _ v: Int) { varint(UInt64(field << 3)); varint(UInt64(v)) }
        mutating func message(_ field: Int, _ m: [UInt8]) { varint(UInt64(field << 3 | 2)); varint(UInt64(m.count)); bytes += m }
        mutating func string(_ field: Int, _ s: String) { message(field, Array(s.utf8)) }
        /// A BlobProto: V1's num, channels, height, width, or a BlobShape (its dims
        /// packed), then the floats packed.
        static func blob(_ dims: [Int], _ values: [Float], v1: Bool = true) -> [UInt8] {
            var w = Wire()
            if v1 {
                for (i, d) in dims.enumerated() { w.int(i + 1, d) }
            } else {
                var packed = Wire(); for d in dims { packed.varint(UInt64(d)) }
                var shape = Wire(); shape.message(1, packed.bytes)
                w.message(7, shape.bytes)
            }
            w.message(5, values.withUnsafeBytes { Array($0) })
            return w.bytes
        }

        /// A layer: V1 (`layers`, field 2: name 4, type enum 5, blobs 6) or new (`layer`,
        /// field 100: name 1, type string 2, blobs 7).
        mutating func layer(_ name: String, v1: Bool, type: (v1: Int, name: String), blobs: [[UInt8]] = []) {
            var l = Wire()
            if v1 { l.string(4, name); l.int(5, type.v1) } else { l.string(1, name); l.string(2, type.name) }
            for blob in blobs { l.message(v1 ? 6 : 7, blob) }
            message(v1 ? 2 : 100, l.bytes)
        }
    }

    /// A VGG: data, then convolutions conv{B}_{I} each followed by a ReLU, and a
    /// fully-connected layer, as VGG_ILSVRC_19_layers.caffemodel is laid out (V1).
    func caffemodel(_ ws: [(w: [Float], b: [Float], cin: Int, cout: Int)], arch: VGGArchitecture, v1: Bool = true) -> Data {
        var net = Wire()
        net.string(1, "VGG_ILSVRC_\(arch == .vgg19 ? 19 : 16)_layers")
        net.layer("data", v1: v1, type: (5, "Data"))
        var j = 0
        for (b, block) in arch.blocks.enumerated() {
            for i in 0..<block.count {
                let (w, bias, cin, cout) = ws[j]; j += 1
                net.layer("conv\(b + 1)_\(i + 1)", v1: v1, type: (4, "Convolution"),
                          blobs: [Wire.blob([cout, cin, 3, 3], w, v1: v1), Wire.blob(v1 ? [1, 1, 1, cout] : [cout], bias, v1: v1)])
                net.layer("relu\(b + 1)_\(i + 1)", v1: v1, type: (18, "ReLU"))
            }
        }
        net.layer("fc6", v1: v1, type: (14, "InnerProduct"), blobs: [Wire.blob([1, 1, 4, 8], [Float](repeating: 0.25, count: 32), v1: v1)])
        return Data(net.bytes)
    }

    func testV1CaffemodelLoadsWithCaffePreprocessing() throws {
        let ws = randomWeights(.vgg19, seed: 4)
        let path = dir + "/vgg19.caffemodel"
        try caffemodel(ws, arch: .vgg19).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try WeightFile.format(of: path), .caffemodel)
        let net = try ModelLoader.load(path: path)
        XCTAssertEqual(net.convs.count, 16)
        XCTAssertEqual(net.preprocessing, .caffe)
        XCTAssertEqual(net.blocks, VGGArchitecture.vgg19.blocks)
        for j in [0, 4, 15] {
            XCTAssertEqual(net.convs[j].weights, ws[j].w, "conv \(j)")
            XCTAssertEqual(net.convs[j].bias, ws[j].b, "conv \(j)")
        }
    }

    func testNewLayoutCaffemodelLoads() throws {
        let ws = randomWeights(.vgg16, seed: 6)
        let path = dir + "/vgg16.caffemodel"
        try caffemodel(ws, arch: .vgg16, v1: false).write(to: URL(fileURLWithPath: path))
        let net = try ModelLoader.load(path: path)
        XCTAssertEqual(net.convs.count, 13)
        XCTAssertEqual(net.preprocessing, .caffe)
        XCTAssertEqual(net.convs[12].weights, ws[12].w)
        XCTAssertEqual(net.convs[12].bias, ws[12].b)
    }

    func testDamagedOrForeignCaffemodelsGiveOneLine() throws {
        let full = caffemodel(randomWeights(.vgg16, seed: 5), arch: .vgg16)
        let cut = dir + "/cut.caffemodel"
        try full.prefix(full.count / 3).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try ModelLoader.load(path: cut)) { XCTAssert("\($0)".contains("ends early"), "\($0)") }
        // a VGG with three convolutions: another architecture
        var few = Wire()
        for (i, (w, b, cin, cout)) in randomWeights(.vgg16).prefix(3).enumerated() {
            few.layer("conv\(i)", v1: true, type: (4, ""), blobs: [Wire.blob([cout, cin, 3, 3], w), Wire.blob([1, 1, 1, cout], b)])
        }
        let small = dir + "/small.caffemodel"
        try Data(few.bytes).write(to: URL(fileURLWithPath: small))
        XCTAssertThrowsError(try ModelLoader.load(path: small)) { XCTAssert("\($0)".contains("has 3 3×3 convolutions"), "\($0)") }
        // a blob whose values do not fill its shape
        var short = Wire()
        short.layer("conv1_1", v1: true, type: (4, ""), blobs: [Wire.blob([2, 3, 3, 3], [1, 2, 3])])
        XCTAssertThrowsError(try CaffeModel.decode(Data(short.bytes), path: "s.caffemodel")) {
            XCTAssert("\($0)".contains("holds 3 values for shape 2×3×3×3"), "\($0)")
        }
        // text, and a protobuf without layers
        XCTAssertThrowsError(try CaffeModel.decode(Data("name: \"VGG\"\n".utf8), path: "t.caffemodel")) { XCTAssert("\($0)".contains("t.caffemodel"), "\($0)") }
        var empty = Wire(); empty.string(1, "net")
        XCTAssertThrowsError(try CaffeModel.decode(Data(empty.bytes), path: "e.caffemodel")) { XCTAssert("\($0)".contains("without layers"), "\($0)") }
    }
}
