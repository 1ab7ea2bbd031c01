/// A dense C×H×W tensor of Float, stored contiguously (channel-major, then rows).
///
/// It is a value type with copy-on-write storage: passing a tensor around is cheap and a
/// mutation never leaks into another copy. Hot loops reach the storage through
/// `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`.
public struct Tensor: Equatable, Sendable {
    public private(set) var channels: Int
    public private(set) var height: Int
    public private(set) var width: Int
    public var storage: [Float]

    public init(channels: Int, height: Int, width: Int, repeating value: Float = 0) {
        precondition(channels >= 0 && height >= 0 && width >= 0,
                     "Tensor: negative shape \(channels)×\(height)×\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.storage = [Float](repeating: value, count: channels * height * width)
    }

    public init(channels: Int, height: Int, width: Int, storage: [Float]) {
        precondition(storage.count == channels * height * width,
                     "Tensor: expected \(channels * height * width) values for \(channels)×\(height)×\(width), got \(storage.count)")
        self.channels = channels
        self.height = height
        self.width = width
        self.storage = storage
    }

    /// A tensor whose values are left unset: for outputs that a kernel overwrites whole.
    public init(uninitializedChannels channels: Int, height: Int, width: Int) {
        let n = channels * height * width
        self.channels = channels
        self.height = height
        self.width = width
        self.storage = [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
    }

    public var count: Int { storage.count }
    public var plane: Int { height * width }
    /// The mean of the squared values.
    public var meanSquare: Double { sumOfSquares / Double(max(1, storage.count)) }
    public var shape: [Int] { [channels, height, width] }
    public var shapeDescription: String { "\(channels)×\(height)×\(width)" }

    @inlinable public subscript(c: Int, y: Int, x: Int) -> Float {
        get { storage[(c * height + y) * width + x] }
        set { storage[(c * height + y) * width + x] = newValue }
    }

    public func sameShape(_ other: Tensor) -> Bool {
        channels == other.channels && height == other.height && width == other.width
    }

    public static func zeros(like t: Tensor) -> Tensor {
        Tensor(channels: t.channels, height: t.height, width: t.width)
    }

    /// Values drawn uniformly from [lo, hi) by a seeded generator (reproducible).
    public static func random(channels: Int, height: Int, width: Int,
                              in range: ClosedRange<Float> = -1...1,
                              generator: inout SplitMix64) -> Tensor {
        var t = Tensor(channels: channels, height: height, width: width)
        for i in 0..<t.count { t.storage[i] = Float.random(in: range, using: &generator) }
        return t
    }

    /// One channel as a new 1×H×W tensor.
    public func channel(_ c: Int) -> Tensor {
        let n = plane
        return Tensor(channels: 1, height: height, width: width,
                      storage: Array(storage[(c * n)..<((c + 1) * n)]))
    }
}

// MARK: - elementwise helpers (vectorised by the compiler)

extension Tensor {
    /// self += alpha * other
    public mutating func add(_ other: Tensor, scaled alpha: Float = 1) {
        precondition(sameShape(other), "Tensor.add: shape \(shapeDescription) vs \(other.shapeDescription)")
        let n = count
        other.storage.withUnsafeBufferPointer { o in
            storage.withUnsafeMutableBufferPointer { s in
                for i in 0..<n { s[i] += alpha * o[i] }
            }
        }
    }

    public mutating func scale(by alpha: Float) {
        storage.withUnsafeMutableBufferPointer { s in
            for i in 0..<s.count { s[i] *= alpha }
        }
    }

    public mutating func clamp(_ lo: Float, _ hi: Float) {
        storage.withUnsafeMutableBufferPointer { s in
            for i in 0..<s.count { s[i] = Swift.min(Swift.max(s[i], lo), hi) }
        }
    }

    public func dot(_ other: Tensor) -> Double {
        precondition(sameShape(other), "Tensor.dot: shape \(shapeDescription) vs \(other.shapeDescription)")
        return Kernels.dot(storage, other.storage)
    }

    /// The width×height window at (x, y) of every channel, as a new tensor.
    public func crop(x: Int, y: Int, width w: Int, height h: Int) -> Tensor {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height,
                     "Tensor.crop: \(w)×\(h) at (\(x), \(y)) outside \(shapeDescription)")
        if x == 0 && y == 0 && w == width && h == height { return self }
        var out = Tensor(uninitializedChannels: channels, height: h, width: w)
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { o in
                for c in 0..<channels {
                    for r in 0..<h {
                        (o.baseAddress! + (c * h + r) * w).update(from: s.baseAddress! + (c * height + y + r) * width + x, count: w)
                    }
                }
            }
        }
        return out
    }

    /// Adds `other` (same channels) into the window of its size at (x, y).
    public mutating func add(_ other: Tensor, atX x: Int, y: Int) {
        let w = other.width, h = other.height
        precondition(other.channels == channels && x >= 0 && y >= 0 && x + w <= width && y + h <= height,
                     "Tensor.add: \(other.shapeDescription) at (\(x), \(y)) outside \(shapeDescription)")
        let (cw, ch) = (width, height)
        other.storage.withUnsafeBufferPointer { s in
            storage.withUnsafeMutableBufferPointer { o in
                for c in 0..<channels {
                    for r in 0..<h {
                        let src = s.baseAddress! + (c * h + r) * w, dst = o.baseAddress! + (c * ch + y + r) * cw + x
                        for i in 0..<w { dst[i] += src[i] }
                    }
                }
            }
        }
    }

    public var sumOfSquares: Double { Kernels.dot(storage, storage) }
    public var maxAbs: Float { storage.reduce(0) { Swift.max($0, abs($1)) } }
}

/// Dot product in Double, accumulated in 8 Float lanes per block for speed and accuracy.
public func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "dot: length \(a.count) vs \(b.count)")
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in dot(pa.baseAddress!, pb.baseAddress!, a.count) }
    }
}

public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var i = 0
    let block = 4096
    while i < n {
        let end = Swift.min(i + block, n)
        var acc = SIMD8<Float>()
        var j = i
        while j + 8 <= end {
            let va = UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self)
            let vb = UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
            acc += va * vb
            j += 8
        }
        var partial = Double(acc.sum())
        while j < end { partial += Double(a[j]) * Double(b[j]); j += 1 }
        total += partial
        i = end
    }
    return total
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64): runs are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Rec. 601 luma: the one definition the flow, the colour metrics, the colour
/// preservation and the shot detector use.
public enum Luma {
    @inline(__always)
    public static func rec601(_ r: Float, _ g: Float, _ b: Float) -> Float { 0.299 * r + 0.587 * g + 0.114 * b }

    /// The luma of an RGB tensor as one H×W plane (a 1-channel tensor is its own).
    public static func plane(_ t: Tensor) -> [Float] {
        if t.channels == 1 { return t.storage }
        let n = t.plane
        var out = [Float](repeating: 0, count: n)
        t.storage.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { o[i] = rec601(s[i], s[n + i], s[2 * n + i]) }
            }
        }
        return out
    }
}
