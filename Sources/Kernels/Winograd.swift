/// Winograd F(4×4, 3×3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016) for 3×3, stride-1, "same" convolutions — every VGG layer.
///
/// The output is cut into 4×4 tiles; each tile needs a 6×6 input patch. With the
/// transforms V = BᵀdB (input patch), U = GgGᵀ (kernel, once per layer) and
/// Y = Aᵀ[Σ_c U ⊙ V]A, a tile costs 36 multiplies per (in, out) channel pair instead of
/// 144: the sum over c becomes 36 independent GEMMs M_ξ = U_ξ·V_ξ (K×C times C×tiles),
/// one per position ξ of the 6×6 transform domain. The GEMMs are OpenBLAS's; the
/// transforms are written so the inner loops run over contiguous memory:
/// - input: the vertical half (Bᵀ over 6 padded rows) runs along whole rows, the
///   horizontal half reads 6 neighbours per tile and writes V[ξ][c][tile] contiguously;
/// - output: Aᵀ over the 6 ξ-rows runs along the tiles of a tile row, then the
///   horizontal half writes 4 pixels per tile, with bias and ReLU fused.
/// Tiles are processed in blocks of whole tile rows so V and M stay within 64 MiB.
public enum Winograd {
    /// The transform of a [out][in][3][3] kernel: U[ξ][out][in], ξ = 6·row + column.
    /// Computed in Double (rounded once).
    public static func transformWeights(_ weights: [Float], outChannels: Int, inChannels: Int) -> [Float] {
        precondition(weights.count == outChannels * inChannels * 9, "Winograd: weights are not [\(outChannels)][\(inChannels)][3][3]")
        let g: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                             [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
        let kc = outChannels * inChannels
        var u = [Float](repeating: 0, count: 36 * kc)
        u.withUnsafeMutableBufferPointer { up in
            let ub = up.baseAddress!
            weights.withUnsafeBufferPointer { wp in
                parallelFor(kc, minPerThread: 256) { range in
                    // t = G·w (6×3), then u = t·Gᵀ (6×6); one scratch per thread
                    let t = UnsafeMutablePointer<Double>.allocate(capacity: 18)
                    defer { t.deallocate() }
                    for pair in range {
                        let w = wp.baseAddress! + pair * 9
                        for i in 0..<6 { for j in 0..<3 {
                            t[i * 3 + j] = g[i][0] * Double(w[j]) + g[i][1] * Double(w[3 + j]) + g[i][2] * Double(w[6 + j])
                        } }
                        for i in 0..<6 { for j in 0..<6 {
                            let v = t[i * 3] * g[j][0] + t[i * 3 + 1] * g[j][1] + t[i * 3 + 2] * g[j][2]
                            ub[(i * 6 + j) * kc + pair] = Float(v)
                        } }
                    }
                }
            }
        }
        return u
    }

    /// Bᵀ·d for one column (or row) d of a 6×6 input patch.
    @inline(__always)
    static func bT(_ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ a4: Float, _ a5: Float)
        -> (Float, Float, Float, Float, Float, Float) {
        (4 * a0 - 5 * a2 + a4, -4 * (a1 + a2) + a3 + a4, 4 * (a1 - a2) - a3 + a4,
         2 * (a3 - a1) - a2 + a4, 2 * (a1 - a3) - a2 + a4, 4 * a1 - 5 * a3 + a5)
    }

    /// Floats of V plus M per block (64 MiB; 2, 6 and 32 Mi floats measured slower:
    /// bigger blocks mean bigger GEMMs and fewer calls).
    public static let blockBudget = 16 << 20

    /// y = conv3×3(x) + b (optionally ReLU), with `u` from `transformWeights`.
    public static func convolve(_ input: Tensor, u: [Float], outChannels k: Int, bias: [Float]?, relu: Bool,
                                blockBudget: Int = Winograd.blockBudget) -> Tensor {
        let c = input.channels, h = input.height, w = input.width
        precondition(u.count == 36 * k * c, "Winograd.convolve: transformed weights do not match \(c)→\(k) channels")
        var output = Tensor(uninitializedChannels: k, height: h, width: w)
        if h == 0 || w == 0 { return output }
        let th = (h + 3) / 4, tw = (w + 3) / 4
        // padded plane: one zero row/column before, enough after for the last 6×6 patch
        let pw = 4 * tw + 2, ph = 4 * th + 2, plane = pw * ph
        let rowsPerBlock = Swift.max(1, Swift.min(th, blockBudget / Swift.max(1, 36 * (c + k) * tw)))
        let maxTiles = rowsPerBlock * tw
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: c * plane)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 36 * c * maxTiles)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: 36 * k * maxTiles)
        defer { padded.deallocate(); v.deallocate(); m.deallocate() }
        input.storage.withUnsafeBufferPointer { src in
            let s = src.baseAddress!
            parallelFor(c, minPerThread: 4) { range in
                for ch in range {
                    let p = padded + ch * plane
                    p.initialize(repeating: 0, count: pw)
                    for y in 0..<h {
                        let row = p + (y + 1) * pw
                        row[0] = 0
                        (row + 1).update(from: s + (ch * h + y) * w, count: w)
                        (row + 1 + w).initialize(repeating: 0, count: pw - 1 - w)
                    }
                    (p + (h + 1) * pw).initialize(repeating: 0, count: (ph - h - 1) * pw)
                }
            }
        }
        u.withUnsafeBufferPointer { up in
        output.storage.withUnsafeMutableBufferPointer { op in
            let ub = up.baseAddress!, outp = op.baseAddress!
            let pad = UnsafePointer(padded), vp = v, mp = m
            var ty0 = 0
            while ty0 < th {
                let rows = Swift.min(rowsPerBlock, th - ty0)
                let tiles = rows * tw
                // input transform: V[ξ][ch][tile]
                parallelFor(c, minPerThread: 1) { range in
                    let vt = UnsafeMutablePointer<Float>.allocate(capacity: 6 * pw)
                    defer { vt.deallocate() }
                    for ch in range {
                        for r in 0..<rows {
                            let base = pad + ch * plane + 4 * (ty0 + r) * pw
                            let d0 = base, d1 = base + pw, d2 = base + 2 * pw, d3 = base + 3 * pw, d4 = base + 4 * pw, d5 = base + 5 * pw
                            let t0 = vt, t1 = vt + pw, t2 = vt + 2 * pw, t3 = vt + 3 * pw, t4 = vt + 4 * pw, t5 = vt + 5 * pw
                            // Bᵀ down the columns, along the whole padded row
                            for x in 0..<pw {
                                (t0[x], t1[x], t2[x], t3[x], t4[x], t5[x]) = bT(d0[x], d1[x], d2[x], d3[x], d4[x], d5[x])
                            }
                            // B across each tile's 6 columns
                            let tileBase = r * tw
                            for i in 0..<6 {
                                let ti = vt + i * pw
                                let o0 = vp + ((i * 6 + 0) * c + ch) * tiles + tileBase
                                let o1 = vp + ((i * 6 + 1) * c + ch) * tiles + tileBase
                                let o2 = vp + ((i * 6 + 2) * c + ch) * tiles + tileBase
                                let o3 = vp + ((i * 6 + 3) * c + ch) * tiles + tileBase
                                let o4 = vp + ((i * 6 + 4) * c + ch) * tiles + tileBase
                                let o5 = vp + ((i * 6 + 5) * c + ch) * tiles + tileBase
                                for tx in 0..<tw {
                                    let q = ti + 4 * tx
                                    (o0[tx], o1[tx], o2[tx], o3[tx], o4[tx], o5[tx]) = bT(q[0], q[1], q[2], q[3], q[4], q[5])
                                }
                            }
                        }
                    }
                }
                // 36 GEMMs: M_ξ (k × tiles) = U_ξ (k × c) · V_ξ (c × tiles)
                // (independent: each thread takes a share, one single-threaded GEMM each)
                parallelFor(36) { range in
                    for xi in range {
                        gemmSerial(m: k, n: tiles, k: c, a: ub + xi * k * c, lda: c,
                                   b: vp + xi * c * tiles, ldb: tiles, c: mp + xi * k * tiles, ldc: tiles)
                    }
                }
                // output transform: Aᵀ M A, bias, ReLU, clipped to the frame
                parallelFor(k, minPerThread: 1) { range in
                    let s = UnsafeMutablePointer<Float>.allocate(capacity: 24 * tw)   // [4][6][tw]
                    defer { s.deallocate() }
                    for o in range {
                        let b: Float = bias?[o] ?? 0
                        for r in 0..<rows {
                            let tileBase = r * tw
                            // Aᵀ down the ξ-rows: s[a][j][tx]
                            for j in 0..<6 {
                                let m0 = mp + ((0 * 6 + j) * k + o) * tiles + tileBase
                                let m1 = mp + ((1 * 6 + j) * k + o) * tiles + tileBase
                                let m2 = mp + ((2 * 6 + j) * k + o) * tiles + tileBase
                                let m3 = mp + ((3 * 6 + j) * k + o) * tiles + tileBase
                                let m4 = mp + ((4 * 6 + j) * k + o) * tiles + tileBase
                                let m5 = mp + ((5 * 6 + j) * k + o) * tiles + tileBase
                                let s0 = s + (0 * 6 + j) * tw, s1 = s + (1 * 6 + j) * tw
                                let s2 = s + (2 * 6 + j) * tw, s3 = s + (3 * 6 + j) * tw
                                for tx in 0..<tw {
                                    let a1 = m1[tx], a2 = m2[tx], a3 = m3[tx], a4 = m4[tx]
                                    let p12 = a1 + a2, d12 = a1 - a2, p34 = a3 + a4, d34 = a3 - a4
                                    s0[tx] = m0[tx] + p12 + p34
                                    s1[tx] = d12 + 2 * d34
                                    s2[tx] = p12 + 4 * p34
                                    s3[tx] = d12 + 8 * d34 + m5[tx]
                                }
                            }
                            // A across: 4 output pixels per tile and row
                            for a in 0..<4 {
                                let y = 4 * (ty0 + r) + a
                                if y >= h { break }
                                let dst = outp + (o * h + y) * w
                                let r0 = s + (a * 6) * tw, r1 = r0 + tw, r2 = r1 + tw, r3 = r2 + tw, r4 = r3 + tw, r5 = r4 + tw
                                let fullTiles = w / 4
                                for tx in 0..<fullTiles {
                                    let a1 = r1[tx], a2 = r2[tx], a3 = r3[tx], a4 = r4[tx]
                                    let p12 = a1 + a2, d12 = a1 - a2, p34 = a3 + a4, d34 = a3 - a4
                                    var y0 = r0[tx] + p12 + p34 + b, y1 = d12 + 2 * d34 + b
                                    var y2 = p12 + 4 * p34 + b, y3 = d12 + 8 * d34 + r5[tx] + b
                                    if relu { y0 = Swift.max(y0, 0); y1 = Swift.max(y1, 0); y2 = Swift.max(y2, 0); y3 = Swift.max(y3, 0) }
                                    let q = dst + 4 * tx
                                    q[0] = y0; q[1] = y1; q[2] = y2; q[3] = y3
                                }
                                if fullTiles < tw {
                                    // the last, partial tile: its first w − 4·tx pixels
                                    let tx = fullTiles
                                    let a1 = r1[tx], a2 = r2[tx], a3 = r3[tx], a4 = r4[tx]
                                    let p12 = a1 + a2, d12 = a1 - a2, p34 = a3 + a4, d34 = a3 - a4
                                    let ys = (r0[tx] + p12 + p34, d12 + 2 * d34, p12 + 4 * p34, d12 + 8 * d34 + r5[tx])
                                    let q = dst + 4 * tx, left = w - 4 * tx
                                    q[0] = relu ? Swift.max(ys.0 + b, 0) : ys.0 + b
                                    if left > 1 { q[1] = relu ? Swift.max(ys.1 + b, 0) : ys.1 + b }
                                    if left > 2 { q[2] = relu ? Swift.max(ys.2 + b, 0) : ys.2 + b }
                                }
                            }
                        }
                    }
                }
                ty0 += rows
            }
        }}
        return output
    }
}
