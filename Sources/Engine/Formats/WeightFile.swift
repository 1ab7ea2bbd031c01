import CHDF5
import Foundation

/// Readers for the weight formats stylevid accepts: Keras HDF5 (through libhdf5),
/// safetensors (its header is 8 bytes of length + JSON, parsed here), PyTorch checkpoints
/// (`TorchFile`) and Caffe models (`CaffeModel`).
public enum WeightFile {
    public enum Format: String, Sendable { case hdf5, safetensors, pytorch, caffemodel }

    public static func format(of path: String) throws -> Format {
        guard let fh = FileHandle(forReadingAtPath: path) else {
            throw EngineError.weightsNotFound(path: path, hint: "")
        }
        defer { try? fh.close() }
        let head = (try? fh.read(upToCount: 8)) ?? Data()
        if head.starts(with: [0x89, 0x48, 0x44, 0x46]) { return .hdf5 }
        if path.hasSuffix(".safetensors") { return .safetensors }
        // a zip archive, or a pickle (protocol 2 or later) opening with torch's magic number
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x80, 0x02, 0x8A]) { return .pytorch }
        if path.hasSuffix(".caffemodel") { return .caffemodel }
        if path.hasSuffix(".pth") || path.hasSuffix(".pt") { return .pytorch }
        if head.count == 8 {
            let n = head.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
            if n > 1 && n < 100_000_000 { return .safetensors }
        }
        throw EngineError.weightsUnreadable(path: path, reason: "not HDF5 (.h5), safetensors, a PyTorch .pth or a .caffemodel")
    }

    /// Lists (name, shape) of every dataset with `filter(shape)` true, then reads those.
    public static func read(_ path: String, where filter: ([Int]) -> Bool = { _ in true }) throws -> [NamedArray] {
        switch try format(of: path) {
        case .hdf5: return try readHDF5(path, where: filter)
        case .safetensors: return try readSafetensors(path, where: filter)
        case .pytorch: return try TorchFile.decode(try mapped(path), path: path, where: filter)
        case .caffemodel: return try CaffeModel.decode(try mapped(path), path: path, where: filter)
        }
    }

    /// The file mapped into memory (read as needed: weights files run to 500 MB and more).
    static func mapped(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw EngineError.weightsNotFound(path: path, hint: error.localizedDescription)
        }
    }

    // MARK: HDF5

    public static func readHDF5(_ path: String, where filter: ([Int]) -> Bool) throws -> [NamedArray] {
        shim_h5_silence()
        let file = H5Fopen(path, shim_h5f_acc_rdonly(), shim_h5p_default())
        guard file >= 0 else { throw EngineError.weightsUnreadable(path: path, reason: "HDF5 open failed") }
        defer { H5Fclose(file) }
        final class Names { var list: [String] = []; var file: hid_t = 0 }
        let names = Names()
        names.file = file
        let rc = shim_visit_links(file, { cname, ctx in
            let box = Unmanaged<Names>.fromOpaque(ctx!).takeUnretainedValue()
            if shim_is_dataset(box.file, cname) == 1 { box.list.append(String(cString: cname!)) }
            return 0
        }, Unmanaged.passUnretained(names).toOpaque())
        if rc < 0 { throw EngineError.weightsUnreadable(path: path, reason: "cannot list the HDF5 datasets") }
        var result: [NamedArray] = []
        for name in names.list {
            let ds = H5Dopen2(file, name, shim_h5p_default())
            guard ds >= 0 else { continue }
            defer { H5Dclose(ds) }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank > 0 && rank <= 8 else { continue }
            var dims = [hsize_t](repeating: 0, count: rank)
            H5Sget_simple_extent_dims(space, &dims, nil)
            let shape = dims.map { Int($0) }
            guard filter(shape) else { continue }
            var values = [Float](repeating: 0, count: shape.reduce(1, *))
            let r = values.withUnsafeMutableBytes {
                H5Dread(ds, shim_h5t_native_float(), shim_h5s_all(), shim_h5s_all(), shim_h5p_default(), $0.baseAddress)
            }
            if r < 0 { throw EngineError.weightsUnreadable(path: path, reason: "cannot read dataset \(name) (truncated file?)") }
            result.append(NamedArray(name: name, shape: shape, values: values))
        }
        return result
    }

    // MARK: safetensors

    public struct SafetensorsEntry: Equatable, Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var begin: Int
        public var end: Int
        public init(name: String, dtype: String, shape: [Int], begin: Int, end: Int) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.begin = begin; self.end = end
        }
    }

    /// Parses and validates a safetensors header (the bytes after the 8-byte length).
    /// Every offset is checked against `dataSize`; nothing is trusted.
    public static func parseSafetensorsHeader(_ json: Data, dataSize: Int) throws -> [SafetensorsEntry] {
        func bad(_ r: String) -> EngineError { .weightsUnreadable(path: "safetensors header", reason: r) }
        guard let obj = try? JSONSerialization.jsonObject(with: json), let dict = obj as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var entries: [SafetensorsEntry] = []
        for (name, value) in dict where name != "__metadata__" {
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shapeAny = d["shape"] as? [Any], let offsAny = d["data_offsets"] as? [Any], offsAny.count == 2
            else { throw bad("entry '\(name)' lacks dtype, shape or data_offsets") }
            let shape = try shapeAny.map { v -> Int in
                guard let n = v as? Int, n >= 0, n < 1 << 31 else { throw bad("entry '\(name)' has a bad shape") }
                return n
            }
            guard let b = offsAny[0] as? Int, let e = offsAny[1] as? Int, b >= 0, e >= b, e <= dataSize else {
                throw bad("entry '\(name)' has offsets outside the file")
            }
            let elem: Int
            switch dtype {
            case "F32": elem = 4
            case "F16", "BF16": elem = 2
            case "F64": elem = 8
            default: elem = 0
            }
            var count = 1
            for s in shape {
                let (m, o) = count.multipliedReportingOverflow(by: s)
                if o { throw bad("entry '\(name)' is too large") }
                count = m
            }
            if elem > 0 {
                let (bytes, o) = count.multipliedReportingOverflow(by: elem)
                if o { throw bad("entry '\(name)' is too large") }
                if bytes != e - b {
                    throw bad("entry '\(name)': \(count) \(dtype) values need \(bytes) bytes, offsets give \(e - b)")
                }
            }
            entries.append(SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: b, end: e))
        }
        return entries.sorted { $0.begin < $1.begin }
    }

    public static func readSafetensors(_ path: String, where filter: ([Int]) -> Bool) throws -> [NamedArray] {
        try decodeSafetensors(try mapped(path), path: path, where: filter)
    }

    /// Decodes a whole safetensors file held in memory (the reader's core; also the
    /// libFuzzer target `scripts/fuzz.sh safetensors`). Every length, offset and dtype is
    /// checked before a byte is read.
    public static func decodeSafetensors(_ data: Data, path: String, where filter: ([Int]) -> Bool = { _ in true }) throws -> [NamedArray] {
        guard data.count >= 8 else { throw EngineError.weightsUnreadable(path: path, reason: "file too short") }
        let n = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8) else {
            throw EngineError.weightsUnreadable(path: path, reason: "header length \(n) exceeds the file (truncated?)")
        }
        let headerEnd = 8 + Int(n)
        let entries: [SafetensorsEntry]
        do {
            entries = try parseSafetensorsHeader(data.subdata(in: data.startIndex + 8..<data.startIndex + headerEnd),
                                                 dataSize: data.count - headerEnd)
        } catch let EngineError.weightsUnreadable(_, reason) {
            throw EngineError.weightsUnreadable(path: path, reason: reason)
        }
        var out: [NamedArray] = []
        for e in entries where filter(e.shape) {
            // the header parser checked the byte count of every dtype it knows; any other
            // dtype is refused before its (unchecked) extent is touched
            guard ["F32", "F64", "BF16", "F16"].contains(e.dtype) else {
                throw EngineError.weightsUnreadable(path: path, reason: "tensor '\(e.name)' has unsupported dtype \(e.dtype)")
            }
            let count = e.shape.reduce(1, *)
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + headerEnd + e.begin
                for i in 0..<count {
                    switch e.dtype {
                    case "F32": values[i] = Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))
                    case "F64": values[i] = Float(Double(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self))))
                    case "BF16": values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))) << 16)
                    default: values[i] = Float(Float16(bitPattern: UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))))
                    }
                }
            }
            out.append(NamedArray(name: e.name, shape: e.shape, values: values))
        }
        return out
    }
}
