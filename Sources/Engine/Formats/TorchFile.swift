import Foundation

/// PyTorch checkpoints (`torch.save` of a state dict, `.pth`/`.pt`), read without running
/// anything from the file: a pickle machine that knows only the opcodes and the handful
/// of globals a state dict is made of, and refuses any other global by name.
///
/// Two layouts:
/// - legacy (torch before 1.6, and `_use_new_zipfile_serialization=False`): five pickles
///   in a row (magic number, protocol version, system info, the object, the sorted
///   storage keys), then each storage as an 8-byte element count and its raw bytes;
/// - zip (torch 1.6 on): `PREFIX/data.pkl` and each storage in `PREFIX/data/KEY`, stored
///   uncompressed.
/// A tensor is a view of a storage: offset, shape and strides (in elements), all checked
/// against the storage before a byte is read.
public enum TorchFile {
    /// The storage types a state dict may hold, and their elements.
    static let storageKinds: [String: ElementKind] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16,
        "torch.BFloat16Storage": .bfloat16, "torch.DoubleStorage": .float64,
    ]
    /// The globals a state dict may name; anything else is refused.
    static let allowedGlobals: Set<String> = Set(storageKinds.keys).union([
        "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
    ])

    struct Storage: Equatable {
        var key: String
        var kind: ElementKind
        var count: Int
    }

    struct Tensor {
        var storage: Storage
        var offset: Int
        var shape: [Int]
        var stride: [Int]
    }

    /// Reads the tensors of the state dict in `data` (the whole file) whose shapes pass
    /// `filter`, each made contiguous (row-major), in the order of the state dict.
    public static func decode(_ data: Data, path: String, where filter: ([Int]) -> Bool = { _ in true }) throws -> [NamedArray] {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: reason) }
        do {
            let (entries, location) = data.starts(with: [0x50, 0x4B, 0x03, 0x04])
                ? try zipLayout(data, path: path) : try legacyLayout(data, path: path)
            var out: [NamedArray] = []
            for (name, t) in entries where filter(t.shape) {
                let (base, available) = try location(t.storage)
                out.append(NamedArray(name: name, shape: t.shape, values: try values(of: t, in: data, at: base, available: available, name: name, path: path)))
            }
            return out
        } catch is ByteReader.Truncated {
            throw bad("the file ends early (truncated?)")
        } catch let e as Pickle.Refusal {
            throw bad(e.message)
        }
    }

    // MARK: layouts

    typealias Locate = (Storage) throws -> (base: Int, available: Int)

    static func legacyLayout(_ data: Data, path: String) throws -> ([(String, Tensor)], Locate) {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: reason) }
        var reader = ByteReader(data)
        guard data.count >= 2, data.starts(with: [0x80]) else {
            throw bad("neither a PyTorch zip archive nor a legacy PyTorch pickle")
        }
        let magic = try Pickle.load(&reader)
        // 0x1950a86a20f9469cfc6c, little-endian, as pickle's LONG1 holds it
        guard case .bigInt(let m) = magic, m == [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19] else {
            throw bad("a pickle, but not one torch.save wrote (no PyTorch magic number)")
        }
        guard case .int(let version) = try Pickle.load(&reader), version == 1001 else {
            throw bad("a PyTorch file of an unknown legacy protocol")
        }
        let info = try Pickle.load(&reader)
        if case .dict(let d) = info, case .bool(false)? = d.value(for: "little_endian") {
            throw bad("written on a big-endian machine, which this reader does not handle")
        }
        var kinds: [String: Storage] = [:]      // every storage the object names
        let object = try Pickle.load(&reader, storages: &kinds)
        guard case .list(let keyList) = try Pickle.load(&reader) else { throw bad("the storage key list is missing") }
        let entries = try stateDict(object, path: path)
        // the storages follow in the order of the key list, each after its element count
        var places: [String: (Int, Int)] = [:]
        for item in keyList.items {
            guard case .string(let key) = item else { throw bad("a storage key is not a string") }
            let count = try reader.littleEndian(8)
            guard let storage = kinds[key] else {
                // a storage the object never named: its element size is unknown, so
                // nothing after it can be found
                throw bad("storage \(key) belongs to no tensor in the file")
            }
            guard count == UInt64(storage.count) else { throw bad("storage \(key) holds \(count) elements where its tensors say \(storage.count)") }
            guard storage.count <= reader.remaining / storage.kind.size else { throw ByteReader.Truncated() }
            let bytes = storage.count * storage.kind.size
            places[key] = (reader.position, bytes)
            try reader.skip(bytes)
        }
        return (entries, { s in
            guard let p = places[s.key] else { throw bad("storage \(s.key) is not in the file") }
            return p
        })
    }

    static func zipLayout(_ data: Data, path: String) throws -> ([(String, Tensor)], Locate) {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: reason) }
        let zip: [String: ZipDirectory.Entry]
        do { zip = try ZipDirectory.read(data) } catch let e as ZipDirectory.Damaged { throw bad(e.message) }
        guard let pickleName = zip.keys.filter({ $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }).min(by: { $0.count < $1.count }) else {
            throw bad("a zip archive without data.pkl: not a PyTorch file")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = zip[prefix + "byteorder"], data.subdata(in: order.range) != Data("little".utf8) {
            throw bad("written on a big-endian machine, which this reader does not handle")
        }
        var reader = ByteReader(data, from: zip[pickleName]!.range.lowerBound, to: zip[pickleName]!.range.upperBound)
        let entries = try stateDict(try Pickle.load(&reader), path: path)
        return (entries, { s in
            guard let e = zip[prefix + "data/" + s.key] else { throw bad("storage \(s.key) is not in the archive") }
            return (e.range.lowerBound, e.range.count)
        })
    }

    /// The (name, tensor) entries of a state dict: the pickled object itself, or its
    /// "state_dict" entry (a training checkpoint).
    static func stateDict(_ object: Pickle.Value, path: String) throws -> [(String, Tensor)] {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: reason) }
        guard case .dict(var dict) = object else { throw bad("the pickled object is not a state dict (a dict of tensors)") }
        if case .dict(let inner)? = dict.value(for: "state_dict") { dict = inner }
        var out: [(String, Tensor)] = []
        for (k, v) in dict.items {
            guard case .string(let name) = k, case .tensor(let t) = v else { continue }
            out.append((name, t))
        }
        guard !out.isEmpty else { throw bad("the pickled dict holds no tensors: not a state dict") }
        return out
    }

    /// The tensor's elements in row-major order, read through its strides.
    static func values(of t: Tensor, in data: Data, at base: Int, available: Int, name: String, path: String) throws -> [Float] {
        func bad(_ reason: String) -> EngineError { .weightsUnreadable(path: path, reason: "tensor '\(name)': " + reason) }
        var count = 1, last = t.offset
        for (n, s) in zip(t.shape, t.stride) {
            guard n >= 0, s >= 0 else { throw bad("negative size or stride") }
            let (c, o1) = count.multipliedReportingOverflow(by: n)
            let (reach, o2) = (n == 0 ? 0 : n - 1).multipliedReportingOverflow(by: s)
            let (l, o3) = last.addingReportingOverflow(reach)
            guard !o1, !o2, !o3 else { throw bad("too large") }
            count = c; last = l
        }
        guard count == 0 || (t.offset >= 0 && last < t.storage.count) else {
            throw bad("its view reaches element \(last) of a storage of \(t.storage.count)")
        }
        guard t.storage.count.multipliedReportingOverflow(by: t.storage.kind.size).partialValue <= available,
              t.storage.count <= Int.max / 8, base >= 0, base + available <= data.count else {
            throw bad("its storage is larger than the file holds (truncated?)")
        }
        var out = [Float](repeating: 0, count: count)
        guard count > 0 else { return out }
        let kind = t.storage.kind, rank = t.shape.count
        data.withUnsafeBytes { raw in
            let start = raw.baseAddress! + base
            var index = [Int](repeating: 0, count: rank), element = t.offset
            for i in 0..<count {
                out[i] = kind.load(start, element)
                // the next index, odometer-style, moving the element by the strides (wrapping:
                // a stride past the end is only ever taken back, never read)
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1; element &+= t.stride[d]
                    if index[d] < t.shape[d] { break }
                    element &-= t.stride[d] &* t.shape[d]; index[d] = 0; d -= 1
                }
            }
        }
        return out
    }
}

/// The pickle machine: the opcodes of protocols 2–5 a state dict uses, no code run.
enum Pickle {
    struct Refusal: Error { let message: String }

    final class List { var items: [Value] = [] }
    final class Dict {
        var items: [(Value, Value)] = []
        func value(for key: String) -> Value? {
            items.last { if case .string(key) = $0.0 { return true } else { return false } }?.1
        }
    }

    enum Value {
        case none, bool(Bool), int(Int), bigInt([UInt8]), float(Double), string(String), bytes(Data)
        case tuple([Value]), list(List), dict(Dict)
        case global(String)
        case storage(TorchFile.Storage), tensor(TorchFile.Tensor)
    }

    /// Runs one pickle from `reader`'s position to its STOP; returns what it built.
    static func load(_ reader: inout ByteReader) throws -> Value {
        var storages: [String: TorchFile.Storage] = [:]
        return try load(&reader, storages: &storages)
    }

    /// The same, also giving every storage the pickle names, by key.
    static func load(_ reader: inout ByteReader, storages: inout [String: TorchFile.Storage]) throws -> Value {
        var machine = Machine()
        defer { storages = machine.storages }
        while true {
            let op = try reader.byte()
            if op == 0x2E { return try machine.pop() }                         // STOP
            if let v = try scalar(op, &reader) { machine.stack.append(v) } else { try machine.step(op, &reader) }
            guard machine.stack.count < 1 << 20 else { throw Refusal(message: "a pickle too deep for a state dict") }
        }
    }

    /// The value a scalar opcode pushes (nil: not a scalar opcode).
    static func scalar(_ op: UInt8, _ reader: inout ByteReader) throws -> Value? {
        func string(_ n: Int) throws -> Value {
            let d = try reader.bytes(try reader.length(n))
            guard let s = String(data: d, encoding: .utf8) else { throw Refusal(message: "a damaged pickle (a string is not UTF-8)") }
            return .string(s)
        }
        switch op {
        case 0x4E: return Value.none                                           // NONE
        case 0x88: return .bool(true)                                          // NEWTRUE
        case 0x89: return .bool(false)                                         // NEWFALSE
        case 0x4A: return .int(Int(Int32(truncatingIfNeeded: try reader.littleEndian(4))))   // BININT
        case 0x4B: return .int(Int(try reader.byte()))                         // BININT1
        case 0x4D: return .int(Int(try reader.littleEndian(2)))                // BININT2
        case 0x8A:                                                             // LONG1
            let n = Int(try reader.byte())
            let bytes = [UInt8](try reader.bytes(n))
            guard n <= 8 else { return .bigInt(bytes) }
            var v: UInt64 = 0
            for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }   // sign-extend
            return .int(Int(Int64(bitPattern: v)))
        case 0x47:                                                             // BINFLOAT (big-endian)
            return .float(Double(bitPattern: try reader.bytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }))
        case 0x58, 0x54: return try string(4)                                  // BINUNICODE, BINSTRING
        case 0x8C, 0x55: return try string(1)                                  // SHORT_BINUNICODE, SHORT_BINSTRING
        case 0x8D: return try string(8)                                        // BINUNICODE8
        case 0x42: return .bytes(try reader.bytes(try reader.length(4)))      // BINBYTES
        case 0x43: return .bytes(try reader.bytes(try reader.length(1)))      // SHORT_BINBYTES
        default: return nil
        }
    }

    /// The machine's state: its stack, the marks on it, the memo, the storages seen.
    struct Machine {
        var stack: [Value] = [], marks: [Int] = [], memo: [Int: Value] = [:]
        var storages: [String: TorchFile.Storage] = [:]

        func refuse(_ m: String) -> Refusal { Refusal(message: m) }

        mutating func pop() throws -> Value {
            guard let v = stack.popLast() else { throw refuse("a damaged pickle (its stack runs empty)") }
            if let m = marks.last, stack.count < m { throw refuse("a damaged pickle (a pop crosses a mark)") }
            return v
        }

        mutating func popMark() throws -> [Value] {
            guard let m = marks.popLast(), m <= stack.count else { throw refuse("a damaged pickle (no mark)") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }

        /// Every opcode but the scalars and STOP.
        mutating func step(_ op: UInt8, _ reader: inout ByteReader) throws {
            switch op {
            case 0x80: _ = try reader.byte()                                   // PROTO
            case 0x95: _ = try reader.littleEndian(8)                          // FRAME
            case 0x28: marks.append(stack.count)                               // MARK
            case 0x29: stack.append(.tuple([]))                                // EMPTY_TUPLE
            case 0x74: let t = try popMark(); stack.append(.tuple(t))          // TUPLE
            case 0x85: let a = try pop(); stack.append(.tuple([a]))            // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x5D: stack.append(.list(List()))                             // EMPTY_LIST
            case 0x7D: stack.append(.dict(Dict()))                             // EMPTY_DICT
            // (what is popped is taken first: a method of this struct called with a pop as
            // its argument would see the stack from before the pop)
            case 0x61, 0x65: let vs = op == 0x61 ? [try pop()] : try popMark(); try append(vs)   // APPEND, APPENDS
            case 0x73: let v = try pop(), k = try pop(); try setItems([k, v])  // SETITEM
            case 0x75: let kv = try popMark(); try setItems(kv)                // SETITEMS
            case 0x63: let module = try reader.line(), name = try reader.line(); stack.append(try global(module, name))   // GLOBAL
            case 0x93:                                                         // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw refuse("a damaged pickle (STACK_GLOBAL of non-strings)")
                }
                stack.append(try global(module, name))
            case 0x52: let args = try pop(), callable = try pop(); stack.append(try reduce(callable, args))   // REDUCE
            case 0x62: try build()                                             // BUILD
            case 0x51: let pid = try pop(); stack.append(try persistent(pid))  // BINPERSID
            case 0x71: memo[Int(try reader.byte())] = stack.last               // BINPUT
            case 0x72: memo[Int(try reader.littleEndian(4))] = stack.last      // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                           // MEMOIZE
            case 0x68, 0x6A:                                                   // BINGET, LONG_BINGET
                let i = Int(op == 0x68 ? UInt64(try reader.byte()) : try reader.littleEndian(4))
                guard let v = memo[i] else { throw refuse("a damaged pickle (memo \(i) is empty)") }
                stack.append(v)
            case 0x30: _ = try pop()                                           // POP
            case 0x31: _ = try popMark()                                       // POP_MARK
            case 0x32:                                                         // DUP
                guard let v = stack.last else { throw refuse("a damaged pickle (DUP of nothing)") }
                stack.append(v)
            default:
                throw refuse(String(format: "a pickle opcode 0x%02x that a state dict does not use", op))
            }
        }

        func append(_ values: [Value]) throws {
            guard case .list(let l)? = stack.last else { throw refuse("a damaged pickle (APPEND to a non-list)") }
            l.items += values
        }

        func setItems(_ kv: [Value]) throws {
            guard kv.count % 2 == 0, case .dict(let d)? = stack.last else { throw refuse("a damaged pickle (SETITEM on a non-dict)") }
            for i in stride(from: 0, to: kv.count, by: 2) { d.items.append((kv[i], kv[i + 1])) }
        }

        /// BUILD: a dict's attributes (a state dict's `_metadata`), dropped.
        mutating func build() throws {
            _ = try pop()
            switch stack.last {
            case .dict?, .tensor?: break
            default: throw refuse("a damaged pickle (BUILD on something not a dict or tensor)")
            }
        }

        func global(_ module: String, _ name: String) throws -> Value {
            let full = module + "." + name
            guard TorchFile.allowedGlobals.contains(full) else {
                throw refuse("the pickle names \(full), which a state dict does not use; refused (this reader runs no code from a file)")
            }
            return .global(full)
        }

        func int(_ v: Value, _ what: String) throws -> Int {
            guard case .int(let i) = v else { throw refuse("a tensor's \(what) is not an integer") }
            return i
        }

        func ints(_ v: Value, _ what: String) throws -> [Int] {
            guard case .tuple(let items) = v else { throw refuse("a tensor's \(what) is not a tuple") }
            guard items.count <= 16 else { throw refuse("a tensor of more than 16 dimensions") }
            return try items.map { try int($0, what) }
        }

        /// REDUCE: only the allowed globals are called, each by its meaning here.
        func reduce(_ callable: Value, _ args: Value) throws -> Value {
            guard case .global(let name) = callable, case .tuple(let a) = args else { throw refuse("a damaged pickle (REDUCE of a non-global)") }
            switch name {
            case "collections.OrderedDict": return .dict(try orderedDict(a))
            case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
                guard a.count >= 4, case .storage(let s) = a[0] else { throw refuse("a tensor without its storage") }
                let shape = try ints(a[2], "size"), stride = try ints(a[3], "stride")
                guard shape.count == stride.count else { throw refuse("a tensor whose size and stride differ in length") }
                return .tensor(TorchFile.Tensor(storage: s, offset: try int(a[1], "storage offset"), shape: shape, stride: stride))
            case "torch._utils._rebuild_parameter":
                guard let first = a.first, case .tensor = first else { throw refuse("a parameter without its tensor") }
                return first
            default:
                throw refuse("the pickle calls \(name), which builds no tensor")
            }
        }

        /// Python 3 pickles an OrderedDict empty, then its items; Python 2 passes them,
        /// [[k, v], …].
        func orderedDict(_ a: [Value]) throws -> Dict {
            let d = Dict()
            guard let first = a.first else { return d }
            guard a.count == 1, case .list(let items) = first else { throw refuse("an OrderedDict built from other arguments than its items") }
            for item in items.items {
                switch item {
                case .list(let pair) where pair.items.count == 2: d.items.append((pair.items[0], pair.items[1]))
                case .tuple(let pair) where pair.count == 2: d.items.append((pair[0], pair[1]))
                default: throw refuse("an OrderedDict item that is not a (key, value) pair")
                }
            }
            return d
        }

        /// BINPERSID: ("storage", type, key, location, element count[, view]).
        mutating func persistent(_ pid: Value) throws -> Value {
            guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0],
                  case .global(let type) = t[1], case .string(let key) = t[2] else {
                throw refuse("a persistent id that is not a PyTorch storage")
            }
            guard let kind = TorchFile.storageKinds[type] else { throw refuse("a storage of type \(type), which this reader does not handle") }
            let count = try int(t[4], "storage size")
            guard count >= 0 else { throw refuse("a storage of negative size") }
            let s = TorchFile.Storage(key: key, kind: kind, count: count)
            if let seen = storages[key], seen != s { throw refuse("storage \(key) is described twice, differently") }
            storages[key] = s
            return .storage(s)
        }
    }
}
