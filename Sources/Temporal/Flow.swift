import Foundation
import Kernels

/// A dense optical flow field: for each pixel (x, y) of the reference frame, the
/// displacement (u, v) in pixels to the matching point of the other frame.
public struct Flow: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var u: [Float]
    public var v: [Float]

    public init(width: Int, height: Int, u: [Float], v: [Float]) {
        precondition(u.count == width * height && v.count == width * height,
                     "Flow: \(u.count)/\(v.count) values for \(width)×\(height)")
        self.width = width; self.height = height; self.u = u; self.v = v
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height,
                  u: [Float](repeating: 0, count: width * height), v: [Float](repeating: 0, count: width * height))
    }

    /// The flow with every sample position p + w(p) that falls less than `margin` pixels
    /// outside the frame moved onto the frame's edge; positions farther out (content that
    /// really leaves) and inside are kept. A flow that is right up to a few thousandths of
    /// a pixel otherwise sends the edge rows and columns of a pan just outside, where the
    /// warp, the consistency check and the warm start treat them as new content (the pixel
    /// still covers the edge pixel's area, which is what clamping samples).
    public func snappedToFrame(margin: Float = 0.5) -> Flow {
        var out = self
        let w = width, h = height
        // the displacement that takes coordinate c to the edge, when c + d is just past it
        @inline(__always) func snapped(_ c: Int, _ d: Float, _ last: Int) -> Float? {
            let s = Float(c) + d
            return s < 0 && s > -margin ? -Float(c) : s > Float(last) && s < Float(last) + margin ? Float(last - c) : nil
        }
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                if let d = snapped(x, u[i], w - 1) { out.u[i] = d }
                if let d = snapped(y, v[i], h - 1) { out.v[i] = d }
            }
        }
        return out
    }

    /// Mean end-point error against a reference flow, over the pixels where `mask` is
    /// true (all when nil).
    public func endPointError(to ref: Flow, mask: [Bool]? = nil) -> Double {
        precondition(ref.width == width && ref.height == height, "endPointError: sizes differ")
        var sum = 0.0, n = 0
        for i in 0..<(width * height) where mask?[i] ?? true {
            let du = Double(u[i] - ref.u[i]), dv = Double(v[i] - ref.v[i])
            sum += (du * du + dv * dv).squareRoot(); n += 1
        }
        return n == 0 ? 0 : sum / Double(n)
    }

    /// The flow at another resolution: bilinearly resampled, vectors scaled with the size
    /// (for coarse-to-fine solving, and for flow files made at another size).
    public func resampled(width nw: Int, height nh: Int) -> Flow {
        let sx = Float(nw) / Float(width), sy = Float(nh) / Float(height)
        var u = Resize.bilinear(Tensor(channels: 1, height: height, width: width, storage: u), height: nh, width: nw).storage
        var v = Resize.bilinear(Tensor(channels: 1, height: height, width: width, storage: v), height: nh, width: nw).storage
        for i in 0..<u.count { u[i] *= sx; v[i] *= sy }
        return Flow(width: nw, height: nh, u: u, v: v)
    }

    /// Bilinear sample of the flow at a fractional position (clamped to the border).
    @inline(__always)
    public func sample(_ x: Float, _ y: Float) -> (Float, Float) {
        (bilinearSample(u, width, height, x, y), bilinearSample(v, width, height, x, y))
    }
}

/// Bilinear interpolation of a W×H plane at (x, y), clamped to the border.
@inline(__always)
func bilinearSample(_ p: [Float], _ w: Int, _ h: Int, _ x: Float, _ y: Float) -> Float {
    p.withUnsafeBufferPointer { bilinearSample($0.baseAddress!, w, h, x, y) }
}

@inline(__always)
func bilinearSample(_ p: UnsafePointer<Float>, _ w: Int, _ h: Int, _ x: Float, _ y: Float) -> Float {
    let xc = min(max(x, 0), Float(w - 1)), yc = min(max(y, 0), Float(h - 1))
    let x0 = Int(xc), y0 = Int(yc)
    let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
    let fx = xc - Float(x0), fy = yc - Float(y0)
    let a = p[y0 * w + x0], b = p[y0 * w + x1], c = p[y1 * w + x0], d = p[y1 * w + x1]
    return (a + fx * (b - a)) + fy * ((c + fx * (d - c)) - (a + fx * (b - a)))
}

/// Errors of flow files.
public enum FlowError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): not a usable .flo file: \(r)"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}

/// Middlebury .flo files: float32 202021.25, int32 width, int32 height, then H×W
/// interleaved (u, v) float32, little-endian.
public enum FloFile {
    static let magic: Float = 202021.25

    public static func decode(_ data: Data, path: String = "flow") throws -> Flow {
        func bad(_ r: String) -> FlowError { .unreadable(path: path, reason: r) }
        guard data.count >= 12 else { throw bad("shorter than its 12-byte header") }
        let (tag, w32, h32) = data.withUnsafeBytes {
            (Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self))),
             Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: Int32.self)),
             Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
        }
        guard tag == magic else { throw bad("wrong magic number (expected 202021.25)") }
        guard w32 > 0, h32 > 0, w32 <= 1 << 15, h32 <= 1 << 15 else { throw bad("impossible size \(w32)×\(h32)") }
        let w = Int(w32), h = Int(h32)
        guard data.count == 12 + w * h * 8 else {
            throw bad("\(w)×\(h) needs \(12 + w * h * 8) bytes, the file has \(data.count)")
        }
        var u = [Float](repeating: 0, count: w * h), v = [Float](repeating: 0, count: w * h)
        data.withUnsafeBytes { raw in
            for i in 0..<(w * h) {
                u[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12 + 8 * i, as: UInt32.self)))
                v[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 16 + 8 * i, as: UInt32.self)))
            }
        }
        guard !u.contains(where: { $0.isNaN }), !v.contains(where: { $0.isNaN }) else { throw bad("holds NaN values") }
        return Flow(width: w, height: h, u: u, v: v)
    }

    public static func encode(_ f: Flow) -> Data {
        var d = Data(capacity: 12 + f.width * f.height * 8)
        func put<T>(_ x: T) { withUnsafeBytes(of: x) { d.append(contentsOf: $0) } }
        put(magic.bitPattern.littleEndian); put(Int32(f.width).littleEndian); put(Int32(f.height).littleEndian)
        for i in 0..<(f.width * f.height) { put(f.u[i].bitPattern.littleEndian); put(f.v[i].bitPattern.littleEndian) }
        return d
    }

    public static func read(_ path: String) throws -> Flow {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw FlowError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        return try decode(d, path: path)
    }

    /// Written to a temporary file in the same folder and renamed: never half a file.
    public static func write(_ f: Flow, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        do {
            try encode(f).write(to: URL(fileURLWithPath: tmp))
            guard rename(tmp, path) == 0 else { throw FlowError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        } catch let e as FlowError {
            unlink(tmp); throw e
        } catch {
            unlink(tmp); throw FlowError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
