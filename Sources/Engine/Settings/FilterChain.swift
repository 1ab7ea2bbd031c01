import Foundation
import VideoIO

/// An error in a `-vf` chain, with the position (0-based, in characters) it points at.
public struct FilterChainError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public let chain: String
    public let position: Int
    public init(_ message: String, chain: String, position: Int) {
        self.message = message; self.chain = chain; self.position = max(0, min(position, chain.count))
    }
    public var description: String { "-vf: \(message) (at character \(position + 1))" }
    /// The chain with a caret under the position, for the lines after the error.
    public var caret: String { "  " + chain + "\n  " + String(repeating: " ", count: position) + "^" }
}

/// The value types filter options take; each checks and converts one value.
public enum FilterOptionType: Equatable, Sendable {
    case int(ClosedRange<Int>)
    case float(ClosedRange<Double>)
    case string
    /// Integers separated by `|` (or `,` inside quotes).
    case intList(ClosedRange<Int>)
    case choice([String])

    var describe: String {
        switch self {
        case .int(let r): return "integer \(r.lowerBound)…\(r.upperBound)"
        case .float(let r): return "number \(FilterOption.format(r.lowerBound))…\(FilterOption.format(r.upperBound))"
        case .string: return "text"
        case .intList(let r): return "list of integers \(r.lowerBound)…\(r.upperBound), separated by |"
        case .choice(let c): return "one of " + c.joined(separator: ", ")
        }
    }
}

public enum FilterValue: Equatable, Sendable {
    case int(Int), float(Double), string(String), ints([Int])
    public var int: Int? { if case .int(let v) = self { return v }; return nil }
    public var float: Double? { if case .float(let v) = self { return v }; if case .int(let v) = self { return Double(v) }; return nil }
    public var string: String? { if case .string(let v) = self { return v }; return nil }
    public var ints: [Int]? { if case .ints(let v) = self { return v }; return nil }
}

/// One option of a filter, declared once: it drives parsing, validation, help and errors.
public struct FilterOption: Sendable, Equatable {
    public let name: String
    public let type: FilterOptionType
    /// Shown in help; nil = unset (or required).
    public let defaultValue: String?
    public let required: Bool
    public let help: String
    public init(_ name: String, _ type: FilterOptionType, default d: String?, required: Bool = false, _ help: String) {
        self.name = name; self.type = type; self.defaultValue = d; self.required = required; self.help = help
    }

    public static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e9 ? String(Int(d)) : String(d)
    }

    /// Converts `text` (found at `pos` of the chain) or throws an error pointing at it.
    func parse(_ text: String, filter: String, chain: String, at pos: Int) throws -> FilterValue {
        func bad(_ why: String) -> FilterChainError {
            FilterChainError("\(filter): \(name)=\(text): \(why)", chain: chain, position: pos)
        }
        switch type {
        case .int(let r):
            guard let v = Int(text) else { throw bad("not an integer (expected \(type.describe))") }
            guard r.contains(v) else { throw bad("out of range (\(type.describe))") }
            return .int(v)
        case .float(let r):
            guard let v = Double(text), v.isFinite else { throw bad("not a number (expected \(type.describe))") }
            guard r.contains(v) else { throw bad("out of range (\(type.describe))") }
            return .float(v)
        case .string:
            guard !text.isEmpty else { throw bad("empty") }
            return .string(text)
        case .intList(let r):
            let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "|" || $0 == "," })
            var out: [Int] = []
            for p in parts {
                guard let v = Int(p.trimmingCharacters(in: .whitespaces)) else { throw bad("'\(p)' is not an integer (expected \(type.describe))") }
                guard r.contains(v) else { throw bad("\(v) is out of range (\(type.describe))") }
                out.append(v)
            }
            return .ints(out)
        case .choice(let c):
            guard c.contains(text) else {
                throw bad("not one of \(c.joined(separator: ", "))" + (FilterChain.nearest(text, in: c).map { " (did you mean '\($0)'?)" } ?? ""))
            }
            return .string(text)
        }
    }
}

/// A geometric step of the chain, applied to every frame in order before stylisation.
public enum GeometryOp: Equatable, Sendable, Codable {
    /// FFmpeg's scale: -1 keeps the aspect ratio, -2 too but rounded to an even size, 0 =
    /// the input's size.
    case scale(width: Int, height: Int)
    /// FFmpeg's crop: nil x/y centre the window.
    case crop(width: Int, height: Int, x: Int?, y: Int?)

    /// The frame size after this step.
    public func outputSize(width iw: Int, height ih: Int) throws -> (Int, Int) {
        switch self {
        case .scale(let w, let h):
            // as FFmpeg: -n keeps the aspect ratio, rounded to a multiple of n
            func keep(_ other: Int, _ inSame: Int, _ inOther: Int, _ n: Int) -> Int {
                max(n, Int((Double(other) * Double(inSame) / Double(inOther * n)).rounded()) * n)
            }
            var ow = w == 0 ? iw : w, oh = h == 0 ? ih : h
            if w < 0 && h < 0 { ow = iw; oh = ih }
            else if w < 0 { ow = keep(oh, iw, ih, -w) }
            else if h < 0 { oh = keep(ow, ih, iw, -h) }
            return (ow, oh)
        case .crop(let w, let h, let x, let y):
            guard w <= iw, h <= ih else { throw EngineError.invalidOption("crop=\(w):\(h) is larger than the \(iw)×\(ih) frame") }
            let cx = x ?? (iw - w) / 2, cy = y ?? (ih - h) / 2
            guard cx >= 0, cy >= 0, cx + w <= iw, cy + h <= ih else {
                throw EngineError.invalidOption("crop=\(w):\(h):\(cx):\(cy) reaches outside the \(iw)×\(ih) frame")
            }
            return (w, h)
        }
    }
}

/// A style image of the chain, with the loss weight it contributes.
public struct ChainStyle: Equatable, Sendable {
    public var path: String
    public var weight: Float
    public init(path: String, weight: Float) { self.path = path; self.weight = weight }
}

/// What a chain sets: the same structs the plain CLI options fill (the chain is applied
/// on top of them, so an option given both ways takes the chain's value).
public struct ChainSettings: Equatable, Sendable {
    public var style: StyleConfig
    public var temporal: TemporalConfig
    public var styles: [ChainStyle] = []
    public var geometry: [GeometryOp] = []
    /// Segmentation masks from `photoreal=…:mask=…:refmask=…` (paths).
    public var contentMask: String? = nil
    public var referenceMask: String? = nil
    public var passes: Int? = nil
    /// From `fast=gap=N`: fast mode, and at most N frames between keyframes.
    public var mode: RenderMode? = nil
    public var keyframeGap: Int? = nil
    public init(style: StyleConfig = StyleConfig(), temporal: TemporalConfig = TemporalConfig()) {
        self.style = style; self.temporal = temporal
    }
}

extension ChainSettings {
    /// The style images of a run and the style settings they imply: `positional` paths
    /// (each weighing `style.styleWeight`) first, then the chain's style filters (each
    /// weighing its own weight). Several images blend in proportion to their weights, and
    /// the loss weight is their mean. A photorealism term without an explicit start image
    /// (`explicitStart` false) starts from `Preset.start`. Throws `EngineError.invalidOption`.
    public func resolved(positional: [String], explicitStart: Bool) throws -> (paths: [String], style: StyleConfig) {
        var config = style
        if !explicitStart { config.initMode = Preset.start(photorealWeight: config.photorealWeight) }
        guard !styles.isEmpty else { return (positional, config) }
        let weights = positional.map { _ in style.styleWeight } + styles.map(\.weight)
        guard weights.contains(where: { $0 > 0 }) else { throw EngineError.invalidOption("every style weight is 0") }
        config.styleWeight = weights.reduce(0, +) / Float(weights.count)
        config.styleBlend = weights.count > 1 ? weights : nil
        return (positional + styles.map(\.path), config)
    }

    /// The one way settings and a chain become a run, for the command line and the
    /// plugin alike: `resolved`, then at least one style image (`missingStyle` says where
    /// to give one) and both configurations valid. Throws `EngineError.invalidOption`.
    public func validated(positional: [String], explicitStart: Bool, missingStyle: String) throws -> (paths: [String], style: StyleConfig, temporal: TemporalConfig) {
        let (paths, config) = try resolved(positional: positional, explicitStart: explicitStart)
        guard !paths.isEmpty else { throw EngineError.invalidOption("no style image: " + missingStyle) }
        try config.validate(styleCount: paths.count)
        try temporal.validate()
        return (paths, config, temporal)
    }
}

/// One filter: its name, help, option table, and how its values fill the settings.
public struct FilterDefinition: @unchecked Sendable {
    public let name: String
    public let help: String
    public let options: [FilterOption]
    let apply: (inout ChainSettings, [String: FilterValue]) throws -> Void
}

/// FFmpeg-style filter chains: `name=v1:v2:key=value,name2=...`. Filters are separated
/// by `,`, options by `:`, `key=value` or positional in declared order; `'…'` quotes
/// (nothing inside is special) and `\` escapes the next character, as in FFmpeg.
public enum FilterChain {
    public static let filters: [FilterDefinition] = [
        FilterDefinition(
            name: "scale", help: "Resize every frame (before stylization); -1 keeps the aspect ratio, -2 too with an even size, 0 keeps the input's.",
            options: [FilterOption("w", .int(-2...StyleConfig.sizeRange.upperBound), default: "-1", "width in pixels"),
                      FilterOption("h", .int(-2...StyleConfig.sizeRange.upperBound), default: "-1", "height in pixels")],
            apply: { s, v in s.geometry.append(.scale(width: v["w"]?.int ?? -1, height: v["h"]?.int ?? -1)) }),
        FilterDefinition(
            name: "crop", help: "Cut a w×h window out of every frame (centred unless x, y are given).",
            options: [FilterOption("w", .int(2...StyleConfig.sizeRange.upperBound), default: nil, required: true, "window width"),
                      FilterOption("h", .int(2...StyleConfig.sizeRange.upperBound), default: nil, required: true, "window height"),
                      FilterOption("x", .int(0...StyleConfig.sizeRange.upperBound), default: "centred", "left edge"),
                      FilterOption("y", .int(0...StyleConfig.sizeRange.upperBound), default: "centred", "top edge")],
            apply: { s, v in
                s.geometry.append(.crop(width: v["w"]!.int!, height: v["h"]!.int!, x: v["x"]?.int, y: v["y"]?.int))
            }),
        FilterDefinition(
            name: "style", help: "Add a style image. Several style filters blend: each contributes its weight, and their Gram targets mix in proportion.",
            options: [FilterOption("image", .string, default: nil, required: true, "path of the style image"),
                      FilterOption("weight", .float(0...1e7), default: FilterOption.format(Double(StyleConfig().styleWeight)), "style loss weight of this image"),
                      FilterOption("layers", .string, default: StyleConfig().styleLayers.joined(separator: "|"), "style layers, separated by |"),
                      FilterOption("scale", .float(0.05...8), default: "1", "style image size relative to the result")],
            apply: { s, v in
                s.styles.append(ChainStyle(path: v["image"]!.string!, weight: Float(v["weight"]?.float ?? Double(StyleConfig().styleWeight))))
                if let l = v["layers"]?.string {
                    s.style.styleLayers = l.split(whereSeparator: { $0 == "|" || $0 == "," }).map { String($0).trimmingCharacters(in: .whitespaces) }
                    s.style.styleLayerWeights = nil
                }
                if let sc = v["scale"]?.float { s.style.styleScale = Float(sc) }
            }),
        FilterDefinition(
            name: "temporal", help: "Temporal consistency: warm start from the previous result warped by optical flow, and the temporal loss.",
            options: [FilterOption("weight", .float(0...1e7), default: FilterOption.format(Double(TemporalConfig().weight)), "temporal loss weight γ (0 = independent frames)"),
                      FilterOption("frames", .intList(1...1000), default: TemporalConfig().frames.map(String.init).joined(separator: "|"), "earlier frames to look back to"),
                      FilterOption("passes", .int(1...50), default: "1", "multi-pass: passes over the video")],
            apply: { s, v in
                if let w = v["weight"]?.float { s.temporal.weight = Float(w) }
                if let f = v["frames"]?.ints { s.temporal.frames = f }
                if let p = v["passes"]?.int { s.passes = p }
            }),
        FilterDefinition(
            name: "fast", help: "Fast mode (videos): keyframes by the optimiser, each shot's first frame and wherever the content has moved on; the frames between synthesised from their patches.",
            options: [FilterOption("gap", .int(2...240), default: String(FastConfig().maxGap), "at most this many frames from one keyframe to the next")],
            apply: { s, v in
                s.mode = .fast
                if let g = v["gap"]?.int { s.keyframeGap = g }
            }),
        FilterDefinition(
            name: "iterations", help: "Optimizer evaluations: for the first frame (per pyramid level) and for later frames.",
            options: [FilterOption("first", .int(1...100_000), default: "\(Preset.reducedIterations) (images: \(StyleConfig().iterations) per level)", "first frame"),
                      FilterOption("later", .int(1...100_000), default: String(TemporalConfig.defaultLaterIterations), "each later frame")],
            apply: { s, v in
                if let f = v["first"]?.int { s.style.iterations = f }
                if let l = v["later"]?.int { s.temporal.laterIterations = l }
            }),
        FilterDefinition(
            name: "colors", help: "Colour handling: transfer the style's colours, or preserve the content's (luminance-only transfer).",
            options: [FilterOption("mode", .choice(["transfer", "preserve"]), default: "transfer", "what happens to the colours")],
            apply: { s, v in s.style.preserveColors = v["mode"]?.string == "preserve" }),
        FilterDefinition(
            name: "photoreal", help: "Photorealistic relighting: the matting-Laplacian term keeps the result a photograph (Luan et al.); masks restrict each region's style to the matching region of the reference. Unless --init says otherwise, it starts from the content recoloured to the reference's palette (reinhard), as --photoreal and `stylevid photo` do.",
            options: [FilterOption("lambda", .float(0...1e9), default: FilterOption.format(Double(StyleConfig.defaultPhotorealWeight)), "weight of the photorealism term"),
                      FilterOption("mask", .string, default: nil, "content segmentation mask (9-colour or integer labels)"),
                      FilterOption("refmask", .string, default: nil, "reference segmentation mask")],
            apply: { s, v in
                s.style.photorealWeight = Float(v["lambda"]?.float ?? Double(StyleConfig.defaultPhotorealWeight))
                if let m = v["mask"]?.string { s.contentMask = m }
                if let m = v["refmask"]?.string { s.referenceMask = m }
            }),
        FilterDefinition(
            name: "smooth", help: "Post-process smoothing: guided filter of the result with the content as guide (local affine colour model), so edges stay where the content has them.",
            options: [FilterOption("radius", .int(1...64), default: "4", "window radius in pixels"),
                      FilterOption("sigma", .float(1e-4...1), default: FilterOption.format(StyleConfig.defaultSmoothSigma), "range sigma (ε = sigma²)")],
            apply: { s, v in
                s.style.smoothRadius = v["radius"]?.int ?? 4
                let sigma = v["sigma"]?.float ?? StyleConfig.defaultSmoothSigma
                s.style.smoothEpsilon = Float(sigma * sigma)
            }),
    ]

    public static func definition(_ name: String) -> FilterDefinition? { filters.first { $0.name == name } }

    /// The closest candidate within edit distance 2 (or sharing a 3-letter prefix).
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var cur = [i] + [Int](repeating: 0, count: b.count)
                for j in stride(from: 1, through: b.count, by: 1) {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return a.isEmpty ? b.count : prev[b.count]
        }
        let w = Array(word.lowercased())
        let scored = candidates.map { ($0, distance(w, Array($0))) }.sorted { $0.1 < $1.1 }
        if let best = scored.first, best.1 <= 2 { return best.0 }
        if w.count >= 3, let p = candidates.first(where: { $0.hasPrefix(String(w.prefix(3))) }) { return p }
        return nil
    }

    /// The chain as (character, position, literal) triples: quotes and escapes are
    /// resolved once, and a literal character is never a delimiter at any level.
    typealias Chars = [(ch: Character, pos: Int, literal: Bool)]

    static func lex(_ chain: String) throws -> Chars {
        var out: Chars = []
        let cs = Array(chain)
        var i = 0
        while i < cs.count {
            let c = cs[i]
            if c == "\\" {
                guard i + 1 < cs.count else { throw FilterChainError("a backslash at the end escapes nothing", chain: chain, position: i) }
                out.append((cs[i + 1], i + 1, true)); i += 2
            } else if c == "'" {
                guard let close = cs[(i + 1)...].firstIndex(of: "'") else {
                    throw FilterChainError("this quote is never closed", chain: chain, position: i)
                }
                for k in (i + 1)..<close { out.append((cs[k], k, true)) }
                i = close + 1
            } else {
                out.append((c, i, false)); i += 1
            }
        }
        return out
    }

    static func split(_ s: Chars, on sep: Character, maxSplits: Int = .max) -> [Chars] {
        var parts: [Chars] = [[]]
        for c in s {
            if !c.literal && c.ch == sep && parts.count <= maxSplits { parts.append([]) } else { parts[parts.count - 1].append(c) }
        }
        return parts
    }

    static func text(_ s: Chars, trim: Bool = true) -> String {
        var t = s
        if trim {
            while let f = t.first, !f.literal, f.ch.isWhitespace { t.removeFirst() }
            while let l = t.last, !l.literal, l.ch.isWhitespace { t.removeLast() }
        }
        return String(t.map(\.ch))
    }

    static func start(_ s: Chars, fallback: Int) -> Int {
        s.first(where: { $0.literal || !$0.ch.isWhitespace })?.pos ?? s.first?.pos ?? fallback
    }

    /// Parses `chain` and applies it on top of `base`.
    public static func parse(_ chain: String, onto base: ChainSettings = ChainSettings()) throws -> ChainSettings {
        var settings = base
        let chars = try lex(chain)
        guard chars.contains(where: { $0.literal || !$0.ch.isWhitespace }) else {
            throw FilterChainError("the filter chain is empty", chain: chain, position: 0)
        }
        var end = 0          // where the previous filter's separator is
        for (k, filterChars) in split(chars, on: ",").enumerated() {
            let here = start(filterChars, fallback: k == 0 ? 0 : end + 1)
            end = filterChars.last.map { $0.pos + 1 } ?? here
            let nameAndArgs = split(filterChars, on: "=", maxSplits: 1)
            let name = text(nameAndArgs[0])
            guard !name.isEmpty else {
                throw FilterChainError("a filter name is missing here (two commas, or a comma at an end?)", chain: chain, position: here)
            }
            guard let def = definition(name) else {
                let hint = nearest(name, in: filters.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
                let digits = name.first?.isNumber == true ? " (a list inside an option needs | or quotes: frames='1,10,20')" : ""
                throw FilterChainError("unknown filter '\(name)'\(hint)\(digits); `stylevid filters` lists them", chain: chain, position: here)
            }
            var values: [String: FilterValue] = [:]
            if nameAndArgs.count > 1 {
                var positional = 0
                var sawKey = false
                for argChars in split(nameAndArgs[1], on: ":") {
                    let argPos = start(argChars, fallback: end)
                    let kv = split(argChars, on: "=", maxSplits: 1)
                    let option: FilterOption
                    let valueChars: Chars
                    if kv.count == 2 {
                        let key = text(kv[0])
                        guard let o = def.options.first(where: { $0.name == key }) else {
                            let hint = nearest(key, in: def.options.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                            throw FilterChainError("\(name) has no option '\(key)' (options: \(def.options.map(\.name).joined(separator: ", "))\(hint))", chain: chain, position: argPos)
                        }
                        option = o; valueChars = kv[1]; sawKey = true
                    } else {
                        guard !sawKey else {
                            throw FilterChainError("\(name): a value without a name after key=value options", chain: chain, position: argPos)
                        }
                        guard positional < def.options.count else {
                            throw FilterChainError("\(name) takes at most \(def.options.count) value(s) (\(def.options.map(\.name).joined(separator: ":")))", chain: chain, position: argPos)
                        }
                        option = def.options[positional]; valueChars = kv[0]; positional += 1
                    }
                    guard values[option.name] == nil else {
                        throw FilterChainError("\(name): \(option.name) is given twice", chain: chain, position: argPos)
                    }
                    let valuePos = start(valueChars, fallback: argPos)
                    values[option.name] = try option.parse(text(valueChars), filter: name, chain: chain, at: valuePos)
                }
            }
            // required options: those without a default
            for o in def.options where o.required && values[o.name] == nil {
                throw FilterChainError("\(name) needs \(o.name) (\(name)=\(def.options.filter(\.required).map(\.name).joined(separator: ":")))", chain: chain, position: here)
            }
            do { try def.apply(&settings, values) } catch let e as EngineError {
                throw FilterChainError("\(name): \(e.description)", chain: chain, position: here)
            }
        }
        return settings
    }

    /// `stylevid filters NAME`: the option table as help text.
    public static func help(_ def: FilterDefinition) -> String {
        var lines = ["\(def.name): \(def.help)", "", "options (positional in this order, or key=value):"]
        for o in def.options {
            lines.append("  \(o.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(o.type.describe); \(o.required ? "required" : o.defaultValue.map { "default " + $0 } ?? "unset"): \(o.help)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Array where Element == GeometryOp {
    /// The frame size after every step.
    public func outputSize(width: Int, height: Int) throws -> (Int, Int) {
        var size = (width, height)
        for op in self { size = try op.outputSize(width: size.0, height: size.1) }
        return size
    }

    /// Applies the steps to one frame: crops by copying rows, scales with swscale.
    public func apply(to image: RGBImage) throws -> RGBImage {
        var img = image
        for op in self {
            let (w, h) = try op.outputSize(width: img.width, height: img.height)
            switch op {
            case .scale:
                if w != img.width || h != img.height { img = try ImageIO.scale(img, width: w, height: h) }
            case .crop(_, _, let x, let y):
                let cx = x ?? (img.width - w) / 2, cy = y ?? (img.height - h) / 2
                var out = [UInt8](repeating: 0, count: w * h * 3)
                for row in 0..<h {
                    let src = ((cy + row) * img.width + cx) * 3
                    out.replaceSubrange((row * w * 3)..<((row + 1) * w * 3), with: img.pixels[src..<(src + w * 3)])
                }
                img = RGBImage(width: w, height: h, pixels: out)
            }
        }
        return img
    }
}
