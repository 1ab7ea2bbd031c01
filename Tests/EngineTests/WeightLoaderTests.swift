import CHDF5
import Engine
import Foundation
import Kernels
import TestSupport
import XCTest

/// The loaders on small files written here: Keras HDF5 (HED naming, kernels (3,3,in,out))
/// and safetensors (torchvision naming, (out,in,3,3)), plus every error a user can meet.
/// Random VGG weights in PyTorch order, (out,in,3,3) + bias, for every convolution.
func randomWeights(_ arch: VGGArchitecture, seed: UInt64 = 1) -> [(w: [Float], b: [Float], cin: Int, cout: Int)] {
    var rng = SplitMix64(seed: seed)
    var cin = 3
    return arch.blocks.flatMap { $0 }.map { cout in
        let w = (0..<(cout * cin * 9)).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        let b = (0..<cout).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        defer { cin = cout }
        return (w, b, cin, cout)
    }
}

final class WeightLoaderTests: TemporaryDirectoryTestCase {

    func writeH5(_ path: String, _ datasets: [(String, [Int], [Float])]) {
        let f = H5Fcreate(path, shim_h5f_acc_trunc(), shim_h5p_default(), shim_h5p_default())
        precondition(f >= 0)
        let lcpl = shim_h5p_intermediate_groups()
        for (name, shape, values) in datasets {
            let dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), dims, nil)
            let ds = H5Dcreate2(f, name, shim_h5t_native_float(), space, lcpl, shim_h5p_default(), shim_h5p_default())
            precondition(ds >= 0, "cannot create \(name)")
            _ = values.withUnsafeBytes { H5Dwrite(ds, shim_h5t_native_float(), shim_h5s_all(), shim_h5s_all(), shim_h5p_default(), $0.baseAddress) }
            H5Dclose(ds); H5Sclose(space)
        }
        H5Pclose(lcpl)
        H5Fclose(f)
    }

    /// HED's layout: /block{b}/layers/conv2d{,_1,_2}/vars/{0,1}, plus a 1×1 side output.
    func hedDatasets(_ ws: [(w: [Float], b: [Float], cin: Int, cout: Int)], arch: VGGArchitecture) -> [(String, [Int], [Float])] {
        var out: [(String, [Int], [Float])] = [("dsn1/vars/0", [1, 1, 64, 1], [Float](repeating: 0.5, count: 64)), ("dsn1/vars/1", [1], [0])]
        var j = 0
        for (b, blk) in arch.blocks.enumerated() {
            for i in 0..<blk.count {
                let (w, bias, cin, cout) = ws[j]; j += 1
                var k = [Float](repeating: 0, count: w.count)   // (ky,kx,in,out)
                for o in 0..<cout { for c in 0..<cin { for t in 0..<9 { k[(t * cin + c) * cout + o] = w[(o * cin + c) * 9 + t] } } }
                let g = "block\(b + 1)/layers/conv2d\(i == 0 ? "" : "_\(i)")/vars"
                out.append(("\(g)/0", [3, 3, cin, cout], k))
                out.append(("\(g)/1", [cout], bias))
            }
        }
        return out
    }

    func writeSafetensors(_ path: String, _ tensors: [(String, [Int], [Float])], dtype: String = "F32", truncate: Int = 0) {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data = Data()
        for (name, shape, values) in tensors {
            let begin = data.count
            if dtype == "F16" { values.map { Float16($0) }.withUnsafeBytes { data.append(contentsOf: $0) } }
            else { values.withUnsafeBytes { data.append(contentsOf: $0) } }   // x86-64 is little-endian
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [begin, data.count]]
        }
        let json = try! JSONSerialization.data(withJSONObject: header)
        var n = UInt64(json.count).littleEndian
        var file = Data(bytes: &n, count: 8)
        file.append(json); file.append(data)
        if truncate > 0 { file = file.prefix(file.count - truncate) }
        FileManager.default.createFile(atPath: path, contents: file)
    }

    func torchTensors(_ ws: [(w: [Float], b: [Float], cin: Int, cout: Int)]) -> [(String, [Int], [Float])] {
        // torchvision indices: convs at 0,2 | 5,7 | 10,12,14,(16) ... (ReLU and pool layers between)
        var idx = 0, out: [(String, [Int], [Float])] = []
        var perBlock = [2, 2, 3, 3, 3]
        if ws.count == 16 { perBlock = [2, 2, 4, 4, 4] }
        var j = 0
        for n in perBlock {
            for _ in 0..<n {
                let (w, b, cin, cout) = ws[j]; j += 1
                out.append(("features.\(idx).weight", [cout, cin, 3, 3], w))
                out.append(("features.\(idx).bias", [cout], b))
                idx += 2
            }
            idx += 1
        }
        return out
    }

    func testKerasHDF5LoadsInOrderWithCaffePreprocessing() throws {
        let ws = randomWeights(.vgg16)
        let path = dir + "/hed.h5"
        writeH5(path, hedDatasets(ws, arch: .vgg16))
        let net = try ModelLoader.load(path: path, convCount: 3)
        XCTAssertEqual(net.convs.count, 3)
        XCTAssertEqual(net.preprocessing, .caffe)
        XCTAssertEqual(net.blocks, VGGArchitecture.vgg16.blocks)
        for j in 0..<3 {
            XCTAssertEqual(net.convs[j].weights, ws[j].w, "conv \(j) transposed from (3,3,in,out)")
            XCTAssertEqual(net.convs[j].bias, ws[j].b)
        }
        XCTAssertEqual(net.layerNames, ["relu1_1", "relu1_2", "relu2_1"])
    }

    func testSafetensorsLoadsVGG19WithTorchvisionPreprocessing() throws {
        let ws = randomWeights(.vgg19, seed: 2)
        let path = dir + "/vgg19.safetensors"
        writeSafetensors(path, torchTensors(ws))
        let net = try ModelLoader.load(path: path)
        XCTAssertEqual(net.convs.count, 16)
        XCTAssertEqual(net.preprocessing, .torchvision)
        XCTAssertEqual(net.blocks, VGGArchitecture.vgg19.blocks)
        // features.10 comes after features.7 (numeric, not lexical, order)
        XCTAssertEqual(net.convs[4].weights, ws[4].w)
        XCTAssertEqual(net.convs[15].bias, ws[15].b)
    }

    func testHalfPrecisionSafetensors() throws {
        let ws = randomWeights(.vgg16, seed: 3)
        let path = dir + "/vgg16.safetensors"
        writeSafetensors(path, torchTensors(ws), dtype: "F16")
        let net = try ModelLoader.load(path: path, convCount: 2)
        for (a, b) in zip(net.convs[1].weights, ws[1].w) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testWrongShapeNamesTheTensor() throws {
        var tensors = torchTensors(randomWeights(.vgg16))
        tensors[2] = ("features.2.weight", [64, 32, 3, 3], [Float](repeating: 0, count: 64 * 32 * 9))
        let path = dir + "/bad.safetensors"
        writeSafetensors(path, tensors)
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(error as? EngineError, .weightShapeMismatch(path: path, tensor: "features.2.weight",
                                                                       expected: [64, 64, 3, 3], actual: [64, 32, 3, 3]))
            XCTAssert("\(error)".contains("64×32×3×3"), "\(error)")
        }
    }

    func testWrongArchitectureAndTruncatedFiles() throws {
        let ws = randomWeights(.vgg16)
        let few = dir + "/five.safetensors"
        writeSafetensors(few, Array(torchTensors(ws).prefix(10)))
        XCTAssertThrowsError(try ModelLoader.load(path: few)) { XCTAssert("\($0)".contains("has 5 3×3 convolutions"), "\($0)") }

        let cut = dir + "/cut.safetensors"
        writeSafetensors(cut, torchTensors(ws), truncate: 1000)
        XCTAssertThrowsError(try ModelLoader.load(path: cut)) { XCTAssert("\($0)".contains("outside the file"), "\($0)") }

        let h5 = dir + "/full.h5"
        writeH5(h5, hedDatasets(ws, arch: .vgg16))
        let bytes = FileManager.default.contents(atPath: h5)!
        let cutH5 = dir + "/cut.h5"
        FileManager.default.createFile(atPath: cutH5, contents: bytes.prefix(bytes.count / 2))
        XCTAssertThrowsError(try ModelLoader.load(path: cutH5)) { XCTAssert("\($0)".contains(cutH5), "\($0)") }

        let text = dir + "/notes.h5"
        try "not weights".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelLoader.load(path: text)) { XCTAssert("\($0)".contains("not a usable weights file"), "\($0)") }
        XCTAssertThrowsError(try ModelLoader.resolve(dir + "/missing.h5")) { XCTAssert("\($0)".contains("not found"), "\($0)") }
    }

    func testSafetensorsHeaderValidation() {
        func parse(_ s: String, size: Int = 100) throws -> [WeightFile.SafetensorsEntry] {
            try WeightFile.parseSafetensorsHeader(s.data(using: .utf8)!, dataSize: size)
        }
        XCTAssertEqual(try parse(#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#),
                       [.init(name: "a", dtype: "F32", shape: [2, 3], begin: 0, end: 24)])
        XCTAssertThrowsError(try parse("[1,2]"))
        XCTAssertThrowsError(try parse(#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#))   // size mismatch
        XCTAssertThrowsError(try parse(#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[80,104]}}"#)) // past the end
        XCTAssertThrowsError(try parse(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#))
        XCTAssertThrowsError(try parse(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#))
        // 2^62 elements fit an Int, their 2^64 bytes do not: this trapped
        XCTAssertThrowsError(try parse(#"{"a":{"dtype":"F32","shape":[1073741824,1073741824,4],"data_offsets":[0,0]}}"#)) {
            XCTAssert("\($0)".contains("too large"), "\($0)")
        }
    }

    /// A whole file in memory: an unknown dtype is refused before its extent (which the
    /// header parser cannot check) is read. The reader used to decode it as F16 first,
    /// reading a million bytes past a 2-byte tensor.
    func testSafetensorsUnknownDtypeIsRefusedBeforeReading() {
        func file(_ header: String, body: [UInt8]) -> Data {
            let j = Data(header.utf8)
            var d = Data(withUnsafeBytes(of: UInt64(j.count).littleEndian) { Array($0) })
            d.append(j); d.append(contentsOf: body)
            return d
        }
        let bad = file(#"{"a":{"dtype":"I8","shape":[1000000],"data_offsets":[0,2]}}"#, body: [1, 2])
        XCTAssertThrowsError(try WeightFile.decodeSafetensors(bad, path: "x.safetensors")) {
            XCTAssert("\($0)".contains("unsupported dtype I8") && "\($0)".contains("x.safetensors"), "\($0)")
        }
        let good = file(#"{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, body: [0x80, 0x3f])
        XCTAssertEqual(try WeightFile.decodeSafetensors(good, path: "x").first?.values, [1])
    }

    func testNaturalOrder() {
        let names = ["features.10.weight", "features.2.weight", "features.0.weight",
                     "block1/layers/conv2d_1/vars/0", "block1/layers/conv2d/vars/0", "block10_conv1", "block2_conv1"]
        XCTAssertEqual(names.sorted(by: ModelLoader.naturalLess),
                       ["block1/layers/conv2d/vars/0", "block1/layers/conv2d_1/vars/0", "block2_conv1", "block10_conv1",
                        "features.0.weight", "features.2.weight", "features.10.weight"])
    }
}
