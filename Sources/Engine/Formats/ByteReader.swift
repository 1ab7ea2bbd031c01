import Foundation

/// Bounds-checked reading of a file held in memory (mapped for large files), for the
/// weight-file parsers: every read past the end throws `ByteReader.Truncated` instead of
/// trapping, so a damaged or hostile file is refused with a message.
struct ByteReader {
    struct Truncated: Error {}
    let data: Data
    /// Offset from the start of `data`.
    var position: Int
    /// Where reading must stop (the end of a field or of the file).
    var end: Int

    init(_ data: Data, from start: Int = 0, to end: Int? = nil) {
        self.data = data; position = start; self.end = min(end ?? data.count, data.count)
    }

    var remaining: Int { end - position }
    var atEnd: Bool { position >= end }

    mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= remaining else { throw Truncated() }
        position += n
    }

    mutating func byte() throws -> UInt8 {
        guard position < end else { throw Truncated() }
        defer { position += 1 }
        return data[data.startIndex + position]
    }

    mutating func bytes(_ n: Int) throws -> Data {
        guard n >= 0, n <= remaining else { throw Truncated() }
        defer { position += n }
        return data.subdata(in: data.startIndex + position..<data.startIndex + position + n)
    }

    /// An unsigned little-endian integer of `n` ≤ 8 bytes.
    mutating func littleEndian(_ n: Int) throws -> UInt64 {
        guard n <= remaining else { throw Truncated() }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(data[data.startIndex + position + i]) << (8 * UInt64(i)) }
        position += n
        return v
    }

    /// A length read from the file, checked to fit in what is left.
    mutating func length(_ n: Int) throws -> Int {
        let v = try littleEndian(n)
        guard v <= UInt64(remaining) else { throw Truncated() }
        return Int(v)
    }

    mutating func line() throws -> String {
        var out: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            out.append(b)
            if out.count > 1024 { throw Truncated() }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The element types of weight files: read little-endian and converted to Float.
enum ElementKind: Sendable {
    case float32, float16, bfloat16, float64
    var size: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .float64: return 8
        }
    }

    /// Element `i` of the elements starting at `base` (bounds checked by the caller).
    func load(_ base: UnsafeRawPointer, _ i: Int) -> Float {
        switch self {
        case .float32: return Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))
        case .float64: return Float(Double(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self))))
        case .bfloat16: return Float(bitPattern: UInt32(UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))) << 16)
        case .float16: return Float(Float16(bitPattern: UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))))
        }
    }
}
