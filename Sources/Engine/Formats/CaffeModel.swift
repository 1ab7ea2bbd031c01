import Foundation

/// Caffe's `.caffemodel` (a protobuf `NetParameter`), read for its convolutions: each
/// convolution layer's weights (`NAME.weight`, out × in × kh × kw) and bias (`NAME.bias`).
/// Both layouts: V1 `layers` (field 2: name 4, type 5 = CONVOLUTION 4, blobs 6), written
/// by the Caffe of VGG_ILSVRC_19_layers, and `layer` (field 100: name 1, type 2 =
/// "Convolution", blobs 7). The wire format is parsed here (a dozen fields of three
/// messages) over the mapped file: a blob's floats are decoded only for the layers kept,
/// straight from the file's bytes.
public enum CaffeModel {
    public static func decode(_ data: Data, path: String, where filter: ([Int]) -> Bool = { _ in true }) throws -> [NamedArray] {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: reason) }
        do {
            var net = ByteReader(data)
            var out: [NamedArray] = []
            var layers = 0
            while !net.atEnd {
                let (field, wire) = try Proto.key(&net)
                guard (field == 2 || field == 100), wire == 2 else { try Proto.skip(&net, wire); continue }
                var layer = try Proto.message(&net)
                layers += 1
                let v1 = field == 2
                var name = "", isConvolution = false, blobs: [ByteReader] = []
                while !layer.atEnd {
                    let (f, w) = try Proto.key(&layer)
                    switch (f, w, v1) {
                    case (4, 2, true), (1, 2, false): name = String(decoding: try Proto.message(&layer).rest(), as: UTF8.self)
                    case (5, 0, true): isConvolution = try Proto.varint(&layer) == 4
                    case (2, 2, false): isConvolution = String(decoding: try Proto.message(&layer).rest(), as: UTF8.self) == "Convolution"
                    case (6, 2, true), (7, 2, false): blobs.append(try Proto.message(&layer))
                    default: try Proto.skip(&layer, w)
                    }
                }
                guard isConvolution else { continue }
                guard blobs.count >= 1, blobs.count <= 2 else { throw bad("convolution '\(name)' has \(blobs.count) blobs") }
                for (i, blob) in blobs.enumerated() {
                    let suffix = i == 0 ? ".weight" : ".bias"
                    guard let array = try Blob(blob).read(name: name + suffix, bias: i == 1, where: filter) else { continue }
                    out.append(array)
                }
            }
            guard layers > 0 else { throw bad("not a Caffe net (a protobuf without layers)") }
            return out
        } catch is ByteReader.Truncated {
            throw bad("the file ends early or is not a protobuf (truncated?)")
        } catch let e as Proto.Damaged {
            throw bad("not a Caffe net: \(e.message)")
        } catch let Blob.Mismatch.values(name, shape, count) {
            throw bad("blob '\(name)' holds \(count) values for shape \(shape.map(String.init).joined(separator: "×"))")
        }
    }

    /// A `BlobProto`: its shape (num/channels/height/width, or `shape`), and where its
    /// floats lie (packed `data`, unpacked `data`, or `double_data`).
    struct Blob {
        enum Mismatch: Error { case values(String, [Int], Int) }
        var legacyShape = [Int](repeating: 0, count: 4), hasLegacyShape = false
        var shape: [Int]?
        var floats: [ByteReader] = []        // packed runs of fixed32 floats
        var singles: [Int] = []              // offsets of unpacked floats
        var doubles: ByteReader?
        let data: Data                       // the file

        init(_ message: ByteReader) throws {
            data = message.data
            var m = message
            while !m.atEnd {
                let (f, w) = try Proto.key(&m)
                switch (f, w) {
                case (1...4, 0): legacyShape[f - 1] = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try Proto.varint(&m))); hasLegacyShape = true
                case (5, 2): floats.append(try Proto.message(&m))
                case (5, 5): singles.append(m.position); try m.skip(4)
                case (7, 2):
                    var s = try Proto.message(&m), dims: [Int] = []
                    while !s.atEnd {
                        let (sf, sw) = try Proto.key(&s)
                        switch (sf, sw) {
                        case (1, 0): dims.append(Int(truncatingIfNeeded: try Proto.varint(&s)))
                        case (1, 2):
                            var packed = try Proto.message(&s)
                            while !packed.atEnd { dims.append(Int(truncatingIfNeeded: try Proto.varint(&packed))) }
                        default: try Proto.skip(&s, sw)
                        }
                        guard dims.count <= 8 else { throw Proto.Damaged(message: "a blob of more than 8 dimensions") }
                    }
                    shape = dims
                case (8, 2): doubles = try Proto.message(&m)
                default: try Proto.skip(&m, w)
                }
            }
        }

        /// The blob as `name`, unless `filter` refuses its shape; a bias is flattened.
        func read(name: String, bias: Bool, where filter: ([Int]) -> Bool) throws -> NamedArray? {
            var dims = shape ?? (hasLegacyShape ? legacyShape : [])
            guard dims.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw Mismatch.values(name, dims, -1) }
            var count = 1
            for d in dims {
                let (c, o) = count.multipliedReportingOverflow(by: d)
                guard !o, c < 1 << 40 else { throw Mismatch.values(name, dims, -1) }
                count = c
            }
            if bias { dims = [count] }
            guard filter(dims) else { return nil }
            let available = floats.reduce(0) { $0 + $1.remaining / 4 } + singles.count + (doubles?.remaining ?? 0) / 8
            guard available == count, floats.allSatisfy({ $0.remaining % 4 == 0 }), (doubles?.remaining ?? 0) % 8 == 0 else {
                throw Mismatch.values(name, dims, available)
            }
            var values = [Float](); values.reserveCapacity(count)
            data.withUnsafeBytes { raw in
                for run in floats {
                    for i in 0..<run.remaining / 4 { values.append(ElementKind.float32.load(raw.baseAddress! + run.position, i)) }
                }
                for at in singles { values.append(ElementKind.float32.load(raw.baseAddress! + at, 0)) }
                if let d = doubles { for i in 0..<d.remaining / 8 { values.append(ElementKind.float64.load(raw.baseAddress! + d.position, i)) } }
            }
            return NamedArray(name: name, shape: dims, values: values)
        }
    }
}

/// Protobuf's wire format: keys, varints, length-delimited fields.
enum Proto {
    struct Damaged: Error { let message: String }

    static func varint(_ r: inout ByteReader) throws -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<10 {
            let b = try r.byte()
            v |= UInt64(b & 0x7F) << (7 * UInt64(i))
            if b & 0x80 == 0 { return v }
        }
        throw Damaged(message: "a varint longer than 10 bytes")
    }

    static func key(_ r: inout ByteReader) throws -> (field: Int, wire: Int) {
        let k = try varint(&r)
        let field = Int(truncatingIfNeeded: k >> 3)
        guard field > 0, field < 1 << 29 else { throw Damaged(message: "field number \(field)") }
        return (field, Int(k & 7))
    }

    /// A length-delimited field's bytes, as a reader of their own.
    static func message(_ r: inout ByteReader) throws -> ByteReader {
        let n = try varint(&r)
        guard n <= UInt64(r.remaining) else { throw ByteReader.Truncated() }
        let sub = ByteReader(r.data, from: r.position, to: r.position + Int(n))
        try r.skip(Int(n))
        return sub
    }

    static func skip(_ r: inout ByteReader, _ wire: Int) throws {
        switch wire {
        case 0: _ = try varint(&r)
        case 1: try r.skip(8)
        case 2: _ = try message(&r)
        case 5: try r.skip(4)
        default: throw Damaged(message: "wire type \(wire)")
        }
    }
}

extension ByteReader {
    /// The bytes from here to the end.
    func rest() -> Data { data.subdata(in: data.startIndex + position..<data.startIndex + end) }
}
