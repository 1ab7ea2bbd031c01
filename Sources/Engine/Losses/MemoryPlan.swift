import Foundation

/// What a stylisation needs in memory, and the tiling that keeps it under a budget.
///
/// The figures are estimates calibrated against peak RSS (BENCHMARKS.md "High resolution
/// in bounded memory"): a tile's evaluation holds every activation up to the deepest loss
/// layer plus the backward pass's and the convolutions' scratch; the rest of a job grows
/// with the image (the optimiser's vectors and history, the content's features, the
/// gradient) whether the network is tiled or not.
public enum MemoryPlan {
    /// Floats the network holds per input pixel of a tile through layer `last`: the
    /// activations (each pooling quarters them), and as much again for the backward pass
    /// and the convolutions' scratch.
    public static func tileBytesPerPixel(network: VGG, through last: Int) -> Double {
        var floats = 6.0            // the tile's image and its preprocessed copy
        for l in 0...last { floats += Double(network.convs[l].outChannels) / Double(1 << (2 * network.poolings(before: l))) }
        return floats * 4 * tileOverhead
    }

    /// Measured: peak RSS grows by 2.55 KB per tile pixel through relu5_1 of VGG16, 2.35×
    /// the activations (`bench --kernel tiled` at three tile sizes, BENCHMARKS.md).
    static let tileOverhead = 2.4

    /// What a process holds before any image: the runtime, OpenBLAS's buffers, the model.
    static let baseBytes = 0.5e9

    /// Bytes a w×h stylisation holds outside the network's tiles: the base, the L-BFGS
    /// vectors (about 10 live at once, and a history of at least 3 pairs: `LBFGS` caps it
    /// at 256 MiB or 3 pairs, whichever is more), the content image, the gradient and the
    /// content's features at the content layers.
    public static func jobBytes(network: VGG, contentLayers: [Int], width w: Int, height h: Int) -> Double {
        let values = Double(3 * w * h)
        let history = max(6 * values, Double(64 << 20)) * 4
        let vectors = 12 * values * 4
        let content = contentLayers.reduce(0.0) {
            $0 + Double(network.convs[$1].outChannels * w * h) / Double(1 << (2 * network.poolings(before: $1))) * 4
        }
        return baseBytes + history + vectors + content
    }

    /// What is left of a job's `maxMemory` for the network's tiles.
    public static func tileBudget(maxMemory: Int, network: VGG, contentLayers: [Int], width w: Int, height h: Int) -> Int {
        max(0, maxMemory - Int(jobBytes(network: network, contentLayers: contentLayers, width: w, height: h)))
    }

    /// Refuses a w×h job whose finest tiling cannot fit `maxMemory`, naming what it would need.
    public static func check(maxMemory: Int, network: VGG, through last: Int, contentLayers: [Int], width w: Int, height h: Int) throws {
        let finest = layout(network: network, through: last, width: w, height: h, budget: 0)
        let tile = Double(finest.largestTile) * tileBytesPerPixel(network: network, through: last)
        let job = jobBytes(network: network, contentLayers: contentLayers, width: w, height: h)
        guard job + tile > Double(maxMemory) else { return }
        throw EngineError.invalidOption(String(format: "a %d×%d result needs at least %.1f GB even in tiles (%d of them); the memory limit is %.1f GB (--max-memory, default 3/4 of this machine's memory)",
                                               w, h, (job + tile) / 1e9, finest.count, Double(maxMemory) / 1e9))
    }

    /// The cheapest layout whose largest tile fits `budget` bytes (whole when the image
    /// does); the finest one tried when none fits (`check` refuses that case first).
    public static func layout(network: VGG, through last: Int, width w: Int, height h: Int, budget memory: Int) -> TileLayout {
        let perPixel = tileBytesPerPixel(network: network, through: last)
        // past ~1.3 Mpx the whole-image evaluation slows per pixel (its arrays outgrow the
        // caches and the TLB): tiles of about that size are faster even where it would fit
        let budget = min(memory, Int(Double(fastestTilePixels) * perPixel))
        if Double(w * h) * perPixel <= Double(budget) { return .whole(width: w, height: h) }
        let halo = network.tileHalo(through: last), grid = network.receptiveField(through: last).alignment
        var best: TileLayout? = nil, finest: TileLayout? = nil
        for rows in 1...maxSplits {
            for columns in 1...maxSplits where rows * columns > 1 {
                let l = TileLayout(width: w, height: h, columns: columns, rows: rows, alignment: grid, halo: halo)
                if finest == nil || l.largestTile < finest!.largestTile { finest = l }
                guard Double(l.largestTile) * perPixel <= Double(budget) else { continue }
                if best == nil || (cost(l), l.count) < (cost(best!), best!.count) { best = l }
            }
        }
        return best ?? finest!
    }

    static let maxSplits = 32

    /// The largest tile the speed prefers (BENCHMARKS.md: at 2048×2048, 4 tiles of
    /// 1104×1104 evaluate in 0.7× the whole image's time).
    public static let fastestTilePixels = 1_300_000

    /// A layout's estimated time, in whole-image evaluations: every tile's evaluation, and a
    /// second forward pass (about 0.4 of an evaluation, `bench --kernel vgg` against
    /// `--kernel tiled`) for every tile but the one still held after the first pass.
    public static func cost(_ l: TileLayout) -> Double {
        let pixels = Double(l.width * l.height)
        return (Double(l.computedPixels) + 0.4 * Double(l.computedPixels - l.largestTile)) / pixels
    }

    /// The default budget: three quarters of the memory this process may use: physical
    /// memory, or less where a limit is set (`processLimit`).
    public static var defaultBudget: Int {
        let physical = Int(ProcessInfo.processInfo.physicalMemory)
        let limit = processLimit(environment: ProcessInfo.processInfo.environment) { try? String(contentsOfFile: $0, encoding: .utf8) }
        return Int(Double(min(physical, limit ?? physical)) * 0.75)
    }

    /// The memory limit set for this process, if any: Slurm's allocation
    /// (`SLURM_MEM_PER_NODE`, or `SLURM_MEM_PER_CPU` × `SLURM_CPUS_PER_TASK`, in MB), else
    /// the memory.max of its cgroup (v2, from /proc/self/cgroup, the nearest one set going
    /// up), else the cgroup v1 limit.
    public static func processLimit(environment env: [String: String], read: (String) -> String?) -> Int? {
        if let mb = env["SLURM_MEM_PER_NODE"].flatMap(Int.init), mb > 0 { return mb << 20 }
        if let mb = env["SLURM_MEM_PER_CPU"].flatMap(Int.init), mb > 0 {
            return (mb << 20) * max(1, env["SLURM_CPUS_PER_TASK"].flatMap(Int.init) ?? 1)
        }
        func value(_ path: String) -> Int? {
            read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.flatMap { $0 > 0 && $0 < 1 << 50 ? $0 : nil }
        }
        let own = read("/proc/self/cgroup")?.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        var dir = own ?? ""
        while true {
            if let v = value("/sys/fs/cgroup" + dir + "/memory.max") { return v }
            guard let cut = dir.lastIndex(of: "/"), !dir.isEmpty else { break }
            dir = String(dir[..<cut])
        }
        return value("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    }

    /// Parses a size such as 6G, 6GB, 512M, 6.5g or a plain byte count.
    public static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3),
                                         ("T", 1_099_511_627_776), ("G", 1_073_741_824), ("M", 1_048_576), ("K", 1024), ("B", 1)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v > 0, v * scale >= 1, v * scale < 0x1p62 else { return nil }
            return Int(v * scale)
        }
        guard let v = Int(t), v > 0 else { return nil }
        return v
    }
}
