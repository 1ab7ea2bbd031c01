import Kernels

/// A rectangle of pixels.
public struct PixelRect: Sendable, Equatable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var area: Int { width * height }
    public var description: String { "\(width)×\(height)+\(x)+\(y)" }
}

/// How the network sees a width×height image: whole, or as tiles. The cores are disjoint
/// rectangles that cover the image, their inner borders on the pooling grid; each tile is
/// its core grown by the halo on every side, clipped to the image. The network runs on
/// tiles; every loss reads only the cores.
public struct TileLayout: Sendable, Equatable, CustomStringConvertible {
    public let width: Int, height: Int
    public let halo: Int
    public let cores: [PixelRect]
    public let tiles: [PixelRect]

    /// One tile: the whole image.
    public static func whole(width: Int, height: Int) -> TileLayout {
        TileLayout(width: width, height: height, columns: 1, rows: 1, alignment: 1, halo: 0)
    }

    /// columns × rows cores of near-equal size with every inner border a multiple of
    /// `alignment`; fewer columns or rows where the image is too small for that many.
    /// `halo` must be a multiple of `alignment` (a tile's corner then stays on the grid).
    public init(width: Int, height: Int, columns: Int, rows: Int, alignment: Int, halo: Int) {
        precondition(width > 0 && height > 0 && columns > 0 && rows > 0 && alignment > 0 && halo >= 0 && halo % alignment == 0,
                     "TileLayout: \(columns)×\(rows) tiles of \(width)×\(height), alignment \(alignment), halo \(halo)")
        let xs = TileLayout.cuts(width, into: columns, alignment: alignment)
        let ys = TileLayout.cuts(height, into: rows, alignment: alignment)
        var cores: [PixelRect] = []
        for r in 0..<(ys.count - 1) {
            for c in 0..<(xs.count - 1) {
                cores.append(PixelRect(x: xs[c], y: ys[r], width: xs[c + 1] - xs[c], height: ys[r + 1] - ys[r]))
            }
        }
        self.width = width; self.height = height
        self.halo = cores.count == 1 ? 0 : halo
        self.cores = cores
        self.tiles = cores.map { c in
            let x0 = max(0, c.x - halo), y0 = max(0, c.y - halo)
            let x1 = min(width, c.maxX + halo), y1 = min(height, c.maxY + halo)
            return cores.count == 1 ? c : PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        }
    }

    /// 0 = b₀ < b₁ < … < bₙ = length, inner cuts on the alignment grid, as even as the grid
    /// allows (n shrinks when the length holds fewer than n grid cells).
    static func cuts(_ length: Int, into n: Int, alignment a: Int) -> [Int] {
        let cells = max(1, length / a)
        let parts = min(n, cells)
        var out = [0]
        for i in 1..<parts { out.append(((i * cells + parts / 2) / parts) * a) }
        out.append(length)
        return out
    }

    public var count: Int { cores.count }
    public var isWhole: Bool { cores.count == 1 }
    /// The tile the network runs on last in a first pass and first in the second: the
    /// largest, whose activations are held between the passes.
    public var heldTile: Int { tiles.indices.max { tiles[$0].area < tiles[$1].area } ?? 0 }
    /// Pixels the network runs on, summed over the tiles.
    public var computedPixels: Int { tiles.reduce(0) { $0 + $1.area } }
    /// The largest tile's pixels (what one tile's memory scales with).
    public var largestTile: Int { tiles.map(\.area).max() ?? 0 }

    public var description: String {
        if isWhole { return "whole \(width)×\(height)" }
        let columns = Set(cores.map(\.x)).count, rows = Set(cores.map(\.y)).count
        let big = tiles[heldTile]
        return "\(columns)×\(rows) tiles of \(width)×\(height), halo \(halo), largest \(big.width)×\(big.height)"
    }
}

extension VGG {
    /// How far layer `last`'s receptive field reaches beyond the pixel a feature sits on
    /// (input pixels, either side), and the grid its poolings work on (2^poolings). A 3×3
    /// convolution at scale s reaches s further; a 2×2 pooling s (max, average) or 3s
    /// (max-blur: a stride-1 max, then a 4-tap blur).
    public func receptiveField(through last: Int) -> (reach: Int, alignment: Int) {
        var scale = 1, reach = 0
        for j in 0...last {
            if pooledBefore[j] {
                reach += (pooling == .maxBlur ? 3 : 1) * scale
                scale *= 2
            }
            reach += (convs[j].kernel / 2) * scale
        }
        return (reach, scale)
    }

    /// The halo that makes a tile's core features through `last` exactly the whole
    /// image's: the reach, rounded up to the pooling grid.
    public func tileHalo(through last: Int) -> Int {
        let (reach, grid) = receptiveField(through: last)
        return (reach + grid - 1) / grid * grid
    }

    /// The number of poolings before layer `layer`.
    func poolings(before layer: Int) -> Int { pooledBefore[0...layer].filter { $0 }.count }
}

/// The network run tile by tile over one layout, so that memory follows the largest tile,
/// not the image. With the halo from `VGG.tileHalo`, every core feature is computed from
/// exactly the pixels the whole image's would be: the losses sum their statistics (Gram
/// sums, squared differences) over the cores, and each tile's gradient, seeded on its core
/// only, is exact on every pixel it reaches; the tiles' gradients add up to the whole
/// image's (to float rounding).
///
/// A tiled evaluation runs the network forward twice per tile (once for the statistics,
/// once for the gradient with the finished Gram matrices), except the largest tile, which
/// goes last in the first pass and first in the second, its activations held between.
public struct TiledNetwork {
    public let network: VGG
    public let layout: TileLayout
    public let deepest: Int

    /// Exact when the layout's halo is at least `network.tileHalo(through: deepest)`
    /// (`isExact`); a shorter halo gives wrong features along the cores' borders.
    public init(network: VGG, layout: TileLayout, deepest: Int) {
        self.network = network; self.layout = layout; self.deepest = deepest
    }

    public var isExact: Bool { layout.isWhole || layout.halo >= network.tileHalo(through: deepest) }

    /// Tile k's core at layer `l`: where it lies in the tile's activations, and where in the
    /// whole layer. Borders inside the image are on the pooling grid, so a shift by the
    /// poolings maps them exactly; the image's own far edge maps as the whole layer's does.
    func core(_ k: Int, layer l: Int) -> (inTile: PixelRect, inLayer: LayerPoint) {
        let p = network.poolings(before: l)
        let c = layout.cores[k], t = layout.tiles[k]
        let x0 = c.x >> p, y0 = c.y >> p
        let x1 = (c.maxX == layout.width ? layout.width : c.maxX) >> p
        let y1 = (c.maxY == layout.height ? layout.height : c.maxY) >> p
        return (PixelRect(x: x0 - (t.x >> p), y: y0 - (t.y >> p), width: x1 - x0, height: y1 - y0), LayerPoint(x: x0, y: y0))
    }

    func forward(_ image: Tensor, tile k: Int, through last: Int) -> [Tensor] {
        let t = layout.tiles[k]
        return network.forward(image.crop(x: t.x, y: t.y, width: t.width, height: t.height), through: last)
    }

    /// Calls body(k, layer, core features, origin in the layer) for each tile k and each of `layers`.
    public func forEachCore(_ image: Tensor, layers: [Int], _ body: (Int, Int, Tensor, LayerPoint) -> Void) {
        guard let last = layers.max() else { return }
        for k in layout.cores.indices {
            let acts = forward(image, tile: k, through: last)
            for l in layers { coreFeatures(acts, tile: k, layer: l) { body(k, l, $0, $1) } }
        }
    }

    private func coreFeatures(_ acts: [Tensor], tile k: Int, layer l: Int, _ body: (Tensor, LayerPoint) -> Void) {
        let (r, origin) = core(k, layer: l)
        body(acts[l].crop(x: r.x, y: r.y, width: r.width, height: r.height), origin)
    }

    /// Whole layers, assembled from the cores.
    public func features(_ image: Tensor, layers: [Int]) -> [Int: Tensor] {
        var out: [Int: Tensor] = [:]
        for l in layers {
            let size = network.outputSize(of: l, width: layout.width, height: layout.height)
            out[l] = Tensor(channels: network.convs[l].outChannels, height: size.height, width: size.width)
        }
        forEachCore(image, layers: layers) { _, l, f, at in out[l]!.add(f, atX: at.x, y: at.y) }
        return out
    }

    /// Plain Gram matrices of whole layers, summed over the cores.
    public func grams(_ image: Tensor, layers: [Int]) -> [Int: [Float]] {
        var sums: [Int: [Double]] = [:]
        var unused: [Float] = []
        forEachCore(image, layers: layers) { _, l, f, _ in
            let s = GramStyle.sums(f, mask: nil, masked: &unused).sums
            sums[l, default: [Double](repeating: 0, count: s.count)].addInPlace(s)
        }
        return sums.reduce(into: [:]) { out, kv in
            let norm = 1 / Double(network.convs[kv.key].outChannels * max(1, layerArea(kv.key)))
            out[kv.key] = kv.value.map { Float($0 * norm) }
        }
    }

    private func layerArea(_ l: Int) -> Int {
        let size = network.outputSize(of: l, width: layout.width, height: layout.height)
        return size.width * size.height
    }

    /// The value of each loss and, when `gradient`, dL/d(image) for their sum.
    public func evaluate(_ image: Tensor, losses: [FeatureLoss], gradient wantGradient: Bool) -> (values: [Double], gradient: Tensor?) {
        precondition(image.width == layout.width && image.height == layout.height,
                     "TiledNetwork: a \(image.width)×\(image.height) image for a \(layout.width)×\(layout.height) layout")
        let last = layout.heldTile
        var order = Array(layout.tiles.indices)
        order.append(order.remove(at: last))
        var stats: [[Double]] = losses.map { _ in [] }
        var held: [Tensor]? = nil
        for k in order {
            let acts = forward(image, tile: k, through: deepest)
            for (i, loss) in losses.enumerated() {
                coreFeatures(acts, tile: k, layer: loss.layer) { f, at in stats[i].addInPlace(loss.statistics(f, origin: at)) }
            }
            if k == last && wantGradient { held = acts }
        }
        let settled = losses.enumerated().map { i, loss in
            loss.settle(stats[i], channels: network.convs[loss.layer].outChannels, area: layerArea(loss.layer))
        }
        let values = settled.map(\.value)
        guard wantGradient else { return (values, nil) }
        var grad = Tensor(channels: 3, height: image.height, width: image.width)
        for k in order.reversed() {
            let acts = k == last ? held! : forward(image, tile: k, through: deepest)
            held = nil
            var seeds: [Int: Tensor] = [:]
            for (i, loss) in losses.enumerated() {
                coreFeatures(acts, tile: k, layer: loss.layer) { f, at in
                    let state = settled[i].state
                    // a core that is the whole layer (an untiled image) seeds in place
                    if f.sameShape(acts[loss.layer]) {
                        loss.addGradient(f, origin: at, state: state, gradient: &seeds[loss.layer, default: Tensor.zeros(like: f)])
                        return
                    }
                    var g = Tensor.zeros(like: f)
                    loss.addGradient(f, origin: at, state: state, gradient: &g)
                    let r = core(k, layer: loss.layer).inTile
                    seeds[loss.layer, default: Tensor.zeros(like: acts[loss.layer])].add(g, atX: r.x, y: r.y)
                }
            }
            let t = layout.tiles[k]
            grad.add(network.backward(activations: acts, gradients: seeds), atX: t.x, y: t.y)
        }
        return (values, grad)
    }
}

extension Array where Element == Double {
    /// self += other, elementwise (an empty self takes other's length).
    mutating func addInPlace(_ other: [Double]) {
        if isEmpty { self = other; return }
        precondition(count == other.count, "addInPlace: \(count) vs \(other.count)")
        for i in indices { self[i] += other[i] }
    }

    mutating func addInPlace(_ other: [Float]) {
        if isEmpty { self = [Double](repeating: 0, count: other.count) }
        precondition(count == other.count, "addInPlace: \(count) vs \(other.count)")
        for i in indices { self[i] += Double(other[i]) }
    }
}
