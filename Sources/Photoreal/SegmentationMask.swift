import Kernels

/// Errors in segmentation masks: the CLI prints them as one line.
public enum MaskError: Error, CustomStringConvertible, Equatable {
    case empty(what: String)
    case missingLabels(contentOnly: [String], reference: [String])
    case badMapping(String)

    public var description: String {
        switch self {
        case .empty(let w): return "\(w) mask is empty"
        case .missingLabels(let c, let r):
            return "label\(c.count == 1 ? "" : "s") \(c.joined(separator: ", ")) of the content mask \(c.count == 1 ? "is" : "are") missing from the reference mask (it has \(r.joined(separator: ", "))); map \(c.count == 1 ? "it" : "them") with --mask-map \(c[0])=\(r.first ?? "LABEL")"
        case .badMapping(let m): return "--mask-map: \(m)"
        }
    }
}

/// A segmentation: one label per pixel, labels named so that the content's and the
/// reference's can be matched ("blue", "red", … for colour-coded masks; "0", "1", … for
/// integer label images).
public struct LabelMap: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// index into `names`, one per pixel, row-major
    public let labels: [Int32]
    public let names: [String]

    /// Luan et al.'s 9 mask colours (their MATLAB/Torch code and the masks shipped with
    /// their examples use these).
    public static let palette: [(name: String, rgb: (Int, Int, Int))] = [
        ("blue", (0, 0, 255)), ("green", (0, 255, 0)), ("black", (0, 0, 0)),
        ("white", (255, 255, 255)), ("red", (255, 0, 0)), ("yellow", (255, 255, 0)),
        ("grey", (128, 128, 128)), ("lightblue", (0, 255, 255)), ("purple", (255, 0, 255)),
    ]

    public init(width: Int, height: Int, labels: [Int32], names: [String]) {
        precondition(labels.count == width * height, "LabelMap: \(labels.count) labels for \(width)×\(height)")
        self.width = width; self.height = height; self.labels = labels; self.names = names
    }

    /// Decodes an RGB label image (interleaved 8-bit RGB, as decoded from PNG).
    /// An image whose pixels are all grey with values under 64 is an integer label image
    /// (label = value); any other is colour-coded: each pixel takes the nearest of the 9
    /// palette colours (so JPEG noise and anti-aliased borders still land somewhere).
    /// `what` names the mask in errors.
    public static func decode(width: Int, height: Int, rgb: [UInt8], what: String) throws -> LabelMap {
        precondition(rgb.count == width * height * 3, "LabelMap.decode: \(rgb.count) bytes for \(width)×\(height) RGB")
        let n = width * height
        guard n > 0 else { throw MaskError.empty(what: what) }
        var integer = true
        for i in 0..<n {
            let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2]
            if r != g || g != b || r >= 64 { integer = false; break }
        }
        var raw = [Int32](repeating: 0, count: n)
        var rawNames: [Int32: String] = [:]
        if integer {
            for i in 0..<n { raw[i] = Int32(rgb[3 * i]); rawNames[raw[i]] = String(rgb[3 * i]) }
        } else {
            for i in 0..<n {
                let r = Int(rgb[3 * i]), g = Int(rgb[3 * i + 1]), b = Int(rgb[3 * i + 2])
                var best = 0, bestD = Int.max
                for (k, p) in palette.enumerated() {
                    let d = (r - p.rgb.0) * (r - p.rgb.0) + (g - p.rgb.1) * (g - p.rgb.1) + (b - p.rgb.2) * (b - p.rgb.2)
                    if d < bestD { bestD = d; best = k }
                }
                raw[i] = Int32(best); rawNames[Int32(best)] = palette[best].name
            }
        }
        // dense indices in increasing raw order
        let keys = rawNames.keys.sorted()
        var index = [Int32: Int32]()
        for (k, key) in keys.enumerated() { index[key] = Int32(k) }
        return LabelMap(width: width, height: height, labels: raw.map { index[$0]! }, names: keys.map { rawNames[$0]! })
    }

    /// Fraction of the pixels carrying each label.
    public var areas: [Double] {
        var count = [Int](repeating: 0, count: names.count)
        for l in labels { count[Int(l)] += 1 }
        return count.map { Double($0) / Double(max(1, labels.count)) }
    }

    /// One soft mask per label in `order` (label indices of this map), at `width`×`height`:
    /// the 0/1 indicator planes resized bilinearly (so a mask of another size than the
    /// image it describes is stretched to it, and borders become fractional).
    public func masks(_ order: [Int], width w: Int, height h: Int) -> Tensor {
        var t = Tensor(channels: order.count, height: height, width: width)
        let n = width * height
        t.storage.withUnsafeMutableBufferPointer { p in
            for (c, label) in order.enumerated() {
                for i in 0..<n where labels[i] == Int32(label) { p[c * n + i] = 1 }
            }
        }
        return (w == width && h == height) ? t : Resize.bilinear(t, height: h, width: w)
    }
}

/// The labels of a content mask matched to a reference mask's: by name, or through an
/// explicit map. Labels of the reference that the content lacks are simply unused.
public struct MaskPairing: Sendable, Equatable {
    public let content: LabelMap
    public let reference: LabelMap
    /// (content label index, reference label index) for every content label
    public let pairs: [(Int, Int)]
    /// content area of each pair's label (the weight of its loss)
    public let areas: [Double]

    public static func == (a: MaskPairing, b: MaskPairing) -> Bool {
        a.content == b.content && a.reference == b.reference && a.pairs.map { [$0.0, $0.1] } == b.pairs.map { [$0.0, $0.1] }
    }

    /// Parses "a=b,c=d" (content label = reference label).
    public static func parseMap(_ text: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw MaskError.badMapping("'\(item)' is not CONTENT_LABEL=REFERENCE_LABEL (e.g. red=blue,3=1)")
            }
            guard out[kv[0]] == nil else { throw MaskError.badMapping("label \(kv[0]) is mapped twice") }
            out[kv[0]] = kv[1]
        }
        return out
    }

    public init(content: LabelMap, reference: LabelMap, map: [String: String] = [:]) throws {
        for (from, to) in map.sorted(by: { $0.key < $1.key }) {
            guard content.names.contains(from) else {
                throw MaskError.badMapping("the content mask has no label \(from) (it has \(content.names.joined(separator: ", ")))")
            }
            guard reference.names.contains(to) else {
                throw MaskError.badMapping("the reference mask has no label \(to) (it has \(reference.names.joined(separator: ", ")))")
            }
        }
        let contentAreas = content.areas
        var pairs: [(Int, Int)] = [], areas: [Double] = [], missing: [String] = []
        for (ci, name) in content.names.enumerated() where contentAreas[ci] > 0 {
            let target = map[name] ?? name
            if let ri = reference.names.firstIndex(of: target) {
                pairs.append((ci, ri)); areas.append(contentAreas[ci])
            } else {
                missing.append(name)
            }
        }
        guard missing.isEmpty else { throw MaskError.missingLabels(contentOnly: missing, reference: reference.names) }
        self.content = content; self.reference = reference; self.pairs = pairs; self.areas = areas
    }

    public func contentMasks(width: Int, height: Int) -> Tensor { content.masks(pairs.map { $0.0 }, width: width, height: height) }
    public func referenceMasks(width: Int, height: Int) -> Tensor { reference.masks(pairs.map { $0.1 }, width: width, height: height) }
}

/// Masked Gram matrix G = (F⊙M)(F⊙M)ᵀ / (C·H·W·mean(M)) of a C×H×W feature map and one
/// H×W mask plane; nil when the mask is (numerically) empty at this resolution.
public func maskedGram(_ f: Tensor, mask: UnsafePointer<Float>) -> [Float]? { GramStyle.gram(f, mask: mask) }

/// Luan et al.'s segmented style loss on one layer: for every label l,
///   area_l · weight · mean((G_l − Ĝ_l)²),  G_l the masked Gram of the result's features
/// under the content's mask, Ĝ_l the reference's under the reference mask.
/// Gradient per label: area_l · weight · 4/(C²·C·H·W·mean(M_l)) · ((G_l − Ĝ_l)(F⊙M_l)) ⊙ M_l.
/// A label whose mask vanishes at this layer's resolution (on either side) is skipped.
public struct MaskedStyleLoss: Sendable {
    /// L×H×W, the content's masks at this layer's resolution
    public let masks: Tensor
    /// one Gram target per label (nil: the label is absent from the reference here)
    public let targets: [[Float]?]
    public let areas: [Double]
    public let weight: Float

    public init(masks: Tensor, targets: [[Float]?], areas: [Double], weight: Float) {
        precondition(masks.channels == targets.count && targets.count == areas.count,
                     "MaskedStyleLoss: \(masks.channels) masks, \(targets.count) targets, \(areas.count) areas")
        self.masks = masks; self.targets = targets; self.areas = areas; self.weight = weight
    }

    /// Gram targets of the reference's features `f` under its masks `m` (L×H×W at f's size).
    public static func targets(features f: Tensor, masks m: Tensor) -> [[Float]?] {
        targets(statistics: statistics(f, masks: m, labels: 0..<m.channels), channels: f.channels, area: f.plane)
    }

    /// The targets from `statistics` of every label summed over regions that tile the
    /// reference's layer (C channels, `area` = H·W): a reference seen in tiles.
    public static func targets(statistics stats: [Double], channels c: Int, area: Int) -> [[Float]?] {
        let cc = c * c
        return (0..<(stats.count / (cc + 1))).map { l in
            let at = l * (cc + 1), maskSum = stats[at + cc]
            if GramStyle.isEmpty(maskSum: maskSum, area: area) { return nil }
            let norm = 1 / (Double(c) * maskSum)
            return (0..<cc).map { Float(stats[at + $0] * norm) }
        }
    }

    /// Per label of `labels` (others left 0): S_l = (F⊙M_l)(F⊙M_l)ᵀ (C×C) then ΣM_l, over
    /// the region `f` and the masks `m` cover.
    public static func statistics(_ f: Tensor, masks m: Tensor, labels: some Sequence<Int>) -> [Double] {
        precondition(m.height == f.height && m.width == f.width, "MaskedStyleLoss: masks \(m.shapeDescription) for features \(f.shapeDescription)")
        let cc = f.channels * f.channels
        var out = [Double](repeating: 0, count: m.channels * (cc + 1))
        var masked: [Float] = []
        for l in labels {
            let (s, maskSum) = m.storage.withUnsafeBufferPointer { GramStyle.sums(f, mask: $0.baseAddress! + l * f.plane, masked: &masked) }
            let at = l * (cc + 1)
            for i in 0..<cc { out[at + i] = Double(s[i]) }
            out[at + cc] = maskSum
        }
        return out
    }

    public func evaluate(_ f: Tensor, gradient: inout Tensor) -> Double {
        let settled = settle(statistics(f, masks: masks), channels: f.channels, area: f.plane)
        addGradient(f, masks: masks, state: settled.state, gradient: &gradient)
        return settled.value
    }

    /// The additive statistics of features `f` over one region of the layer, `m` the
    /// content's masks over the same region: per label, the sums S_l = (F⊙M_l)(F⊙M_l)ᵀ
    /// (C×C) then ΣM_l. Summed over regions that tile the layer, they are the whole layer's.
    public func statistics(_ f: Tensor, masks m: Tensor) -> [Double] {
        precondition(m.channels == targets.count, "MaskedStyleLoss: \(m.channels) masks for \(targets.count) labels")
        return MaskedStyleLoss.statistics(f, masks: m, labels: targets.indices.filter { targets[$0] != nil })
    }

    /// The loss from the whole layer's statistics (`area` = H·W), and what the gradient
    /// needs: per label its scale, then G_l − Ĝ_l (scale 0 for a skipped label).
    public func settle(_ stats: [Double], channels c: Int, area: Int) -> (value: Double, state: [Float]) {
        let cc = c * c
        var state = [Float](repeating: 0, count: targets.count * (cc + 1))
        var total = 0.0
        for (l, target) in targets.enumerated() {
            let at = l * (cc + 1), maskSum = stats[at + cc]
            guard let target, !GramStyle.isEmpty(maskSum: maskSum, area: area) else { continue }
            let norm = 1 / (Double(c) * maskSum)
            let gram = (0..<cc).map { Float(stats[at + $0] * norm) }
            let w = areas[l] * Double(weight)
            let (value, d) = GramStyle.value(gram: gram, target: target, weight: w)
            total += value
            state[at] = GramStyle.gradientScale(channels: c, weight: w, maskSum: maskSum)
            for i in 0..<cc { state[at + 1 + i] = d[i] }
        }
        return (total, state)
    }

    /// Adds the gradient over one region (`f`, and the masks `m` over it) from `settle`'s state.
    public func addGradient(_ f: Tensor, masks m: Tensor, state: [Float], gradient: inout Tensor) {
        let cc = f.channels * f.channels
        var masked: [Float] = [], product: [Float] = []
        for l in targets.indices where state[l * (cc + 1)] != 0 {
            let at = l * (cc + 1)
            m.storage.withUnsafeBufferPointer { mp in
                let mask = mp.baseAddress! + l * f.plane
                GramStyle.applyMask(f, mask, into: &masked)
                GramStyle.addGradient(f, mask: mask, masked: masked, difference: Array(state[(at + 1)..<(at + 1 + cc)]),
                                      alpha: state[at], gradient: &gradient, product: &product)
            }
        }
    }
}
