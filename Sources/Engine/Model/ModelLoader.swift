import Foundation
import Kernels

/// Where stylevid keeps models and sample data: $STYLEVID_HOME, default ~/.cache/stylevid.
public enum StylevidHome {
    public static var path: String {
        if let h = ProcessInfo.processInfo.environment["STYLEVID_HOME"], !h.isEmpty { return h }
        return NSHomeDirectory() + "/.cache/stylevid"
    }
    public static var models: String { path + "/models" }
    public static var data: String { path + "/data" }
}

/// Finds and loads VGG weights: `--model vgg16|vgg19|PATH`.
public enum ModelLoader {
    /// Files looked for, in order, for each named model inside $STYLEVID_HOME/models.
    public static let candidates: [VGGArchitecture: [String]] = [
        .vgg19: ["vgg19.safetensors", "vgg19.pth", "vgg19.caffemodel", "vgg19.h5", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"],
        .vgg16: ["vgg16.safetensors", "vgg16.pth", "vgg16.caffemodel", "vgg16.h5", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg16_hed.h5"],
    ]

    /// The path a model name stands for. `nil` picks VGG19 when installed, else VGG16.
    public static func resolve(_ spec: String?) throws -> String {
        let fm = FileManager.default
        func find(_ arch: VGGArchitecture) -> String? {
            candidates[arch]!.map { StylevidHome.models + "/" + $0 }.first { fm.fileExists(atPath: $0) }
        }
        switch spec?.lowercased() {
        case nil, "", "default":
            if let p = find(.vgg19) ?? find(.vgg16) { return p }
            throw EngineError.weightsNotFound(path: StylevidHome.models + "/vgg16_hed.h5",
                                              hint: "run `make setup` to install the default model")
        case "vgg19":
            if let p = find(.vgg19) { return p }
            throw EngineError.weightsNotFound(path: StylevidHome.models + "/vgg19.safetensors",
                hint: "VGG19 is not installed; copy torchvision's vgg19-dcbb9e9d.pth (as vgg19.pth), VGG_ILSVRC_19_layers.caffemodel (as vgg19.caffemodel), safetensors or Keras' vgg19 'notop' .h5 there, or use --model vgg16")
        case "vgg16":
            if let p = find(.vgg16) { return p }
            throw EngineError.weightsNotFound(path: StylevidHome.models + "/vgg16_hed.h5",
                                              hint: "run `make setup` to install the default model")
        default:
            guard let s = spec, fm.fileExists(atPath: s) else {
                throw EngineError.weightsNotFound(path: spec ?? "", hint: "expected vgg16, vgg19 or a path to a .h5, .safetensors, .pth or .caffemodel file")
            }
            return s
        }
    }

    /// Loads the convolutions 0..<`count` (all when nil) of the VGG in `path`.
    /// HDF5 files are Keras layout (3,3,in,out) with Caffe preprocessing; safetensors and
    /// .pth are torchvision layout (out,in,3,3) with torchvision preprocessing; .caffemodel
    /// is (out,in,3,3) with Caffe preprocessing (BGR, 0–255, minus the mean pixel).
    public static func load(path: String, convCount count: Int? = nil, pooling: Layers.Pooling = .max) throws -> VGG {
        try load(path: path, pooling: pooling) { _ in count }
    }

    /// Loads only the convolutions a stylisation needs: the count is decided once the
    /// file's architecture (VGG16 or VGG19) is known.
    public static func load(path: String, for config: StyleConfig) throws -> VGG {
        try load(path: path, pooling: config.pooling) { try Stylizer.convolutionsNeeded(config, architecture: $0) }
    }

    static func load(path: String, pooling: Layers.Pooling, count countFor: (VGGArchitecture) throws -> Int?) throws -> VGG {
        let format = try WeightFile.format(of: path)
        let keras = format == .hdf5
        // 3×3 kernels, and every rank-1 array (biases)
        let arrays = try WeightFile.read(path) { shape in
            shape.count == 1 || (shape.count == 4 && (keras ? (shape[0] == 3 && shape[1] == 3) : (shape[2] == 3 && shape[3] == 3)))
        }
        let kernels = arrays.filter { $0.shape.count == 4 }.sorted { naturalLess($0.name, $1.name) }
        let biases = Dictionary(arrays.filter { $0.shape.count == 1 }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let arch: VGGArchitecture
        switch kernels.count {
        case VGGArchitecture.vgg16.convCount: arch = .vgg16
        case VGGArchitecture.vgg19.convCount: arch = .vgg19
        default:
            throw EngineError.weightsIncomplete(path: path,
                reason: "has \(kernels.count) 3×3 convolutions; a VGG16 has 13 and a VGG19 has 16")
        }
        let expected = arch.blocks.flatMap { $0 }
        let n = min(try countFor(arch) ?? expected.count, expected.count)
        var convs: [Conv2D] = []
        var cin = 3
        for j in 0..<n {
            let k = kernels[j], cout = expected[j]
            let want = keras ? [3, 3, cin, cout] : [cout, cin, 3, 3]
            guard k.shape == want else {
                throw EngineError.weightShapeMismatch(path: path, tensor: k.name, expected: want, actual: k.shape)
            }
            guard let b = biasFor(k.name, keras: keras, count: cout, in: biases) else {
                throw EngineError.weightsIncomplete(path: path, reason: "no bias of \(cout) values found for '\(k.name)'")
            }
            var w = [Float](repeating: 0, count: cout * cin * 9)
            if keras {
                // (ky, kx, in, out) → (out, in, ky, kx)
                for ky in 0..<3 { for kx in 0..<3 { for i in 0..<cin { for o in 0..<cout {
                    w[((o * cin + i) * 3 + ky) * 3 + kx] = k.values[((ky * 3 + kx) * cin + i) * cout + o]
                }}}}
            } else {
                w = k.values
            }
            guard w.allSatisfy({ $0.isFinite }) && b.values.allSatisfy({ $0.isFinite }) else {
                throw EngineError.weightsUnreadable(path: path, reason: "tensor '\(k.name)' holds NaN or infinite values")
            }
            convs.append(Conv2D(inChannels: cin, outChannels: cout, weights: w, bias: b.values))
            cin = cout
        }
        let name = URL(fileURLWithPath: path).lastPathComponent
        return VGG(name: "\(arch.rawValue) (\(name))", blocks: arch.blocks, convs: convs,
                   preprocessing: keras || format == .caffemodel ? .caffe : .torchvision, pooling: pooling)
    }

    /// The bias beside a kernel: same group (Keras) or `.weight` → `.bias` (torch).
    static func biasFor(_ kernel: String, keras: Bool, count: Int, in biases: [String: NamedArray]) -> NamedArray? {
        if !keras {
            let name = kernel.hasSuffix(".weight") ? String(kernel.dropLast(7)) + ".bias" : kernel + ".bias"
            return biases[name].flatMap { $0.shape == [count] ? $0 : nil }
        }
        let parent = kernel.split(separator: "/").dropLast().joined(separator: "/")
        let siblings = biases.values.filter {
            $0.shape == [count] && $0.name.split(separator: "/").dropLast().joined(separator: "/") == parent
        }
        return siblings.count == 1 ? siblings[0] : siblings.first { $0.name.contains("bias") || $0.name.hasSuffix("/1") || $0.name.contains("_b") }
    }

    /// Compares names with their digit runs as numbers: conv2 < conv10, features.2 < features.10.
    public static func naturalLess(_ a: String, _ b: String) -> Bool {
        func tokens(_ s: String) -> [(String, Int?)] {
            var out: [(String, Int?)] = [], cur = "", digits = false
            for ch in s {
                let d = ch.isASCII && ch.isNumber
                if !cur.isEmpty && d != digits { out.append((cur, digits ? Int(cur) : nil)); cur = "" }
                cur.append(ch); digits = d
            }
            if !cur.isEmpty { out.append((cur, digits ? Int(cur) : nil)) }
            return out
        }
        let ta = tokens(a), tb = tokens(b)
        for (x, y) in zip(ta, tb) {
            if let nx = x.1, let ny = y.1 { if nx != ny { return nx < ny } } else if x.0 != y.0 { return x.0 < y.0 }
        }
        return ta.count < tb.count
    }
}
