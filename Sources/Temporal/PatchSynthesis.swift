import Foundation
import Kernels

/// Guided patch synthesis, after EbSynth (Jamriška et al., "Stylizing Video by Example",
/// 2019): a target image is made of patches of a stylised source (a keyframe's result).
/// Each target pixel is matched to a source position by PatchMatch (Barnes et al. 2009)
/// on guides that both sides have (the input frames' colours, and the run's previous
/// output warped onto the target against the keyframe's result), plus a positional
/// guide (where the flow says the pixel came from); the matched patches are then voted
/// into the target. Every target pixel gets paint, including what the keyframe never
/// saw: there the best-matching patch elsewhere in the keyframe is used.
///
/// The result does not depend on the thread count: the target is searched in bands of
/// `Options.band` rows, each band on its own, and candidates come from a hash of the
/// pixel and the round, not from a shared generator.
public enum PatchSynthesis {
    public struct Options: Sendable, Equatable, Codable {
        /// Patch radius: (2r + 1)² pixels.
        public var radius = 2
        /// PatchMatch rounds (propagation and random search), alternating scan order.
        public var iterations = 4
        /// Weight of the positional guide per squared pixel of distance from the expected
        /// source position (the guides' costs are squared differences of values in 0...1
        /// summed over the patch).
        public var positionWeight: Float = 0.002
        /// Rows per band searched on its own.
        public var band = 16
        /// The vote's spatial weight: a patch's pixel at distance d from the patch's centre
        /// counts exp(−d²/2σ²) (0: all the same, EbSynth's uniform vote, which averages
        /// 25 overlapping patches into each pixel and softens the strokes).
        public var voteSigma: Float = 1.0
        public init() {}
    }

    /// Per-pixel guide values of an image, interleaved (pixel-major), each channel scaled
    /// by its weight's square root so that a squared difference is weighted by it.
    public struct Guide {
        public let width: Int, height: Int, channels: Int
        public var values: [Float]

        /// The guide made of `planes` (each C×H×W of one size), weighted.
        public init(_ planes: [(tensor: Tensor, weight: Float)]) {
            precondition(!planes.isEmpty, "PatchSynthesis.Guide: no planes")
            let w = planes[0].tensor.width, h = planes[0].tensor.height, n = w * h
            let c = planes.reduce(0) { $0 + $1.tensor.channels }
            var v = [Float](repeating: 0, count: n * c)
            var base = 0
            for (t, weight) in planes {
                precondition(t.width == w && t.height == h, "PatchSynthesis.Guide: planes of different sizes")
                let s = weight.squareRoot()
                for ch in 0..<t.channels {
                    for i in 0..<n { v[i * c + base + ch] = s * t.storage[ch * n + i] }
                }
                base += t.channels
            }
            width = w; height = h; channels = c; values = v
        }

        /// The values with `r` pixels of edge replication on every side.
        func padded(_ r: Int) -> [Float] {
            let wp = width + 2 * r, hp = height + 2 * r, c = channels
            var out = [Float](repeating: 0, count: wp * hp * c)
            for y in 0..<hp {
                let sy = Swift.min(Swift.max(y - r, 0), height - 1)
                for x in 0..<wp {
                    let sx = Swift.min(Swift.max(x - r, 0), width - 1)
                    for ch in 0..<c { out[(y * wp + x) * c + ch] = values[(sy * width + sx) * c + ch] }
                }
            }
            return out
        }
    }

    /// Where each target pixel is expected to come from in the source (x, y in source
    /// pixels), for the positional guide; NaN where nothing is expected (content that came
    /// into view: its patches are chosen by the other guides alone).
    public struct Positions: Sendable {
        public var x: [Float], y: [Float]
        public let width: Int, height: Int
        /// Each pixel at its own place.
        public static func identity(width: Int, height: Int) -> Positions {
            var x = [Float](repeating: 0, count: width * height), y = x
            for i in 0..<(width * height) { x[i] = Float(i % width); y[i] = Float(i / width) }
            return Positions(x: x, y: y, width: width, height: height)
        }
        public init(x: [Float], y: [Float], width: Int, height: Int) {
            self.x = x; self.y = y; self.width = width; self.height = height
        }
        /// The positions carried one frame along a backward flow (this frame → the frame
        /// whose positions these are): p takes the positions at p + flow(p), bilinearly;
        /// NaN where p + flow(p) leaves the frame (clamping it there would send every pixel
        /// that came into view to the same edge patch, a streak).
        public func advected(by flow: Flow) -> Positions {
            precondition(flow.width == width && flow.height == height, "Positions.advected: sizes differ")
            var out = self
            for i in 0..<(width * height) {
                let sx = Float(i % width) + flow.u[i], sy = Float(i / width) + flow.v[i]
                guard sx >= -0.5, sy >= -0.5, sx <= Float(width) - 0.5, sy <= Float(height) - 0.5 else {   // NaN fails too
                    out.x[i] = .nan; out.y[i] = .nan
                    continue
                }
                let cx = Swift.min(Swift.max(sx, 0), Float(width - 1)), cy = Swift.min(Swift.max(sy, 0), Float(height - 1))
                let x0 = Swift.min(Int(cx), Swift.max(width - 2, 0)), y0 = Swift.min(Int(cy), Swift.max(height - 2, 0))
                let x1 = Swift.min(x0 + 1, width - 1), y1 = Swift.min(y0 + 1, height - 1)
                let fx = cx - Float(x0), fy = cy - Float(y0)
                let a = y0 * width + x0, b = y0 * width + x1, c = y1 * width + x0, d = y1 * width + x1
                out.x[i] = (1 - fy) * ((1 - fx) * x[a] + fx * x[b]) + fy * ((1 - fx) * x[c] + fx * x[d])
                out.y[i] = (1 - fy) * ((1 - fx) * y[a] + fx * y[b]) + fy * ((1 - fx) * y[c] + fx * y[d])
            }
            return out
        }
    }

    /// The synthesised target (3×H×W like `style`, at the target guide's size) and each
    /// pixel's matching cost (guides and position), for blending syntheses.
    public struct Result {
        public var image: Tensor
        public var cost: [Float]
        /// The source position each target pixel was matched to (x, y).
        public var matchX: [Int32], matchY: [Int32]
        public init(image: Tensor, cost: [Float], matchX: [Int32], matchY: [Int32]) {
            self.image = image; self.cost = cost; self.matchX = matchX; self.matchY = matchY
        }
    }

    /// Synthesises the target: `style` is the stylised source (at the source guide's
    /// size), `expected` the positional guide (nil: no positional term, and the search
    /// starts from each pixel's own place).
    public static func synthesize(style: Tensor, source: Guide, target: Guide, expected: Positions?,
                                  options o: Options = Options()) -> Result {
        precondition(source.channels == target.channels, "PatchSynthesis: guides of \(source.channels) and \(target.channels) channels")
        precondition(style.width == source.width && style.height == source.height, "PatchSynthesis: style and source guide sizes differ")
        if let e = expected { precondition(e.width == target.width && e.height == target.height, "PatchSynthesis: positions' size") }
        let field = MatchField(source: source, target: target, expected: expected, options: o)
        var (mx, my, cost) = field.initial()
        let bands = (target.height + o.band - 1) / o.band
        mx.withUnsafeMutableBufferPointer { X in my.withUnsafeMutableBufferPointer { Y in cost.withUnsafeMutableBufferPointer { C in
            let xs = X, ys = Y, cs = C
            parallelFor(bands, minPerThread: 1) { range in
                for b in range {
                    let rows = (b * o.band)..<Swift.min(target.height, (b + 1) * o.band)
                    for round in 0..<o.iterations { field.search(rows: rows, round: round, mx: xs, my: ys, cost: cs) }
                }
            }
        } } }
        let image = vote(style: style, mx: mx, my: my, width: target.width, height: target.height, radius: o.radius, sigma: o.voteSigma)
        return Result(image: image, cost: cost, matchX: mx, matchY: my)
    }

    /// Each target pixel the mean, over the patches that cover it, of the source pixel
    /// its patch places there (EbSynth's voting), weighted by exp(−d²/2σ²) of its
    /// distance d from the patch's centre (`sigma` 0: uniform).
    static func vote(style: Tensor, mx: [Int32], my: [Int32], width w: Int, height h: Int, radius r: Int, sigma: Float = 0) -> Tensor {
        precondition(style.channels == 3, "PatchSynthesis.vote: an RGB style is needed, got \(style.shapeDescription)")
        let ws = style.width, hs = style.height, ns = ws * hs, n = w * h, side = 2 * r + 1
        let weights = (0..<(side * side)).map { i -> Float in
            let dx = Float(i % side - r), dy = Float(i / side - r)
            return sigma > 0 ? exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 1
        }
        var out = Tensor(channels: 3, height: h, width: w, storage: [Float](repeating: 0, count: 3 * n))
        out.storage.withUnsafeMutableBufferPointer { O in
            let o = O
            parallelFor(h, minPerThread: 8) { rows in
                for y in rows {
                    for x in 0..<w {
                        var acc = SIMD4<Float>(), count: Float = 0
                        for dy in -r...r {
                            let py = y - dy
                            guard py >= 0, py < h else { continue }
                            for dx in -r...r {
                                let px = x - dx
                                guard px >= 0, px < w else { continue }
                                let q = py * w + px
                                let sx = Swift.min(Swift.max(Int(mx[q]) + dx, 0), ws - 1)
                                let sy = Swift.min(Swift.max(Int(my[q]) + dy, 0), hs - 1)
                                let s = sy * ws + sx
                                let wt = weights[(dy + r) * side + dx + r]
                                acc += wt * SIMD4(style.storage[s], style.storage[ns + s], style.storage[2 * ns + s], 0)
                                count += wt
                            }
                        }
                        for ch in 0..<3 { o[ch * n + y * w + x] = acc[ch] / count }
                    }
                }
            }
        }
        return out
    }
}

/// The nearest-neighbour field of one synthesis: the padded guides and the patch cost.
struct MatchField {
    let src: [Float], tgt: [Float]
    let ws: Int, hs: Int, w: Int, h: Int, c: Int, r: Int
    let expected: PatchSynthesis.Positions?
    let lambda: Float

    init(source: PatchSynthesis.Guide, target: PatchSynthesis.Guide, expected: PatchSynthesis.Positions?, options o: PatchSynthesis.Options) {
        r = o.radius; c = source.channels
        src = source.padded(r); tgt = target.padded(r)
        ws = source.width; hs = source.height; w = target.width; h = target.height
        self.expected = expected; lambda = expected == nil ? 0 : o.positionWeight
    }

    /// The cost of matching target pixel (x, y) to source (sx, sy), or more than `bound`
    /// (the sum stops once it passes it).
    @inline(__always)
    func cost(_ x: Int, _ y: Int, _ sx: Int, _ sy: Int, bound: Float) -> Float {
        var total: Float = 0
        if let e = expected {
            let i = y * w + x, dx = Float(sx) - e.x[i], dy = Float(sy) - e.y[i]
            let d = dx * dx + dy * dy
            if d.isFinite { total = lambda * d }
            if total >= bound { return total }
        }
        let wp = w + 2 * r, wsp = ws + 2 * r, side = 2 * r + 1, rowLength = side * c
        return tgt.withUnsafeBufferPointer { T in src.withUnsafeBufferPointer { S in
            // pixel (x, y) sits at (x + r, y + r) in the padded image: its patch starts at (x, y)
            for k in 0..<side {
                let t = ((y + k) * wp + x) * c, s = ((sy + k) * wsp + sx) * c
                for j in 0..<rowLength { let d = T[t + j] - S[s + j]; total += d * d }
                if total >= bound { return total }
            }
            return total
        } }
    }

    /// Every pixel at its expected source position (rounded, clamped), or its own place
    /// where none is expected.
    func initial() -> (mx: [Int32], my: [Int32], cost: [Float]) {
        let n = w * h
        var mx = [Int32](repeating: 0, count: n), my = mx, cost = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let x = i % w, y = i / w
            let ex = expected.map { $0.x[i].rounded() } ?? Float(x), ey = expected.map { $0.y[i].rounded() } ?? Float(y)
            let sx = Swift.min(Swift.max(Int(ex.isFinite ? ex : Float(x)), 0), ws - 1)
            let sy = Swift.min(Swift.max(Int(ey.isFinite ? ey : Float(y)), 0), hs - 1)
            mx[i] = Int32(sx); my[i] = Int32(sy)
            cost[i] = self.cost(x, y, sx, sy, bound: .infinity)
        }
        return (mx, my, cost)
    }

    /// One PatchMatch round over `rows`: each pixel tries its scan-order neighbours'
    /// matches shifted by one (within the rows), then random candidates around its match
    /// in halving windows. Even rounds scan forward, odd ones backward.
    func search(rows: Range<Int>, round: Int, mx: UnsafeMutableBufferPointer<Int32>, my: UnsafeMutableBufferPointer<Int32>,
                cost: UnsafeMutableBufferPointer<Float>) {
        let forward = round % 2 == 0, step = forward ? 1 : -1
        let ys = forward ? Array(rows) : rows.reversed(), xs = forward ? Array(0..<w) : (0..<w).reversed()
        for y in ys {
            for x in xs {
                let i = y * w + x
                @inline(__always) func attempt(_ cx: Int, _ cy: Int) {
                    let sx = Swift.min(Swift.max(cx, 0), ws - 1), sy = Swift.min(Swift.max(cy, 0), hs - 1)
                    if sx == Int(mx[i]) && sy == Int(my[i]) { return }
                    let k = self.cost(x, y, sx, sy, bound: cost[i])
                    if k < cost[i] { cost[i] = k; mx[i] = Int32(sx); my[i] = Int32(sy) }
                }
                let nx = x - step, ny = y - step
                if nx >= 0 && nx < w { attempt(Int(mx[i - step]) + step, Int(my[i - step])) }
                if rows.contains(ny) { attempt(Int(mx[i - step * w]), Int(my[i - step * w]) + step) }
                var radius = Swift.max(ws, hs) / 4, k: UInt64 = 0
                while radius >= 1 {
                    let hash = MatchField.mix(UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(round) << 32 &+ k)
                    let span = UInt64(2 * radius + 1)
                    let dx = Int(hash % span) - radius, dy = Int((hash >> 32) % span) - radius
                    attempt(Int(mx[i]) + dx, Int(my[i]) + dy)
                    radius /= 2; k += 1
                }
            }
        }
    }

    /// SplitMix64's finaliser: a well-mixed hash of `z`.
    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
